"""Urgency and collective flags for a complaint, from keyword rules in Chinese and English.

``assess(text)`` is a pure function. ``urgent`` means danger to life or property now: a gas
leak, fire or smoke, a collapse or sinkhole, flooding, live wires, violence, a threat of
self-harm, a missing child or elderly person. ``collective`` means many people are affected
or the writer threatens to escalate (petitioning, the media, blocking roads). ``reasons``
holds short machine codes, never text, so it may be logged.

Limits, on purpose:

* Negation is a window, not a parse. A keyword does not count when, in the same clause, it
  is directly preceded by a negation (``没有着火``, ``不是煤气泄漏``, ``没闻到煤气味``,
  ``no fire``, ``not a gas leak``, ``isn't on fire``); a few filler words may sit between
  (``并没有发生火灾``, ``there was no smell of gas``). A negation further away, after the
  keyword (``着火了吗？没有``), or across a comma is not seen; neither is a double negation.
* Hazards are not emergencies: ``存在火灾隐患``, ``担心会着火``, ``万一燃气泄漏``,
  ``fire hazard``, ``in case of fire`` do not make a complaint urgent; ``fire exit`` /
  ``消防通道`` complaints are routine.
* Everyday words that contain a keyword are excluded where known: ``跳楼价``,
  ``拨打人工``, ``被打扰``, ``烟囱冒烟`` (a pollution complaint), ``I was fired``,
  ``smoking``. Past events count like present ones (``我被人打伤了``): the text rarely says
  whether the danger is over, and a person can tell faster than a rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final


def _words(words: str) -> frozenset[str]:
    return frozenset(words.split())


URGENT_REASONS: Final = (
    "gas_leak",
    "fire",
    "collapse",
    "flood",
    "electric",
    "violence",
    "self_harm",
    "missing_person",
)
COLLECTIVE_REASONS: Final = ("many_people", "escalation")


@dataclass(frozen=True)
class Flags:
    urgent: bool
    collective: bool
    reasons: tuple[str, ...]


# Up to four characters between two parts of a keyword, none of them a negation or a stop.
_GAP = "[^，。！？；,.!?;\\n没不未无别]{0,4}?"
# A wider gap within one sentence, for a person and what happened to them; no 的, so that
# 老人的医保卡找不到了 is not a missing person.
_FAR = "[^。！？!?\\n没不未无别的]{0,16}?"
_GAS = "(?:煤气|燃气|天然气|液化气|瓦斯)"
_KIN = (
    "(?:孩子|小孩|儿童|儿子|女儿|孙子|孙女|外孙|学生|老人|老太太|老大爷|老爷子|爷爷|奶奶|外公|外婆|"
    "姥姥|姥爷|父亲|母亲|爸爸|妈妈|我爸|我妈|老伴|老公|丈夫|妻子|老婆|患者|病人)"
)
_MANY = (
    "(?:好)?(?:几十|十几|数十|上百|数百|几百|上千|数千|一百多|两百多|[一二三四五六七八九]?十[一二三四五六七八九]?多|"
    "[二三四五六七八九]十[一二三四五六七八九]?|[一二三四五六七八九两]百多?|(?<!\\d)\\d{2,}多?)"
)
_PEOPLE = (
    "(?:人(?![工民口员])|户|家庭|业主|居民|村民|工人|农民工|员工|家长|学生|孩子|小孩|住户|老人"
    "|商户|租户)"
)

_ZH: Final[dict[str, str]] = {
    "gas_leak": (
        rf"{_GAS}(?:管道?|罐|瓶|灶|表|阀门?)?{_GAP}(?:泄漏|泄露|漏气|外泄|漏了)"
        rf"|(?:闻到|有|一股|满屋|满楼道?){_GAP}{_GAS}味|{_GAS}味(?:很|特别|非常|好)?(?:重|浓|大|刺鼻)"
    ),
    "fire": (
        "着火|起火|失火|着了火|火灾(?!隐患|风险|报警|预防|演练|防控|防范)|大火|火势|烧起来|烧着了"
        "|冒烟|浓烟|冒火|火苗|烧了起来|在燃烧"
    ),
    "collapse": (
        "塌方|倒塌|塌陷|坍塌|垮塌|塌了|要塌|快塌|塌下来|随时可能倒|砸伤|砸到人|滑坡|泥石流"
        "|(?:墙|楼|房|电线杆|大树)[^，。！？；,.!?;\\n没不未无别]{0,6}?倾斜"
        "|(?:瓷砖|外墙|墙皮|广告牌|招牌|玻璃|窗户|空调外机|树枝|大树)"
        + _GAP
        + "(?:往下掉|掉下来|砸)"
    ),
    "flood": (
        "被淹|淹了|淹水|水淹|淹到|积水很深|积水(?:齐腰|过膝|没过|到腰|深达)|齐腰深|内涝严重|洪水|水漫|"
        "倒灌|漏水严重|大量漏水|水管爆裂|水管爆了"
        "|(?:堤坝|大坝|水库|河堤|堤岸|坝体)" + _GAP + "(?:裂缝|决口|溃|渗漏|管涌)"
        "|(?:家里|屋里|屋内|室内|房间|一楼|地下室|车库|电梯井)" + _GAP + "进水"
    ),
    "electric": (
        "漏电|触电|被电到|电到人|打火花|冒火花|电火花"
        "|(?:电线|电缆|高压线)"
        + _GAP
        + "(?:掉落|掉下来|掉在|断了|断落|垂下来|垂到|裸露|冒火|打火|着火)"
        "|电线杆(?:倒|断)"
    ),
    "violence": (
        "(?<!拨)打人(?![工民])|被人打|推倒|虐待(?!动物|宠物|猫|狗)|被打(?:了|伤|得|成|骨折|破|断)|挨打|殴打|打伤|砍人|砍伤|捅人|捅伤|"
        "持刀|拿刀|动刀|拿着刀|持械|拿着(?:棍|棒|砖)|斗殴|群殴|家暴|家庭暴力|行凶|暴力催收|"
        "(?:扬言|威胁)要?(?:杀|弄死|砍)"
    ),
    "self_harm": (
        "不想活|活不下去|跳楼(?!价|甩卖|大甩卖)|跳河|跳江|自杀|轻生|寻死|喝农药|割腕|一死了之|"
        "死给(?:你们|他们|政府)看|以死相逼|上吊"
    ),
    "missing_person": (
        f"{_KIN}{_FAR}(?:走失|走丢|失踪)|(?:走失|失踪)的?{_KIN}|找不到{_KIN}"
        f"|{_KIN}(?:{_FAR}出门{_FAR})?(?:不见了|丢了|找不到了|还?没回家|还?没回来)"
    ),
    "many_people": (
        "整个镇|集体(?:上访|讨薪|投诉|反映|维权|签名|请愿|抗议|罢工|停工|中毒|食物中毒|腹泻|发病|起诉|行动)"
        "|我们集体|联名|全楼|全小区|全村|整栋楼|整幢楼|整个小区|整个楼|整个村|整条街|"
        "全体(?:业主|居民|村民|员工|工人|住户)|大家一起|业主们|居民们|村民们|工友们|"
        f"{_MANY}(?:个|名|位|户|家)?{_PEOPLE}"
    ),
    "escalation": (
        "上访|进京|(?:去|到|上)北京(?!路|大道|街)|找媒体|找记者|媒体曝光|曝光|堵路|堵门|堵政府|"
        "拉横幅|拉条幅|打横幅|静坐|游行|示威|围堵|闹大|发抖音|发微博|发到网上|网上曝光"
        "|(?:去|到)(?:市|区|县)?政府门口"
    ),
}

_EN: Final[dict[str, str]] = {
    "gas_leak": (
        r"gas\s+leak\w*|leak\w*\s+gas|gas\s+is\s+leaking|smell(?:s|ing)?\s+(?:of\s+|like\s+)?gas"
        r"|gas\s+smell|carbon\s+monoxide"
    ),
    "fire": (
        r"on\s+fire|caught\s+fire|catch(?:ing)?\s+fire|fire\s+broke\s+out|in\s+flames|flames"
        r"|(?:building|house|flat|car|kitchen|room)\s+is\s+burning|burning\s+down"
        r"|smoke\s+(?:is\s+)?(?:coming|pouring|billowing|filling|everywhere)|full\s+of\s+smoke"
        r"|smell(?:s|ing)?\s+(?:of\s+)?(?:burning|smoke)"
        r"|(?<!cease)(?<!camp)fire(?!\s*(?:exits?|escapes?|doors?|hydrants?|extinguishers?|"
        r"stations?|brigade|department|safety|alarms?|inspections?|lanes?|engines?|trucks?|"
        r"codes?|fighters?|drills?|prevention|hazards?|risks?|regulations?|works)\b)"
    ),
    "collapse": (
        r"(?:walls?|ceilings?|roofs?|building|house|bridge|road|pavement|ground|floor|balcony"
        r"|stairs?|staircase|tree|scaffold\w*|crane|hill\w*|slope|tunnel|mine|trench|pit)"
        r"\s+(?:has\s+|have\s+|had\s+|is\s+|was\s+|are\s+|just\s+)?(?:partly\s+|partially\s+)?"
        r"(?:collaps\w*|caved?\s+in|falling\s+down|about\s+to\s+(?:fall|collapse))"
        r"|collapse\s+of\s+(?:the|a|our)\s+\w+|sink\s*holes?|cave-in|landslides?|mudslides?"
    ),
    "flood": (
        r"flood(?:ed|ing|s)?(?!\s+(?:prevention|control|defen[cs]es?|barriers?|risk))"
        r"|under\s*water|water\s+(?:is\s+)?(?:pouring|gushing|flooding)\s+(?:in|into|through)"
        r"|burst\s+(?:water\s+)?(?:pipe|main)|water\s+main\s+(?:burst|broke)"
    ),
    "electric": (
        r"live\s+wires?|exposed\s+(?:live\s+)?wires?|downed\s+(?:power\s+)?lines?"
        r"|power\s+lines?\s+(?:is\s+|are\s+)?(?:down|fell|fallen|hanging|sparking)"
        r"|electric(?:al)?\s+shocks?|electrocut\w*|sparking|sparks\s+(?:coming|flying)"
    ),
    "violence": (
        r"assault\w*|attack(?:ed|ing)?\s+(?:me|us|him|her|them|people|residents|my|our)"
        r"|beat(?:s|ing|en)?\s+(?:me|us|him|her|them|up|my|our|his|their|people|children|kids)"
        r"|hit(?:s|ting)?\s+(?:me|my|her|him|his|their|people|children|kids)"
        r"|punch\w*|stabb\w*|knife|knives|gun|domestic\s+violence|violen(?:ce|t)"
        r"|threat\w*\s+to\s+kill|kill\s+(?:me|us|him|her)\b|brawl\w*"
    ),
    "self_harm": (
        r"kill(?:ing)?\s+myself|suicid\w*|end\s+my\s+(?:own\s+)?life|end\s+it\s+all"
        r"|take\s+my\s+(?:own\s+)?life|(?:do\s+not|don't)\s+want\s+to\s+live|no\s+reason\s+to\s+live"
        r"|jump\s+off\s+(?:the|a|this)\s+(?:building|roof|bridge)|hurt\s+myself"
    ),
    "missing_person": (
        r"(?:child|kid|son|daughter|toddler|boy|girl|grand(?:mother|father|ma|pa)|mother|father"
        r"|mum|mom|dad|elderly\s+\w+)\s+(?:is|has\s+gone|went|has\s+been|was|have\s+gone)\s+missing"
        r"|missing\s+(?:child|kid|person|boy|girl|toddler|elderly)"
        r"|lost\s+my\s+(?:child|kid|son|daughter)|can(?:'t|not)\s+find\s+my\s+(?:child|kid|son|"
        r"daughter|mother|father|grand\w+)"
    ),
    "many_people": (
        r"all\s+(?:the\s+|of\s+the\s+)?(?:residents|neighbou?rs|families|households|owners|tenants"
        r"|villagers|workers|parents)|(?:hundreds|dozens|scores)\s+of\s+(?:us|people|residents"
        r"|families|households|workers|villagers|parents|neighbou?rs)"
        r"|the\s+(?:whole|entire)\s+(?:building|block|compound|estate|village|street|community"
        r"|neighbou?rhood)|every\s+(?:household|family|resident)\s+in"
        r"|\d{2,}\+?\s+(?:residents|families|households|people|workers|villagers|tenants|owners"
        r"|parents)|(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|a\s+hundred)\s+"
        r"(?:residents|families|households|people|workers)"
        r"|many\s+(?:residents|families|households|neighbou?rs|workers|villagers)"
        r"|joint\s+(?:letter|petition|complaint)|jointly|we\s+all\s+signed|collectively"
    ),
    "escalation": (
        r"petition\w*(?!\s+(?:office|bureau|department|system|letter))|go\s+to\s+the\s+(?:media|press|newspapers?|tv)|(?:contact|call|tell)\s+"
        r"(?:the\s+)?(?:media|press|journalists?|reporters?)|journalists?|reporters?"
        r"|protest\w*|block(?:ing)?\s+the\s+(?:road|street|gate)|sit-in|demonstrat(?:e|ion)"
        r"|(?:hang|hold|put\s+up|raise|unfurl)\w*\s+(?:up\s+)?(?:a\s+|the\s+)?banners?"
        r"|go\s+to\s+beijing|go\s+viral|(?:post|share|put|expose)\w*\s+(?:it|this|everything|them)?"
        r"\s*(?:on|to)\s+(?:social\s+media|weibo|douyin|tiktok|the\s+internet)"
        r"|post\w*\s+(?:it|this|everything|them)\s+online"
    ),
}

# Every match of a rule contains one of its anchors (a test checks it): a plain substring
# search skips most rules for most texts before any regex runs. None: always run.
_ZH_ANCHORS: Final[dict[str, tuple[str, ...] | None]] = {
    "gas_leak": ("气", "瓦斯"),
    "fire": ("火", "烟", "烧"),
    "collapse": ("塌", "滑坡", "泥石流", "倒", "砸", "倾斜", "掉"),
    "flood": ("水", "淹", "齐腰", "涝", "坝", "堤"),
    "electric": ("电", "火花"),
    "violence": (
        *("打", "推倒", "虐待", "砍", "捅", "刀", "械", "棍", "棒", "砖", "殴", "暴", "凶"),
        *("杀", "弄死"),
    ),
    "self_harm": ("活", "跳", "杀", "轻生", "死", "农药", "割腕", "上吊"),
    "missing_person": ("失", "走丢", "找不到", "不见", "丢了", "没回"),
    "many_people": None,
    "escalation": (
        *("访", "进京", "北京", "媒体", "记者", "曝光", "堵", "幅", "静坐", "游行", "示威"),
        *("闹大", "抖音", "微博", "网上", "政府门口"),
    ),
}
_EN_ANCHORS: Final[dict[str, tuple[str, ...] | None]] = {
    "gas_leak": ("gas", "carbon"),
    "fire": ("fire", "flame", "burning", "smoke"),
    "collapse": ("collaps", "cave", "fall", "sink", "slide"),
    "flood": ("flood", "water"),
    "electric": ("wire", "line", "electr", "shock", "spark"),
    "violence": (
        *("assault", "attack", "beat", "hit", "punch", "stabb", "knife", "knives", "gun"),
        *("violen", "threat", "kill", "brawl"),
    ),
    "self_harm": ("kill", "suicid", "end", "life", "live", "jump", "myself"),
    "missing_person": ("missing", "lost", "find"),
    "many_people": (
        *("all", "hundreds", "dozens", "scores", "whole", "entire", "every", "many", "joint"),
        *("signed", "collectively", "residents", "families", "households", "people"),
        *("workers", "villagers", "tenants", "owners", "parents"),
    ),
    "escalation": (
        *("petition", "media", "press", "newspaper", "tv", "journalist", "reporter", "protest"),
        *("block", "sit-in", "demonstrat", "banner", "beijing", "viral", "weibo", "douyin"),
        *("tiktok", "internet", "online"),
    ),
}
_ZH_RULES: Final = tuple(
    (reason, _ZH_ANCHORS[reason], re.compile(pattern)) for reason, pattern in _ZH.items()
)
_EN_RULES: Final = tuple(
    (reason, _EN_ANCHORS[reason], re.compile(rf"\b(?:{pattern})\b", re.IGNORECASE))
    for reason, pattern in _EN.items()
)
_LATIN = re.compile("[A-Za-z]")

_CLAUSE_END = re.compile(r"[，。！？；,.!?;:：\n]")
_ZH_NEGATION = re.compile(
    "(?:没有|没|不是|并非|并不是|并没有|不存在|未|无|别|不会|不算|不像是?|排除了?|谈不上)"
    "(?:发生|出现|什么|任何|有|是|在|闻到|看到|发现|听到|见到|检测到|真的|过|人|的|再|被){0,3}$"
)
_ZH_HYPOTHETICAL = re.compile(
    "担心|害怕|生怕|就怕|怕会|万一|以防|防止|预防|避免|一旦|如果|假如|要是|容易|隐患|可能|会不会|迟早"
)
# A habit is a standing problem to route, not an emergency now (一下雨就被淹, every time it
# rains): for flooding any habit, for a collapse only a habit of the weather (一下雨就滑坡;
# tiles that keep falling off a wall are still a danger).
_ZH_RAIN_HABIT = re.compile("一下雨[^，。！？]{0,6}就|每次下雨|每到下雨|每逢下雨|一到雨天|下雨天")
_ZH_HABIT = re.compile("经常|总是|老是|年年|每年")
# Smoke near these is pollution (a chimney, a plant at work, burning rubbish), not a fire.
_ZH_NOT_FIRE = re.compile(
    "烟囱|厂|开工|搅拌|生产|烧烤|油烟|尾气|焚烧|秸秆|锅炉|排放|烟头|抽烟|吸烟"
)
_EN_NEGATIONS: Final = _words(
    "no not never without nothing nobody none nor neither isnt wasnt arent werent dont doesnt "
    "didnt hasnt havent hadnt wont cannot cant aint"
)
_EN_HYPOTHETICAL = re.compile(
    r"\b(?:in\s+case\s+of|prevent\w*|risk\s+of|worried|afraid\s+of)\b", re.IGNORECASE
)
_EN_RAIN_HABIT = re.compile(
    r"\b(?:every\s+time\s+it\s+rains|whenever\s+it\s+rains|when\s+it\s+rains)\b", re.I
)
_EN_HABIT = re.compile(r"\b(?:every\s+time|whenever|all\s+the\s+time|always|often)\b", re.I)
_EN_NOT_FIRE = re.compile(r"\b(?:chimney|factory|barbecue|bbq|exhaust|cigarette|smoking)\b", re.I)
_EN_SMOKE = re.compile("smoke|burning", re.I)
_EN_WORD = re.compile(r"[a-z']+")
_VEHICLES: Final = _words("car bus truck lorry van vehicle bike scooter taxi motorbike")
_NEGATABLE: Final = frozenset(URGENT_REASONS) | {"escalation"}
_HAZARDS: Final = frozenset({"gas_leak", "fire", "collapse", "flood", "electric"})


def _clause_before(text: str, start: int, width: int) -> str:
    window = text[max(0, start - width) : start]
    ends = list(_CLAUSE_END.finditer(window))
    return window[ends[-1].end() :] if ends else window


def _clause_window(text: str, match: re.Match[str]) -> str:
    """The keyword's clause and the one before it: habits are often told first (一下雨就…)."""
    start = max(0, match.start() - 20)
    ends = list(_CLAUSE_END.finditer(text, start, match.start()))
    if len(ends) >= 2:
        start = ends[-2].end()
    after = _CLAUSE_END.search(text, match.end())
    return text[start : after.start() if after else len(text)]


def _zh_counts(reason: str, text: str, match: re.Match[str]) -> bool:
    before = _clause_before(text, match.start(), 8)
    inside = match.group()
    if reason in _NEGATABLE and _ZH_NEGATION.search(before):
        return False
    if reason in _HAZARDS and _ZH_HYPOTHETICAL.search(before):
        return False
    if reason in ("flood", "collapse"):
        around = _clause_window(text, match)
        if _ZH_RAIN_HABIT.search(around) or (reason == "flood" and _ZH_HABIT.search(around)):
            return False
    return not (
        reason == "fire"
        and "烟" in inside
        and _ZH_NOT_FIRE.search(text[max(0, match.start() - 20) : match.end() + 10])
    )


def _en_counts(reason: str, text: str, match: re.Match[str]) -> bool:
    before = _clause_before(text, match.start(), 40)
    words = [word.replace("'", "") for word in _EN_WORD.findall(before.lower())][-3:]
    if reason in _NEGATABLE and any(word in _EN_NEGATIONS for word in words):
        return False
    if reason == "violence" and any(word in _VEHICLES for word in words):
        return False  # a car hit me: an accident, routed as traffic
    if reason in _HAZARDS and _EN_HYPOTHETICAL.search(before):
        return False
    if reason in ("flood", "collapse"):
        around = _clause_window(text, match)
        if _EN_RAIN_HABIT.search(around) or (reason == "flood" and _EN_HABIT.search(around)):
            return False
    return not (
        reason == "fire"
        and _EN_SMOKE.search(match.group())
        and _EN_NOT_FIRE.search(text[max(0, match.start() - 40) : match.end() + 40])
    )


def assess(text: str) -> Flags:
    """Whether ``text`` reports an emergency and whether it speaks for many people."""
    found: set[str] = set()
    for reason, anchors, pattern in _ZH_RULES:
        if anchors is not None and not any(anchor in text for anchor in anchors):
            continue
        if any(_zh_counts(reason, text, match) for match in pattern.finditer(text)):
            found.add(reason)
    if _LATIN.search(text) is not None:
        lower = text.lower()
        for reason, anchors, pattern in _EN_RULES:
            if anchors is not None and not any(anchor in lower for anchor in anchors):
                continue
            if any(_en_counts(reason, text, match) for match in pattern.finditer(text)):
                found.add(reason)
    reasons = tuple(r for r in (*URGENT_REASONS, *COLLECTIVE_REASONS) if r in found)
    return Flags(
        urgent=any(r in found for r in URGENT_REASONS),
        collective=any(r in found for r in COLLECTIVE_REASONS),
        reasons=reasons,
    )

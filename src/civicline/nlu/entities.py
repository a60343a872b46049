"""Entities in complaint text: case numbers, phone numbers, places and time expressions.

``extract_entities(text)`` is a pure function: patterns plus the city gazetteer
(``data/gazetteer.yml``, read once on first use). It returns entities sorted by start, with
``text[start:end]`` the surface that was matched and no two entities of one kind overlapping.
Where kinds overlap, identifiers win: a place or time inside a case or phone number is dropped.

* ``case_number``: ``261127-00042`` or the bare ``26112700042`` (the rules of
  civicline.domain.case_numbers); ``value`` is the canonical dashed form.
* ``phone``: from civicline.nlu.masking.find_phones; ``value`` is E.164 digits without ``+``.
* ``place``: gazetteer names in Chinese or English (``source="gazetteer"``; ``value`` is the
  canonical Chinese name, with a house number appended when one follows a road:
  ``Renmin Road`` -> ``人民路``, ``光明路18号`` -> ``光明路18号``), then addresses that are not in
  the gazetteer (``source="pattern"``, ``value`` the surface): ``枫林路18号``, ``翠竹苑``,
  ``12 Oak Lane``, ``on Birch Road``. The longest match wins; on a tie, the gazetteer.
  A Chinese road or compound name is cut from the text before its suffix with jieba, so
  ``我住在枫林路`` gives ``枫林路``, and generic words (``马路``, ``这条路``, ``我们小区``,
  ``步行街``...) are not places.
* ``time``: the surface of a time expression (``昨天``, ``每天晚上``, ``晚上十一点以后``,
  ``一个多月``, ``2026年11月20日``, ``10:30``, ``last night``, ``since Monday``,
  ``for two weeks``, ``at 11 pm``). Values are not resolved to dates: that needs the date
  the message was sent, which the caller has.
"""

from __future__ import annotations

import functools
import logging
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

import jieba
import yaml

from civicline.domain.errors import InvalidInput
from civicline.domain.units import UnitTree
from civicline.nlu.base import Entity
from civicline.nlu.masking import case_number_spans, find_phones, fold


def _words(words: str) -> frozenset[str]:
    return frozenset(words.split())


jieba.setLogLevel(logging.WARNING)
log = logging.getLogger(__name__)

PLACE_TYPES: Final = ("roads", "neighbourhoods", "landmarks")
# A unit's level (units.yml) -> its place type; county-level units are the districts.
UNIT_TYPES: Final = {
    "city": "city",
    "county": "district",
    "township": "township",
    "village": "village",
}

_CJK = "\u4e00-\u9fff"
_IS_CJK = re.compile(f"[{_CJK}]+")


# --- gazetteer ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Place:
    zh: str
    en: str
    type: str  # city, district (county-level), township, village, road, neighbourhood, landmark
    district: str | None = None
    """The canonical name of the county-level unit the place lies in (itself for one)."""
    aliases: tuple[str, ...] = ()
    unit: str | None = None
    """The code of the unit of units.yml: the place's own for a unit, else the unit it lies in."""
    guarded: tuple[str, ...] = ()
    """Chinese aliases that count only as whole words (a township's name without its suffix:
    新发 is not in 重新发放)."""

    @property
    def names(self) -> tuple[str, ...]:
        return (self.zh, self.en, *self.aliases)

    @property
    def is_unit(self) -> bool:
        return self.type in UNIT_TYPES.values()


@dataclass(frozen=True, slots=True)
class Gazetteer:
    city_zh: str
    city_en: str
    places: tuple[Place, ...]
    tree: UnitTree | None = None
    # Built on first use: find and unit_place ran once per place and unit of every complaint
    # filed, each a walk over all the places (a fifth of a past call's CPU in the import).
    _by_name: dict[str, Place] = field(default_factory=dict, compare=False, repr=False)
    _by_unit: dict[str, Place] = field(default_factory=dict, compare=False, repr=False)

    def find(self, name: str) -> Place | None:
        """The place with this canonical Chinese name, English name or alias."""
        if not self._by_name:
            for place in reversed(self.places):  # the first place with a name wins
                self._by_name.update((known.casefold(), place) for known in place.names)
        return self._by_name.get(name.casefold())

    def unit_place(self, code: str) -> Place | None:
        """The place of the unit with this code."""
        if not self._by_unit:
            for place in reversed(self.places):
                if place.is_unit and place.unit is not None:
                    self._by_unit[place.unit] = place
        return self._by_unit.get(code)


def default_gazetteer_path() -> Path:
    return Path(__file__).parent / "data" / "gazetteer.yml"


def default_units_path() -> Path:
    return Path(__file__).parents[1] / "units.yml"


def _text(where: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}: expected a non-empty string, got {value!r}")
    return value.strip()


def load_units(path: Path | None = None) -> UnitTree:
    source = path or default_units_path()
    try:
        return UnitTree.from_dict(yaml.safe_load(source.read_text(encoding="utf-8")))
    except InvalidInput as exc:
        raise ValueError(f"{source}: {exc}") from exc


def _unit_places(tree: UnitTree, curated: set[str]) -> list[Place]:
    """Every unit as a place. An alias that a curated place has too (敬亭山 is the mountain
    before the street named after it) is the curated place's; a name two units share (two
    城关镇 in two counties) counts only after its county's name (X县城关镇)."""
    units = list(tree)
    shared = Counter(unit.name_zh for unit in units)
    places = []
    for unit in units:
        county = tree.county_of(unit.code)
        district = county.name_zh if county is not None else None
        zh = unit.name_zh
        aliases = [a for a in unit.aliases if a.casefold() not in curated]
        if shared[zh] > 1 and county is not None and county.code != unit.code:
            zh = f"{county.name_zh}{unit.name_zh}"
            aliases = [f"{alias}{unit.name_zh}" for alias in county.aliases if _IS_CJK.match(alias)]
        places.append(
            Place(
                zh=zh,
                en=unit.name_en,
                type=UNIT_TYPES[str(unit.level)],
                district=district,
                aliases=tuple(aliases),
                unit=unit.code,
                guarded=tuple(a for a in aliases if unit.level != "city" and _IS_CJK.match(a)),
            )
        )
    return places


def load_gazetteer(path: Path | None = None, units: Path | None = None) -> Gazetteer:
    """Read and check a gazetteer file and the units file it builds on: every entry needs
    ``zh``, ``en`` and a known ``unit``; names are unique."""
    source = path or default_gazetteer_path()
    tree = load_units(units)
    document = yaml.safe_load(source.read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        raise ValueError(f"{source}: expected a mapping with the place lists")
    city = str(document.get("city", tree.city.code))
    if city != tree.city.code:
        # another city's units file (CIVICLINE_UNITS_PATH) beside the shipped gazetteer: its
        # units are places; the roads and landmarks of this file are not theirs
        log.warning(
            "gazetteer of another city: roads and landmarks not used",
            extra={"gazetteer_city": city, "units_city": tree.city.code},
        )
        document = {}
    places: list[Place] = []
    for group in PLACE_TYPES:
        entries = document.get(group, [])
        if not isinstance(entries, list):
            raise ValueError(f"{source}: `{group}` must be a list")
        for index, entry in enumerate(entries):
            where = f"{source}: {group}[{index}]"
            if not isinstance(entry, dict):
                raise ValueError(f"{where}: expected a mapping")
            aliases = entry.get("aliases", [])
            if not isinstance(aliases, list):
                raise ValueError(f"{where}: `aliases` must be a list")
            code = _text(f"{where}.unit", entry.get("unit"))
            if tree.get(code) is None:
                raise ValueError(f"{where}: unknown unit {code}")
            county = tree.county_of(code)
            places.append(
                Place(
                    zh=_text(f"{where}.zh", entry.get("zh")),
                    en=_text(f"{where}.en", entry.get("en")),
                    type=group.removesuffix("s"),
                    district=county.name_zh if county is not None else None,
                    aliases=tuple(_text(f"{where}.aliases", alias) for alias in aliases),
                    unit=code,
                )
            )
    curated = {name.casefold() for place in places for name in place.names}
    places = _unit_places(tree, curated) + places
    seen: dict[str, str] = {}
    for place in places:
        for name in place.names:
            other = seen.setdefault(name.casefold(), place.zh)
            if other != place.zh:
                raise ValueError(f"{source}: {name!r} names both {other} and {place.zh}")
    root = tree.city
    return Gazetteer(city_zh=root.name_zh, city_en=root.name_en, places=tuple(places), tree=tree)


_ABBREVIATIONS: Final = (("Road", "Rd"), ("Street", "St"), ("Avenue", "Ave"))


def _english_variants(name: str) -> Iterable[str]:
    yield name
    for word, short in _ABBREVIATIONS:
        if name.endswith(f" {word}"):
            yield name.removesuffix(word) + short


def _trie_pattern(words: Iterable[str]) -> str:
    """One regex for many words, as a trie (``ab(?:c|d)``): fast, and the longest word wins."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        branches = [
            ("['’]" if char == "'" else re.escape(char)) + emit(child)
            for char, child in sorted(node.items())
            if char
        ]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return emit(trie)


class _GazetteerIndex:
    """Chinese names by first character (longest first); English names in one regex."""

    def __init__(self, gazetteer: Gazetteer) -> None:
        self.gazetteer = gazetteer
        by_first: dict[str, list[tuple[str, Place, bool]]] = {}
        english: dict[str, Place] = {}
        for place in gazetteer.places:
            for name in place.names:
                if _IS_CJK.search(name):
                    by_first.setdefault(name[0], []).append((name, place, name in place.guarded))
                else:
                    for variant in _english_variants(name):
                        english[variant.casefold().replace("’", "'")] = place
        self.by_first = {
            first: sorted(names, key=lambda item: -len(item[0]))
            for first, names in by_first.items()
        }
        self.english = english
        alternatives = _trie_pattern(english)
        self.english_pattern = re.compile(
            rf"(?<![A-Za-z0-9])(?:(?:No\.?\s*)?(?P<number>\d+[A-Za-z]?),?\s+)?(?P<name>{alternatives})"
            r"(?![A-Za-z0-9])",
            re.IGNORECASE,
        )


@functools.cache
def default_gazetteer() -> Gazetteer:
    return load_gazetteer(units=_UNITS.get("path"))


@functools.cache
def _default_index() -> _GazetteerIndex:
    return _GazetteerIndex(default_gazetteer())


@functools.cache
def _districts() -> tuple[tuple[str, str], ...]:
    """(name, district) for every place name the gazetteer knows, longest names first."""
    pairs = []
    for place in default_gazetteer().places:
        district = place.zh if place.type == "district" else place.district
        if district is not None:
            pairs += [(name.casefold(), district) for name in place.names]
    return tuple(sorted(pairs, key=lambda pair: -len(pair[0])))


@functools.cache
def _district_names() -> tuple[re.Pattern[str], dict[str, int]]:
    """A regex finding, at each position, the longest of ``_districts``'s names that starts
    there (a trie in a look-ahead), and each name's first place in ``_districts``."""
    first: dict[str, int] = {}
    for order, (name, _) in enumerate(_districts()):
        first.setdefault(name, order)
    trie: dict[str, Any] = {}
    for name in first:
        node = trie
        for char in name:
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        branches = [re.escape(char) + emit(child) for char, child in node.items() if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    if not first:
        return re.compile("(?!)"), first
    # The first characters as one class ahead: the alternation is tried only where one is.
    starts = "".join(re.escape(char) for char in trie)
    return re.compile(f"(?=[{starts}])(?=({emit(trie)}))"), first


def district_of(text: str) -> str | None:
    """The district a text's place lies in (a district named outright, else the district of a
    road, compound or landmark it names), or None: of the names the text holds, the first in
    ``_districts``'s order (longest first), found in one pass."""
    pattern, first = _district_names()
    found = [first[match.group(1)] for match in pattern.finditer(text.casefold())]
    return _districts()[min(found)][1] if found else None


_UNITS: dict[str, Path] = {}  # the units file the default gazetteer reads, when not the shipped


def use_units(path: Path) -> None:
    """Recognise the units of ``path`` (the city's CIVICLINE_UNITS_PATH) from now on."""
    if path.resolve() == (_UNITS.get("path") or default_units_path()).resolve():
        return
    _UNITS["path"] = path
    for cached in (default_gazetteer, _default_index, _districts, _district_names, _entities_of):
        cached.cache_clear()


def warm_up(units: Path | None = None) -> None:
    """Load the gazetteer (with the units of ``units``, when given) and jieba's dictionary now
    rather than on the first message."""
    if units is not None:
        use_units(units)
    _default_index()
    jieba.initialize()


# --- candidates and selection --------------------------------------------------------------------

_Candidate = tuple[int, int, int, Entity]  # start, end, priority (lower wins a tie), entity


def _entity(kind: str, value: str, start: int, end: int, source: str = "pattern") -> Entity:
    return Entity(kind=kind, value=value, start=start, end=end, source=source)


def _select(candidates: Iterable[_Candidate]) -> list[Entity]:
    """Longest first, then by priority, then leftmost; nothing overlapping what is kept."""
    kept: list[tuple[int, int, Entity]] = []
    for start, end, _, entity in sorted(candidates, key=lambda c: (c[0] - c[1], c[2], c[0])):
        if all(end <= other_start or other_end <= start for other_start, other_end, _ in kept):
            kept.append((start, end, entity))
    return [entity for _, _, entity in sorted(kept, key=lambda item: item[:2])]


# --- places --------------------------------------------------------------------------------------

_HOUSE_NUMBER = re.compile(r"\s?(\d+(?:[-之]\d+)?)\s?号(?:院|楼)?")

# A Chinese address suffix right after a Chinese character; a compass point before a road
# suffix belongs to the name (幸福南路). Not when the suffix starts another word (街道, 路线).
_ZH_SUFFIX = re.compile(
    rf"(?<=[{_CJK}])(?P<direction>[东西南北中])?"
    r"(?P<core>大道|胡同|小区|花园|家园|公寓|新村|路(?![线费况途程径子过由人])|街(?![道坊])|巷|苑)"
)
_ROAD_CORES: Final = frozenset({"大道", "胡同", "路", "街", "巷"})
# Words jieba makes of a road suffix and the next character that still follow a road's name.
_ROAD_AND_PLACE: Final = frozenset(
    {"路口", "路上", "路边", "路段", "路旁", "街上", "街口", "街边", "巷口", "巷子", "巷里"}
)
_MAX_NAME = 8  # characters before the suffix

# Words before a suffix that make the whole a common noun, not a name.
_ZH_STOP: Final = _words(
    """
    的 在 到 从 去 往 住 是 了 和 与 或 及 把 被 让 找 修 走 绕 过 沿 经 向 近 靠 条 个 家 号 都 也
    就 还 又 再 很 太 更 最 新 老 大 小 这 那 该 本 某 每 各 其 我 你 他 她 它 们 村 后 前 有 没
    我们 你们 他们 咱们 我家 自己 大家 这个 那个 某个 一个 整个 各个 这些 那些 一些 很多 不少
    多个 部分 其他 别的 所在 同一 隔壁 旁边 对面 门口 附近 周边 周围 一带 里面 外面 这里 那里
    这条 那条 一条 整条 每条 几条 主要 主干 城市 市政 农村 村里 乡村 山区 城区 老城 郊区 产业
    水泥 柏油 泥巴 石子 高速 快速 十字 公交 地铁 专用 施工 新修 新建 老旧 高档 安置 回迁
    商品房 居民 住宅 封闭式 开放式 物业 开发商 小区 社区 学校 单位 医院 屋顶 楼顶 空中 私家
    人才 青年 单身 长租 酒店式 职工 员工 学生 公租 廉租 保障性 美好 绿色 精神 共同 温馨 步行
    商业 美食 小吃 夜市 上班 上学 回家 一路 半路 马路 道路 公路 小路 大路
    """
)
_ZH_GENERIC: Final = _words(
    """
    马路 道路 公路 铁路 大路 小路 山路 水路 土路 水泥路 柏油路 泥巴路 石子路 机耕路 产业路
    快速路 高速路 十字路 丁字路 环路 步行街 商业街 美食街 小吃街 老街 大街 小街 小巷 大道
    林荫道 胡同 花园 小区 家园 公寓 新村
    """
)


# A road or compound name has no negation or particle in it (看不清路, 没有路灯).
_NOT_IN_NAMES = re.compile("[不没了的着过在是把被让给]")
# One-character words that end a name (幸福里小区, 王家庄路); any other is a verb or a particle.
_NAME_ENDINGS: Final = frozenset("里村园庄湾坊桥城山湖河江港岭坡塘门楼台洲岛屯营寨堡口")
# Suffix with the character before it: common words, not the end of a name.
_GENERIC_ENDINGS: Final = _words(
    """
    道路 马路 公路 铁路 线路 跑路 修路 绕路 走路 半路 迷路 带路 让路 上路 出路 思路 电路 小路 大路
    土路 山路 水路 网路 短路 断路 回路 来路 去路 退路 活路 弯路 近路 远路 夜路 赶路 问路 开路
    拦路 堵路 挡路 占路 过路 一路 大街 小街 老街 上街 逛街 过街 沿街 临街 满街
    """
)


@functools.lru_cache(maxsize=4096)
def _segment(window: str) -> tuple[str, ...]:
    """jieba's words for a short window; the same road names come back again and again."""
    return tuple(jieba.lcut(window, HMM=True))


def _is_name_token(token: str) -> bool:
    return (
        bool(_IS_CJK.fullmatch(token))
        and token not in _ZH_STOP
        and _NOT_IN_NAMES.search(token) is None
    )


def _zh_address_start(text: str, core_start: int, end: int) -> int | None:
    """Where the name of the address whose suffix ends at ``end`` starts, if it has one."""
    window_start = core_start
    while window_start > 0 and core_start - window_start < _MAX_NAME + 1:
        if not _IS_CJK.match(text, window_start - 1):
            break
        window_start -= 1
    if window_start == core_start or text[core_start - 1 : core_start + 1] in _GENERIC_ENDINGS:
        return None
    tokens: list[tuple[int, str]] = []
    position = window_start
    # one character more, so that jieba sees when the suffix starts a word (路灯, 路面)
    for token in _segment(text[window_start : end + 1]):
        tokens.append((position, token))
        position += len(token)
    # the token holding the suffix, and the tokens before it
    index = next(i for i, (start, token) in enumerate(tokens) if start + len(token) > core_start)
    holder_start, holder = tokens[index]
    if holder_start + len(holder) > end and holder not in _ROAD_AND_PLACE:
        return None  # 路灯, 路面, 街道: the suffix is part of a longer word
    if holder_start < core_start:
        prefix = text[holder_start:core_start]
        if holder in _ZH_GENERIC or text[holder_start:end] in _ZH_GENERIC:
            return None
        if len(prefix) >= 2:
            return holder_start
        if prefix not in "东西南北中":
            return None  # 马路, 修路, 半路: a word, not a name
    before = tokens[:index]
    if not before or not _is_name_token(before[-1][1]):
        return None
    start, token = before[-1]
    if len(token) == 1:
        if token not in _NAME_ENDINGS or len(before) < 2 or not _is_name_token(before[-2][1]):
            return None
        start = before[-2][0]
    return start


def _zh_pattern_places(text: str, taken: list[tuple[int, int]]) -> Iterable[_Candidate]:
    for match in _ZH_SUFFIX.finditer(text):
        end = match.end()
        if any(start < end <= stop for start, stop in taken):
            continue  # inside a gazetteer name: it is known already
        start = _zh_address_start(text, match.start("core"), end)
        if start is None or text[start:end] in _ZH_GENERIC:
            continue
        if match["core"] in _ROAD_CORES:
            house = _HOUSE_NUMBER.match(text, end)
            if house is not None:
                end = house.end()
        surface = text[start:end]
        yield start, end, 1, _entity("place", surface, start, end)


_EN_SUFFIX = re.compile(r"\b(?:Road|Street|Avenue|Lane|Boulevard|Rd|St|Ave)\b", re.IGNORECASE)
_EN_WORD = re.compile(r"[A-Za-z][\w'’-]*|\d+[A-Za-z]?")
_EN_PREPOSITIONS: Final = _words(
    "on along near at in of to from off by opposite behind outside into onto"
)
_EN_STOP: Final = _EN_PREPOSITIONS | _words(
    """
    the a an this that these those our my your his her their its every each some any same next
    main busy wrong whole entire local old new small narrow big dark one other another which
    riverside village country side back dirt mud private public
    """
)


def _en_pattern_places(text: str) -> Iterable[_Candidate]:
    for suffix in _EN_SUFFIX.finditer(text):
        window_start = max(0, suffix.start() - 60)
        words = list(_EN_WORD.finditer(text, window_start, suffix.start()))
        if words and words[0].start() == window_start and window_start > 0:
            words = words[1:]  # possibly cut in half by the window
        name: list[re.Match[str]] = []
        for word in reversed(words):
            token = word.group()
            if token.lower() in _EN_STOP or token[0].isdigit() or len(name) == 3:
                break
            if text[word.end() : (name[0] if name else suffix).start()].strip():
                break  # punctuation between words
            name.insert(0, word)
        if not name:
            continue
        before = words[len(words) - len(name) - 1] if len(words) > len(name) else None
        after_preposition = before is not None and before.group().lower() in _EN_PREPOSITIONS
        numbered = (
            before is not None
            and before.group()[0].isdigit()
            and not text[before.end() : name[0].start()].strip(" ,")
        )
        capitalised = suffix.group()[0].isupper() and all(w.group()[0].isupper() for w in name)
        if not (capitalised or after_preposition or numbered):
            continue
        start = before.start() if numbered and before is not None else name[0].start()
        if numbered and before is not None:
            no = re.search(r"No\.?\s*$", text[max(0, start - 4) : start])
            if no is not None:
                start -= len(no.group())
        end = suffix.end()
        yield start, end, 1, _entity("place", text[start:end], start, end)


def _gazetteer_places(
    text: str, folded: str, index: _GazetteerIndex
) -> tuple[list[_Candidate], list[tuple[int, int]]]:
    candidates: list[_Candidate] = []
    for position, char in enumerate(text):
        names = index.by_first.get(char)
        if names is None:
            continue
        for name, place, guarded in names:
            if text.startswith(name, position):
                end = position + len(name)
                if guarded and not _whole_word(text, position, end):
                    continue
                value = place.zh
                if place.type == "road":
                    house = _HOUSE_NUMBER.match(folded, end)
                    if house is not None:
                        end = house.end()
                        value = f"{place.zh}{house.group(1)}号"
                candidates.append((position, end, 0, _place_entity(place, value, position, end)))
                break
    if index.english:
        for match in index.english_pattern.finditer(text):
            place = index.english[match["name"].casefold().replace("’", "'")]
            value = place.zh
            if match["number"] and place.type == "road":
                value = f"{place.zh}{match['number']}号"
            start = match.start() if match["number"] else match.start("name")
            entity = _place_entity(place, value, start, match.end())
            candidates.append((start, match.end(), 0, entity))
    return candidates, [(start, end) for start, end, _, _ in candidates]


def _place_entity(place: Place, value: str, start: int, end: int) -> Entity:
    return Entity(
        kind="place", value=value, start=start, end=end, source="gazetteer", unit=place.unit
    )


_WORD_WINDOW = 4  # characters either side that jieba sees


def _whole_word(text: str, start: int, end: int) -> bool:
    """Whether no word of the text runs across ``start`` or ``end`` (新发 in 重新发放 does)."""
    window_start = max(0, start - _WORD_WINDOW)
    position = window_start
    for token in _segment(text[window_start : end + _WORD_WINDOW]):
        token_end = position + len(token)
        if position < start < token_end or position < end < token_end:
            return False
        position = token_end
    return True


_CHAIN_GAP = re.compile(r"[\s,，、]*")


def _merge_chains(entities: list[Entity], text: str, gazetteer: Gazetteer) -> list[Entity]:
    """An address's administrative part as one place, the most specific unit:
    宣城市宣州区鳌峰街道 and Ningguo City, Helixi Subdistrict are one place each."""
    tree = gazetteer.tree
    if tree is None:
        return entities
    merged: list[Entity] = []
    for entity in entities:
        last = merged[-1] if merged else None
        if (
            last is not None
            and last.kind == entity.kind == "place"
            and last.unit is not None
            and entity.unit is not None
            and last.unit != entity.unit
            and _CHAIN_GAP.fullmatch(text, last.end, entity.start) is not None
            and tree.contains(last.unit, entity.unit)
            and _is_unit_entity(last, gazetteer)
            and _is_unit_entity(entity, gazetteer)
        ):
            merged[-1] = replace(entity, start=last.start)
            continue
        merged.append(entity)
    return merged


def _is_unit_entity(entity: Entity, gazetteer: Gazetteer) -> bool:
    place = gazetteer.unit_place(entity.unit) if entity.unit is not None else None
    return place is not None and place.zh == entity.value


def _places(text: str, folded: str, index: _GazetteerIndex) -> list[_Candidate]:
    candidates, taken = _gazetteer_places(text, folded, index)
    candidates.extend(_zh_pattern_places(folded, taken))
    candidates.extend(_en_pattern_places(text))
    return candidates


# --- time expressions ----------------------------------------------------------------------------


def _alternation(words: str) -> str:
    return "|".join(sorted(words.split(), key=len, reverse=True))


_CN_NUM = "[零〇一二两三四五六七八九十]"
_WEEKDAY = "[一二三四五六日天]"
_DAY_WORDS = """
    今天 昨天 前天 大前天 明天 后天 今日 昨日 当天 当晚 每天 天天 每日 每晚 每夜 每年 每月 每个月
    周末 每个周末 每逢周末 上个月 这个月 本月 下个月 上半年 下半年 去年 今年 前年 明年 最近 近期
    近来 这几天 前几天 这两天 前两天 近几天 最近几天 这段时间 前段时间 刚才 刚刚 年初 年底 月初
    月底 节假日 双休日 工作日 春节 国庆 元旦
"""
_DAY = (
    rf"(?:每个?|上个?|这个?|本|下个?)(?:星期|礼拜){_WEEKDAY}?|(?:星期|礼拜){_WEEKDAY}"
    rf"|(?:每|上|这|本|下)?周{_WEEKDAY}"
    rf"|(?:每|上|这|本|下)周|{_alternation(_DAY_WORDS)}"
)
_PERIOD_WORDS = """
    凌晨 清晨 早上 早晨 上午 中午 下午 傍晚 晚上 夜里 夜间 半夜 深夜 午夜 白天 夜晚 晚间
    今晚 昨晚 今早 昨夜 今夜 一早 大清早 早高峰 晚高峰 下班后 放学后
"""
_PERIOD = _alternation(_PERIOD_WORDS)
_HOUR = rf"(?:\d{{1,2}}|{_CN_NUM}{{1,3}})"
_CLOCK_ANY = rf"{_HOUR}[点點](?:半|一刻|三刻|钟|多|\d{{1,2}}分?|{_CN_NUM}{{1,3}}分)?"
# Without a day or part of the day before it, 一点 / 两点 are as often "a little" / "two
# points": a Chinese-numeral hour needs something that only a clock time has.
_CLOCK_SAFE = (
    rf"\d{{1,2}}[点點](?:半|一刻|三刻|钟|多|\d{{1,2}}分?|{_CN_NUM}{{1,3}}分)?"
    rf"|{_CN_NUM}{{1,3}}[点點](?:半|一刻|三刻|钟|{_CN_NUM}{{1,3}}分)"
    rf"|{_CN_NUM}{{1,3}}[点點]多?(?=以后|之后|以前|之前|左右|前后|到|至)"
)
_HHMM = r"(?<!\d)(?:[01]?\d|2[0-3])[:：][0-5]\d(?!\d)"
_SUFFIX = "(?:以后|之后|以前|之前|左右|前后|开始)"
_TIME_OF_DAY = (
    rf"(?:(?:{_DAY})(?:(?:{_PERIOD})(?:{_CLOCK_ANY}|{_HHMM})?|{_CLOCK_SAFE}|{_HHMM})?"
    rf"|(?:{_PERIOD})(?:{_CLOCK_ANY}|{_HHMM})?"
    rf"|{_CLOCK_SAFE}|{_HHMM})"
)
_RANGE = rf"(?:[到至~-](?:(?:{_PERIOD})?(?:{_CLOCK_ANY}|{_HHMM})|{_PERIOD}))?"
_DATE = (
    r"(?<!\d)\d{4}[./-]\d{1,2}[./-]\d{1,2}(?!\d)"
    r"|(?<!\d)(?:\d{4}年)?\d{1,2}月\d{1,2}[日号]?(?!\d)"
    rf"|(?<!\d)(?:\d{{4}}年)?(?:1[0-2]|0?[1-9]|十[一二]?|[一二三四五六七八九])月(?:份|(?:\d{{1,2}}|{_CN_NUM}{{1,3}})[日号])?"
)
_DURATION = (
    # a number starts where the digits or numerals start: no quadratic work on long runs
    r"(?:第|好(?=几|多)|大(?=半))?(?:(?<!\d)\d+|(?<![零一二两三四五六七八九十百千几半])"
    r"[零一二两三四五六七八九十百千几半]+)多?个?多?半?"
    r"(?:天|日|周|星期|礼拜|个月|月|年|小时|钟头|分钟)(?<!四周)(?!级|纪|轻|代|度)多?"
    r"(?:以来|之前|以前|前|后)?"
)
# Every Chinese time expression starts with one of these: checking it first lets the big
# pattern below skip the other positions quickly.
_TIME_STARTS = "".join(
    sorted(
        {word[0] for word in (_DAY_WORDS + _PERIOD_WORDS).split()} | set("每上这本下星礼周第好大")
    )
)
_ZH_TIME = re.compile(
    rf"(?=[\d{_CN_NUM[1:-1]}百千几半{_TIME_STARTS}])"
    rf"(?:(?:{_TIME_OF_DAY}){_SUFFIX}?{_RANGE}{_SUFFIX}?|{_DATE}|{_DURATION})"
)

_EN_NUMBER = (
    r"(?:\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|a few|few|"
    r"several|many|a couple of|couple of)"
)
_EN_UNIT = r"(?:minutes?|hours?|days?|nights?|weeks?|months?|years?|weekends?)"
_EN_WEEKDAY = r"(?:mon|tues|wednes|thurs|fri|satur|sun)days?"
_EN_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_EN_CLOCK = r"\d{1,2}(?::\d{2})?\s?(?:am|pm|a\.m\.|p\.m\.|o'clock)|\d{1,2}:\d{2}|midnight|noon"
_EN_TIME = re.compile(
    r"\b(?:"
    rf"(?:since|until|till|from|before|after|around|about|at|by|past|on|every|each|last|this|next)"
    rf"\s+(?:{_EN_WEEKDAY}|{_EN_CLOCK}|{_EN_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?)"
    rf"(?:\s+(?:morning|afternoon|evening|night))?"
    rf"|(?:since|from)\s+(?:yesterday|last\s+(?:night|week|month|year|weekend)|the\s+weekend)"
    rf"|(?:for|over|in|within)\s+(?:the\s+(?:last|past)\s+)?(?:more than\s+|nearly\s+|almost\s+|"
    rf"about\s+|over\s+)?{_EN_NUMBER}\s+{_EN_UNIT}"
    rf"|(?:for|over)\s+(?:weeks|months|years|days|hours|ages)"
    rf"|{_EN_NUMBER}\s+{_EN_UNIT}\s+ago"
    rf"|(?:last|this|every|each|next)\s+(?:night|morning|afternoon|evening|week|month|year|"
    rf"weekend|day|single\s+day)"
    rf"|(?:today|tonight|yesterday|tomorrow|overnight|all night|at night|weekends|nightly|daily)"
    rf"|{_EN_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_EN_MONTH}(?:,?\s+\d{{4}})?"
    rf"|{_EN_WEEKDAY}"
    rf"|{_EN_CLOCK}"
    r")(?![\w'])",
    re.IGNORECASE,
)


_HAS_CJK_OR_DIGIT = re.compile(f"[0-9{_CJK}]")


def _times(text: str, folded: str) -> Iterable[_Candidate]:
    if _HAS_CJK_OR_DIGIT.search(folded) is not None:
        for match in _ZH_TIME.finditer(folded):
            yield match.start(), match.end(), 0, _entity("time", match.group(), *match.span())
    if re.search("[A-Za-z]", text):
        for match in _EN_TIME.finditer(text):
            value = " ".join(match.group().split())
            yield match.start(), match.end(), 0, _entity("time", value, *match.span())


# --- all together --------------------------------------------------------------------------------


def extract_entities(text: str) -> tuple[Entity, ...]:
    """Case numbers, phones, places and times in ``text``, sorted by start."""
    return _entities_of(text)


@functools.lru_cache(maxsize=64)
def _entities_of(text: str) -> tuple[Entity, ...]:
    """Kept for the last texts: a complaint is read for its entities and then for its unit
    (``places_in``), usually the same words, one after the other."""
    folded = fold(text)
    identifiers = [
        _entity("case_number", value, start, end)
        for start, end, _, value in case_number_spans(folded)
    ]
    identifiers.extend(find_phones(text))
    entities = _select((e.start, e.end, 0, e) for e in identifiers)
    taken = [(e.start, e.end) for e in entities]

    def free(candidate: _Candidate) -> bool:
        start, end = candidate[0], candidate[1]
        return all(end <= other_start or other_end <= start for other_start, other_end in taken)

    index = _default_index()
    places = _select(filter(free, _places(text, folded, index)))
    entities.extend(_merge_chains(places, text, index.gazetteer))
    entities.extend(_select(filter(free, _times(text, folded))))
    return tuple(sorted(entities, key=lambda e: (e.start, e.end, e.kind)))

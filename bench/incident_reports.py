"""A labelled set of complaints for incident grouping (bench/incidents.py), written for it.

Events happen at places of Xuancheng (the gazetteer's compounds, roads, landmarks and a few
compounds it does not know); each event is reported by one to seven citizens in their own
words: the phrasings of a matter differ, and so does how precisely each citizen names the
place (``红星小区3号楼``, ``红星小区3栋``, ``宁国市红星小区三号楼``, or only ``红星小区``). The
hard part is in the distinct events: most share their matter and district with others, and
differ only in the building, the compound, the road, the house number, the bus line, the date
or the hour. ``labelled(rng)`` returns (text, event id) pairs; two reports are one incident
exactly when their event ids are equal.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

CN_DIGITS = "零一二三四五六七八九"


def cn(n: int) -> str:
    """12 -> 十二, 3 -> 三 (building numbers as people say them)."""
    if n < 10:
        return CN_DIGITS[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else CN_DIGITS[tens]) + "十" + (CN_DIGITS[ones] if ones else "")


# Compounds by district (the gazetteer's, and some it does not know: found by their suffix).
COMPOUNDS = {
    "宁国市": ["红星小区", "阳光小区", "建设新村", "胜利花园"],
    "宣州区": ["幸福里小区", "和平小区", "梧桐苑", "民主家园"],
    "郎溪县": ["东湖小区", "龙湖小区", "翠湖苑", "朝阳花园"],
    "宣城高新区": ["锦绣花园", "世纪花园", "银杏苑", "学府家园"],
    "济川街道": ["江景花园", "丽景湾", "柳岸人家"],
    "广德市": ["紫荆花园", "南苑小区", "友谊新村"],
}
ROADS = {
    "宁国市": ["沿江路", "建设路", "胜利路", "黄河路"],
    "宣州区": ["幸福路", "人民路", "解放路", "中山路"],
    "郎溪县": ["东风路", "朝阳路", "翠湖路", "体育路"],
    "宣城高新区": ["学府路", "科技路", "银杏路"],
    "济川街道": ["长江路", "江滨路"],
    "广德市": ["友谊路", "青年路", "珠江路"],
}
LANDMARKS = {
    "宣州区": ["人民公园", "城市广场", "人民广场"],
    "郎溪县": ["体育公园"],
    "济川街道": ["滨江公园", "宛陵湖公园"],
    "广德市": ["儿童公园"],
}

# What citizens write. {p}: the place as this citizen names it; {t}: a time, when the event has one.
PHRASES: dict[str, list[str]] = {
    "lift": [
        "{p}的电梯又坏了，这个月已经第三次了，家里老人上下楼特别困难，物业说在等配件，一拖再拖，请尽快督促维修。",
        "反映一下{p}电梯的问题，今天早上电梯突然停在半空，里面困了两个人，过了四十分钟才有人来，太危险了。",
        "我住{p}，电梯停运好几天了，我们住得高，每天爬楼梯腿都软了，希望相关部门督促尽快修好。",
        "{p}电梯经常有异响，门也关不严，运行的时候抖得厉害，很担心出事故，请安排人来检测一下。",
        "{p}电梯坏了一直没人修，打物业电话也没人接，老人小孩出门都成问题。",
        "投诉{p}电梯维保不到位，三天两头出故障，今天又把人关在里面了。",
        "{p}电梯按钮失灵，上下楼要等很久，有时候直接不动，请督促维保单位处理。",
    ],
    "water_out": [
        "{p}从{t}开始停水，到现在还没来水，事先也没有任何通知，家里做饭洗漱都成问题。",
        "请问{p}停水什么时候能恢复？已经好几个小时了，打自来水公司电话一直占线。",
        "{p}这边没有自来水了，水龙头一滴水都没有，家里有老人，麻烦尽快处理。",
        "我们{p}突然停水，也没看到停水通知，请问是不是管道出问题了？",
        "{p}{t}停水到现在，小孩要洗澡都没办法，什么时候来水能不能给个准话。",
        "{p}水压很低，楼上基本不出水，已经一上午了，请派人看看。",
    ],
    "power_out": [
        "{p}{t}突然停电了，到现在还没来电，冰箱里的东西都要坏了。",
        "{p}停电好几个小时了，供电所电话一直打不通，请帮忙问一下什么时候恢复。",
        "我家在{p}，整栋楼都没电了，老人在家很不方便，希望尽快抢修。",
        "{p}又停电了，这个月第二次，也没有提前通知，严重影响正常生活。",
        "{p}{t}开始断电，家里在用呼吸机的老人很危险，请供电部门赶紧处理。",
    ],
    "heating": [
        "{p}暖气不热，屋里只有十几度，老人孩子都冻感冒了，请督促热力公司处理。",
        "{p}没有暖气，供暖都一个星期了暖气片还是冰凉的，交了取暖费却不供暖。",
        "反映{p}供暖问题，暖气不热，打热力公司电话说排查，一直没有结果。",
        "{p}的暖气不暖，晚上冷得睡不着，能不能派人来看看管道。",
    ],
    "lights": [
        "{p}的路灯坏了一个多星期了，晚上一片漆黑，行人走路很不安全。",
        "{p}那一段路灯不亮，晚上骑电动车差点摔倒，希望尽快修复。",
        "反映{p}路灯问题，好几盏灯都不亮了，晚上下班回家心里害怕。",
        "{p}附近的路灯晚上不亮，白天反而亮着，请有关部门检修一下。",
        "{p}路灯全黑了，路上还有施工的坑，晚上很容易出事。",
    ],
    "site_noise": [
        "{p}旁边的工地{t}还在施工，噪音特别大，吵得人根本睡不着，请求查处。",
        "投诉{p}工地夜间施工扰民，{t}了还在打桩，孩子明天还要上学。",
        "{p}附近有个工地{t}以后还在作业，机器轰鸣声很大，严重影响休息。",
        "{p}的工地{t}还在干活，搅拌机的噪声太大，请问有没有夜间施工许可？",
    ],
    "garbage": [
        "{p}的垃圾好几天没人清运了，垃圾桶都满了溢出来，臭味很大，招了很多苍蝇。",
        "{p}垃圾堆积如山，环卫一直不来收，天一热味道特别难闻。",
        "反映{p}垃圾清运不及时的问题，垃圾桶周边脏乱差，物业推给环卫，环卫推给物业。",
        "{p}门口的垃圾站好几天没清理了，污水流了一地。",
    ],
    "pothole": [
        "{p}路面有个大坑，下雨积水根本看不见，已经有电动车摔倒了，请尽快修补。",
        "{p}的路面坑坑洼洼，有一个坑特别深，汽车开过去底盘都会刮到。",
        "反映{p}路面塌陷的问题，坑越来越大了，晚上经过很危险。",
        "{p}那个大坑一直没人补，昨天又有人骑车摔了。",
    ],
    "fumes": [
        "{p}有家烧烤店油烟直排，熏得楼上住户窗户都不敢开，请环保部门查一下。",
        "投诉{p}的饭店油烟扰民，每天从中午到半夜都是很大的油烟味。",
        "{p}楼下的餐馆排油烟，整栋楼都是油烟味，衣服都没法晾。",
        "{p}那家饭馆的油烟机正对着居民窗户，油烟和异味太重了。",
    ],
    "dance": [
        "{p}每天晚上跳广场舞，音响开得特别大，{t}还不停，附近居民没法休息。",
        "{p}广场舞噪音扰民，音箱声音太大了，请城管管一管。",
        "投诉{p}的广场舞，{t}还在放音乐，家里孩子要写作业根本静不下来。",
    ],
    "bus": [
        "{p}公交车经常不按站停车，今天早上在站台等了半小时，车直接开过去了。",
        "投诉{p}公交司机，开车急刹急停，车上老人差点摔倒，态度也很差。",
        "{p}公交车间隔太长，早高峰等一辆车要四十分钟，能不能加密班次？",
        "{p}公交车今天早上又没停站，好几个人追着车跑，司机就是不停。",
    ],
    "parking": [
        "{p}门口经常有车乱停，把消防通道都堵了，物业也不管，万一着火怎么办。",
        "{p}的消防通道被私家车占了，救护车都进不来，请交警来处理。",
        "反映{p}乱停车问题，车都停到人行道上了，出门都要绕着走。",
    ],
    "roof": [
        "{p}楼顶有人私自搭建彩钢房，存在安全隐患，请城管查处。",
        "举报{p}顶楼住户违章搭建，占用公共楼顶，还往下漏水。",
        "{p}楼顶的违建越搭越大，物业说管不了，请执法部门来看看。",
    ],
}
TIMES = {
    "water_out": ["早上", "今天上午", "昨天晚上", "凌晨"],
    "power_out": ["晚上七点多", "下午两点", "今天早上", "中午"],
    "site_noise": ["晚上十一点", "凌晨两点", "半夜十二点", "晚上十点"],
    "dance": ["晚上九点半", "晚上十点", "九点多"],
}
# The matters and where their events happen.
SCOPE = {
    "lift": "building",
    "roof": "building",
    "heating": "compound",
    "water_out": "area",
    "power_out": "compound",
    "garbage": "compound",
    "parking": "compound",
    "lights": "road",
    "pothole": "road",
    "fumes": "house",
    "site_noise": "house",
    "dance": "landmark",
    "bus": "route",
}


@dataclass
class Event:
    id: int
    matter: str
    district: str
    compound: str | None = None
    building: int | None = None
    road: str | None = None
    house: int | None = None
    landmark: str | None = None
    route: int | None = None
    time: str | None = None
    date: str | None = None
    reports: int = 1
    phrases: list[str] = field(default_factory=list)


def mention(event: Event, rng: random.Random) -> str:
    """How one citizen names the event's place: mostly as precisely as the event, now and then
    less (a compound without the building, a road without the number)."""
    d = event.district
    if event.route is not None:
        return rng.choice([f"{event.route}路", f"{event.route}路", f"坐{event.route}路"])
    if event.landmark is not None:
        return rng.choice([event.landmark, f"{event.landmark}门口", f"{d}{event.landmark}"])
    if event.compound is not None and event.building is not None:
        c, b = event.compound, event.building
        if rng.random() < 0.12:
            return c
        return rng.choice(
            [f"{c}{b}号楼", f"{c}{b}栋", f"{c}的{b}号楼", f"{d}{c}{b}号楼", f"{c}{cn(b)}号楼"]
        )
    if event.compound is not None:
        c = event.compound
        if rng.random() < 0.15:
            return f"{c}{rng.randint(1, 30)}号楼"  # a resident names their own building
        return rng.choice([c, f"{d}{c}", f"{c}这边", c])
    if event.road is not None and event.house is not None:
        r, h = event.road, event.house
        if rng.random() < 0.1:
            return r
        return rng.choice([f"{r}{h}号", f"{r}{h}号门口", f"{r}{h}号附近", f"{d}{r}{h}号"])
    assert event.road is not None
    r = event.road
    return rng.choice([r, f"{r}上", f"{d}{r}", f"{r}一带"])


def render(event: Event, rng: random.Random) -> str:
    phrase = event.phrases.pop() if event.phrases else rng.choice(PHRASES[event.matter])
    text = phrase.format(p=mention(event, rng), t=event.time or "今天")
    if event.date is not None:
        text = f"{event.date}，{text}"
    return text


def _events(rng: random.Random) -> list[Event]:
    events: list[Event] = []

    def add(matter: str, district: str, **where: object) -> None:
        event = Event(len(events), matter, district, **where)  # type: ignore[arg-type]
        # Most events have one or two reports; some are reported by many.
        event.reports = rng.choice([1, 1, 1, 2, 2, 3, 4, 6])
        if matter in TIMES and event.time is None:
            event.time = rng.choice(TIMES[matter])
        phrases = PHRASES[matter][:]
        rng.shuffle(phrases)
        event.phrases = phrases  # each citizen in their own words, while they last
        events.append(event)

    for district, compounds in COMPOUNDS.items():
        roads = ROADS[district]
        # Lifts and roofs: several buildings of one compound, and the same building number
        # in two compounds of the district.
        for compound in compounds[:3]:
            for building in rng.sample(range(1, 40), 3):
                add("lift", district, compound=compound, building=building)
        add("roof", district, compound=compounds[0], building=5)
        add("roof", district, compound=compounds[1], building=5)
        add("roof", district, compound=compounds[0], building=8)
        # Compound-wide matters in several compounds of one district.
        for compound in compounds:
            add(rng.choice(["garbage", "parking", "heating"]), district, compound=compound)
        add("power_out", district, compound=compounds[0])
        add("power_out", district, compound=compounds[1])
        # The same compound's outage on another day: another event.
        add("power_out", district, compound=compounds[2], date="11月20日")
        add("power_out", district, compound=compounds[2], date="11月26日")
        # Water outages: along a road, and in a compound.
        add("water_out", district, road=roads[0])
        add("water_out", district, compound=compounds[-1])
        # Roads: lights and potholes on different roads; fumes and building-site noise at
        # different house numbers of one road.
        for road in roads[:2]:
            add(rng.choice(["lights", "pothole"]), district, road=road)
        houses = rng.sample(range(2, 400), 4)
        add("fumes", district, road=roads[0], house=houses[0])
        add("fumes", district, road=roads[0], house=houses[1])
        add("site_noise", district, road=roads[-1], house=houses[2])
        add("site_noise", district, road=roads[-1], house=houses[3])
        # The same site at another hour of the night, reported by another citizen.
        add("site_noise", district, road=roads[-1], house=houses[2], time="下午三点")
    for district, landmarks in LANDMARKS.items():
        for landmark in landmarks:
            add("dance", district, landmark=landmark)
    for route in rng.sample(range(1, 120), 8):
        add("bus", "", route=route)
    return events


def labelled(rng: random.Random) -> list[tuple[str, int]]:
    """The reports in the order they arrive, each with its event id."""
    reports = [(render(e, rng), e.id) for e in _events(rng) for _ in range(e.reports)]
    rng.shuffle(reports)
    return reports


def background(rng: random.Random, count: int) -> list[str]:
    """Open cases of a busy city: the same matters at many other places and buildings."""
    texts = []
    matters = list(SCOPE)
    districts = list(COMPOUNDS)
    for _ in range(count):
        district = rng.choice(districts)
        matter = rng.choice(matters)
        event = Event(0, matter, district, time=rng.choice(TIMES.get(matter, ["今天"])))
        scope = SCOPE[matter]
        compound = rng.choice(COMPOUNDS[district])
        road = rng.choice(ROADS[district])
        if scope == "building":
            event.compound, event.building = compound, rng.randint(40, 99)
        elif scope == "compound":
            event.compound = compound
        elif scope in ("road", "area"):
            event.road = road
        elif scope == "house":
            event.road, event.house = road, rng.randint(400, 999)
        elif scope == "landmark":
            event.landmark = rng.choice([name for names in LANDMARKS.values() for name in names])
        else:
            event.route = rng.randint(120, 400)
        texts.append(render(event, rng))
    return texts

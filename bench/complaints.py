"""Varied, realistic citizen complaints for the worker benchmarks, written for this project.

Each complaint is a template of one matter (17 kinds, from street lights to wage arrears)
filled with a place of 宣城市 (its counties, townships, roads, estates and landmarks), times,
durations, amounts and a citizen's plea, then joined with a second sentence of background, so
that no two are alike and lengths run from about 60 to 300 characters, as real ones do.

    from complaints import complaints
    texts = complaints(5000, seed=1)
"""

from __future__ import annotations

import random
from pathlib import Path

import yaml

GAZETTEER = Path(__file__).parents[1] / "src/civicline/nlu/data/gazetteer.yml"
UNITS = Path(__file__).parents[1] / "src/civicline/units.yml"

MATTERS = [
    "{place}的路灯已经坏了{days}天，晚上{hour}点以后整条路黑漆漆的，老人孩子出门都不安全。",
    "{place}{n}号楼的电梯这个月第{times}次停运了，住在高层的老人只能爬楼梯，物业一直说在等配件。",
    "{place}附近的垃圾站{days}天没人清运，垃圾堆到了路边，气味很大，还招老鼠。",
    "{place}的工地每天晚上{hour}点以后还在施工，打桩机的声音吵得整栋楼的人都睡不着。",
    "{place}和{place2}交叉口的红绿灯坏了{days}天，早晚高峰车和行人抢道，差点出事故。",
    "{place}一带从{hour}点开始停水，到现在也没有通知什么时候恢复，家里老人孩子做饭都成问题。",
    "我在{place}的一家工厂上班，老板已经拖欠我们{n}个工人{months}个月的工资，一共{amount}元。",
    "{place}有一家饭店的油烟直接排到居民楼里，{n}楼以上窗户都不敢开，找过店家也不管。",
    "{place}的小区物业乱收停车费，每个月涨到{amount}元，也不公示收费依据，业主很有意见。",
    "{place}那边的下水道堵了{days}天，一下雨污水就漫到路上，臭气熏天，商户都没法做生意。",
    "孩子在{place}附近的小学上学，学校门口每天放学都有很多车乱停，孩子过马路很危险。",
    "{place}的公交站牌被撞坏了{days}天没人修，{route}路公交车也经常不按点来，等车要{n}十分钟。",
    "我在{place}一家超市买的预付卡，充了{amount}元，现在店关门了老板跑了，钱退不回来。",
    "{place}有人在绿地里私搭乱建，盖了{n}间铁皮房出租，占了小区的消防通道。",
    "{place}的卫生院医生态度很差，挂号排了{n}个小时，看病不到两分钟就把我们打发走了。",
    "我{months}个月前在{place}办的社保转移到现在还没办好，来回跑了{times}趟，每次都说缺材料。",
    "{place}附近的河道最近颜色发黑，还有死鱼漂着，怀疑上游有小作坊往河里偷排污水。",
    "{place}菜市场的摊贩缺斤短两，买{n}斤菜回家一称少了二两，找市场管理处也没人管。",
    "{place}的出租车司机拒载，还说去{place2}要加{amount}元才走，打表也不肯。",
    "{place}新开的网吧让未成年人进去上网，晚上{hour}点还有穿校服的学生在里面。",
    "{place}的小区门口有人养了{n}条大狗不拴绳，已经咬伤过一个孩子，物业说管不了。",
    "{place}的燃气管道有股味道，报修了{times}次，燃气公司的人来看了说没事就走了。",
    "我父亲在{place}的养老院住，最近发现伙食很差，护工也经常不在，老人身上有压疮。",
    "{place}那段路面塌了一个大坑，已经{days}天了只放了个锥桶，晚上骑电动车很容易摔。",
    "在{place}的驾校报名交了{amount}元，{months}个月了还约不上练车，驾校说教练不够。",
]

BACKGROUND = [
    "之前打过{times}次电话反映，都说会处理，可到现在也没有人来看。",
    "住在这里的大多是老人，实在没办法才来反映。",
    "附近有{n}百多户居民都受影响，大家都很着急。",
    "已经向街道和社区反映过，社区说不归他们管。",
    "希望有关部门尽快派人到现场看一看，给我们一个答复。",
    "请尽快处理，不要再拖了，谢谢！",
    "我的联系电话就是这个号码，有需要可以随时找我了解情况。",
    "上个月{days}号也出过一样的问题，当时说修好了，没过几天又这样。",
    "",
]


def _places(gazetteer: Path = GAZETTEER, units: Path = UNITS) -> list[str]:
    names: list[object] = []
    for source in (units, gazetteer):
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
        lists = [items for items in data.values() if isinstance(items, list)]
        names += [item["zh"] for items in lists for item in items]
    return [name for name in names if isinstance(name, str)]


def complaints(count: int, *, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    places = _places()

    def fill(template: str) -> str:
        return template.format(
            place=rng.choice(places),
            place2=rng.choice(places),
            days=rng.randint(2, 30),
            hour=rng.choice([6, 7, 8, 9, 10, 11]),
            n=rng.randint(2, 40),
            times=rng.randint(2, 6),
            months=rng.randint(2, 11),
            amount=rng.choice([200, 350, 800, 1500, 3200, 12000, 46000]),
            route=rng.randint(1, 99),
        )

    texts = []
    for _ in range(count):
        parts = [fill(rng.choice(MATTERS))]
        parts += [fill(rng.choice(BACKGROUND)) for _ in range(rng.randint(0, 3))]
        texts.append("".join(parts))
    return texts

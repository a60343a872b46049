"""Masking for the public board: what ``masking.mask`` hides (phones, resident IDs, e-mail)
and also people's names, vehicle plates and house numbers, keeping places at street level.

``mask_for_board(text)`` is what the public may read of a citizen's words (and of a reply,
which often repeats them). The judgement calls:

* **Names** where a text introduces a person: after 我叫 / 我是 / 本人 / 名叫 / 姓名 /
  联系人 / 叫做, a common surname and one or two more characters (``我叫张伟`` ->
  ``我叫某某``); a surname before 先生 / 女士 / 师傅 / 阿姨 / 大爷 / 老师 / 同志
  (``王女士`` -> ``某女士``); in English after "my name is" / "name:" (one or two
  capitalised words). A name written any other way is not recognised: the board shows a
  case only after its citizen agreed, and staff read it before publishing where the city
  asks for a review.
* **Plates**: a province's character, a letter and five or six letters and digits
  (``皖P12345``, ``粤B·D12345``, ``京A 8X8X8``) -> ``皖P*****``: the province stays, it
  is a place.
* **House numbers**: a number after a road, street, lane or compound (``人民路18号`` ->
  ``人民路*号``), building, unit and room numbers (``3栋2单元501室`` -> ``*栋*单元*室``),
  in English a number before a street's name (``5 Main Street`` -> ``* Main Street``). A
  date's ``5号`` (``3月5号``) and other numbers stay.
"""

from __future__ import annotations

import re
from typing import Final

from civicline.nlu.masking import EMAIL, ID_NUMBER, PHONE, mask

NAME: Final = "某某"
HIDDEN: Final = "*"

# The hundred commonest surnames (百家姓 by frequency) and the commonest double ones.
_SURNAMES: Final = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶"
    "程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺"
    "顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧"
    "耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴"
)
_DOUBLE: Final = "欧阳|司马|上官|诸葛|东方|皇甫|尉迟|公孙|慕容|长孙|宇文|司徒|夏侯|令狐"
_HAN: Final = "[\u4e00-\u9fff]"
_INTRO: Final = r"(?:我叫|我是|本人|名叫|叫做|姓名\s*[:：]?|联系人\s*[:：]?)"
_NAME_AFTER_INTRO = re.compile(
    rf"(?P<intro>{_INTRO})\s*(?P<name>(?:{_DOUBLE}|[{_SURNAMES}]){_HAN}{{1,2}})"
)
_TITLES: Final = "先生|女士|小姐|师傅|阿姨|大爷|大妈|老师|同志|经理|老板"
_NAME_BEFORE_TITLE = re.compile(
    rf"(?<![\u4e00-\u9fff])(?:{_DOUBLE}|[{_SURNAMES}])(?P<title>{_TITLES})"
)
_ENGLISH_NAME = re.compile(
    r"(?P<intro>\b(?:my name is|name\s*:)\s*)(?P<name>[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)",
    re.IGNORECASE,
)
_PROVINCES: Final = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE = re.compile(
    rf"(?P<head>[{_PROVINCES}][A-Z])[·\s]?[A-Z0-9]{{5,6}}(?![A-Za-z0-9])", re.IGNORECASE
)
_STREET_NUMBER = re.compile(
    r"(?P<street>路|街|巷|道|弄|胡同|里|村|组|小区|花园|苑|公寓|大厦|广场|院)"
    r"\s*[0-9０-９]+(?:[-－之][0-9０-９]+)?\s*(?P<unit>号院|号楼|号)"
)
_BUILDING = re.compile(
    r"(?<![0-9０-９])[0-9０-９]+(?:[-－][0-9０-９]+)?\s*(?P<unit>号楼|栋|幢|座|单元|室|户)"
)
_ROOM_AFTER_UNIT = re.compile(r"(?P<unit>单元|栋|幢|号楼)\s*[0-9０-９]{3,4}(?![0-9０-９室])")
_ENGLISH_HOUSE = re.compile(
    r"\b[0-9]+[A-Za-z]?(?=\s+(?:[A-Z][a-z]+\s+)+(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln)\b)"
)
_PLACEHOLDERS: Final = {PHONE: "***", ID_NUMBER: "***", EMAIL: "***"}


def mask_for_board(text: str) -> str:
    """``text`` as the public board may show it."""
    masked = mask(text)
    for placeholder, shown in _PLACEHOLDERS.items():
        masked = masked.replace(placeholder, shown)
    masked = _NAME_AFTER_INTRO.sub(lambda m: m["intro"] + NAME, masked)
    masked = _NAME_BEFORE_TITLE.sub(lambda m: "某" + m["title"], masked)
    masked = _ENGLISH_NAME.sub(lambda m: m["intro"] + "***", masked)
    masked = _PLATE.sub(lambda m: m["head"].upper() + HIDDEN * 5, masked)
    masked = _STREET_NUMBER.sub(lambda m: m["street"] + HIDDEN + m["unit"], masked)
    masked = _ROOM_AFTER_UNIT.sub(lambda m: m["unit"] + HIDDEN, masked)
    masked = _ENGLISH_HOUSE.sub(HIDDEN, masked)
    return _BUILDING.sub(lambda m: HIDDEN + m["unit"], masked)

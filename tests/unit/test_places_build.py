"""``civicline places build CODE``: the units file from the national division codes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from civicline.gateway.cli import app
from civicline.nlu.divisions import build_units, english_name, render_units

SHIPPED = Path(__file__).parents[2] / "src" / "civicline" / "units.yml"


def _build(tmp_path: Path, code: str) -> tuple[str, dict[str, Any]]:
    output = tmp_path / f"{code}.yml"
    result = CliRunner().invoke(app, ["places", "build", code, "--output", str(output)])
    assert result.exit_code == 0, result.output
    return result.output, yaml.safe_load(output.read_text(encoding="utf-8"))


def _check_tree(document: dict[str, Any]) -> None:
    city = document["city"]
    seen = {city["code"]}
    for unit in document["units"]:
        assert set(unit) >= {"code", "zh", "en", "level", "parent", "aliases"}
        assert unit["parent"] in seen, f"{unit['zh']}: parent after child"
        assert unit["code"].startswith(unit["parent"][:6] if unit["level"] == "township" else "")
        assert len(unit["code"]) == {"county": 6, "township": 9}[unit["level"]]
        assert unit["code"] not in seen
        seen.add(unit["code"])
    names = [n.casefold() for u in document["units"] for n in u["aliases"]]
    assert len(names) == len(set(names)), "an alias names two units"


def test_builds_xuancheng_with_its_seven_county_level_units(tmp_path: Path) -> None:
    output, document = _build(tmp_path, "341800")
    assert "宣城市 341800: 7 county-level units" in output
    assert document["city"] == {
        "code": "341800",
        "zh": "宣城市",
        "en": "Xuancheng",
        "aliases": ["宣城", "Xuancheng City"],
        "lat": pytest.approx(30.94, abs=0.01),
        "lon": pytest.approx(118.76, abs=0.01),
    }
    counties = {u["code"]: u for u in document["units"] if u["level"] == "county"}
    assert {code: u["zh"] for code, u in counties.items()} == {
        "341802": "宣州区",
        "341821": "郎溪县",
        "341823": "泾县",
        "341824": "绩溪县",
        "341825": "旌德县",
        "341881": "宁国市",
        "341882": "广德市",  # 广德县 341822 until 2019
    }
    assert all(u["lat"] and u["lon"] for u in counties.values())  # 广德 found by its name
    units = {u["zh"]: u for u in document["units"]}
    assert units["鳌峰街道"] == {
        "code": "341802003",
        "zh": "鳌峰街道",
        "en": "Aofeng Subdistrict",
        "level": "township",
        "parent": "341802",
        "aliases": ["鳌峰", "Aofeng"],
    }
    assert units["河沥溪街道"]["parent"] == "341881"
    assert units["桃州镇"]["en"] == "Taozhou Town"
    assert units["泾县"]["en"] == "Jing County"
    assert units["泾县"]["aliases"] == ["Jingxian", "Jingxian County"]
    assert units["宁国市"]["en"] == "Ningguo City"
    assert units["青湖乡"]["en"] == "Qinghu Township"
    assert units["云梯畲族乡"]["en"] == "Yunti She Ethnic Township"
    assert units["港口镇"]["aliases"] == []  # 港口 is a harbour before it is a town
    assert sum(1 for u in document["units"] if u["level"] == "township") == 99
    _check_tree(document)


def test_builds_another_city(tmp_path: Path) -> None:
    output, document = _build(tmp_path, "340100")
    assert document["city"]["zh"] == "合肥市"
    assert "合肥市 340100: 9 county-level units" in output
    units = {u["zh"]: u for u in document["units"]}
    assert units["包河区"]["en"] == "Baohe District"
    assert units["长丰县"]["en"] == "Changfeng County"  # 长 is chang in place names
    assert units["巢湖市"]["level"] == "county"
    assert all(u["parent"][:4] == "3401" for u in document["units"])
    _check_tree(document)


@pytest.mark.parametrize("code", ["999999", "34180", "abcdef", "341802"])
def test_an_unknown_code_is_a_clear_error(tmp_path: Path, code: str) -> None:
    output = tmp_path / "units.yml"
    result = CliRunner().invoke(app, ["places", "build", code, "--output", str(output)])
    assert result.exit_code == 2
    assert code in result.output and "code" in result.output
    assert not output.exists()


def test_the_shipped_file_is_what_the_command_builds() -> None:
    assert SHIPPED.read_text(encoding="utf-8") == render_units(build_units("341800"))


def test_english_names_follow_the_suffix() -> None:
    assert english_name("宣州区") == "Xuanzhou District"
    assert english_name("郎溪县") == "Langxi County"
    assert english_name("长安镇") == "Chang'an Town"
    assert english_name("合肥经济技术开发区") == (
        "Hefei Economic and Technological Development Zone"
    )

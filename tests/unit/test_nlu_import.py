"""Importing a city's past tickets (CSV text,label) into the NLU training data."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from civicline.domain.taxonomy import Taxonomy
from civicline.gateway.cli.nlu import nlu_app
from civicline.nlu import importer, local
from civicline.nlu.importer import (
    CONFLICT_IMPORTED,
    CONFLICT_ROW,
    CONFLICT_SHIPPED,
    EMPTY_TEXT,
    MALFORMED_ROW,
    TEXT_TOO_LONG,
    UNKNOWN_LABEL,
    Rejection,
    Row,
    import_tickets,
    read_tickets,
    resolve_label,
)
from civicline.nlu.local import LocalClassifier
from civicline.nlu.training_data import Example, load_examples
from civicline.storage.taxonomy_file import load_taxonomy

SHIPPED = """\
version: "3.1"
nlu:
- intent: transport
  examples: |
    - 12路公交车经常不按时刻表发车，等了四十分钟一辆都没来
    - 公交司机开车时玩手机，一个急刹车让老人摔倒了
    - The bus driver was rude and drove off before I got on
- intent: environment
  examples: |
    - 工厂烟囱天天冒黑烟，附近居民不敢开窗
    - 饭店油烟直排到居民楼，整栋楼都是油烟味
- intent: greet
  examples: |
    - 你好
    - hello
"""

PHONE = "13812345678"
ID_NUMBER = "11010519491231002X"
LONG_TEXT = "小区道路坑洼" * 3334  # 20,004 characters

# Line numbers matter: the summary names them.
TICKETS = f"""\
text,label
小区门口的路灯坏了一个多月，晚上出行很不方便,城乡建设
The factory next to our estate dumps waste water into the creek at night,environmental protection
化工厂夜里偷排废水，河水发黑发臭,environment
公司拖欠工资三个月，老板电话{PHONE}一直不接，我的身份证号{ID_NUMBER},劳动和社会保障
,交通运输
菜市场有商贩缺斤短两,道路
小区门口的路灯坏了一个多月，晚上出行很不方便,城乡建设
12路公交车经常不按时刻表发车，等了四十分钟一辆都没来,城乡建设
只有一列
"楼上住户装修，
每天早上七点就开始电钻，吵得人没法休息",Urban and Rural Construction
{LONG_TEXT},城乡建设
公交司机开车时玩手机，一个急刹车让老人摔倒了,交通运输
化工厂夜里偷排废水，河水发黑发臭,交通运输
医院挂号系统总是崩溃，排了三个小时队才看上病,  Health
,
公交站台的广告牌歪了，随时可能砸到人,transport
"""

EXPECTED_REJECTIONS = [
    Rejection(6, EMPTY_TEXT),
    Rejection(7, UNKNOWN_LABEL, "'道路'"),
    Rejection(9, CONFLICT_SHIPPED, "says transport"),
    Rejection(10, MALFORMED_ROW, "1 field, the header has 2"),
    Rejection(13, TEXT_TOO_LONG, "20004 > 20000 characters"),
    Rejection(15, CONFLICT_ROW, "line 4 says environment"),
]

EXPECTED_IMPORTED = [  # the taxonomy's order, then the file's
    Example("小区门口的路灯坏了一个多月，晚上出行很不方便", "urban_rural_construction"),
    Example("楼上住户装修， 每天早上七点就开始电钻，吵得人没法休息", "urban_rural_construction"),
    Example("医院挂号系统总是崩溃，排了三个小时队才看上病", "health"),
    Example(
        "The factory next to our estate dumps waste water into the creek at night", "environment"
    ),
    Example("化工厂夜里偷排废水，河水发黑发臭", "environment"),
    Example("公交站台的广告牌歪了，随时可能砸到人", "transport"),
]


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return load_taxonomy()


@pytest.fixture
def shipped(tmp_path: Path) -> Path:
    path = tmp_path / "shipped" / "nlu.yml"
    path.parent.mkdir()
    path.write_text(SHIPPED, encoding="utf-8")
    return path


@pytest.fixture
def tickets(tmp_path: Path) -> Path:
    path = tmp_path / "tickets.csv"
    path.write_text(TICKETS, encoding="utf-8")
    return path


def run_import(
    path: Path, taxonomy: Taxonomy, shipped: Path, imported: Path
) -> importer.ImportSummary:
    return import_tickets(path, taxonomy=taxonomy, shipped_paths=[shipped], imported_path=imported)


def test_import_merges_valid_rows_and_names_every_rejected_line(
    tickets: Path, taxonomy: Taxonomy, shipped: Path, tmp_path: Path
) -> None:
    imported = tmp_path / "var" / "nlu" / "imported.yml"
    progress: list[tuple[int, int]] = []

    summary = import_tickets(
        tickets,
        taxonomy=taxonomy,
        shipped_paths=[shipped],
        imported_path=imported,
        progress=lambda done, total: progress.append((done, total)),
    )

    assert (summary.read, summary.imported, summary.duplicates) == (15, 7, 2)
    assert summary.rejected == EXPECTED_REJECTIONS
    assert summary.rejected_by_reason()[CONFLICT_SHIPPED] == 1
    assert summary.by_category == {
        "environment": 2,
        "urban_rural_construction": 2,
        "labour_social_security": 1,
        "health": 1,
        "transport": 1,
    }
    assert summary.written and summary.total == 7
    assert progress[-1] == (15, 15) and len(progress) == 15

    examples = load_examples(imported)  # Rasa NLU YAML, as the local classifier reads it
    assert [e for e in examples if e.intent != "labour_social_security"] == EXPECTED_IMPORTED
    content = imported.read_text(encoding="utf-8")
    assert content.splitlines()[2:4] == ['version: "3.1"', "nlu:"]
    assert shipped.read_text(encoding="utf-8") == SHIPPED


def test_phone_numbers_are_masked_before_anything_is_written(
    tickets: Path, taxonomy: Taxonomy, shipped: Path, tmp_path: Path
) -> None:
    imported = tmp_path / "imported.yml"
    run_import(tickets, taxonomy, shipped, imported)

    (wages,) = [e for e in load_examples(imported) if e.intent == "labour_social_security"]
    content = imported.read_text(encoding="utf-8")
    assert PHONE not in content and ID_NUMBER not in content
    assert PHONE[-4:] not in wages.text and ID_NUMBER[-4:] not in wages.text
    assert wages.text.startswith("公司拖欠工资三个月，老板电话")
    assert "一直不接，我的身份证号" in wages.text


def test_an_injected_mask_is_applied(
    tickets: Path, taxonomy: Taxonomy, shipped: Path, tmp_path: Path
) -> None:
    imported = tmp_path / "imported.yml"
    import_tickets(
        tickets,
        taxonomy=taxonomy,
        shipped_paths=[shipped],
        imported_path=imported,
        mask=lambda text: text.replace(PHONE, "[电话](phone)"),
    )
    texts = [e.text for e in load_examples(imported)]
    # The mask's brackets must not read back as a Rasa entity annotation.
    assert f"公司拖欠工资三个月，老板电话［电话］(phone)一直不接，我的身份证号{ID_NUMBER}" in texts


def test_importing_twice_changes_nothing(
    tickets: Path, taxonomy: Taxonomy, shipped: Path, tmp_path: Path
) -> None:
    imported = tmp_path / "imported.yml"
    run_import(tickets, taxonomy, shipped, imported)
    first = imported.read_bytes()

    again = run_import(tickets, taxonomy, shipped, imported)

    assert imported.read_bytes() == first
    assert (again.read, again.imported, again.duplicates, again.written) == (15, 0, 9, False)
    assert again.total == 7
    assert [r.line for r in again.rejected] == [6, 7, 9, 10, 13, 15]
    assert again.rejected[-1] == Rejection(15, CONFLICT_IMPORTED, "says environment")


def test_a_later_import_merges_with_the_earlier_one(
    tickets: Path, taxonomy: Taxonomy, shipped: Path, tmp_path: Path
) -> None:
    imported = tmp_path / "imported.yml"
    run_import(tickets, taxonomy, shipped, imported)
    more = tmp_path / "more.csv"
    more.write_text(
        "text,label\n"
        "小区门口的路灯坏了一个多月，晚上出行很不方便,城乡建设\n"
        "河边垃圾堆成山也没人清理，夏天臭气熏天,环境保护\n",
        encoding="utf-8",
    )

    summary = run_import(more, taxonomy, shipped, imported)

    assert (summary.imported, summary.duplicates, summary.total) == (1, 1, 8)
    environment = [e.text for e in load_examples(imported) if e.intent == "environment"]
    assert environment[-1] == "河边垃圾堆成山也没人清理，夏天臭气熏天"
    assert len(environment) == 3


def test_nothing_is_written_when_no_row_is_valid(
    taxonomy: Taxonomy, shipped: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\n路灯坏了,路灯\n,城乡建设\n", encoding="utf-8")
    imported = tmp_path / "imported.yml"

    summary = run_import(bad, taxonomy, shipped, imported)

    assert (summary.read, summary.imported) == (2, 0)
    assert [(r.line, r.reason) for r in summary.rejected] == [(2, UNKNOWN_LABEL), (3, EMPTY_TEXT)]
    assert not imported.exists()


def test_a_letter_length_ticket_is_imported_whole(
    taxonomy: Taxonomy, shipped: Path, tmp_path: Path
) -> None:
    """Real tickets run past 2,000 characters (letters to 5,000): kept whole; the engines
    read their start only (local: base.MAX_CHARS, Rasa: base.RASA_MAX_CHARS)."""
    letter = (
        "尊敬的市长：我们小区门口的道路坑洼不平，下雨天积水没过脚踝，老人孩子出行很危险。" * 125
    )
    assert len(letter) == 5_000
    path = tmp_path / "letters.csv"
    path.write_text(f"text,label\n{letter},城乡建设\n", encoding="utf-8")
    imported = tmp_path / "imported.yml"

    summary = run_import(path, taxonomy, shipped, imported)

    assert (summary.read, summary.imported, summary.rejected) == (1, 1, [])
    assert load_examples(imported) == [Example(letter, "urban_rural_construction")]


def test_gbk_encoded_export(taxonomy: Taxonomy, shipped: Path, tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes(
        "text,label\r\n路面坑洼不平，电动车在这里摔了好几次,城乡建设\r\n"
        "景区门票涨价没有公示，游客意见很大,商贸旅游\r\n".encode("gbk")
    )

    assert list(read_tickets(path)) == [
        Row(2, "路面坑洼不平，电动车在这里摔了好几次", "城乡建设"),
        Row(3, "景区门票涨价没有公示，游客意见很大", "商贸旅游"),
    ]
    summary = run_import(path, taxonomy, shipped, tmp_path / "imported.yml")
    assert summary.imported == 2


def test_utf8_with_bom_and_extra_columns(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_text(
        "工单号,Text , LABEL\n2024-001,学校周边的小饭桌卫生条件很差,教育文体\n",
        encoding="utf-8-sig",
    )
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")

    assert list(read_tickets(path)) == [Row(2, "学校周边的小饭桌卫生条件很差", "教育文体")]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("内容,类别\n路灯坏了,城乡建设\n".encode(), "header"),
        (b"", "header"),
        (b"text,label\n\xff\xfe\xff\xfe,x\n", "not UTF-8 or GBK"),
    ],
)
def test_unreadable_files_raise_value_error_naming_the_file(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "broken.csv"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=rf"broken\.csv.*{message}"):
        list(read_tickets(path))


@pytest.mark.parametrize(
    ("label", "code"),
    [
        ("城乡建设", "urban_rural_construction"),
        ("urban_rural_construction", "urban_rural_construction"),
        ("Urban and rural construction", "urban_rural_construction"),
        ("  URBAN AND RURAL  CONSTRUCTION ", "urban_rural_construction"),
        (" 其他 ", "other"),
        ("Science and IT", "science_it"),
        ("道路", None),
        ("greet", None),
        ("", None),
    ],
)
def test_resolve_label(taxonomy: Taxonomy, label: str, code: str | None) -> None:
    assert resolve_label(label, taxonomy) == code


TINY_IMPORTED = """\
version: "3.1"
nlu:
- intent: transport
  examples: |
    - 地铁早高峰太挤了，能不能加开班次
"""


def test_load_or_train_on_shipped_and_imported_retrains_when_imported_changes(
    shipped: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    imported, cache = tmp_path / "imported.yml", tmp_path / "cache"
    imported.write_text(TINY_IMPORTED, encoding="utf-8")
    trainings: list[int] = []
    real_train = LocalClassifier.train

    def counting_train(examples: list[Example], **kwargs: object) -> LocalClassifier:
        trainings.append(len(examples))
        return real_train(examples)

    monkeypatch.setattr(LocalClassifier, "train", counting_train)

    LocalClassifier.load_or_train([shipped, imported], cache)
    LocalClassifier.load_or_train([shipped, imported], cache)
    assert trainings == [8]
    (model_file,) = cache.iterdir()
    assert model_file.name == local.model_file_name(shipped.read_bytes(), imported.read_bytes())
    assert model_file.name != local.model_file_name(shipped.read_bytes())

    imported.write_text(TINY_IMPORTED + "    - 出租车司机拒载，说不顺路\n", encoding="utf-8")
    LocalClassifier.load_or_train([shipped, imported], cache)
    assert trainings == [8, 9]

    LocalClassifier.load_or_train(shipped, cache)  # the single-path call still works
    assert trainings == [8, 9, 7]
    assert len(list(cache.iterdir())) == 3


def test_training_paths_include_imports_once_they_exist(tmp_path: Path) -> None:
    shipped = tmp_path / "nlu.yml"
    imported = importer.imported_data_path(tmp_path / "var")
    assert imported == tmp_path / "var" / "nlu" / "imported.yml"
    assert importer.training_data_paths(shipped, imported) == [shipped]
    imported.parent.mkdir(parents=True)
    imported.write_text(TINY_IMPORTED, encoding="utf-8")
    assert importer.training_data_paths(shipped, imported) == [shipped, imported]


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """`civicline` commands configure the root logger; put it back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restore_logging")
def test_cli_import_prints_the_summary_and_retrains(
    tickets: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    app = typer.Typer()
    app.add_typer(nlu_app, name="nlu")
    env = {
        "CIVICLINE_VAR_DIR": str(tmp_path / "var"),
        "CIVICLINE_MODEL_DIR": str(tmp_path / "models"),
        "CIVICLINE_LOG_LEVEL": "WARNING",
    }

    result = CliRunner().invoke(app, ["nlu", "import", str(tickets)], env=env)

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "read 15 rows: 7 imported, 2 duplicates, 6 rejected" in out
    assert "line 9: conflict with shipped data (says transport)" in out
    assert "line 7: unknown label ('道路')" in out
    assert "line 10: malformed row" in out
    imported = tmp_path / "var" / "nlu" / "imported.yml"
    assert f"training data: {imported}" in out
    assert "make rasa-train" in out
    (model,) = (tmp_path / "models").iterdir()
    assert str(model) in out
    assert PHONE not in imported.read_text(encoding="utf-8")
    assert ID_NUMBER not in imported.read_text(encoding="utf-8")

    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\n路灯坏了,路灯\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["nlu", "import", str(bad)], env=env)
    assert result.exit_code == 2
    assert "no valid rows" in result.output and "line 2: unknown label" in result.output

    result = CliRunner().invoke(app, ["nlu", "import", str(tmp_path / "missing.csv")], env=env)
    assert result.exit_code == 2
    assert "does not exist" in result.output


class Crash(Exception):
    pass


def test_an_import_stopped_half_way_resumes_and_ends_as_one_never_stopped(
    taxonomy: Taxonomy, shipped: Path, tmp_path: Path
) -> None:
    rows = ["text,label"]
    for i in range(230):
        rows.append(f"幸福路{i}号的路灯坏了{i % 7}天，电话13912345{i % 1000:03d},城乡建设")
        if i % 40 == 0:
            rows.append(f"幸福路{i}号的路灯坏了{i % 7}天，电话13912345{i % 1000:03d},城乡建设")
        if i % 50 == 0:
            rows.append(f"幸福路{i}号的路灯坏了{i % 7}天，电话13912345{i % 1000:03d},环境保护")
    rows.append(",城乡建设")
    path = tmp_path / "tickets.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    whole = import_tickets(
        path,
        taxonomy=taxonomy,
        shipped_paths=[shipped],
        imported_path=tmp_path / "whole" / "imported.yml",
        checkpoint_rows=50,
    )

    masked = 0

    def crash_at_row_170(text: str) -> str:
        nonlocal masked
        masked += 1
        if masked == 170:
            raise Crash
        return importer.default_mask()(text)

    imported = tmp_path / "var" / "imported.yml"
    staging = imported.with_name("imported.yml.partial")
    with pytest.raises(Crash):
        import_tickets(
            path,
            taxonomy=taxonomy,
            shipped_paths=[shipped],
            imported_path=imported,
            mask=crash_at_row_170,
            checkpoint_rows=50,
        )
    assert not imported.exists() and len(staging.read_text("utf-8").splitlines()) == 1 + 3
    with staging.open("ab") as file:
        file.write(b'{"rows_done": 200, "read": 5')  # a line a kill cut short

    resumed = import_tickets(
        path, taxonomy=taxonomy, shipped_paths=[shipped], imported_path=imported,
        checkpoint_rows=50,
    )  # fmt: skip
    assert resumed.resumed == 150 and whole.resumed == 0
    assert imported.read_text("utf-8") == (tmp_path / "whole" / "imported.yml").read_text("utf-8")
    for field in ("read", "imported", "duplicates", "rejected", "by_category", "total"):
        assert getattr(resumed, field) == getattr(whole, field), field
    assert whole.duplicates == 6 and len(whole.rejected) == 6  # 5 conflicts, 1 empty text
    assert not staging.exists()

    # Another file (or --restart) does not resume from this one's checkpoint.
    staging.write_text('{"source": "another file"}\n', encoding="utf-8")
    again = run_import(path, taxonomy, shipped, imported)
    assert again.resumed == 0 and again.imported == 0 and again.duplicates == whole.read - 6

import asyncio
import logging
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse
from sklearn.model_selection import StratifiedKFold

from civicline.nlu import local
from civicline.nlu.base import CONVERSATION_INTENTS, Classification, Classifier, opens_case
from civicline.nlu.local import COMPLAINT, NOT_COMPLAINT, Held, LocalClassifier
from civicline.nlu.training_data import (
    Example,
    default_data_path,
    default_training_dir,
    load_data,
    load_examples,
    parse_examples,
    shipped_paths,
    training_files,
)
from civicline.storage.taxonomy_file import load_taxonomy

CATEGORIES = frozenset(
    {
        "politics_law",
        "science_it",
        "discipline",
        "party_government",
        "land_resources",
        "education_culture_sports",
        "labour_social_security",
        "urban_rural_construction",
        "agriculture_rural",
        "health",
        "environment",
        "transport",
        "civil_affairs",
        "economic_management",
        "commerce_tourism",
        "organisation_personnel",
        "other",
    }
)

HAN = re.compile(r"[\u4e00-\u9fff]")

TINY_DATA = """\
version: "3.1"
nlu:
- intent: greet
  examples: |
    - 你好
    - hello
    - 早上好
- intent: transport
  examples: |
    - 公交车总是晚点
    - 出租车不打表
    - the bus never comes on time
- intent: environment
  examples: |
    - 工厂往河里排污水
    - 饭店油烟太大
    - the factory smoke is choking
"""


def is_chinese(text: str) -> bool:
    return HAN.search(text) is not None


@pytest.fixture(scope="module")
def examples() -> list[Example]:
    """nlu.yml: the conversation intents and short complaints in zh and en."""
    return load_examples(default_data_path())


@pytest.fixture(scope="module")
def shipped() -> list[Example]:
    return load_data(shipped_paths(default_data_path(), default_training_dir()))


@pytest.fixture(scope="module")
def classifier(shipped: list[Example]) -> LocalClassifier:
    return LocalClassifier.train(shipped, priors=load_taxonomy().shares())


def test_packaged_data_covers_every_category_in_both_languages(examples: list[Example]) -> None:
    chinese = Counter(e.intent for e in examples if is_chinese(e.text))
    english = Counter(e.intent for e in examples if not is_chinese(e.text))

    assert {e.intent for e in examples} == CATEGORIES | CONVERSATION_INTENTS
    for category in sorted(CATEGORIES):
        assert chinese[category] >= 15, category
        assert english[category] >= 5, category
    for intent in CONVERSATION_INTENTS:
        assert chinese[intent] >= 5 and english[intent] >= 3, intent


def test_packaged_data_has_no_repeated_examples(examples: list[Example]) -> None:
    repeated = [text for text, n in Counter(e.text for e in examples).items() if n > 1]
    assert repeated == []


def test_held_out_accuracy_and_gate(shipped: list[Example]) -> None:
    # A quarter of the training files held out, a model trained on the rest plus nlu.yml.
    # Measured: categories 0.85, sub-categories (of those right) 0.78, negatives gated 0.80,
    # complaints passing the gate 1.00. (Negatives gated was 0.91 before the negatives grew
    # kinds of a few examples each, which a held-out quarter often meets unseen; on the
    # development set's off-domain messages the share opening a case fell from 6.0 to 4.3 %.)
    files = load_data(training_files(default_training_dir()))
    intents = [e.intent for e in files]
    train_index, test_index = next(
        StratifiedKFold(n_splits=4, shuffle=True, random_state=0).split(files, intents)
    )
    base = load_examples(default_data_path())
    model = LocalClassifier.train([*base, *(files[i] for i in train_index)])
    held = [files[i] for i in test_index]
    answers = model.classify_many([e.text for e in held])
    complaints = [(e, a) for e, a in zip(held, answers, strict=True) if e.intent != "out_of_scope"]
    negatives = [a for e, a in zip(held, answers, strict=True) if e.intent == "out_of_scope"]

    assert np.mean([a.intent == e.intent for e, a in complaints]) >= 0.78
    right = [(e, a) for e, a in complaints if a.intent == e.intent]
    assert np.mean([a.subcategory == e.subcategory for e, a in right]) >= 0.7
    assert np.mean([a.gated for a in negatives]) >= 0.75
    assert np.mean([not a.gated for _, a in complaints]) >= 0.98


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("我家楼下那盏路灯坏了两个星期，晚上回家黑乎乎的", "urban_rural_construction"),
        ("包工头欠了我们五个月的工钱，一直躲着不见人", "labour_social_security"),
        ("化工厂半夜往河里排污水，整条河都是臭的", "environment"),
        ("网约车司机绕远路多收了我三十块钱", "transport"),
        ("村支书贪污了村里的扶贫资金，请纪委查一查", "discipline"),
        ("家里宽带老是断网，运营商也不派人来修", "science_it"),
        ("在景区饭店吃饭被宰，一盘菜要三百多", "commerce_tourism"),
        ("昨晚小区有人撬车偷东西，报警后警察还没来", "politics_law"),
        ("宅基地审批拖了两年都没批下来", "land_resources"),
        ("政务服务中心窗口人员态度差，让我来回跑了好几趟", "party_government"),
        ("你好", "greet"),
        ("谢谢你们", "thanks"),
        ("帮我定一个明天早上七点的闹钟", "out_of_scope"),
        ("楼下烧烤太吵了", "environment"),
        ("My salary has not been paid for four months", "labour_social_security"),
        ("A factory is pouring dirty water into the river", "environment"),
        ("The taxi driver overcharged me and refused to use the meter", "transport"),
        ("The hospital made us wait five hours in the emergency room", "health"),
        ("thanks so much", "thanks"),
    ],
)
async def test_unseen_sentences_go_to_the_right_intent(
    classifier: LocalClassifier, text: str, intent: str
) -> None:
    assert (await classifier.classify(text)).intent == intent


async def test_classification_shape(classifier: LocalClassifier) -> None:
    port: Classifier = classifier

    result = await port.classify("小区电梯又坏了，物业一直不修")

    assert result.engine == "local"
    assert 1 <= len(result.ranking) <= 5
    assert result.ranking[0] == (result.intent, result.confidence)
    scores = [score for _, score in result.ranking]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= score <= 1.0 for score in scores)


async def test_texts_classified_at_once_share_one_pass(
    classifier: LocalClassifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = ["小区电梯又坏了，物业一直不修", "你好", "路灯坏了一个星期", "老板拖欠工资三个月"]
    alone = classifier.classify_many(texts)
    passes: list[int] = []
    many = classifier.classify_many

    def counted(batch: Sequence[str]) -> list[Classification]:
        passes.append(len(batch))
        return many(batch)

    monkeypatch.setattr(classifier, "classify_many", counted)
    together = await asyncio.gather(*(classifier.classify(t) for t in texts))
    assert passes == [len(texts)]
    assert [c.intent for c in together] == [c.intent for c in alone]
    assert [c.confidence for c in together] == pytest.approx([c.confidence for c in alone])
    assert await classifier.classify(texts[0]) == together[0] and passes[-1] == 1


def test_classify_many_answers_exactly_as_one_text_at_a_time(
    classifier: LocalClassifier, shipped: list[Example]
) -> None:
    """The batch's arithmetic (the heads over all rows at once) gives the very same floats,
    whatever the batch's size and mix of complaints and conversation."""
    texts = [e.text for e in shipped[::13]] + ["", "你好", "谢谢", "hello", "？？？", "路" * 5000]
    one = [classifier.classify_sync(text) for text in texts]
    assert {answer.intent in CONVERSATION_INTENTS for answer in one} == {True, False}
    for size in (1, 3, 64, len(texts)):
        many = [
            answer
            for start in range(0, len(texts), size)
            for answer in classifier.classify_many(texts[start : start + size])
        ]
        assert many == one


def test_classifying_logs_no_text(
    classifier: LocalClassifier, caplog: pytest.LogCaptureFixture
) -> None:
    text = "光明路十八号的下水道堵了"
    with caplog.at_level(logging.DEBUG):
        classifier.classify_sync(text)
    assert all(text not in record.getMessage() for record in caplog.records)


def test_save_load_roundtrip(classifier: LocalClassifier, tmp_path: Path) -> None:
    path = tmp_path / "nested" / "model.pickle"
    classifier.save(path)

    loaded = LocalClassifier.load(path, priors=load_taxonomy().shares())

    text = "楼上邻居半夜装修，吵得睡不着"
    assert loaded.classify_sync(text) == classifier.classify_sync(text)
    assert loaded.intents == classifier.intents
    assert loaded.classify_many([text, "谢谢"]) == [
        classifier.classify_sync(text),
        classifier.classify_sync("谢谢"),
    ]
    assert loaded.classify_many([]) == []
    assert [p.name for p in path.parent.iterdir()] == ["model.pickle"]


def test_load_or_train_reuses_the_cache_and_retrains_on_new_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, cache = tmp_path / "nlu.yml", tmp_path / "cache"
    data.write_text(TINY_DATA, encoding="utf-8")
    trainings: list[int] = []
    real_train = LocalClassifier.train

    def counting_train(examples: list[Example], **kwargs: object) -> LocalClassifier:
        trainings.append(len(examples))
        return real_train(examples)

    monkeypatch.setattr(LocalClassifier, "train", counting_train)

    first = LocalClassifier.load_or_train(data, cache)
    second = LocalClassifier.load_or_train(data, cache)
    assert trainings == [9]
    assert first.classify_sync("公交车不准时") == second.classify_sync("公交车不准时")
    (model_file,) = cache.iterdir()
    assert model_file.name == local.model_file_name(data.read_bytes())

    data.write_text(TINY_DATA + "    - 景区门口堵车严重\n", encoding="utf-8")
    LocalClassifier.load_or_train(data, cache)
    assert trainings == [9, 10]
    assert len(list(cache.iterdir())) == 2


def test_load_or_train_retrains_over_an_unreadable_cache(tmp_path: Path) -> None:
    data, cache = tmp_path / "nlu.yml", tmp_path / "cache"
    data.write_text(TINY_DATA, encoding="utf-8")
    cache.mkdir()
    model_file = cache / local.model_file_name(data.read_bytes())
    model_file.write_bytes(b"not a model")

    classifier = LocalClassifier.load_or_train(data, cache)

    assert classifier.intents == ("environment", "transport", "greet")
    assert LocalClassifier.load(model_file).intents == classifier.intents


def test_entity_annotations_are_stripped() -> None:
    yaml_text = """\
nlu:
- intent: urban_rural_construction
  examples: |
    - [中山路](location)的路灯坏了

    - the lamp on [Harbour Road]{"entity": "location"} is out
- synonym: 中山路
  examples: |
    - 中山大道
"""
    assert parse_examples(yaml_text, source="inline") == [
        Example("中山路的路灯坏了", "urban_rural_construction"),
        Example("the lamp on Harbour Road is out", "urban_rural_construction"),
    ]


@pytest.mark.parametrize(
    "content",
    [
        "nlu: [unclosed",
        "version: '3.1'\n",
        "nlu:\n- just a string\n",
        "nlu:\n- examples: |\n    - 没有意图\n",
        "nlu:\n- intent: transport\n  examples: [a, b]\n",
        "nlu:\n- intent: transport\n  examples: |\n    公交车晚点\n",
        "nlu:\n- intent: transport\n  examples: |\n\n",
    ],
)
def test_malformed_data_raises_value_error_naming_the_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "broken.yml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=r"broken\.yml"):
        load_examples(path)


def test_training_needs_two_examples_of_each_intent() -> None:
    with pytest.raises(ValueError, match="health"):
        LocalClassifier.train(
            [
                Example("公交车晚点", "transport"),
                Example("出租车绕路", "transport"),
                Example("医院排队太久", "health"),
            ]
        )


def test_the_fast_path_gives_scikit_learns_own_features_and_probabilities(
    classifier: LocalClassifier, shipped: list[Example]
) -> None:
    model = classifier.model
    texts = [e.text[:1000] for e in shipped[::7]] + [
        "",
        "路灯",
        "The light is broken",
        "？？？",
        "路灯  坏了\n\n\t三天 ，LIGHT\u3000\u3000out",  # runs of white space fold to one
        "楼下烧烤太吵了😡😡 \ud800 𠀀𠀀 ﷺ",  # outside the alphabet, astral, a lone surrogate
        "a" * 5,
    ]
    reference = sparse.hstack(
        [v.transform(texts) for v in model.features.vectorizers], format="csr"
    )
    assert abs(model.features.transform(texts) - reference).max() < 1e-12
    gate = model.gate.proba(reference)[:, model.gate.classes.index(COMPLAINT)]
    categories = model.categories.proba(reference)
    for row, answer in enumerate(classifier.classify_many(texts)):
        assert answer.complaint == pytest.approx(gate[row], abs=1e-9)
        if answer.intent in CATEGORIES:
            best = model.categories.classes[
                int(np.argmax(categories[row] * classifier._prior_shift))
            ]
            assert answer.intent == best


def test_the_gate_threshold_keeps_all_but_half_a_percent_of_the_complaints() -> None:
    labels = np.array([COMPLAINT] * 400 + [NOT_COMPLAINT] * 100)
    chance = np.concatenate([np.linspace(0.02, 1.0, 400), np.linspace(0.0, 0.3, 100)])
    gate = local.Head((COMPLAINT, NOT_COMPLAINT), np.zeros((1, 2)), np.zeros(2))
    held = Held(labels, np.stack([chance, 1 - chance], axis=1), np.arange(500))
    # 0.5 % of 400 is 2: the third lowest complaint score keeps all but two.
    assert local._gate_threshold(gate, held) == pytest.approx(np.linspace(0.02, 1.0, 400)[2])
    confident = Held(labels, np.stack([np.ones(500), np.zeros(500)], axis=1), np.arange(500))
    assert local._gate_threshold(gate, confident) == local.MAX_GATE_THRESHOLD
    # The 100 shortest complaints score lowest: at most 1 of them may be turned away.
    long = "一个足够长的投诉，写了地点、时间和经过，有三十多个字，一共四十个字左右。"
    texts = ["短"] * 100 + [long] * 400
    assert local._gate_threshold(gate, held, texts) == pytest.approx(chance[1])


def test_the_gate_counts_held_out_non_complaints_let_through() -> None:
    labels = np.array([COMPLAINT] * 4 + [NOT_COMPLAINT] * 5)
    chance = np.array([0.9, 0.8, 0.7, 0.6, 0.65, 0.3, 0.2, 0.1, 0.05])
    gate = local.Head((COMPLAINT, NOT_COMPLAINT), np.zeros((1, 2)), np.zeros(2))
    held = Held(labels, np.stack([chance, 1 - chance], axis=1), np.arange(9))
    assert local._negatives_opened(gate, held, 0.6) == pytest.approx(1 / 5)
    assert local._negatives_opened(gate, held, 0.25) == pytest.approx(2 / 5)
    assert local._negatives_opened(gate, held, 0.95) == 0.0
    assert local._negatives_opened(gate, None, 0.5) == 0.0


def test_the_gate_keeps_the_c_that_lets_the_fewest_non_complaints_through(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(0)
    x = sparse.csr_matrix(rng.random((60, 4)))
    labels = [COMPLAINT] * 40 + [NOT_COMPLAINT] * 20
    texts = ["一条投诉"] * 60
    opened = {0.5: 0.3, 1.0: 0.1, 2.0: 0.2}
    seen: list[float] = []

    def fit_head(*args: object, c: float, **kwargs: object) -> tuple[local.Head, Held]:
        seen.append(c)
        head = local.Head((COMPLAINT, NOT_COMPLAINT), np.full((4, 2), c), np.zeros(2))
        return head, Held(np.array(labels), np.zeros((60, 2)), np.arange(60))

    monkeypatch.setattr(local, "GATE_C", tuple(opened))
    monkeypatch.setattr(local, "fit_head", fit_head)
    monkeypatch.setattr(local, "_gate_threshold", lambda gate, held, texts: 0.2)
    monkeypatch.setattr(local, "_negatives_opened", lambda gate, held, t: opened[gate.coef[0, 0]])
    gate, threshold = local._fit_gate(x, labels, texts)
    assert seen == [0.5, 1.0, 2.0]
    assert gate.coef[0, 0] == 1.0 and threshold == 0.2


def test_the_temperature_is_the_one_the_scores_were_drawn_with() -> None:
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(4000, 5)) * 3
    # Each row's true class drawn from softmax(scores / 2): the fitted temperature is 2.
    chances = local.softmax(scores / 2.0)
    truth = np.array([rng.choice(5, p=row) for row in chances])
    assert local.temperature(scores, truth) == pytest.approx(2.0, rel=0.1)


def test_category_probabilities_rank_the_classes_as_the_mixed_sums_do(
    classifier: LocalClassifier, shipped: list[Example]
) -> None:
    head = classifier.model.categories
    assert head.temperature is not None and head.nb is not None
    x = classifier.model.features.transform([e.text for e in shipped[::11]])
    decision = head.decision(x)
    assert np.array_equal(decision.argmax(axis=1), head.proba(x).argmax(axis=1))
    # Mixing standardises each part per text: adding a constant to a text's sums changes nothing.
    svm, nb = np.asarray(x @ head.coef) + head.intercept, np.asarray(x @ head.nb)
    assert np.allclose(local.mixed(svm + 5.0, nb * 3.0), decision)


@pytest.mark.parametrize(
    ("text", "category", "subcategory", "department"),
    [
        (
            "广德市桃州镇的菜市场门口摊贩占道经营，交通堵塞，垃圾遍地，希望城管部门加强管理。",
            "urban_rural_construction",
            "street_vending",
            "city_management",
        ),
        (
            "家里宽带三天两头断网，打了运营商客服好几次也不派人来修，网费照扣。",
            "science_it",
            "broadband_mobile",
            "telecom_operators",
        ),
        (
            "我们小区这周第三次停电了，冰箱里的东西全坏了，供电所也不说什么时候来电。",
            "urban_rural_construction",
            "power_supply",
            "power_utility",
        ),
    ],
)
def test_sub_categories_route_to_their_departments(
    classifier: LocalClassifier, text: str, category: str, subcategory: str, department: str
) -> None:
    answer = classifier.classify_sync(text)
    taxonomy = load_taxonomy()
    assert (answer.intent, answer.subcategory) == (category, subcategory)
    assert taxonomy.department_for(answer.intent, answer.subcategory) == department
    assert taxonomy.department(department).outside == (
        department.endswith(("utility", "operators"))
    )


@pytest.mark.parametrize(
    "text",
    [
        "帮我订一张明天去上海的高铁票",
        "今天天气怎么样",
        "What's the exchange rate of the dollar today?",
        "测试",
        "哈哈哈哈",
        "代开各类发票，联系微信",
    ],
)
def test_off_domain_text_is_gated(classifier: LocalClassifier, text: str) -> None:
    answer = classifier.classify_sync(text)
    assert answer.gated
    assert answer.complaint is not None and answer.complaint < classifier.gate_threshold
    assert not opens_case(answer, min_confidence=0.4, urgent=False)
    assert opens_case(answer, min_confidence=0.4, urgent=True)

"""The SMS channel over recorded Twilio payloads: parsing, phone numbers, segments, receipts."""

from __future__ import annotations

import json
import random
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import phonenumbers
import pytest

from civicline.channels.sms import (
    TWIML_EMPTY,
    Receipt,
    Segments,
    count_segments,
    normalize_phone,
    split_reply,
    to_inbound,
    to_receipt,
)
from civicline.domain.errors import InvalidInput
from civicline.domain.messages import Channel, DeliveryStatus, InboundMessage, Language

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
FIXTURES = Path(__file__).parent.parent / "fixtures" / "twilio"


def _example(region: str) -> str:
    number = phonenumbers.example_number(region)
    assert number is not None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


US_EXAMPLE = _example("US")


def load(name: str) -> dict[str, str]:
    payload: dict[str, str] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return payload


def inbound(params: dict[str, str]) -> InboundMessage:
    return to_inbound(params, now=NOW, default_region="CN")


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


# --- inbound ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "sender", "language", "media"),
    [
        ("inbound_sms_zh.json", "+8613912345678", Language.ZH, 0),
        ("inbound_sms_en.json", "+12015550123", Language.EN, 0),
        ("inbound_mms.json", "+12015550123", Language.ZH, 2),
        ("inbound_status_query.json", "+8613912345678", Language.ZH, 0),
        ("inbound_stop.json", "+12015550123", Language.EN, 0),
    ],
)
def test_inbound_fixtures(name: str, sender: str, language: Language, media: int) -> None:
    params = load(name)
    message = to_inbound(params, now=NOW, default_region="CN")
    assert message.channel == Channel.SMS
    assert message.provider_message_id == params["MessageSid"]
    assert message.sender_address == sender
    assert message.text == params["Body"].strip()
    assert message.received_at == NOW
    assert message.language == language
    assert message.attachments == [params[f"MediaUrl{i}"] for i in range(media)]


def test_mms_media_urls_are_kept_in_order() -> None:
    params = load("inbound_mms.json")
    message = to_inbound(params, now=NOW, default_region="CN")
    assert message.provider_message_id.startswith("MM")
    assert message.attachments == [params["MediaUrl0"], params["MediaUrl1"]]


def test_mms_without_text_is_allowed() -> None:
    params = load("inbound_mms.json") | {"Body": "  "}
    message = to_inbound(params, now=NOW, default_region="CN")
    assert message.text == ""
    assert message.language is None
    assert len(message.attachments) == 2


def test_body_is_stripped() -> None:
    params = load("inbound_sms_en.json") | {"Body": "\n  Broken light on Elm St.  \n"}
    assert to_inbound(params, now=NOW, default_region="CN").text == "Broken light on Elm St."


def test_local_sender_is_read_in_the_default_region() -> None:
    params = load("inbound_sms_zh.json") | {"From": "13912345678"}
    assert to_inbound(params, now=NOW, default_region="CN").sender_address == "+8613912345678"


@pytest.mark.parametrize("field", ["MessageSid", "From"])
@pytest.mark.parametrize("how", ["missing", "blank"])
def test_missing_required_field(field: str, how: str) -> None:
    params = load("inbound_sms_zh.json")
    if how == "missing":
        del params[field]
    else:
        params[field] = " "
    with pytest.raises(InvalidInput, match=f"missing {field}"):
        inbound(params)


def test_malformed_message_sid() -> None:
    params = load("inbound_sms_zh.json") | {"MessageSid": "SM'; DROP TABLE--"}
    with pytest.raises(InvalidInput, match="MessageSid"):
        inbound(params)


@pytest.mark.parametrize(
    "sender", ["garbage", "10086", "+86 139 1234 567", "1-800-FLOWERS", "whatsapp:+8613912345678"]
)
def test_bad_sender_is_refused_without_echoing_it(sender: str) -> None:
    params = load("inbound_sms_zh.json") | {"From": sender}
    with pytest.raises(InvalidInput) as caught:
        inbound(params)
    assert sender not in str(caught.value)
    assert not re.search(r"\d{3}", str(caught.value))


@pytest.mark.parametrize("body", ["", "   ", "\n\t"])
def test_empty_message_without_media(body: str) -> None:
    params = load("inbound_sms_en.json") | {"Body": body}
    with pytest.raises(InvalidInput, match="empty message"):
        inbound(params)


def test_body_of_1600_characters_is_accepted() -> None:
    params = load("inbound_sms_zh.json") | {"Body": "噪" * 1600}
    assert len(to_inbound(params, now=NOW, default_region="CN").text) == 1600


def test_body_over_1600_characters_is_refused() -> None:
    params = load("inbound_sms_zh.json") | {"Body": "噪" * 1601}
    with pytest.raises(InvalidInput, match="1600"):
        inbound(params)


@pytest.mark.parametrize("num_media", ["two", "-1", "11", "²"])
def test_bad_num_media(num_media: str) -> None:
    params = load("inbound_mms.json") | {"NumMedia": num_media}
    with pytest.raises(InvalidInput):
        inbound(params)


def test_announced_media_url_missing() -> None:
    params = load("inbound_mms.json")
    del params["MediaUrl1"]
    with pytest.raises(InvalidInput, match="missing MediaUrl1"):
        inbound(params)


def test_twiml_answer_is_empty() -> None:
    assert TWIML_EMPTY == '<?xml version="1.0" encoding="UTF-8"?><Response/>'


# --- phone numbers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+86 139 1234 5678", "CN", "+8613912345678"),
        ("13912345678", "CN", "+8613912345678"),
        ("+8613912345678", "US", "+8613912345678"),
        (US_EXAMPLE, "CN", US_EXAMPLE),
        ("(201) 555-0123", "US", "+12015550123"),
    ],
)
def test_normalize_phone(raw: str, region: str, expected: str) -> None:
    assert normalize_phone(raw, region) == expected


@pytest.mark.parametrize(
    "raw", ["", "not a number", "+", "12", "10086", "+86 139 1234 56789 0", "Civicline"]
)
def test_normalize_phone_refuses_without_echoing(raw: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalize_phone(raw)
    message = str(caught.value)
    assert raw.strip() == "" or raw not in message
    assert not re.search(r"\d", message)


# --- segments ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "encoding", "count"),
    [
        ("", "GSM-7", 0),
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("a" * 306, "GSM-7", 2),
        ("a" * 307, "GSM-7", 3),
        ("路" * 70, "UCS-2", 1),
        ("路" * 71, "UCS-2", 2),
        ("路" * 134, "UCS-2", 2),
        ("路" * 135, "UCS-2", 3),
        ("Ça coûte 5€", "UCS-2", 1),
        ("@£$¥ ÄÖÑÜ §¿ äöñüà\n", "GSM-7", 1),
    ],
)
def test_count_segments(text: str, encoding: Literal["GSM-7", "UCS-2"], count: int) -> None:
    assert count_segments(text) == Segments(encoding, count)


def test_extension_characters_count_double() -> None:
    assert count_segments("€" * 80) == Segments("GSM-7", 1)
    assert count_segments("{" + "a" * 159) == Segments("GSM-7", 2)
    assert count_segments("[]" + "a" * 156) == Segments("GSM-7", 1)


def test_escape_pair_never_straddles_segments() -> None:
    assert count_segments("a" * 152 + "€" + "a" * 152) == Segments("GSM-7", 3)


def test_emoji_forces_ucs2_and_counts_two_units() -> None:
    assert count_segments("Fixed, thanks 🙂") == Segments("UCS-2", 1)
    assert count_segments("🙂" * 35) == Segments("UCS-2", 1)
    assert count_segments("🙂" * 36) == Segments("UCS-2", 2)
    assert count_segments("路" * 69 + "🙂") == Segments("UCS-2", 2)


def test_surrogate_pair_never_straddles_segments() -> None:
    assert count_segments("路" * 66 + "🙂" + "路" * 66) == Segments("UCS-2", 3)


# --- splitting replies ------------------------------------------------------------------


def test_reply_of_1600_characters_stays_whole() -> None:
    text = ("您反映的路灯问题已修复。" * 134)[:1600]
    assert len(text) == 1600
    assert split_reply(text) == [text]


def test_chinese_reply_splits_at_full_stops() -> None:
    sentence = "经现场核查，幸福路十八号小区门口的路灯线路老化，维修人员已更换线缆并恢复照明。"
    text = (sentence * 100)[:3499] + "。"
    assert len(text) == 3500
    parts = split_reply(text)
    assert len(parts) == 3
    assert all(0 < len(part) <= 1600 for part in parts)
    assert all(part.endswith("。") for part in parts)
    assert "".join(parts) == text


def test_english_reply_splits_at_sentence_ends() -> None:
    sentences = [
        f"Crew {i} inspected the street lights on Elm Street and replaced the faulty cable."
        for i in range(60)
    ]
    text = " ".join(sentences)
    parts = split_reply(text)
    assert len(parts) > 1
    assert all(0 < len(part) <= 1600 for part in parts)
    assert all(part.endswith(".") for part in parts)
    assert squash("".join(parts)) == squash(text)


def test_english_without_sentence_ends_splits_between_words() -> None:
    words = [f"word{i}" for i in range(600)]
    parts = split_reply(" ".join(words), max_chars=500)
    assert all(len(part) <= 500 for part in parts)
    assert [w for part in parts for w in part.split(" ")] == words


def test_space_right_after_the_limit_is_used() -> None:
    assert split_reply("word1 word2 word3", max_chars=11) == ["word1 word2", "word3"]


def test_closing_quote_stays_with_its_sentence() -> None:
    text = "工作人员说：“明天修好。”结果一周没人来。"
    assert split_reply(text, max_chars=15) == ["工作人员说：“明天修好。”", "结果一周没人来。"]


def test_newline_is_a_boundary() -> None:
    text = "Case 261127-00001\nstatus: in progress"
    assert split_reply(text, max_chars=25) == ["Case 261127-00001", "status: in progress"]


def test_text_without_boundaries_splits_hard() -> None:
    text = "x" * 3500
    assert split_reply(text) == ["x" * 1600, "x" * 1600, "x" * 300]


def test_emoji_count_two_units_when_splitting() -> None:
    assert split_reply("🙂" * 1000) == ["🙂" * 800, "🙂" * 200]


@pytest.mark.parametrize("text", ["", "   \n "])
def test_blank_reply_has_no_parts(text: str) -> None:
    assert split_reply(text) == []


def test_max_chars_must_allow_a_surrogate_pair() -> None:
    with pytest.raises(ValueError):
        split_reply("text", max_chars=1)


@pytest.mark.parametrize("seed", range(20))
def test_split_reply_invariants(seed: int) -> None:
    rng = random.Random(seed)
    alphabet = ["a", "b", "路", "🙂", " ", "\n", "。", ".", "，", "€"]
    text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 400)))
    max_chars = rng.randint(2, 60)
    parts = split_reply(text, max_chars=max_chars)
    assert all(part and part == part.strip() for part in parts)
    assert all(len(part.encode("utf-16-le")) // 2 <= max_chars for part in parts)
    assert squash("".join(parts)) == squash(text)


# --- status callbacks -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "status", "error"),
    [
        ("status_sent.json", DeliveryStatus.SENT, None),
        ("status_delivered.json", DeliveryStatus.DELIVERED, None),
        ("status_undelivered.json", DeliveryStatus.FAILED, "twilio error 30003"),
        ("status_failed.json", DeliveryStatus.FAILED, "twilio error 30008"),
    ],
)
def test_receipt_fixtures(name: str, status: DeliveryStatus, error: str | None) -> None:
    params = load(name)
    assert to_receipt(params) == Receipt(status, error, params["MessageSid"])


def test_sent_and_delivered_name_the_same_message() -> None:
    sent = to_receipt(load("status_sent.json"))
    delivered = to_receipt(load("status_delivered.json"))
    assert sent is not None and delivered is not None
    assert sent.provider_message_id == delivered.provider_message_id


def test_failure_without_error_code() -> None:
    params = load("status_failed.json")
    del params["ErrorCode"]
    receipt = to_receipt(params)
    assert receipt is not None
    assert receipt.error == "twilio failed"


@pytest.mark.parametrize(
    "status",
    ["queued", "accepted", "scheduled", "sending", "receiving", "received", "read"],
)
def test_statuses_that_move_nothing_are_ignored(status: str) -> None:
    params = load("status_sent.json") | {"MessageStatus": status, "SmsStatus": status}
    assert to_receipt(params) is None


def test_unknown_status_is_refused() -> None:
    params = load("status_sent.json") | {"MessageStatus": "exploded"}
    with pytest.raises(InvalidInput, match="unknown MessageStatus"):
        to_receipt(params)


@pytest.mark.parametrize("field", ["MessageSid", "MessageStatus"])
def test_receipt_missing_field(field: str) -> None:
    params = load("status_delivered.json")
    del params[field]
    with pytest.raises(InvalidInput, match=f"missing {field}"):
        to_receipt(params)

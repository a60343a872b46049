"""The voice line's TwiML and transcripts, without HTTP (channels.voice)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from civicline.channels import voice
from civicline.channels.voice import CallFacts, NoCallerId, Voice
from civicline.domain.errors import InvalidInput
from civicline.domain.messages import Language

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "twilio"
NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
LINE = Voice("https://hotline.example.gov.cn/")
ZH = CallFacts("CA" + "1" * 32, "+8613912345678", NOW - timedelta(minutes=1))
EN = CallFacts("CA" + "2" * 32, "+12015550123", NOW - timedelta(minutes=1))


def payload(name: str) -> dict[str, str]:
    params: dict[str, str] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return params


def parse(document: str) -> ET.Element:
    root = ET.fromstring(document)
    assert root.tag == "Response"
    return root


def test_chinese_for_mainland_callers_and_english_for_the_others() -> None:
    assert LINE.language_for("+8613912345678") == Language.ZH
    assert LINE.language_for("+12015550123") == Language.EN
    assert LINE.language_for("+85291234567") == Language.EN  # Hong Kong is not +86
    assert Voice("https://x", language_setting="zh").language_for("+12015550123") == Language.ZH
    assert Voice("https://x", language_setting="en").language_for("+8613912345678") == Language.EN


def test_the_greeting_listens_for_speech_in_the_callers_language() -> None:
    for facts, language in ((ZH, "zh-CN"), (EN, "en-US")):
        root = parse(voice.greeting(LINE, facts))
        assert [child.tag for child in root] == ["Say", "Gather", "Redirect"]
        gather = root[1]
        assert gather.get("input") == "speech" and gather.get("speechTimeout") == "auto"
        assert gather.get("language") == language == root[0].get("language")
        started = int(facts.started_at.timestamp())
        expected = f"https://hotline.example.gov.cn/webhooks/twilio/voice/speech?attempt=1&started={started}"
        assert gather.get("action") == expected == root[2].text


def test_a_tts_voice_from_the_settings_is_used_for_its_language_only() -> None:
    line = Voice("https://x", tts={Language.ZH: "Polly.Zhiyu", Language.EN: None})
    assert {say.get("voice") for say in parse(voice.greeting(line, ZH)).iter("Say")} == {
        "Polly.Zhiyu"
    }
    assert {say.get("voice") for say in parse(voice.greeting(line, EN)).iter("Say")} == {None}


def test_the_case_number_is_read_digit_by_digit() -> None:
    assert voice.spoken_digits("261127-00042", Language.ZH) == "二六幺幺二七，零零零四二"
    assert voice.spoken_digits("261127-00042", Language.EN) == (
        "two, six, one, one, two, seven. zero, zero, zero, four, two"
    )
    root = parse(voice.case_number(LINE, ZH.caller, "261127-00042", texted=False))
    said = [say.text for say in root.findall("Say")]
    assert said.count("二六幺幺二七，零零零四二") == 2
    assert not any("短信" in (text or "") for text in said)
    assert root[-1].tag == "Hangup"


def test_the_recording_fallback() -> None:
    root = parse(voice.record(LINE, ZH))
    assert [child.tag for child in root] == ["Say", "Record", "Say", "Hangup"]
    record = root[1].attrib
    assert record["maxLength"] == "120" and record["transcribe"] == "true"
    assert record["action"] == "https://hotline.example.gov.cn/webhooks/twilio/voice/recorded"
    assert record["transcribeCallback"] == (
        "https://hotline.example.gov.cn/webhooks/twilio/voice/transcription"
        f"?started={int(ZH.started_at.timestamp())}"
    )


def test_call_facts_from_a_webhook() -> None:
    params = payload("voice_speech_zh.json")
    started = int((NOW - timedelta(minutes=3)).timestamp())
    facts = voice.call_facts(params, {"started": str(started)}, now=NOW, default_region="CN")
    assert facts == CallFacts(params["CallSid"], "+8613912345678", NOW - timedelta(minutes=3))
    # A start time in the future, or none at all, is the time of this webhook.
    future = str(int((NOW + timedelta(hours=1)).timestamp()))
    assert (
        voice.call_facts(params, {"started": future}, now=NOW, default_region="CN").started_at
        == NOW
    )
    assert voice.call_facts(params, {}, now=NOW, default_region="CN").started_at == NOW
    with pytest.raises(NoCallerId):
        voice.call_facts(payload("voice_incoming_anonymous.json"), {}, now=NOW, default_region="CN")
    with pytest.raises(InvalidInput, match="CallSid"):
        voice.call_facts(dict(params, CallSid="SM123"), {}, now=NOW, default_region="CN")
    assert voice.attempt({"attempt": "2"}) == 2
    assert voice.attempt({"attempt": "x"}) == voice.attempt({}) == 1


def test_speech_becomes_a_voice_transcript() -> None:
    words = voice.speech_words(payload("voice_speech_zh.json"))
    transcript = voice.speech_transcript(LINE, ZH, words, now=NOW)
    assert (transcript.call_id, transcript.caller, transcript.operator_id) == (
        ZH.call_sid,
        ZH.caller,
        "voice",
    )
    assert transcript.source == "voice" and transcript.sms_consent
    assert transcript.caller_words() == words and transcript.language == Language.ZH
    assert voice.speech_words(payload("voice_speech_empty.json")) == ""
    assert not voice.speech_transcript(
        Voice("https://x", sms_receipts=False), ZH, words, now=NOW
    ).sms_consent


def test_a_transcription_is_filed_with_its_recording_and_a_failure_with_a_placeholder() -> None:
    done = payload("voice_transcription_completed.json")
    transcript = voice.recording_transcript(LINE, EN, done, now=NOW)
    assert transcript.caller_words() == done["TranscriptionText"]
    assert transcript.attachments == (f"recording:{done['RecordingUrl']}",)
    assert transcript.category is None  # the NLU reads the words

    failed = payload("voice_transcription_failed.json")
    placeholder = voice.recording_transcript(LINE, ZH, failed, now=NOW)
    assert placeholder.caller_words() == voice.TEXTS[Language.ZH]["placeholder"]
    assert placeholder.category == "other"  # for someone to listen, not for the NLU to guess
    assert placeholder.attachments == (f"recording:{failed['RecordingUrl']}",)

    # A Chinese caller's recording transcribed without any Chinese is not trusted.
    garbled = dict(done, TranscriptionText="Sing fool shoe bar how")
    doubtful = voice.recording_transcript(LINE, ZH, garbled, now=NOW)
    assert doubtful.category == "other" and "Sing fool shoe bar how" in doubtful.caller_words()
    with pytest.raises(InvalidInput, match="RecordingUrl"):
        voice.recording_transcript(LINE, ZH, dict(done, RecordingUrl=""), now=NOW)

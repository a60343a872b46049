"""The mayor hotline's voice line over Twilio: a caller speaks, the call becomes a case.

Paths (Twilio posts forms, we answer TwiML):
* ``POST /webhooks/twilio/voice``: a call comes in. A greeting, then ``<Gather input="speech">``
  asks for the complaint.
* ``POST /webhooks/twilio/voice/speech``: what Gather heard (``SpeechResult``, ``Confidence``).
  The words are filed as the call's transcript and the case number is read back digit by
  digit. Nothing heard: one polite retry, then the caller may leave a recording.
* ``POST /webhooks/twilio/voice/recorded``: the recording ended (``<Record>``'s action): thanks,
  goodbye.
* ``POST /webhooks/twilio/voice/transcription``: Twilio's transcription of the recording
  (``TranscriptionText``, ``TranscriptionStatus``, ``RecordingUrl``) is filed with the
  recording attached; a failed one still files a case, with a placeholder text and the
  recording, so no call is lost.

Authentication: ``X-Twilio-Signature`` exactly as for SMS (``channels.twilio_api``): the public
URL (with the query our TwiML put in the action URLs, so Twilio signs it too) and the form.
Every filing is idempotent by ``CallSid``: the call id of the hotline transcript.

Message types: speech (Twilio's speech recognition, zh-CN or en-US) and recordings (up to
120 s, Twilio's recording transcription). The caller is the ``From`` number; calls without
a usable caller id are told so and not filed (a case needs a phone identity).

Settings: the SMS ones (``twilio_account_sid``, ``twilio_auth_token``, ``twilio_from_number``,
``public_base_url``, ``sms_default_region``), ``voice_sms_receipts`` (text the case number to
the caller, default on), ``voice_language`` (``auto``: Chinese for +86 callers, English for
the others; or ``zh`` / ``en`` for everyone), ``voice_tts_zh`` / ``voice_tts_en`` (the
``<Say>`` voice, e.g. ``Polly.Zhiyu``; default: the account's voice for the language).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

from twilio.twiml.voice_response import Gather, VoiceResponse

from civicline.channels.sms import normalize_phone
from civicline.domain.errors import InvalidInput
from civicline.domain.messages import Language, guess_language
from civicline.handlers.hotline import Transcript, Turn

VOICE_PATH = "/webhooks/twilio/voice"
SPEECH_PATH = VOICE_PATH + "/speech"
RECORDED_PATH = VOICE_PATH + "/recorded"
TRANSCRIPTION_PATH = VOICE_PATH + "/transcription"

OPERATOR_ID = "voice"
MAX_RECORDING_SECONDS = 120  # Twilio transcribes recordings of at most two minutes
MAX_ATTEMPTS = 2  # the first question and one polite retry
TWILIO_LANGUAGE = {Language.ZH: "zh-CN", Language.EN: "en-US"}
# A Chinese caller's case number is read the way numbers are read on the phone: digit by
# digit, 1 as 幺 (yāo), which is not mistaken for 七 (qī) on a poor line.
ZH_DIGITS = dict(zip("0123456789", "零幺二三四五六七八九", strict=True))
EN_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
EN_DIGITS = {str(digit): word for digit, word in enumerate(EN_WORDS)}
_CALL_SID = re.compile(r"CA[0-9a-fA-F]{32}")
_CJK = re.compile("[\u3400-\u4dbf\u4e00-\u9fff]")

TEXTS: dict[Language, dict[str, str]] = {
    Language.ZH: {
        "greeting": "您好，这里是一二三四五市民服务热线。",
        "prompt": "请直接说出您要反映的问题和发生的地点，说完请稍等。",
        "retry": "抱歉，没有听清。请再说一遍您要反映的问题。",
        "record": "请在提示音后留言，说完请挂机或按井号键。",
        "no_recording": "没有收到您的留言，请稍后再拨。再见。",
        "recorded": "您的留言已收到，我们会尽快登记办理。",
        "filed": "您的诉求已登记。案件编号是：",
        "again": "再说一遍，案件编号是：",
        "sms": "案件编号也会以短信发给您。",
        "goodbye": "感谢您的来电，再见。",
        "no_caller_id": (
            "抱歉，本热线需要识别您的来电号码才能登记诉求。请取消隐藏号码后再拨，"
            "或通过短信、网上渠道反映。再见。"
        ),
        "placeholder": "（语音留言，自动转写未成功，请收听录音。）",
        "unreliable": "（语音留言，自动转写可能不准确，请收听录音。机器转写：{text}）",
    },
    Language.EN: {
        "greeting": "Hello, this is the 1 2 3 4 5 city service hotline.",
        "prompt": "Please tell us your complaint and where it happened, then wait a moment.",
        "retry": "Sorry, we did not catch that. Please tell us your complaint again.",
        "record": "Please leave a message after the tone. Hang up or press the pound key "
        "when you are done.",
        "no_recording": "We did not receive a message. Please call again later. Goodbye.",
        "recorded": "Thank you, we received your message and will register it shortly.",
        "filed": "Your complaint is registered. Your case number is:",
        "again": "Once more, your case number is:",
        "sms": "We will also text you the case number.",
        "goodbye": "Thank you for calling. Goodbye.",
        "no_caller_id": (
            "Sorry, this line needs to see your phone number to register a complaint. Please "
            "call again without hiding your number, or write to us by text message or online. "
            "Goodbye."
        ),
        "placeholder": "(Voice message: the automatic transcription failed; listen to the "
        "recording.)",
        "unreliable": "(Voice message: the automatic transcription may be wrong; listen to "
        "the recording. Machine transcription: {text})",
    },
}


@dataclass(frozen=True, slots=True)
class Voice:
    """How the line speaks: the public base URL our action URLs start with, and settings."""

    public_base_url: str
    language_setting: str = "auto"  # auto, zh or en
    tts: Mapping[Language, str | None] | None = None
    sms_receipts: bool = True

    def language_for(self, caller: str) -> Language:
        if self.language_setting in ("zh", "en"):
            return Language(self.language_setting)
        return Language.ZH if caller.startswith("+86") else Language.EN

    def url(self, path: str, **query: object) -> str:
        return self.public_base_url.rstrip("/") + path + (f"?{urlencode(query)}" if query else "")


class NoCallerId(InvalidInput):
    """The call shows no phone number to file it under (hidden, anonymous, a SIP address)."""


@dataclass(frozen=True, slots=True)
class CallFacts:
    """What every voice webhook tells us about the call."""

    call_sid: str
    caller: str  # E.164
    started_at: datetime


def call_facts(
    params: Mapping[str, str], query: Mapping[str, str], *, now: datetime, default_region: str
) -> CallFacts:
    """The call's sid, the caller's number and when the call began (carried in our action
    URLs from the first webhook; Twilio signs them with the rest of the URL)."""
    sid = params.get("CallSid", "").strip()
    if not _CALL_SID.fullmatch(sid):
        raise InvalidInput("missing or malformed CallSid")
    try:
        caller = normalize_phone(params.get("From", ""), default_region)
    except InvalidInput:
        raise NoCallerId("the call shows no usable caller id") from None
    return CallFacts(sid, caller, _started(query.get("started"), now))


def _started(raw: str | None, now: datetime) -> datetime:
    if raw and raw.isascii() and raw.isdigit() and len(raw) <= 10:  # seconds, until 2286
        started = datetime.fromtimestamp(int(raw), UTC)
        if started <= now:
            return started
    return now


def attempt(query: Mapping[str, str]) -> int:
    raw = query.get("attempt", "1")
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < len(raw) < 3 else 1


def spoken_digits(number: str, language: Language) -> str:
    """``261127-00042`` as words to read one by one: the date part, a pause, the sequence."""
    digits = ZH_DIGITS if language == Language.ZH else EN_DIGITS
    separator = "" if language == Language.ZH else ", "
    pause = "，" if language == Language.ZH else ". "
    return pause.join(separator.join(digits[d] for d in part) for part in number.split("-"))


# --- TwiML -----------------------------------------------------------------------------------


class _Twiml:
    """A VoiceResponse that speaks in one language."""

    def __init__(self, voice: Voice, language: Language) -> None:
        self.voice, self.language = voice, language
        self.texts = TEXTS[language]
        self.response = VoiceResponse()

    def say(self, text: str, into: VoiceResponse | Gather | None = None, loop: int = 1) -> None:
        attributes: dict[str, object] = {"language": TWILIO_LANGUAGE[self.language]}
        tts = (self.voice.tts or {}).get(self.language)
        if tts:
            attributes["voice"] = tts
        if loop != 1:
            attributes["loop"] = loop
        (into if into is not None else self.response).say(text, **attributes)

    def gather(self, facts: CallFacts, attempt: int, prompt: str) -> None:
        action = self.voice.url(SPEECH_PATH, attempt=attempt, started=_epoch(facts))
        gather = Gather(
            input="speech",
            language=TWILIO_LANGUAGE[self.language],
            speech_timeout="auto",
            action=action,
            method="POST",
            action_on_empty_result=True,
        )
        self.say(prompt, into=gather)
        self.response.append(gather)
        # Should Twilio not post an empty result to the action, silence lands here.
        self.response.redirect(action, method="POST")

    def __str__(self) -> str:
        return str(self.response)


def _epoch(facts: CallFacts) -> int:
    return int(facts.started_at.timestamp())


def greeting(voice: Voice, facts: CallFacts) -> str:
    twiml = _Twiml(voice, voice.language_for(facts.caller))
    twiml.say(twiml.texts["greeting"])
    twiml.gather(facts, 1, twiml.texts["prompt"])
    return str(twiml)


def retry(voice: Voice, facts: CallFacts, attempt: int) -> str:
    twiml = _Twiml(voice, voice.language_for(facts.caller))
    twiml.gather(facts, attempt + 1, twiml.texts["retry"])
    return str(twiml)


def record(voice: Voice, facts: CallFacts) -> str:
    """The recording fallback; after ``<Record>`` only an empty recording goes on."""
    twiml = _Twiml(voice, voice.language_for(facts.caller))
    twiml.say(twiml.texts["record"])
    twiml.response.record(
        max_length=MAX_RECORDING_SECONDS,
        transcribe=True,
        transcribe_callback=voice.url(TRANSCRIPTION_PATH, started=_epoch(facts)),
        action=voice.url(RECORDED_PATH),
        method="POST",
        play_beep=True,
    )
    twiml.say(twiml.texts["no_recording"])
    twiml.response.hangup()
    return str(twiml)


def recorded(voice: Voice, caller: str) -> str:
    twiml = _Twiml(voice, voice.language_for(caller))
    twiml.say(twiml.texts["recorded"] + (twiml.texts["sms"] if voice.sms_receipts else ""))
    twiml.say(twiml.texts["goodbye"])
    twiml.response.hangup()
    return str(twiml)


def case_number(voice: Voice, caller: str, number: str, *, texted: bool) -> str:
    """The case number, read twice, digit by digit; then goodbye."""
    twiml = _Twiml(voice, voice.language_for(caller))
    spoken = spoken_digits(number, twiml.language)
    twiml.say(twiml.texts["filed"])
    twiml.say(spoken)
    twiml.say(twiml.texts["again"])
    twiml.say(spoken)
    if texted:
        twiml.say(twiml.texts["sms"])
    twiml.say(twiml.texts["goodbye"])
    twiml.response.hangup()
    return str(twiml)


def no_caller_id(voice: Voice) -> str:
    """Both languages: with no number we cannot tell where the caller is from."""
    response = VoiceResponse()
    for language in (Language.ZH, Language.EN):
        _Twiml(voice, language).say(TEXTS[language]["no_caller_id"], into=response)
    response.hangup()
    return str(response)


# --- transcripts -----------------------------------------------------------------------------


def speech_words(params: Mapping[str, str]) -> str:
    """What Gather heard; empty when it heard nothing it could transcribe."""
    return params.get("SpeechResult", "").strip()


def speech_transcript(voice: Voice, facts: CallFacts, words: str, *, now: datetime) -> Transcript:
    return _caller_said(
        facts, words, now=now, voice=voice, language=voice.language_for(facts.caller)
    )


def _caller_said(
    facts: CallFacts,
    words: str,
    *,
    now: datetime,
    voice: Voice,
    language: Language,
    category: str | None = None,
    attachments: tuple[str, ...] = (),
) -> Transcript:
    """The call as one turn of the caller's words."""
    return Transcript(
        call_id=facts.call_sid,
        caller=facts.caller,
        operator_id=OPERATOR_ID,
        started_at=facts.started_at,
        ended_at=max(now, facts.started_at),
        turns=(Turn("caller", words),),
        category=category,
        sms_consent=voice.sms_receipts,
        language=language,
        source="voice",
        attachments=attachments,
    )


def recording_transcript(
    voice: Voice, facts: CallFacts, params: Mapping[str, str], *, now: datetime
) -> Transcript:
    """The recording's transcript, with the recording attached.

    A failed or empty transcription files a placeholder instead, and so does one that holds
    no Chinese for a caller expected to speak Chinese (the recording transcription may not
    understand Chinese: its words would mislead the NLU). Those cases go to the 12345 centre
    (category ``other``) for someone to listen.
    """
    recording = params.get("RecordingUrl", "").strip()
    if not recording.startswith("https://"):
        raise InvalidInput("missing or malformed RecordingUrl")
    language = voice.language_for(facts.caller)
    texts = TEXTS[language]
    words = params.get("TranscriptionText", "").strip()
    completed = params.get("TranscriptionStatus", "").strip().lower() == "completed"
    category = None
    if not completed or not words:
        words, category = texts["placeholder"], "other"
    elif language == Language.ZH and not _CJK.search(words):
        words, category = texts["unreliable"].format(text=words), "other"
    return _caller_said(
        facts,
        words,
        now=now,
        voice=voice,
        language=language if category else guess_language(words),
        category=category,
        attachments=(f"recording:{recording}",),
    )

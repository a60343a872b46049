"""HTTP endpoints of the hotline's voice line (see ``civicline.channels.voice``): Twilio's
voice webhooks, answered with TwiML. Signatures are checked as for SMS (404 while Twilio is
not configured, 403 for a bad signature)."""

from __future__ import annotations

import logging
from dataclasses import replace

from fastapi import APIRouter, Request, Response

from civicline.channels import voice
from civicline.channels.voice import CallFacts, NoCallerId, Voice
from civicline.domain.messages import Language
from civicline.gateway.bootstrap import Services
from civicline.gateway.settings import Settings
from civicline.gateway.webhooks.twilio import TWIML, signed_params
from civicline.handlers.hotline import Filed, Hotline, Transcript, file_call

log = logging.getLogger(__name__)
router = APIRouter(prefix=voice.VOICE_PATH, tags=["voice"])


def line_of(settings: Settings) -> Voice:
    return Voice(
        public_base_url=settings.public_base_url,
        language_setting=settings.voice_language,
        tts={Language.ZH: settings.voice_tts_zh, Language.EN: settings.voice_tts_en},
        sms_receipts=settings.voice_sms_receipts,
    )


def _twiml(document: str) -> Response:
    return Response(document, media_type=TWIML)


async def _call(request: Request) -> tuple[Services, dict[str, str], Voice, CallFacts | None]:
    """The signed form and the call it is about; no facts when the caller id is unusable."""
    services, params = await signed_params(request)
    line = line_of(services.settings)
    try:
        facts = voice.call_facts(
            params,
            request.query_params,
            now=services.now(),
            default_region=services.settings.sms_default_region,
        )
    except NoCallerId:
        log.info("voice call without a usable caller id", extra={"call_sid": params.get("CallSid")})
        return services, params, line, None
    return services, params, line, facts


@router.post("")
async def incoming_call(request: Request) -> Response:
    """A call comes in: greet the caller and listen."""
    _, _, line, facts = await _call(request)
    if facts is None:
        return _twiml(voice.no_caller_id(line))
    log.info("voice call", extra={"call_sid": facts.call_sid})
    return _twiml(voice.greeting(line, facts))


@router.post("/speech")
async def speech(request: Request) -> Response:
    """What the caller said: file it and read the case number back; nothing heard: ask once
    more, then offer a recording."""
    services, params, line, facts = await _call(request)
    if facts is None:
        return _twiml(voice.no_caller_id(line))
    words = voice.speech_words(params)
    if not words:
        attempt = voice.attempt(request.query_params)
        log.info("voice: nothing heard", extra={"call_sid": facts.call_sid, "attempt": attempt})
        if attempt < voice.MAX_ATTEMPTS:
            return _twiml(voice.retry(line, facts, attempt))
        return _twiml(voice.record(line, facts))
    transcript = voice.speech_transcript(line, facts, words, now=services.now())
    filed = await _file(services, transcript)
    return _twiml(
        voice.case_number(line, facts.caller, filed.case_number, texted=bool(filed.outbound_ids))
    )


@router.post("/recorded")
async def recorded(request: Request) -> Response:
    """The recording is over (``<Record>``'s action): thanks and goodbye. The case is filed
    when Twilio posts the transcription."""
    _, _, line, facts = await _call(request)
    if facts is None:
        return _twiml(voice.no_caller_id(line))
    return _twiml(voice.recorded(line, facts.caller))


@router.post("/transcription", status_code=204)
async def transcription(request: Request) -> Response:
    """Twilio's transcription of a recording, completed or failed: either way a case, with the
    recording attached."""
    services, params, line, facts = await _call(request)
    if facts is not None:
        transcript = voice.recording_transcript(line, facts, params, now=services.now())
        await _file(services, transcript)
    return Response(status_code=204)


async def _file(services: Services, transcript: Transcript) -> Filed:
    """File the call (once per CallSid) and queue its SMS receipt."""
    filed = await file_call(
        transcript,
        _hotline(services),
        inbox=services.inbox,
        queue=services.queue,
        now=services.now(),
    )
    log.info(
        "voice call filed",
        extra={"call_sid": transcript.call_id, "case": filed.case_number, "new": filed.created},
    )
    return filed


def _hotline(services: Services) -> Hotline:
    """The hotline without corrections: nobody on the voice line chose a category, and a
    placeholder filed under ``other`` is no training example."""
    return replace(services.hotline, corrections=None)

"""The Twilio REST plumbing with the real twilio client against a local fake Twilio API."""

from __future__ import annotations

import base64
import socket
from collections.abc import AsyncIterator

import pytest
from twilio.request_validator import RequestValidator

from civicline.channels.twilio_api import (
    RewritingHttpClient,
    classify_error,
    close_client,
    compute_signature,
    make_client,
    parse_retry_after,
    public_url,
    send_sms,
    verify_signature,
)
from civicline.handlers.ports import SendError
from tests.fakes.twilio_server import FakeTwilio, running_fake_twilio
from tests.support.ports import free_port

TO = "+8613800138000"
FROM = "+14155550100"
BODY = "您的工单 12345-2024-000017 已受理，我们将在 3 个工作日内答复。"
CALLBACK = "https://civic.example.gov/api/v1/sms/status?outbound=17"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTwilio]:
    async with running_fake_twilio() as server:
        yield server


async def _send(
    fake: FakeTwilio,
    *,
    token: str | None = None,
    status_callback: str | None = CALLBACK,
    media_urls: list[str] | None = None,
) -> tuple[str, str]:
    client = make_client(fake.account_sid, token or fake.auth_token, base_url=fake.url)
    try:
        return await send_sms(
            client,
            to=TO,
            from_=FROM,
            body=BODY,
            status_callback=status_callback,
            media_urls=media_urls,
        )
    finally:
        await close_client(client)


async def _send_error(fake: FakeTwilio, *, token: str | None = None) -> SendError:
    with pytest.raises(Exception) as caught:
        await _send(fake, token=token)
    error = classify_error(caught.value)
    assert TO not in error.reason and TO.lstrip("+") not in error.reason
    assert BODY not in error.reason and "工单" not in error.reason
    assert str(error) == error.reason
    return error


async def test_a_send_is_recorded_with_the_right_fields(fake: FakeTwilio) -> None:
    media = ["https://civic.example.gov/media/1.jpg", "https://civic.example.gov/media/2.png"]
    sid, status = await _send(fake, media_urls=media)

    assert sid.startswith("SM") and len(sid) == 34
    assert status == "queued"
    [message] = fake.messages
    assert (message.sid, message.account_sid) == (sid, fake.account_sid)
    assert (message.to, message.from_, message.body) == (TO, FROM, BODY)
    assert message.status_callback == CALLBACK
    assert message.media_urls == media
    assert message.headers["content-type"].startswith("application/x-www-form-urlencoded")


async def test_no_status_callback_and_no_media_are_left_out(fake: FakeTwilio) -> None:
    await _send(fake, status_callback=None)
    fields = [key for key, _ in fake.messages[0].form]
    assert sorted(fields) == ["Body", "From", "To"]


async def test_one_client_sends_many_then_closes(fake: FakeTwilio) -> None:
    client = make_client(fake.account_sid, fake.auth_token, base_url=fake.url)
    sids = [
        (await send_sms(client, to=TO, from_=FROM, body=f"n{i}", status_callback=None))[0]
        for i in range(3)
    ]
    await close_client(client)
    await close_client(client)  # idempotent
    assert sids == [m.sid for m in fake.messages] and len(set(sids)) == 3
    with pytest.raises(RuntimeError):
        await send_sms(client, to=TO, from_=FROM, body="late", status_callback=None)


async def test_wrong_auth_token_is_permanent(fake: FakeTwilio) -> None:
    error = await _send_error(fake, token="not-the-token")
    assert error.permanent and error.retry_after is None
    assert "20003" in error.reason and "401" in error.reason
    assert fake.messages == [] and fake.requests == 1


async def test_too_many_requests_is_transient_with_retry_after(fake: FakeTwilio) -> None:
    fake.fail_next(429, code=20429, retry_after=7)
    error = await _send_error(fake)
    assert not error.permanent and error.retry_after == 7.0
    assert "429" in error.reason and "20429" in error.reason

    fake.fail_next(429, code=20429)
    error = await _send_error(fake)
    assert not error.permanent and error.retry_after is None


@pytest.mark.parametrize("code", [21211, 21408, 21610, 21614])
async def test_rejected_recipients_are_permanent(fake: FakeTwilio, code: int) -> None:
    # Twilio's own message may quote the number: it must not reach the reason.
    fake.fail_next(400, code=code, message=f"The 'To' number {TO} is not valid for: {BODY}")
    error = await _send_error(fake)
    assert error.permanent and error.retry_after is None
    assert str(code) in error.reason and "400" in error.reason
    assert fake.messages == []


async def test_server_errors_are_transient_then_the_retry_goes_through(fake: FakeTwilio) -> None:
    fake.fail_next(500, code=20500, times=2)
    for _ in range(2):
        error = await _send_error(fake)
        assert not error.permanent and "500" in error.reason
    sid, _ = await _send(fake)
    assert [m.sid for m in fake.messages] == [sid] and fake.requests == 3


async def test_service_unavailable_is_transient(fake: FakeTwilio) -> None:
    fake.fail_next(503, code=20503, retry_after="2")
    error = await _send_error(fake)
    assert not error.permanent and error.retry_after == 2.0


async def test_server_down_is_transient() -> None:
    down = FakeTwilio(url=f"http://127.0.0.1:{free_port()}")
    error = await _send_error(down)
    assert not error.permanent and "unreachable" in error.reason


async def test_a_slow_server_times_out_as_transient(fake: FakeTwilio) -> None:
    fake.delay = 0.5
    client = make_client(fake.account_sid, fake.auth_token, base_url=fake.url, timeout=0.1)
    try:
        with pytest.raises(Exception) as caught:
            await send_sms(client, to=TO, from_=FROM, body=BODY, status_callback=None)
    finally:
        await close_client(client)
    error = classify_error(caught.value)
    assert not error.permanent and "timed out" in error.reason


def test_classify_other_errors() -> None:
    assert not classify_error(TimeoutError()).permanent
    assert not classify_error(ConnectionResetError(f"reset talking about {TO}")).permanent
    assert TO not in classify_error(ValueError(TO)).reason
    given = SendError("x", permanent=True)
    assert classify_error(given) is given


def test_parse_retry_after() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past


def test_only_twilio_api_urls_are_rewritten() -> None:
    client = RewritingHttpClient(base_url="http://127.0.0.1:8765/")
    assert (
        client.rewrite("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?a=1")
        == "http://127.0.0.1:8765/2010-04-01/Accounts/AC1/Messages.json?a=1"
    )
    assert client.rewrite("https://api.twilio.com.evil.example/x") == (
        "https://api.twilio.com.evil.example/x"
    )
    assert client.rewrite("https://example.com/x") == "https://example.com/x"
    assert RewritingHttpClient().rewrite("https://api.twilio.com/x") == "https://api.twilio.com/x"


# An inbound SMS webhook as Twilio posts it.
AUTH_TOKEN = "12345678901234567890123456789012"
WEBHOOK_URL = "https://civic.example.gov/api/v1/sms/inbound?city=sz"
INBOUND = {
    "ToCountry": "US",
    "ToState": "CA",
    "SmsMessageSid": "SM0f5bd3e5e9a54f6c8d1a2b3c4d5e6f70",
    "NumMedia": "0",
    "ToCity": "SAN FRANCISCO",
    "FromZip": "",
    "SmsSid": "SM0f5bd3e5e9a54f6c8d1a2b3c4d5e6f70",
    "FromState": "",
    "SmsStatus": "received",
    "FromCity": "",
    "Body": "小区门口路灯坏了三天了",
    "FromCountry": "CN",
    "To": FROM,
    "ToZip": "94105",
    "NumSegments": "1",
    "MessageSid": "SM0f5bd3e5e9a54f6c8d1a2b3c4d5e6f70",
    "AccountSid": "AC" + "0123456789abcdef" * 2,
    "From": TO,
    "ApiVersion": "2010-04-01",
}


def _sign(url: str, params: dict[str, str], token: str = AUTH_TOKEN) -> str:
    return str(RequestValidator(token).compute_signature(url, params))


@pytest.mark.parametrize(
    "params",
    [
        INBOUND,
        {},
        {"Body": "", "From": "+8613912345678", "b": "x&y=z", "a": "路灯 坏了\n%20+"},
        {"MediaUrl0": "https://api.twilio.com/a?b=c", "NumMedia": "1", "Body": "😀"},
    ],
)
def test_our_signature_is_the_sdks(params: dict[str, str]) -> None:
    for url in (WEBHOOK_URL, "https://civic.example.gov:443/webhooks/twilio/sms"):
        expected = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
        assert compute_signature(AUTH_TOKEN, url, params) == expected


def test_a_genuine_signature_is_accepted() -> None:
    signature = _sign(WEBHOOK_URL, INBOUND)
    assert verify_signature(AUTH_TOKEN, WEBHOOK_URL, INBOUND, signature)
    # Twilio may sign with the default port in the URL.
    with_port = "https://civic.example.gov:443/api/v1/sms/inbound?city=sz"
    assert verify_signature(AUTH_TOKEN, WEBHOOK_URL, INBOUND, _sign(with_port, INBOUND))


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        base64.b64encode(b"0123456789abcdefghij").decode(),  # forged
        _sign(WEBHOOK_URL.replace("https://", "http://"), INBOUND),  # another scheme
        _sign(WEBHOOK_URL.replace("civic.example.gov", "evil.example"), INBOUND),  # another host
        _sign(WEBHOOK_URL.replace("?city=sz", ""), INBOUND),  # another query
        _sign(WEBHOOK_URL, INBOUND, token="another-account-token-0123456789"),
        _sign(WEBHOOK_URL, {**INBOUND, "Body": "别的内容"}),  # a parameter changed
    ],
    ids=["missing", "empty", "forged", "http", "host", "query", "token", "param"],
)
def test_a_wrong_signature_is_rejected(signature: str | None) -> None:
    assert not verify_signature(AUTH_TOKEN, WEBHOOK_URL, INBOUND, signature)


def test_a_changed_parameter_is_rejected() -> None:
    signature = _sign(WEBHOOK_URL, INBOUND)
    assert not verify_signature(
        AUTH_TOKEN, WEBHOOK_URL, {**INBOUND, "From": "+10000000000"}, signature
    )
    extra = {**INBOUND, "MediaUrl0": "https://evil.example/x.jpg"}
    assert not verify_signature(AUTH_TOKEN, WEBHOOK_URL, extra, signature)


def test_public_url_keeps_the_query() -> None:
    base = "https://civic.example.gov/"
    assert public_url(base, "/api/v1/sms/inbound", "city=sz") == WEBHOOK_URL
    assert (
        public_url(base, "/api/v1/sms/inbound", "")
        == "https://civic.example.gov/api/v1/sms/inbound"
    )
    assert public_url("https://civic.example.gov", "x", "a=1&b=2") == (
        "https://civic.example.gov/x?a=1&b=2"
    )


def test_free_port_is_closed() -> None:
    port = free_port()
    with socket.socket() as sock, pytest.raises(OSError):
        sock.connect(("127.0.0.1", port))

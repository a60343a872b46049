"""Open311 GeoReport v2, with mySociety's ``servicerequestupdates``: parsing and formats.

Paths (under ``/open311/v2``, each as ``.json`` and ``.xml``): ``discovery``, ``services``,
``services/{service_code}``, ``requests`` (GET: search; POST: file a request),
``requests/{service_request_id}``, ``tokens/{token}``, ``servicerequestupdates``.
Authentication: POST ``requests`` needs an ``api_key`` (``open311_api_keys``; none set:
nobody may file, and the answer says so); every GET is public, as the spec has it, and shows
only public fields of cases filed over Open311.
Message types: a service request (form-urlencoded): ``service_code``, a location (``lat`` and
``long``, or ``address_string``), ``description`` (required here: a complaint needs words; at
most 4,000 characters), ``media_url`` (kept as a link, never downloaded), and the submitter's
``first_name``, ``last_name``, ``email``, ``phone``, ``device_id``, ``account_id`` (kept in
the inbox row's ``meta``, never shown by a GET). ``attribute[...]`` is ignored: no service has
a definition with attributes.
Settings: ``open311_api_keys``, ``open311_jurisdiction_id``, ``open311_contact``,
``open311_key_service``, ``public_base_url`` (the discovery's endpoint URL),
``sms_default_region`` (phones without a country code), ``city_timezone``.

A POST answers with a ``token`` (services are ``type`` ``batch``): the request is stored and
queued like every webhook, and a worker opens its case a moment later; ``tokens/{token}``
then gives the case number, which is the ``service_request_id``. Each POST is a new request
(the spec has no idempotency key; staff merge duplicates). Staff replies are "sent" by being
published: ``Open311Sender`` marks them sent and ``servicerequestupdates`` shows them.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import math
import re
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from civicline.channels.base import SendResult
from civicline.channels.sms import normalize_phone
from civicline.domain.bounds import moment_problem
from civicline.domain.errors import InvalidInput
from civicline.domain.messages import (
    Channel,
    DeliveryStatus,
    InboundMessage,
    Language,
    OutboundMessage,
    guess_language,
)
from civicline.domain.taxonomy import Taxonomy
from civicline.handlers.open311 import (
    MEDIA_PREFIX,
    META_KEY,
    STATUSES,
    RequestQuery,
    ServiceRequestView,
    UpdateView,
    service_notice,
)

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
MAX_DESCRIPTION = 4000  # the spec's limit
MAX_ADDRESS = 200
MAX_NAME = 100
MAX_ID = 100
MAX_EMAIL = 190  # the sender address (e-mail:...) fits the 200-character handle column
MAX_MEDIA_URL = 1000
MAX_CODE = 64
MAX_IDS = 200  # service_request_id values in one search
MAX_RESULTS = 1000  # the spec's "first 1000 requests"
MAX_SPAN = timedelta(days=90)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_URL = re.compile(r"https?://[^\s]+", re.IGNORECASE)
# Characters XML 1.0 cannot carry at all, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
# The element name of one item of a list, in the spec's XML.
_ITEM = {"endpoints": "endpoint", "formats": "format", "attributes": "attribute"}


class Format(enum.StrEnum):
    JSON = "json"
    XML = "xml"

    @property
    def media_type(self) -> str:
        return (
            "application/json; charset=utf-8" if self == Format.JSON else "text/xml; charset=utf-8"
        )


def format_of(name: str) -> Format | None:
    try:
        return Format(name.lower())
    except ValueError:
        return None


class Open311Error(Exception):
    """An error answer as the spec defines it: HTTP 400, 403 or 404 with a list of
    ``{code, description}``. Descriptions name the field, never the submitted value."""

    def __init__(self, status: int, *descriptions: str, errors: Sequence[tuple[int, str]] = ()):
        super().__init__(descriptions[0] if descriptions else status)
        self.status = status
        self.errors = list(errors) or [(status, d) for d in descriptions]


# Authentication and jurisdiction --------------------------------------------------------


def api_keys(raw: str | None) -> tuple[str, ...]:
    """The configured keys: a comma-separated list (blanks ignored)."""
    return tuple(k.strip() for k in (raw or "").split(",") if k.strip())


def client_of(given: str | None, keys: Sequence[str]) -> str:
    """Check the request's ``api_key``; a short fingerprint of it names the client app (its
    ``account_id`` values are its own). Every key is compared, in constant time."""
    if not keys:
        raise Open311Error(
            403, "this server takes no Open311 service requests: no API keys are configured"
        )
    if not given:
        raise Open311Error(403, "api_key is missing")
    offered = given.encode()
    matched = [k for k in keys if hmac.compare_digest(offered, k.encode())]
    if not matched:
        raise Open311Error(403, "api_key is invalid")
    return hashlib.sha256(matched[0].encode()).hexdigest()[:8]


def check_jurisdiction(given: str | None, ours: str | None) -> None:
    """One jurisdiction per server: ``jurisdiction_id`` is optional, and must be ours."""
    asked = (given or "").strip()
    if asked and ours is not None and asked != ours:
        raise Open311Error(404, "jurisdiction_id not found")


def language_of(locale: str | None, accept_language: str | None) -> Language:
    """``locale`` (zh, en, en_GB, zh-CN, ...) first, then the best of Accept-Language; zh."""
    if locale and locale.strip():
        return Language.EN if locale.strip().lower().startswith("en") else Language.ZH
    best: tuple[float, Language] | None = None
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip().lower()
        if not (tag.startswith("en") or tag.startswith("zh")):
            continue
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        language = Language.EN if tag.startswith("en") else Language.ZH
        if best is None or quality > best[0]:
            best = (quality, language)
    return best[1] if best else Language.ZH


# POST requests -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Intake:
    """What reading a POST needs besides the form."""

    taxonomy: Taxonomy
    phone_region: str
    client: str  # the API key's fingerprint (client_of)


def new_token() -> str:
    """128 random bits: a token cannot be guessed, and it is the inbox row's provider id."""
    return secrets.token_hex(16)


def _text(form: Mapping[str, str], name: str) -> str | None:
    value = form.get(name, "").strip()
    return value or None


def _coordinates(form: Mapping[str, str], problems: list[str]) -> tuple[float, float] | None:
    lat, long = _text(form, "lat"), _text(form, "long")
    if lat is None and long is None:
        return None
    if lat is None or long is None:
        problems.append("lat and long must be sent together")
        return None
    try:
        point = (float(lat), float(long))
    except ValueError:
        problems.append("lat and long must be decimal degrees (WGS84)")
        return None
    if not all(math.isfinite(v) for v in point):
        problems.append("lat and long must be decimal degrees (WGS84)")
        return None
    if not -90 <= point[0] <= 90 or not -180 <= point[1] <= 180:
        problems.append("lat must be within -90..90 and long within -180..180")
        return None
    return point


def _limited(form: Mapping[str, str], name: str, limit: int, problems: list[str]) -> str | None:
    value = _text(form, name)
    if value is not None and len(value) > limit:
        problems.append(f"{name} is longer than {limit} characters")
        return None
    return value


def to_inbound(
    form: Mapping[str, str], intake: Intake, *, now: datetime, token: str
) -> InboundMessage:
    """The request as an inbox message on channel ``open311``, or every problem at once:
    400 for missing or malformed fields, 404 for an unknown service code alone. Control
    characters are dropped first: neither XML nor PostgreSQL text can carry them all."""
    form = {name: _NOT_XML.sub("", value) for name, value in form.items()}
    problems: list[str] = []
    unknown: list[str] = []
    code = _text(form, "service_code")
    if code is None:
        problems.append("service_code is missing")
    elif len(code) > MAX_CODE or code not in intake.taxonomy.categories:
        unknown.append("service_code not found: see services.json for the list")
    location = _coordinates(form, problems)
    address = _limited(form, "address_string", MAX_ADDRESS, problems)
    coordinates_given = _text(form, "lat") is not None or _text(form, "long") is not None
    if location is None and address is None and not coordinates_given:
        problems.append(
            "a location is missing: send lat and long, or address_string"
            + (" (address_id is not used here)" if _text(form, "address_id") else "")
        )
    description = form.get("description", "").strip()
    if not description:
        problems.append("description is missing: say what is wrong")
    elif len(description) > MAX_DESCRIPTION:
        problems.append(f"description is longer than {MAX_DESCRIPTION} characters")
    media = _limited(form, "media_url", MAX_MEDIA_URL, problems)
    if media is not None and not _URL.fullmatch(media):
        problems.append("media_url must be an http or https URL")
    email = _limited(form, "email", MAX_EMAIL, problems)
    if email is not None and not _EMAIL.fullmatch(email):
        problems.append("email is not an e-mail address")
    phone = _limited(form, "phone", 32, problems)
    if phone is not None:
        try:
            phone = normalize_phone(phone, intake.phone_region)
        except InvalidInput:
            problems.append("phone is not a valid phone number")
    first_name = _limited(form, "first_name", MAX_NAME, problems)
    last_name = _limited(form, "last_name", MAX_NAME, problems)
    device_id = _limited(form, "device_id", MAX_ID, problems)
    account_id = _limited(form, "account_id", MAX_ID, problems)
    if problems:
        raise Open311Error(400, errors=[(400, p) for p in problems] + [(404, u) for u in unknown])
    if unknown:
        raise Open311Error(404, *unknown)
    assert code is not None
    return InboundMessage(
        channel=Channel.OPEN311,
        provider_message_id=token,
        sender_address=citizen_address(
            client=intake.client,
            account_id=account_id,
            email=email,
            phone=phone,
            device_id=device_id,
            token=token,
        ),
        text=description,
        received_at=now,
        language=guess_language(description),
        location=location,
        attachments=[MEDIA_PREFIX + media] if media else [],
        meta={
            META_KEY: {
                "service_code": code,
                "address_string": address,
                "address_id": _limited(form, "address_id", MAX_ID, []),
                "first_name": first_name,
                "last_name": last_name,
                "email": email,
                "phone": phone,
                "device_id": device_id,
                "account_id": account_id,
                "client": intake.client,
            }
        },
    )


def citizen_address(
    *,
    client: str,
    account_id: str | None,
    email: str | None,
    phone: str | None,
    device_id: str | None,
    token: str,
) -> str:
    """A stable identity for the submitter on this channel: their account with the client
    app, else their e-mail, else their phone (E.164), else their device; a request with none
    of these stands alone. Never linked to the SMS or hotline identity of the same phone:
    an Open311 app does not prove the number is the submitter's."""
    if account_id:
        return f"account:{client}:{account_id}"
    if email:
        return f"email:{email.lower()}"
    if phone:
        return f"phone:{phone}"
    if device_id:
        return f"device:{device_id}"
    return f"anonymous:{token}"


def filed_answer(token: str, *, notice: str | None, account_id: str | None) -> list[dict[str, Any]]:
    """POST's answer: a token (never with a service_request_id, as the spec has it)."""
    return [{"token": token, "service_notice": notice, "account_id": account_id}]


def token_answer(token: str, case_number: str | None) -> list[dict[str, Any]]:
    """``service_request_id`` is null until the worker has opened the case (a second or so)."""
    return [{"service_request_id": case_number, "token": token}]


# GET requests and updates -----------------------------------------------------------------


def parse_datetime(value: str, name: str, timezone: tzinfo) -> datetime:
    """A W3C/ISO 8601 date-time; one without an offset (or a bare date) is city time."""
    text = value.strip()
    try:
        if len(text) == 10:
            parsed = datetime.combine(date.fromisoformat(text), time())
        else:
            parsed = datetime.fromisoformat(text)
    except ValueError:
        raise Open311Error(
            400, f"{name} is not an ISO 8601 date-time such as 2026-01-01T00:00:00Z"
        ) from None
    problem = moment_problem(parsed)  # a window reaches 90 days past it
    if problem is not None:
        raise Open311Error(400, f"{name} {problem}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone)


def parse_window(
    params: Mapping[str, str], *, now: datetime, timezone: tzinfo, max_span: timedelta | None
) -> tuple[datetime, datetime]:
    """``start_date`` .. ``end_date``; a missing end is 90 days after the start (or now), a
    missing start 90 days before the end."""
    start = _text(params, "start_date")
    end = _text(params, "end_date")
    since = parse_datetime(start, "start_date", timezone) if start else None
    until = parse_datetime(end, "end_date", timezone) if end else None
    if until is None:
        until = since + MAX_SPAN if since is not None else now
    if since is None:
        since = until - MAX_SPAN
    if since > until:
        raise Open311Error(400, "start_date is after end_date")
    if max_span is not None and until - since > max_span:
        raise Open311Error(
            400, f"start_date to end_date may not span more than {max_span.days} days"
        )
    return since, until


def _listed(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def request_query(
    params: Mapping[str, str], *, now: datetime, timezone: tzinfo, limit: int = MAX_RESULTS
) -> RequestQuery:
    """GET requests' filters. ``service_request_id`` overrides every other argument."""
    numbers = _listed(params.get("service_request_id"))
    if numbers:
        if len(numbers) > MAX_IDS:
            raise Open311Error(400, f"at most {MAX_IDS} service_request_id values at once")
        return RequestQuery(limit=limit, numbers=tuple(numbers))
    statuses = _listed(params.get("status"))
    wrong = [s for s in statuses if s.lower() not in STATUSES]
    if wrong:
        raise Open311Error(400, "status must be open, closed or both (comma-separated)")
    since, until = parse_window(params, now=now, timezone=timezone, max_span=MAX_SPAN)
    return RequestQuery(
        limit=limit,
        categories=tuple(_listed(params.get("service_code"))),
        statuses=frozenset().union(*(STATUSES[s.lower()] for s in statuses)) if statuses else None,
        since=since,
        until=until,
    )


def request_item(view: ServiceRequestView) -> dict[str, Any]:
    return asdict(view)


def update_item(view: UpdateView) -> dict[str, Any]:
    return asdict(view)


# Services and discovery ------------------------------------------------------------------


def _keywords(taxonomy: Taxonomy, code: str, language: Language) -> str:
    """The sub-categories' names and keywords, in the requested language."""
    words: list[str] = []
    for sub in taxonomy.subcategories.get(code, ()):
        words.append(sub.name_zh if language == Language.ZH else sub.name_en)
        words.extend(k for k in sub.keywords if guess_language(k) == language)
    return ", ".join(dict.fromkeys(words))


def services(taxonomy: Taxonomy, language: Language) -> list[dict[str, Any]]:
    """One service per category: its code, names in the language asked for, its department
    as the group. No service has attributes, so ``metadata`` is false."""
    zh = language == Language.ZH
    listed = []
    for category in taxonomy.categories.values():
        dept = taxonomy.departments[category.department]
        department = dept.name_zh if zh else dept.name_en
        name = category.name_zh if zh else category.name_en
        handled = f"{name}：由{department}办理。" if zh else f"{name}: handled by {department}. "
        listed.append(
            {
                "service_code": category.code,
                "service_name": name,
                "description": handled + service_notice(category, language),
                "metadata": False,
                "type": "batch",
                "keywords": _keywords(taxonomy, category.code, language),
                "group": department,
            }
        )
    return listed


def service_definition(taxonomy: Taxonomy, code: str) -> dict[str, Any]:
    if code not in taxonomy.categories:
        raise Open311Error(404, "service_code not found")
    return {"service_code": code, "attributes": []}


def discovery(
    *, base_url: str, changeset: datetime, contact: str, key_service: str
) -> dict[str, Any]:
    stamp = changeset.isoformat(timespec="seconds")
    return {
        "changeset": stamp,
        "contact": contact,
        "key_service": key_service,
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": base_url.rstrip("/") + "/open311/v2",
                "changeset": stamp,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }


# Formats -----------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _xml_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return _NOT_XML.sub("", str(value))


def _element(parent: ET.Element, name: str, value: Any) -> None:
    node = ET.SubElement(parent, name)
    if isinstance(value, dict):
        for key, inner in value.items():
            _element(node, key, inner)
    elif isinstance(value, list):
        for inner in value:
            _element(node, _ITEM.get(name, "item"), inner)
    elif value is not None:
        node.text = _xml_text(value)


def _xml(root: ET.Element) -> bytes:
    document = '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode")
    return document.encode()


def render_list(fmt: Format, root: str, item: str, items: Iterable[dict[str, Any]]) -> bytes:
    """A list answer: a JSON array (the Spark convention), or ``<root><item>…`` in XML."""
    if fmt == Format.JSON:
        return json.dumps([_plain(i) for i in items], ensure_ascii=False).encode()
    node = ET.Element(root)
    for entry in items:
        _element(node, item, entry)
    return _xml(node)


def render_object(fmt: Format, root: str, value: dict[str, Any]) -> bytes:
    """A single-object answer (discovery, a service definition)."""
    if fmt == Format.JSON:
        return json.dumps(_plain(value), ensure_ascii=False).encode()
    node = ET.Element(root)
    for key, inner in value.items():
        _element(node, key, inner)
    return _xml(node)


def render_errors(fmt: Format, error: Open311Error) -> bytes:
    return render_list(
        fmt, "errors", "error", [{"code": code, "description": d} for code, d in error.errors]
    )


# Sending -----------------------------------------------------------------------------------


class Open311Sender:
    """Staff replies on an Open311 case are published, not pushed: once ``sent`` they appear
    in ``servicerequestupdates`` for the client to fetch."""

    channel = Channel.OPEN311

    async def send(self, message: OutboundMessage) -> SendResult:
        return SendResult(DeliveryStatus.SENT, provider_message_id=f"open311-{message.id}")

"""The composition root: builds every long-lived client once and closes them on shutdown."""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

import httpx
from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncEngine
from twilio.rest import Client

from civicline.bots.dialogue import Conversation, handle_conversation
from civicline.channels.open311 import Open311Sender
from civicline.channels.sms import SmsSender
from civicline.channels.twilio_api import close_client, make_client
from civicline.channels.webchat import WebchatSender
from civicline.domain.calendar import WEEKDAYS_ONLY, WorkCalendar
from civicline.domain.letters import Addressee
from civicline.domain.messages import Channel, ChannelKind, InboundMessage
from civicline.domain.rota import Venue, check_venues
from civicline.domain.taxonomy import Taxonomy
from civicline.gateway import logs
from civicline.gateway.mail import email_sender
from civicline.gateway.settings import Settings
from civicline.handlers.cases import Routing
from civicline.handlers.delivery import RetryPolicy
from civicline.handlers.hotline import Hotline, process_transcript
from civicline.handlers.inbound import Handled, Inbound
from civicline.handlers.letters import Letters, process_letter
from civicline.handlers.open311 import Open311, process_request
from civicline.handlers.ports import Sender
from civicline.handlers.visits import Reception
from civicline.nlu import entities
from civicline.nlu.base import Classifier
from civicline.nlu.corrections import CorrectionsFile, corrections_path
from civicline.nlu.fallback import FallbackClassifier
from civicline.nlu.gated import GatedClassifier
from civicline.nlu.importer import imported_data_path, training_data_paths
from civicline.nlu.local import LocalClassifier
from civicline.nlu.rasa import RasaClassifier
from civicline.nlu.training_data import shipped_paths
from civicline.storage import database
from civicline.storage.base import BatchUnitOfWork, UnitOfWork, UnitOfWorkFactory
from civicline.storage.calendar_file import load_calendar
from civicline.storage.files import LocalFiles
from civicline.storage.filing import SqlBatchUnitOfWork
from civicline.storage.intake import SqlInboxWriter
from civicline.storage.mailboxes_file import load_mailboxes
from civicline.storage.open311 import SqlOpen311Store
from civicline.storage.queue import ArqQueue, connect
from civicline.storage.rate_limit import RateLimiter
from civicline.storage.redis_server import EmbeddedRedis
from civicline.storage.rota_file import load_venues
from civicline.storage.taxonomy_file import load_taxonomy
from civicline.storage.unit_of_work import SqlUnitOfWork

if TYPE_CHECKING:
    from civicline.channels.telegram import Intake, Telegram

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    redis_url: str
    redis: ArqRedis
    queue: ArqQueue
    taxonomy: Taxonomy
    classifier: Classifier
    senders: Mapping[Channel, Sender]
    webchat_limiter: RateLimiter
    embedded_redis: EmbeddedRedis | None = None
    calendar: WorkCalendar = WEEKDAYS_ONLY
    telegram: Telegram | None = None  # the bot and its dispatcher, when Telegram is on
    addressees: dict[str, Addressee] = field(default_factory=dict)  # the mailbox's boxes
    venues: dict[str, Venue] = field(default_factory=dict)  # reception venues (rota.yml)
    clock: Callable[[], datetime] = field(default=utcnow, repr=False)
    intake_engine: AsyncEngine | None = None  # the inbox writer's (database.create_intake_engine)

    def __post_init__(self) -> None:
        self._sessions = database.session_factory(self.engine)
        self.inbox = SqlInboxWriter(self.intake_engine or self.engine)
        self.open311 = SqlOpen311Store(self._sessions)  # what Open311 clients may read
        self.files = LocalFiles(self.settings.var_dir / "files")  # letters' scans and photos

    def uow(self) -> UnitOfWork:
        return SqlUnitOfWork(self._sessions)

    def batch_uow(self) -> BatchUnitOfWork:
        return SqlBatchUnitOfWork(self._sessions)

    def now(self) -> datetime:
        return self.clock()

    @property
    def corrections(self) -> CorrectionsFile:
        """Where operators' and staff's corrections of the NLU become training data."""
        return CorrectionsFile(corrections_path(self.settings.var_dir))

    @property
    def routing(self) -> Routing:
        return Routing(
            self.settings.nlu_min_confidence,
            self.settings.timezone,
            self.calendar,
            incidents=self.settings.incident_policy,
            board_review=self.settings.board_review,
        )

    @property
    def conversation(self) -> Conversation:
        return Conversation(
            taxonomy=self.taxonomy,
            routing=self.routing,
            nlu=self.classifier,
            corrections=self.corrections,
            letters=self.letters,
            venues=self.venues,
        )

    @property
    def letters(self) -> Letters:
        return Letters(
            self.uow,
            self.taxonomy,
            self.routing,
            self.classifier,
            self.files,
            self.addressees,
            self.inbox,
        )

    @property
    def reception(self) -> Reception:
        return Reception(
            self.uow, self.taxonomy, self.routing, self.classifier, self.files, self.venues
        )

    def today(self) -> date:
        """The city's date now."""
        return self.now().astimezone(self.settings.timezone).date()

    @property
    def hotline(self) -> Hotline:
        return hotline_of(self.uow, self.conversation)

    @property
    def inbound(self) -> Inbound:
        return inbound_router(self.uow, self.conversation)

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(max_attempts=self.settings.delivery_max_attempts)

    @property
    def sweep_grace(self) -> timedelta:
        return timedelta(seconds=self.settings.sweep_grace_seconds)


def hotline_of(uow_factory: UnitOfWorkFactory, conversation: Conversation) -> Hotline:
    return Hotline(
        uow_factory,
        conversation.taxonomy,
        conversation.routing,
        conversation.nlu,
        conversation.corrections,
    )


def inbound_router(uow_factory: UnitOfWorkFactory, conversation: Conversation) -> Inbound:
    """Who processes a stored inbound message of each kind (``handlers.inbound``)."""
    hotline = hotline_of(uow_factory, conversation)
    requests = Open311(uow_factory, conversation.taxonomy, conversation.routing, conversation.nlu)

    async def converse(message: InboundMessage, now: datetime) -> Handled:
        return await handle_conversation(
            message, now, uow_factory=uow_factory, conversation=conversation
        )

    async def file_transcript(message: InboundMessage, now: datetime) -> Handled:
        return await process_transcript(message, now, hotline=hotline)

    async def file_request(message: InboundMessage, now: datetime) -> Handled:
        return await process_request(message, now, open311=requests)

    router = (
        Inbound(uow_factory)
        .register(ChannelKind.CONVERSATION, converse)
        .register(ChannelKind.TRANSCRIPT, file_transcript)
        .register(ChannelKind.SERVICE_REQUEST, file_request)
    )
    letters = conversation.letters
    if letters is not None:  # without a mailbox set up, a letter is read like a message

        async def file_letter(message: InboundMessage, now: datetime) -> Handled:
            return await process_letter(message, now, letters=letters)

        router.register(ChannelKind.LETTER, file_letter)
    return router


async def load_classifier(
    settings: Settings, priors: Mapping[str, float] | None = None
) -> LocalClassifier:
    """Train the local model on first start (seconds), reuse it afterwards. It learns from the
    shipped data (nlu.yml and the training files) plus the city's imported tickets (``civicline
    nlu import``) and corrections; ``priors``: the city's category shares (the taxonomy's)."""
    shipped = shipped_paths(settings.nlu_data_path, settings.nlu_training_dir)
    paths = training_data_paths(shipped, imported_data_path(settings.var_dir))
    # the city's units as places, and jieba's dictionary: a second, once
    await asyncio.to_thread(entities.warm_up, settings.units_path)
    cache = settings.model_dir or settings.var_dir / "models"
    return await asyncio.to_thread(
        functools.partial(
            LocalClassifier.load_or_train,
            paths,
            cache,
            priors=priors,
            tickets=paths[len(shipped) :],
        )
    )


async def sync_departments(uow: UnitOfWork, taxonomy: Taxonomy) -> None:
    """Keep the units and departments tables in step with the units and taxonomy files."""
    async with uow:
        if taxonomy.units is not None:
            await uow.units.sync(taxonomy.units)
        await uow.departments.sync(list(taxonomy.departments.values()))
        await uow.commit()


async def _classifier(
    settings: Settings, http: httpx.AsyncClient | None, taxonomy: Taxonomy | None = None
) -> Classifier:
    """The local classifier or, when a Rasa server is configured, Rasa (behind the local
    fallback) routing the complaints that pass the local gate."""
    taxonomy = taxonomy or load_taxonomy(
        settings.taxonomy_path, settings.nlu_training_dir, settings.units_path
    )
    local = await load_classifier(settings, taxonomy.shares())
    if not settings.rasa_url or http is None:
        return local
    rasa = RasaClassifier(
        http,
        settings.rasa_url,
        token=settings.rasa_token.get_secret_value() if settings.rasa_token else None,
        timeout_seconds=settings.rasa_timeout_seconds,
    )
    return GatedClassifier(local, FallbackClassifier(rasa, local))


def _twilio_client(settings: Settings) -> Client | None:
    if not settings.sms_enabled:
        return None
    assert settings.twilio_account_sid and settings.twilio_auth_token
    return make_client(
        settings.twilio_account_sid,
        settings.twilio_auth_token.get_secret_value(),
        base_url=settings.twilio_api_base_url,
    )


def _telegram(settings: Settings) -> Telegram | None:
    if settings.telegram_bot_token is None:
        return None
    # aiogram takes seconds to import: only when Telegram is on.
    from civicline.channels.telegram import Telegram, build_dispatcher, make_bot

    bot = make_bot(
        settings.telegram_bot_token.get_secret_value(), api_url=settings.telegram_api_url
    )
    return Telegram(bot, build_dispatcher())


def freeze_startup_objects() -> None:
    """Move what start-up built (modules, the NLU model, routes: some 400,000 objects that live
    as long as the process) out of the garbage collector's sight. Otherwise every full
    collection walks them all, a pause of about 0.3 s that sets the gateway's p99.

    ``services_for`` undoes it when the services close: a process that opens services more
    than once (the test suite does, hundreds of times) must not keep every earlier set alive."""
    gc.collect()
    gc.freeze()


@asynccontextmanager
async def services_for(settings: Settings) -> AsyncIterator[Services]:
    """Everything the gateway and the workers share, for the lifetime of the process."""
    logs.silence_leaky_loggers()
    taxonomy = load_taxonomy(settings.taxonomy_path, settings.nlu_training_dir, settings.units_path)
    calendar = load_calendar(settings.holidays_path)
    embedded = None
    redis_url = settings.redis_url
    if redis_url is None:
        embedded = EmbeddedRedis(settings.var_dir / "redis")
        redis_url = await asyncio.to_thread(embedded.start)
    engine = database.create_engine(settings.db_url, pool_size=settings.db_pool_size)
    intake_engine = database.create_intake_engine(settings.db_url)
    redis = None
    senders: dict[Channel, Sender] = {
        Channel.WEBCHAT: WebchatSender(),
        Channel.OPEN311: Open311Sender(),
    }
    twilio = _twilio_client(settings)
    if twilio is not None:
        assert settings.twilio_from_number is not None
        senders[Channel.SMS] = SmsSender(
            twilio,
            from_number=settings.twilio_from_number,
            public_base_url=settings.public_base_url,
        )
    telegram = _telegram(settings)
    if telegram is not None:
        from civicline.channels.telegram import TelegramSender

        senders[Channel.TELEGRAM] = TelegramSender(telegram.bot)
    addressees = {box.code: box for box in load_mailboxes(taxonomy, settings.mailboxes_path)}
    venues = load_venues(settings.rota_path)
    if taxonomy.units is not None:
        check_venues(venues, taxonomy.units)
    http = httpx.AsyncClient() if settings.rasa_url else None
    try:
        redis = await connect(redis_url)
        services = Services(
            settings=settings,
            engine=engine,
            redis_url=redis_url,
            redis=redis,
            queue=ArqQueue(redis),
            taxonomy=taxonomy,
            calendar=calendar,
            classifier=await _classifier(settings, http, taxonomy),
            senders=senders,
            webchat_limiter=RateLimiter(
                redis,
                limit=settings.webchat_rate_limit_per_minute,
                window_seconds=60,
                prefix="webchat",
            ),
            embedded_redis=embedded,
            telegram=telegram,
            addressees=addressees,
            venues=venues,
            intake_engine=intake_engine,
        )
        mail_sender = email_sender(settings, services.uow)
        if mail_sender is not None:
            senders[Channel.EMAIL] = mail_sender
        await sync_departments(services.uow(), taxonomy)
        if settings.gc_freeze:
            freeze_startup_objects()
        yield services
    finally:
        gc.unfreeze()
        if http is not None:
            await http.aclose()
        if twilio is not None:
            await close_client(twilio)
        if telegram is not None:
            await telegram.close()
        if redis is not None:
            await redis.aclose()
        await engine.dispose()
        if intake_engine is not None:
            await intake_engine.dispose()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)


def intake_for(services: Services) -> Intake:
    from civicline.channels.telegram import Intake

    """Where the routers store updates: the inbox and the job queue of these services."""
    return Intake(services.inbox, services.queue, services.now)

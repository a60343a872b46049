"""Real mail servers for tests: Debian's dovecot as its own process, aiosmtpd in process.

``Dovecot`` writes a config under a temporary directory (IMAP on a free loopback port, one
passwd-file user, Maildir), starts ``dovecot -F`` and stops it by its process id. As root the
mail is owned by the ``dovecot`` user (dovecot refuses uid 0 for mail); otherwise by whoever
runs the tests. Tests deliver with IMAP APPEND, as a mail server would.

``SmtpSink`` is aiosmtpd's SMTP server on a loopback port, keeping what it received.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import aioimaplib  # type: ignore[import-untyped]
import pytest
from aiosmtpd.controller import Controller

from civicline.channels.email.imap import ImapAccount
from tests.support.ports import free_port
from tests.support.services import REQUIRE_SERVICES

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER = "mayor"
PASSWORD = "mailbox-test-password"


def _users() -> tuple[str, str, int, int]:
    """(internal user, login user, mail uid, mail gid) for dovecot's own processes."""
    if os.geteuid() == 0:
        mail = pwd.getpwnam("dovecot")
        return "dovecot", "dovenull", mail.pw_uid, mail.pw_gid
    me = pwd.getpwuid(os.geteuid())
    return me.pw_name, me.pw_name, me.pw_uid, me.pw_gid


CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal}
default_login_user = {login}
first_valid_uid = 1
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
service imap-urlauth-login {{
  chroot =
}}
service pop3-login {{
  chroot =
}}
service submission-login {{
  chroot =
}}
"""


@dataclass
class Dovecot:
    """Lives in its own directory under /tmp, readable by dovecot's unprivileged processes
    (pytest's tmp_path is private to its owner); removed when stopped."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="civicline-dovecot-")))
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    idle: bool = True

    def start(self) -> None:
        if not os.path.exists(DOVECOT):
            message = "dovecot is not installed (make mail installs it)"
            if REQUIRE_SERVICES:
                pytest.fail(message)
            pytest.skip(message)
        internal, login, uid, gid = _users()
        self.root.chmod(0o755)
        self.port = free_port()
        for sub in ("run", "state", "home"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            os.chown(self.root / "home", uid, gid)
        (self.root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        config = CONFIG.format(
            root=self.root, internal=internal, login=login, uid=uid, gid=gid, port=self.port
        )
        if not self.idle:  # a server without IDLE: the reader must poll
            config += "imap_capability = IMAP4rev1 LITERAL+ UIDPLUS\n"
        (self.root / "dovecot.conf").write_text(config)
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.root / "dovecot.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as probe:
                    if probe.recv(64).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"dovecot did not start: {self.log()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def account(self, **overrides: Any) -> ImapAccount:
        values: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": self.port,
            "user": USER,
            "password": PASSWORD,
            "tls": False,
            "poll_seconds": 0.5,
            "timeout": 30.0,
            "allowed_types": frozenset({"image/jpeg", "image/png", "application/pdf"}),
        }
        values.update(overrides)
        return ImapAccount(**values)

    async def deliver(self, *mails: bytes, folder: str = "INBOX") -> None:
        """Put mails in the folder over IMAP APPEND, as the city's mail server would."""
        imap = aioimaplib.IMAP4(host="127.0.0.1", port=self.port, timeout=60)
        await imap.wait_hello_from_server()
        assert (await imap.login(USER, PASSWORD)).result == "OK", self.log()
        for raw in mails:
            answer = await imap.append(raw, mailbox=folder)
            assert answer.result == "OK", answer
        await imap.logout()


@dataclass
class SmtpSink:
    """aiosmtpd's SMTP server on loopback: what our sender sends, as a mail server receives it."""

    port: int = 0
    received: list[Message] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)  # recipients answered 550
    controller: Controller | None = None

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(message_from_bytes(envelope.content))
        return "250 Message accepted"

    def start(self) -> None:
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()


@asynccontextmanager
async def stopping(task_factory: Any) -> AsyncIterator[asyncio.Event]:
    """Run a long-lived reader until the block ends."""
    stop = asyncio.Event()
    task = asyncio.create_task(task_factory(stop))
    try:
        yield stop
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)

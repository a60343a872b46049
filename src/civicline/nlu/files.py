"""Writing data files so that a crash never leaves half a file behind."""

from __future__ import annotations

import codecs
import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


@contextmanager
def atomic_writer(path: Path) -> Iterator[IO[bytes]]:
    """A binary file that replaces ``path`` only once it is completely written and synced."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as temp:
            yield temp
            temp.flush()
            os.fsync(temp.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def text_encoding(path: Path) -> str:
    """The encoding of an imported file: UTF-8 (BOM or not), else GB18030 (a superset of
    GBK); checked in chunks without holding the file. ValueError when it is neither."""
    for encoding in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with path.open("rb") as file:
                while chunk := file.read(1 << 20):
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        except OSError as exc:
            raise ValueError(f"{path}: {exc.strerror or exc}") from None
        return encoding
    raise ValueError(f"{path}: not UTF-8 or GBK/GB18030 text")


def file_identity(path: Path, head: int = 1 << 20) -> str:
    """The file's size and a hash of its first megabyte: what names it for a resumed import
    (the same export copied elsewhere resumes; a file grown or changed starts over)."""
    with path.open("rb") as file:
        digest = hashlib.sha256(file.read(head)).hexdigest()[:32]
    return f"{path.stat().st_size}:{digest}"

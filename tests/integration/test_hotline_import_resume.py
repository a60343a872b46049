"""``civicline hotline import`` killed mid-file (SIGKILL) and run again: every call once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from typer.testing import CliRunner

from civicline.gateway.cli import app
from civicline.storage import database
from civicline.storage.tables import (
    CaseRow,
    ContactHandleRow,
    ImportCheckpointRow,
    InboundMessageRow,
)
from tests.integration.test_hotline_import import calls, env, write_csv

__all__ = ["env"]  # the fixture, shared with the import's other tests

CALLS = 2_000
BATCH = 50


def query(url: str, stmt: Any) -> list[Any]:
    async def run() -> list[Any]:
        engine = database.create_engine(url)
        try:
            async with engine.connect() as conn:
                return list(await conn.execute(stmt))
        finally:
            await engine.dispose()

    return asyncio.run(run())


def checkpoint(url: str) -> int:
    rows = query(url, select(ImportCheckpointRow.rows_done))
    return int(rows[0][0]) if rows else 0


def test_an_import_killed_mid_file_resumes_and_files_every_call_once(
    env: dict[str, str], tmp_path: Path
) -> None:
    url = env["CIVICLINE_DATABASE_URL"]
    rows = calls(CALLS, consent_every=10_000)
    rows[1]["caller"] = "12345"  # refused, before the kill: counted by the first run only
    path = write_csv(tmp_path / "calls.csv", rows)
    command = [str(Path(sys.executable).parent / "civicline"), "hotline", "import", str(path)]
    process = subprocess.Popen(
        [*command, "--batch", str(BATCH)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 240
        while checkpoint(url) < 5 * BATCH:  # a few batches committed: kill it mid-file
            assert process.poll() is None, "the import ended before it could be killed"
            assert time.monotonic() < deadline, "no batch committed in four minutes"
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    done = checkpoint(url)
    filed_before = query(url, select(func.count()).select_from(CaseRow))[0][0]
    assert 0 < done < CALLS and filed_before < CALLS
    # What the checkpoint says is committed is exactly what was filed (no half batch).
    assert filed_before == done - 1

    result = CliRunner().invoke(app, ["hotline", "import", str(path), "--batch", "300"], env=env)
    assert result.exit_code == 0, result.output
    assert f"resumed after {done} rows an earlier run committed" in result.output
    assert f"read {CALLS - done} rows: {CALLS - done} imported, 0 duplicates, 0 rejected" in (
        result.output
    )

    filed = rows[:1] + rows[2:]
    call_ids = [row[0] for row in query(url, select(InboundMessageRow.provider_message_id))]
    assert sorted(call_ids) == sorted(row["call_id"] for row in filed)  # each call once
    case_links = query(url, select(InboundMessageRow.case_id))
    assert len({row[0] for row in case_links}) == CALLS - 1
    numbers = [row[0] for row in query(url, select(CaseRow.number))]
    assert len(numbers) == len(set(numbers)) == CALLS - 1
    assert checkpoint(url) == 0  # a finished file leaves no checkpoint
    phones = {row["caller"][-8:] for row in filed}
    handles = query(url, select(ContactHandleRow.address).where(ContactHandleRow.channel == "sms"))
    assert len(handles) == len(phones)  # one citizen a caller, across the two runs

    again = CliRunner().invoke(app, ["hotline", "import", str(path)], env=env)
    assert f"read {CALLS} rows: 0 imported, {CALLS - 1} duplicates, 1 rejected" in again.output

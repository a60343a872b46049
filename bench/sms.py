"""Benchmark: signed Twilio SMS webhooks per second, and end to end to case opened on PostgreSQL.

In one run, on loopback only: a fresh PostgreSQL database (dropped at the end), Redis db 14
(flushed at start and end), the bare baseline (bench/bare_app.py) and ``civicline gateway``
with SMS on, each on one uvicorn worker pinned to CPU 0; the fake Twilio REST API
(bench/fake_twilio.py) and the load (wrk, the paced client) on CPU 1.

Twilio signs each webhook (HMAC-SHA1 over the URL and the sorted form), which wrk's Lua cannot
do, so distinct signed inbound SMS (unique MessageSid, 300 senders) are made beforehand with
twilio's ``RequestValidator.compute_signature``, into a file bench/sms.lua sends line by line,
each once (a replay would measure the duplicate path, which is measured on its own below).

1. throughput (wrk, closed loop): bare POST /twilio/sms (parses the same ~20-field form,
   answers TwiML), then the gateway's POST /webhooks/twilio/sms (verify the signature, parse,
   store, enqueue; no worker running), then the same webhooks again (the duplicate path, after
   ANALYZE: on the stale statistics of a table that grew in seconds its look-up scans);
2. latency at half the webhook's throughput (open loop, measured from the scheduled send time),
   for the gateway and for the bare endpoint at the same rate;
3. end to end: the intake backlog is dropped, one ``civicline worker`` starts, and a burst of
   new signed webhooks goes in; time until every one opened its case on PostgreSQL and until
   every acknowledgement SMS (the case number) reached the fake Twilio server.

Usage (about 2 minutes): cd /work/main && .venv/bin/python bench/sms.py [--wait-idle 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote_plus

import asyncpg
import redis
import uvloop
from common import (
    BIN,
    HERE,
    LOAD_CPU,
    PG_ADMIN,
    PINNED,
    REDIS_URL,
    BenchFailed,
    Processes,
    busy_between,
    cpu_busy,
    free_port,
    http_request,
    machine,
    machine_cpu,
    machine_line,
    metered,
    paced,
    pg,
    print_paced,
    print_rows,
    process_cpu,
    read_response,
    wait_for_quiet,
    write_results,
    wrk,
)
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from civicline.channels.twilio_api import verify_signature

ROOT = HERE.parent
WEBHOOK_PATH = "/webhooks/twilio/sms"
BARE_PATH = "/twilio/sms"
FROM_NUMBER = "+14155550100"
FORM = "application/x-www-form-urlencoded"
SENDERS = 300
BARE_LINES = 10_000  # the bare baseline and the duplicate path cycle over the first lines
FIXTURE_PATH = ROOT / "tests/fixtures/twilio/inbound_sms_zh.json"
FIXTURE: dict[str, str] = json.loads(FIXTURE_PATH.read_text())
TEXTS = [
    FIXTURE["Body"],
    "我家楼下的路灯已经坏了两个多星期，晚上出门特别黑，老人孩子走路很危险，请尽快派人来修理。",
    "小区门口的垃圾桶好几天没人清运了，气味非常难闻，还招来很多苍蝇和老鼠，希望尽快处理。",
    "幸福路和人民路交叉口的红绿灯已经三天不工作了，早晚高峰非常混乱，请交通部门尽快修复。",
]


class Payloads:
    """Distinct signed inbound SMS webhooks, shaped like tests/fixtures/twilio/inbound_sms_zh.json.

    ``write(n)`` appends to the file bench/sms.lua reads ("signature<TAB>body" lines),
    ``take(n)`` returns new ones in memory (for the paced client); none is made twice."""

    def __init__(self, path: Path, url: str, account_sid: str, auth_token: str) -> None:
        self.base = FIXTURE | {"AccountSid": account_sid, "To": FROM_NUMBER}
        self.validator = RequestValidator(auth_token)
        self.path, self.url, self.auth_token = path, url, auth_token
        self.run, self.made = secrets.token_hex(6), 0
        self.offsets = [0]  # byte offset of each line in the file, and of its end
        self.used = 0  # lines of the file the gateway has been sent
        varying = {"MessageSid": "{sid}", "SmsSid": "{sid}", "SmsMessageSid": "{sid}"}
        varying |= {"From": "{sender}"}
        self.templates = [  # urlencode() is the slow part: encode the constant fields once
            "&".join(
                f"{quote_plus(k)}={varying.get(k) or quote_plus(text if k == 'Body' else v)}"
                for k, v in self.base.items()
            )
            for text in TEXTS
        ]

    def make(self) -> tuple[str, str]:
        i, self.made = self.made, self.made + 1
        sid, sender = f"SM{self.run}{i:020x}", f"+86139{i % SENDERS:08d}"
        text = TEXTS[i % len(TEXTS)]
        params = self.base | {"MessageSid": sid, "SmsSid": sid, "SmsMessageSid": sid}
        params |= {"From": sender, "Body": text}
        body = self.templates[i % len(TEXTS)].format(sid=sid, sender=quote_plus(sender))
        signature = self.validator.compute_signature(self.url, params)
        if i == 0:  # check once that the form and its signature are what the gateway verifies
            parsed = dict(parse_qsl(body, keep_blank_values=True))
            if parsed != params or not verify_signature(
                self.auth_token, self.url, parsed, signature
            ):
                raise BenchFailed(f"payload does not round-trip: {body}")
        return signature, body

    def write(self, lines: int) -> None:
        with self.path.open("a", encoding="ascii") as out:
            for _ in range(lines):
                signature, body = self.make()
                line = f"{signature}\t{body}\n"
                out.write(line)
                self.offsets.append(self.offsets[-1] + len(line))

    def ensure(self, lines: int) -> None:
        self.write(max(0, self.used + lines - (len(self.offsets) - 1)))

    def once_args(self) -> list[str]:
        """wrk.lua arguments: the lines not sent yet, each at most once."""
        count = len(self.offsets) - 1 - self.used
        return [str(self.path), str(self.offsets[self.used]), str(count), "once"]

    def cycle_args(self, lines: int) -> list[str]:
        return [str(self.path), "0", str(min(lines, len(self.offsets) - 1)), "cycle"]

    def take(self, count: int) -> list[tuple[str, str]]:
        return [self.make() for _ in range(count)]


def requests_for(port: int, path: str, payloads: list[tuple[str, str]]) -> list[bytes]:
    return [
        http_request(port, path, body.encode(), {"Content-Type": FORM, "X-Twilio-Signature": sig})
        for sig, body in payloads
    ]


def run_paced(port: int, label: str, requests: list[bytes], rate: float) -> dict[str, Any]:
    before = machine_cpu()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        result = runner.run(
            paced(port, requests.__getitem__, rate=rate, seconds=(len(requests) + 0.5) / rate)
        )
    result["machine_busy"] = busy_between(before, machine_cpu())
    print_paced(label, result)
    return result


def check(name: str, result: dict[str, Any], log: str = "") -> None:
    if result["non_2xx"] or result["errors"]:
        raise BenchFailed(f"{name} failed requests: {result}\n{log}")
    if result.get("replayed"):
        print(f"WARNING: {name} ran out of signed payloads and stopped early: {result}")


# --- end to end -------------------------------------------------------------------------------


def fake_count(url: str) -> int:
    with urllib.request.urlopen(f"{url}/count", timeout=5) as response:
        return int(json.load(response)["messages"])


async def end_to_end(
    procs: Processes,
    env: dict[str, str],
    cwd: Path,
    db: str,
    fake_url: str,
    *,
    probe: bytes,
    send: Callable[[], Any],
    burst: int,
    window: float,
) -> dict[str, Any]:
    """Drop the intake backlog; one worker; a probe message (start-up), then ``send()``: a
    burst of new webhooks. Times cases opened on PostgreSQL and acknowledgements at the fake."""
    connection = await asyncpg.connect(db, timeout=10)
    try:
        dropped = await connection.execute("delete from inbound_messages where status = 'received'")
        redis.Redis.from_url(REDIS_URL).flushdb()
        port = int(env["CIVICLINE_PORT"])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(probe)
        if (status := await read_response(reader)) != 200:
            raise BenchFailed(f"the probe webhook answered {status}")
        writer.close()
        procs.start("worker", [str(BIN / "civicline"), "worker"], env, cwd)
        started = time.monotonic()

        async def state() -> tuple[int, int, int, int]:
            if procs.running["worker"].poll() is not None:
                raise BenchFailed(f"worker exited:\n{procs.log_tail('worker')}")
            row = await connection.fetchrow(
                "select (select count(*) from inbound_messages where status <> 'received'),"
                " (select count(*) from cases),"
                " (select count(*) from outbound_messages where status in ('queued', 'sending'))"
            )
            return row[0], row[1], row[2], await asyncio.to_thread(fake_count, fake_url)

        while (now := await state()) != (1, 1, 0, 1):
            if time.monotonic() - started > 60:
                raise BenchFailed(f"the probe message never made it: {now}")
            await asyncio.sleep(0.1)
        startup = time.monotonic() - started
        probe_id = await connection.fetchval("select max(id) from inbound_messages")
        worker = procs.running["worker"].pid
        cpu0, t0, machine0 = process_cpu(worker), time.monotonic(), machine_cpu()
        sending = asyncio.create_task(send())
        cases_at = acks_at = first_ack = None
        processed, cases, pending, acks = now
        while time.monotonic() - t0 < window:
            await asyncio.sleep(0.2)
            processed, cases, pending, acks = await state()
            if first_ack is None and acks > 1:
                first_ack = time.monotonic() - t0
            if cases_at is None and processed >= burst + 1:
                cases_at = time.monotonic() - t0
            if cases_at is not None and pending == 0:
                acks_at = time.monotonic() - t0
                break
        elapsed, cpu = time.monotonic() - t0, process_cpu(worker) - cpu0
        busy = busy_between(machine0, machine_cpu())
        sent = await sending
        procs.stop("worker")
        delays = await connection.fetchrow(
            "select percentile_cont(array[0.5, 0.99]) within group"
            "  (order by extract(epoch from c.created_at - i.received_at)),"
            " (select percentile_cont(array[0.5, 0.99]) within group"
            "  (order by extract(epoch from o.updated_at - i2.received_at))"
            "  from outbound_messages o join inbound_messages i2 on o.in_reply_to = i2.id"
            "  where o.status = 'sent' and i2.id > $1)"
            " from inbound_messages i join cases c on i.case_id = c.id where i.id > $1",
            probe_id,
        )
        outbound = await connection.fetch(
            "select status, count(*) from outbound_messages group by status order by status"
        )
        return {
            "backlog_dropped": int(dropped.split()[-1]),
            "worker_startup_s": startup,
            "burst": burst,
            "burst_send": sent,
            "processed": processed - 1,
            "cases_opened": cases - 1,
            "acks_at_fake": acks - 1,
            "outbound": {r["status"]: r["count"] for r in outbound},
            "timed_out": acks_at is None,
            "first_ack_s": first_ack,
            "case_opened_after_s": dict(zip(("p50", "p99"), delays[0] or (), strict=False)),
            "ack_sent_after_s": dict(zip(("p50", "p99"), delays[1] or (), strict=False)),
            "all_cases_s": cases_at,
            "all_acks_s": acks_at,
            "cases_per_s": (burst / cases_at) if cases_at else (processed - 1) / elapsed,
            "acks_per_s": (burst / acks_at) if acks_at else (acks - 1) / elapsed,
            "worker_cpu_ms_per_message": cpu * 1e3 / max(1, processed - 1),
            "machine_busy": busy,
        }
    finally:
        await connection.close()


# --- the report -------------------------------------------------------------------------------


def report(r: dict[str, Any]) -> None:
    t, lat, e2e = r["throughput"], r["latency"], r["end_to_end"]
    bare, hook, dup = t["bare_form"], t["webhook"], t["duplicate"]
    gw, base = lat["webhook"], lat["bare_form"]
    rows = [
        (f"bare POST {BARE_PATH} (form, TwiML)", f"{bare['rps']:.0f}", "req/s"),
        (f"signed SMS webhook POST {WEBHOOK_PATH}", f"{hook['rps']:.0f}", "req/s"),
        ("  webhook / bare form POST", f"{r['ratio']:.1%}", ""),
        (
            "  server CPU per request: bare / webhook",
            f"{bare['server_cpu_ms_per_req']:.3f} / {hook['server_cpu_ms_per_req']:.3f}",
            f"ms ({r['cpu_ratio']:.1f} times)",
        ),
        (
            "  PostgreSQL / Redis CPU per webhook",
            f"{hook['postgres_cpu_ms_per_req']:.3f} / {hook['redis_cpu_ms_per_req']:.3f}",
            "ms",
        ),
        (
            "  machine busy during bare / webhook",
            f"{bare['machine_busy']:.0%} / {hook['machine_busy']:.0%}",
            "of 2 CPUs",
        ),
        ("  distinct signed payloads sent to the gateway", f"{r['payloads_sent']}", ""),
        ("duplicate webhooks (seen MessageSid; analyzed)", f"{dup['rps']:.0f}", "req/s"),
        ("  server CPU per duplicate", f"{dup['server_cpu_ms_per_req']:.3f}", "ms"),
        (f"latency at {gw['target_rps']:.0f} req/s (sent {gw['sent_rps']:.0f})", "", ""),
        ("  webhook p50 / p90", f"{gw['p50_ms']:.1f} / {gw['p90_ms']:.1f}", "ms"),
        ("  webhook p99 / max", f"{gw['p99_ms']:.1f} / {gw['max_ms']:.1f}", "ms"),
        ("  bare form p50 / p90", f"{base['p50_ms']:.1f} / {base['p90_ms']:.1f}", "ms"),
        ("  bare form p99 / max", f"{base['p99_ms']:.1f} / {base['max_ms']:.1f}", "ms"),
        (
            "  machine busy during webhook / bare",
            f"{gw['machine_busy']:.0%} / {base['machine_busy']:.0%}",
            "of 2 CPUs",
        ),
        ("non-2xx / socket errors, all phases", f"{r['non_2xx']} / {r['socket_errors']}", ""),
        ("end to end, one worker", "", ""),
        (
            f"  burst of {e2e['burst']} webhooks sent at",
            f"{e2e['burst_send']['sent_rps']:.0f}",
            f"req/s (p99 {e2e['burst_send']['p99_ms']:.1f} ms, worker running)",
        ),
        ("  inbound -> case opened on PostgreSQL", f"{e2e['cases_per_s']:.1f}", "messages/s"),
        ("  inbound -> acknowledgement at fake Twilio", f"{e2e['acks_per_s']:.1f}", "messages/s"),
        (
            "  webhook -> case opened p50 / p99",
            " / ".join(f"{v:.1f}" for v in e2e["case_opened_after_s"].values()),
            "s (each message, from its arrival)",
        ),
        (
            "  webhook -> ack sent p50 / p99",
            " / ".join(f"{v:.1f}" for v in e2e["ack_sent_after_s"].values()),
            f"s (first ack at the fake after {e2e['first_ack_s'] or float('nan'):.1f} s)",
        ),
        (
            "  all cases opened / all acks sent after",
            f"{e2e['all_cases_s'] or float('nan'):.1f} / {e2e['all_acks_s'] or float('nan'):.1f}",
            "s" + (" (window ended first)" if e2e["timed_out"] else ""),
        ),
        (
            "  processed / cases opened / acks at fake",
            f"{e2e['processed']} / {e2e['cases_opened']} / {e2e['acks_at_fake']}",
            f"outbound rows {e2e['outbound']}",
        ),
        ("  worker CPU per message (case + ack)", f"{e2e['worker_cpu_ms_per_message']:.1f}", "ms"),
        ("  worker start-up to first ack", f"{e2e['worker_startup_s']:.1f}", "s"),
        ("  machine busy meanwhile", f"{e2e['machine_busy']:.0%}", "of 2 CPUs"),
        ("  intake backlog dropped before the burst", f"{e2e['backlog_dropped']}", "messages"),
    ]
    print(f"\nCivicline SMS webhook benchmark  {r['started']}")
    print(machine_line(r["machine"]))
    print_rows(rows)
    for name, lines in r["log_problems"].items():
        if lines:
            print(f"{name} log: {len(lines)} warning/error lines, first: {lines[0][:200]}")


# --- main -------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10, help="each wrk measurement")
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--duplicate-seconds", type=float, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--paced-seconds", type=float, default=10)
    parser.add_argument("--e2e-messages", type=int, default=2000, help="the end-to-end burst")
    parser.add_argument("--e2e-timeout", type=float, default=60)
    parser.add_argument(
        "--wait-idle", type=float, default=0, help="wait up to this many s for a quiet machine"
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if PINNED:
        os.sched_setaffinity(0, {int(LOAD_CPU)})  # the paced client; children are re-pinned

    started = datetime.now()
    db_name = f"civicline_bench_{secrets.token_hex(4)}"
    db_url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{db_name}"
    tmp = Path(tempfile.mkdtemp(prefix="civicline-bench-sms-"))
    procs = Processes(tmp)
    rds = redis.Redis.from_url(REDIS_URL)
    busy = wait_for_quiet(args.wait_idle)
    try:
        rds.flushdb()
        asyncio.run(pg(PG_ADMIN, f'create database "{db_name}"'))
        gateway_port, bare_port, fake_port = free_port(), free_port(), free_port()
        account_sid, auth_token = "AC" + secrets.token_hex(16), secrets.token_hex(16)
        fake_url = f"http://127.0.0.1:{fake_port}"
        env = os.environ | {
            "CIVICLINE_DATABASE_URL": db_url,
            "CIVICLINE_REDIS_URL": REDIS_URL,
            "CIVICLINE_PORT": str(gateway_port),
            "CIVICLINE_VAR_DIR": str(tmp / "var"),
            "CIVICLINE_SECRET_KEY": "bench",
            "CIVICLINE_LOG_LEVEL": "WARNING",
            "CIVICLINE_PUBLIC_BASE_URL": f"http://127.0.0.1:{gateway_port}",
            "CIVICLINE_TWILIO_ACCOUNT_SID": account_sid,
            "CIVICLINE_TWILIO_AUTH_TOKEN": auth_token,
            "CIVICLINE_TWILIO_FROM_NUMBER": FROM_NUMBER,
            "CIVICLINE_TWILIO_API_BASE_URL": fake_url,
            "FAKE_TWILIO_ACCOUNT_SID": account_sid,
            "FAKE_TWILIO_AUTH_TOKEN": auth_token,
        }
        civicline = str(BIN / "civicline")
        subprocess.run([civicline, "db", "upgrade"], env=env, cwd=tmp, check=True, timeout=120)
        bare = [str(BIN / "uvicorn"), "--app-dir", str(HERE), "bare_app:app", "--port"]
        bare += [str(bare_port), "--loop", "uvloop", "--http", "httptools", "--no-access-log"]
        procs.start("bare", [*bare, "--log-level", "warning", "--workers", "1"], env, tmp)
        procs.start("gateway", [civicline, "gateway"], env, tmp)
        fake = [sys.executable, str(HERE / "fake_twilio.py"), str(fake_port)]
        procs.start("fake_twilio", fake, env, tmp, cpu=LOAD_CPU)
        procs.wait_healthy("bare", f"http://127.0.0.1:{bare_port}/const", 30)
        procs.wait_healthy("fake_twilio", f"{fake_url}/count", 30)
        procs.wait_healthy("gateway", f"http://127.0.0.1:{gateway_port}/healthz", 120)
        bare_url, gateway_url = f"http://127.0.0.1:{bare_port}", f"http://127.0.0.1:{gateway_port}"
        bare_pid, gateway_pid = procs.running["bare"].pid, procs.running["gateway"].pid
        payloads = Payloads(tmp / "signed.txt", gateway_url + WEBHOOK_PATH, account_sid, auth_token)
        payloads.write(BARE_LINES)
        script = HERE / "sms.lua"

        def run_wrk(url: str, script_args: list[str], seconds: float) -> dict[str, Any]:
            connections = args.connections
            return wrk(url, script_args, seconds=seconds, connections=connections, script=script)

        print(
            f"throughput: wrk -c{args.connections}, {args.warmup:g} s warm-up + {args.seconds:g} s"
        )
        bare_args = payloads.cycle_args(BARE_LINES)
        run_wrk(bare_url + BARE_PATH, bare_args, args.warmup)
        bare_form = metered(
            bare_pid, "bare", lambda: run_wrk(bare_url + BARE_PATH, bare_args, args.seconds)
        )
        check("bare form POST", bare_form)
        # The webhook is slower than the bare endpoint: enough distinct payloads at its rate.
        needed = math.ceil(bare_form["rps"] * (args.warmup + args.seconds) * 1.1)
        payloads.ensure(needed + 4 * args.connections)

        hook_url = gateway_url + WEBHOOK_PATH
        warm = run_wrk(hook_url, payloads.once_args(), args.warmup)
        check("webhook warm-up", warm, procs.log_tail("gateway"))
        payloads.used += warm["consumed"]
        webhook = metered(
            gateway_pid, "webhook", lambda: run_wrk(hook_url, payloads.once_args(), args.seconds)
        )
        payloads.used += webhook["consumed"]
        check("webhook", webhook, procs.log_tail("gateway"))
        # The table grew from nothing in seconds: without fresh statistics, PostgreSQL plans the
        # duplicate look-up as a scan of every SMS row (~20 ms a batch) until autovacuum runs.
        asyncio.run(pg(db_url.replace("+asyncpg", ""), "analyze inbound_messages"))
        duplicate = metered(
            gateway_pid,
            "dup",
            lambda: run_wrk(
                hook_url,
                payloads.cycle_args(min(BARE_LINES, payloads.used)),
                args.duplicate_seconds,
            ),
        )
        check("duplicate webhook", duplicate, procs.log_tail("gateway"))

        rate = webhook["rps"] / 2
        print(f"latency: open loop at {rate:.0f} req/s for {args.paced_seconds:g} s")
        paced_payloads = payloads.take(int(rate * args.paced_seconds))
        lat_hook = run_paced(
            gateway_port,
            WEBHOOK_PATH,
            requests_for(gateway_port, WEBHOOK_PATH, paced_payloads),
            rate,
        )
        lat_bare = run_paced(
            bare_port, BARE_PATH, requests_for(bare_port, BARE_PATH, paced_payloads), rate
        )
        for name, result in (("webhook", lat_hook), ("bare", lat_bare)):
            if result["ok"] != result["requests"]:
                raise BenchFailed(f"{name} failed paced requests: {result['statuses']}")
            if result["sent_rps"] < 0.95 * rate:
                raise BenchFailed(f"the paced client could not keep up ({name}): {result}")

        print(f"end to end: one worker, a burst of {args.e2e_messages} webhooks")
        probe, *burst = requests_for(
            gateway_port, WEBHOOK_PATH, payloads.take(1 + args.e2e_messages)
        )

        async def send() -> dict[str, Any]:
            seconds = (len(burst) + 0.5) / rate  # paced() sends int(rate * seconds)
            return await paced(gateway_port, burst.__getitem__, rate=rate, seconds=seconds)

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            e2e = runner.run(
                end_to_end(
                    procs,
                    env,
                    tmp,
                    db_url.replace("+asyncpg", ""),
                    fake_url,
                    probe=probe,
                    send=send,
                    burst=len(burst),
                    window=args.e2e_timeout,
                )
            )
        if e2e["burst_send"]["ok"] != len(burst):
            raise BenchFailed(f"gateway failed burst requests: {e2e['burst_send']['statuses']}")

        phases = [bare_form, warm, webhook, duplicate]
        results = {
            "started": started.isoformat(timespec="seconds"),
            "command": " ".join(sys.argv),
            "machine": machine() | {"busy_before": busy, "busy_after": cpu_busy()},
            "throughput": {"bare_form": bare_form, "webhook": webhook, "duplicate": duplicate},
            "latency": {"webhook": lat_hook, "bare_form": lat_bare},
            "end_to_end": e2e,
            "payloads_sent": payloads.used + len(paced_payloads) + 1 + len(burst),
            "ratio": webhook["rps"] / bare_form["rps"],
            "cpu_ratio": webhook["server_cpu_ms_per_req"] / bare_form["server_cpu_ms_per_req"],
            "non_2xx": sum(p["non_2xx"] for p in phases)
            + sum(p["requests"] - p["ok"] for p in (lat_hook, lat_bare, e2e["burst_send"])),
            "socket_errors": sum(p["errors"] for p in phases),
            "log_problems": {
                n: procs.log_problems(n) for n in ("gateway", "worker", "bare", "fake_twilio")
            },
        }
        report(results)
        write_results("sms", started, results)
        return 0
    except BenchFailed as exc:
        print(f"\nBENCH FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        procs.stop_all()
        try:
            rds.flushdb()
            asyncio.run(pg(PG_ADMIN, f'drop database if exists "{db_name}" with (force)'))
        finally:
            rds.close()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

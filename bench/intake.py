"""Benchmark: web chat intake and end-to-end cases per second on PostgreSQL and Redis.

In one run, on loopback only: a fresh PostgreSQL database (dropped at the end), Redis db 14
(flushed at start and end), a bare FastAPI baseline (bench/bare_app.py) and ``civicline
gateway``, each on one uvicorn worker pinned to CPU 0; the load (wrk, the paced client) on CPU 1.

1. throughput (wrk, closed loop): bare GET /const, bare POST /echo, gateway POST
   /api/v1/webchat/messages (validate + rate limit + persist + enqueue; no worker running);
2. latency at half the gateway's throughput (open loop, measured from the scheduled send
   time), for the gateway and for bare POST /echo at the same rate;
3. end to end: one ``civicline worker`` drains what the intake stored; cases per second.

Aims (issue 20): intake >= 60 % of bare POST throughput (on a busy machine read the CPU per
request: at most 1/0.6 of bare POST's); intake p99 < 50 ms at half its throughput; at most
3 ms of worker CPU per case (bench/worker.py measures that on varied complaints).

Usage (about 2 minutes): cd /work/main && .venv/bin/python bench/intake.py [--wait-idle 180]
Other load on this small machine skews the figures: the run prints how busy the machine was,
and the server's CPU time per request, which other load hardly changes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

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
    cpu_busy,
    free_port,
    http_request,
    machine,
    machine_line,
    metered,
    paced,
    pg,
    print_paced,
    print_rows,
    process_cpu,
    wait_for_quiet,
    write_results,
    wrk,
)

WEBCHAT_PATH = "/api/v1/webchat/messages"
TEXT = (
    "小区门口的垃圾桶好几天没人清运了，气味非常难闻，"
    "还招来很多苍蝇和老鼠，居民意见很大，希望环卫部门尽快处理一下。"
)
CONVERSATIONS = 300


def conversation_id(i: int) -> str:
    return f"bench{i % CONVERSATIONS:027d}"  # 32 characters of [A-Za-z0-9_-]


def throughput(
    url: str, mode: str, server: int, *, warmup: float, seconds: float, connections: int
) -> tuple[dict[str, Any], int]:
    """Warm up, then measure; returns the measurement and how many requests both sent.

    Also measures the server's CPU time per request (which other load on the machine hardly
    changes) and how busy the whole machine was."""
    warm = wrk(url, [mode, secrets.token_hex(4)], seconds=warmup, connections=connections)
    result = metered(
        server,
        mode,
        lambda: wrk(url, [mode, secrets.token_hex(4)], seconds=seconds, connections=connections),
    )
    return result, warm["requests"] - warm["non_2xx"] + result["requests"] - result["non_2xx"]


def http_post(port: int, path: str, body: bytes, cookie: str | None) -> bytes:
    headers = {"Content-Type": "application/json"}
    if cookie:
        headers["Cookie"] = f"civicline_chat={cookie}"
    return http_request(port, path, body, headers)


def webchat_body(prefix: str, i: int) -> bytes:
    payload = {"client_message_id": f"{prefix}-{i}", "text": TEXT, "language": "zh"}
    return json.dumps(payload, ensure_ascii=False).encode()


def run_paced(port: int, path: str, cookie: bool, rate: float, seconds: float) -> dict[str, Any]:
    prefix = secrets.token_hex(4)

    def make(i: int) -> bytes:
        return http_post(
            port, path, webchat_body(prefix, i), conversation_id(i) if cookie else None
        )

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        result = runner.run(paced(port, make, rate=rate, seconds=seconds))
    print_paced(path, result)
    return result


# --- the database -----------------------------------------------------------------------------


def end_to_end(
    procs: Processes, env: dict[str, str], cwd: Path, db: str, *, cap: int, timeout: float
) -> dict[str, Any]:
    """Start one worker; time how fast it turns stored inbound messages into cases."""

    async def measure() -> dict[str, Any]:
        connection = await asyncpg.connect(db, timeout=10)
        try:
            count = "select count(*) from inbound_messages"
            stored = await connection.fetchval(count)
            target = min(stored, cap)
            procs.start("worker", [str(BIN / "civicline"), "worker"], env, cwd)
            started = time.monotonic()
            first: tuple[float, int] | None = None
            first_cpu = 0.0
            done = 0
            while time.monotonic() - started < timeout and done < target:
                if procs.running["worker"].poll() is not None:
                    raise BenchFailed(f"worker exited:\n{procs.log_tail('worker')}")
                await asyncio.sleep(0.2)
                done = stored - await connection.fetchval(count + " where status = 'received'")
                if first is None and done > 0:
                    first = (time.monotonic(), done)
                    first_cpu = process_cpu(procs.running["worker"].pid)
            ended = time.monotonic()
            worker_cpu = process_cpu(procs.running["worker"].pid)
            procs.stop("worker")
            rate = cpu_ms = float("nan")
            if first is not None and ended > first[0] and done > first[1]:
                rate = (done - first[1]) / (ended - first[0])
                cpu_ms = (worker_cpu - first_cpu) * 1e3 / (done - first[1])
            return {
                "stored": stored,
                "target": target,
                "processed": done,
                "timed_out": done < target,
                "startup_s": (first[0] - started) if first else None,
                "cases_per_s": rate,
                "worker_cpu_ms_per_message": cpu_ms,
                "cases": await connection.fetchval("select count(*) from cases"),
                "outbound": await connection.fetchval("select count(*) from outbound_messages"),
            }
        finally:
            await connection.close()

    return asyncio.run(measure())


# --- the report -------------------------------------------------------------------------------


def report(r: dict[str, Any]) -> None:
    t, lat, e2e = r["throughput"], r["latency"], r["end_to_end"]
    gw, echo, intake = lat["gateway"], lat["bare_echo"], t["intake"]
    rows = [
        ("bare GET /const", f"{t['bare_get']['rps']:.0f}", "req/s"),
        ("bare POST /echo", f"{t['bare_echo']['rps']:.0f}", "req/s"),
        ("intake POST /api/v1/webchat/messages", f"{intake['rps']:.0f}", "req/s"),
        (
            "  server CPU per request: GET / POST / intake",
            " / ".join(
                f"{t[k]['server_cpu_ms_per_req']:.3f}" for k in ("bare_get", "bare_echo", "intake")
            ),
            "ms",
        ),
        (
            "  intake CPU per request / bare POST's",
            f"{r['cpu_ratio']:.2f}",
            "times (aim <= 1.67: 60 % of bare)",
        ),
        (
            "  PostgreSQL / Redis CPU per intake request",
            f"{intake['postgres_cpu_ms_per_req']:.3f} / {intake['redis_cpu_ms_per_req']:.3f}",
            "ms",
        ),
        (
            "  machine busy during GET / POST / intake",
            " / ".join(f"{t[k]['machine_busy']:.0%}" for k in ("bare_get", "bare_echo", "intake")),
            "of 2 CPUs",
        ),
        ("  PostgreSQL sessions opened meanwhile", f"{intake['pg_sessions_opened']}", ""),
        ("  intake / bare POST", f"{r['ratio_post']:.1%}", "aim >= 60 %"),
        ("  intake / bare GET", f"{r['ratio_get']:.1%}", ""),
        (f"latency at {gw['target_rps']:.0f} req/s (sent {gw['sent_rps']:.0f})", "", ""),
        ("  intake p50 / p90", f"{gw['p50_ms']:.1f} / {gw['p90_ms']:.1f}", "ms"),
        ("  intake p99 / max", f"{gw['p99_ms']:.1f} / {gw['max_ms']:.1f}", "ms (aim p99 < 50)"),
        ("  bare POST p50 / p90", f"{echo['p50_ms']:.1f} / {echo['p90_ms']:.1f}", "ms"),
        ("  bare POST p99 / max", f"{echo['p99_ms']:.1f} / {echo['max_ms']:.1f}", "ms"),
        ("end to end, one worker", f"{e2e['cases_per_s']:.1f}", "messages/s -> cases"),
        (
            "  processed / target / stored",
            f"{e2e['processed']} / {e2e['target']} / {e2e['stored']}",
            "messages" + (" (window ended first)" if e2e["timed_out"] else ""),
        ),
        ("  cases opened, outbound messages", f"{e2e['cases']}, {e2e['outbound']}", ""),
        ("  worker CPU per message", f"{e2e['worker_cpu_ms_per_message']:.1f}", "ms (aim <= 3)"),
        ("  worker start-up to first processed", f"{e2e['startup_s'] or 0:.1f}", "s"),
        ("aim: intake >= 60 % of bare POST", "MET" if r["aim_throughput"] else "NOT MET", ""),
        ("aim: intake p99 < 50 ms at half load", "MET" if r["aim_latency"] else "NOT MET", ""),
    ]
    m = r["machine"]
    print(f"\nCivicline intake benchmark  {r['started']}")
    print(machine_line(m))
    print_rows(rows)
    for name, lines in r["log_problems"].items():
        if lines:
            print(f"{name} log: {len(lines)} warning/error lines, first: {lines[0][:200]}")


# --- main -------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10, help="each wrk measurement")
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--paced-seconds", type=float, default=10)
    parser.add_argument("--e2e-cap", type=int, default=5000, help="messages to time, at most")
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
    tmp = Path(tempfile.mkdtemp(prefix="civicline-bench-"))
    procs = Processes(tmp)
    rds = redis.Redis.from_url(REDIS_URL)
    busy = wait_for_quiet(args.wait_idle)
    try:
        rds.flushdb()
        asyncio.run(pg(PG_ADMIN, f'create database "{db_name}"'))
        gateway_port, bare_port = free_port(), free_port()
        env = os.environ | {
            "CIVICLINE_DATABASE_URL": db_url,
            "CIVICLINE_REDIS_URL": REDIS_URL,
            "CIVICLINE_PORT": str(gateway_port),
            "CIVICLINE_VAR_DIR": str(tmp / "var"),
            "CIVICLINE_SECRET_KEY": "bench",
            "CIVICLINE_WEBCHAT_RATE_LIMIT_PER_MINUTE": "100000000",
            "CIVICLINE_LOG_LEVEL": "WARNING",
        }
        civicline = str(BIN / "civicline")
        subprocess.run([civicline, "db", "upgrade"], env=env, cwd=tmp, check=True, timeout=120)
        bare = [str(BIN / "uvicorn"), "--app-dir", str(HERE), "bare_app:app", "--port"]
        bare += [str(bare_port), "--loop", "uvloop", "--http", "httptools", "--no-access-log"]
        procs.start("bare", [*bare, "--log-level", "warning", "--workers", "1"], env, tmp)
        procs.start("gateway", [civicline, "gateway"], env, tmp)
        procs.wait_healthy("bare", f"http://127.0.0.1:{bare_port}/const", 30)
        procs.wait_healthy("gateway", f"http://127.0.0.1:{gateway_port}/healthz", 120)
        bare_url = f"http://127.0.0.1:{bare_port}"
        bare_pid, gateway_pid = procs.running["bare"].pid, procs.running["gateway"].pid

        print(
            f"throughput: wrk -c{args.connections}, {args.warmup:g} s warm-up + {args.seconds:g} s"
        )
        load = {"warmup": args.warmup, "seconds": args.seconds, "connections": args.connections}
        bare_get, _ = throughput(f"{bare_url}/const", "get", bare_pid, **load)
        bare_echo, _ = throughput(f"{bare_url}/echo", "echo", bare_pid, **load)
        sessions = f"select sessions from pg_stat_database where datname = '{db_name}'"
        sessions_before = asyncio.run(pg(PG_ADMIN, sessions))
        intake, intake_ok = throughput(
            f"http://127.0.0.1:{gateway_port}{WEBCHAT_PATH}", "webchat", gateway_pid, **load
        )
        intake["pg_sessions_opened"] = asyncio.run(pg(PG_ADMIN, sessions)) - sessions_before
        for name, result in (("bare GET", bare_get), ("bare POST", bare_echo)):
            if result["non_2xx"] or result["errors"]:
                raise BenchFailed(f"{name} failed requests: {result}")
        if intake["non_2xx"] or intake["errors"]:
            raise BenchFailed(
                f"gateway intake failed requests: {intake}\n{procs.log_tail('gateway')}"
            )

        rate = intake["rps"] / 2
        print(f"latency: open loop at {rate:.0f} req/s for {args.paced_seconds:g} s")
        lat_gw = run_paced(gateway_port, WEBCHAT_PATH, True, rate, args.paced_seconds)
        lat_echo = run_paced(bare_port, "/echo", False, rate, args.paced_seconds)
        if lat_gw["ok"] != lat_gw["requests"]:
            raise BenchFailed(f"gateway failed paced requests: {lat_gw['statuses']}")
        for name, result in (("gateway", lat_gw), ("bare", lat_echo)):
            if result["sent_rps"] < 0.95 * rate:
                raise BenchFailed(f"the paced client could not keep up ({name}): {result}")
        intake_ok += lat_gw["ok"]

        print(f"end to end: one worker, up to {args.e2e_cap} messages or {args.e2e_timeout:g} s")
        pg_url = db_url.replace("+asyncpg", "")
        e2e = end_to_end(procs, env, tmp, pg_url, cap=args.e2e_cap, timeout=args.e2e_timeout)
        e2e["accepted_by_intake"] = intake_ok
        # wrk stops with up to one request per connection in flight: stored, never counted.
        if not 0 <= e2e["stored"] - intake_ok <= 2 * args.connections:
            print(f"WARNING: {intake_ok} requests accepted but {e2e['stored']} messages stored")

        results = {
            "started": started.isoformat(timespec="seconds"),
            "command": " ".join(sys.argv),
            "machine": machine() | {"busy_before": busy, "busy_after": cpu_busy()},
            "throughput": {"bare_get": bare_get, "bare_echo": bare_echo, "intake": intake},
            "latency": {"gateway": lat_gw, "bare_echo": lat_echo},
            "end_to_end": e2e,
            "ratio_post": intake["rps"] / bare_echo["rps"],
            "ratio_get": intake["rps"] / bare_get["rps"],
            "cpu_ratio": intake["server_cpu_ms_per_req"] / bare_echo["server_cpu_ms_per_req"],
            "log_problems": {n: procs.log_problems(n) for n in ("gateway", "worker", "bare")},
        }
        results["aim_throughput"] = results["ratio_post"] >= 0.60
        results["aim_latency"] = lat_gw["p99_ms"] < 50
        report(results)
        write_results("intake", started, results)
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

"""Shared by the benchmarks (bench/intake.py, bench/sms.py): processes, CPU accounting, wrk,
the paced (open loop) client, and a few PostgreSQL and machine helpers."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import redis

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = os.environ.get("CIVICLINE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
PINNED = shutil.which("taskset") is not None and len(os.sched_getaffinity(0)) >= 2
SERVER_CPU, LOAD_CPU = "0", "1"


class BenchFailed(Exception):
    pass


def pin(argv: list[str], cpu: str) -> list[str]:
    return ["taskset", "-c", cpu, *argv] if PINNED else argv


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Processes:
    """Children in their own process groups, logged to files, all stopped by ``stop_all``."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(
        self, name: str, argv: list[str], env: dict[str, str], cwd: Path, cpu: str = SERVER_CPU
    ) -> None:
        with (self.log_dir / f"{name}.log").open("ab") as log:
            self.running[name] = subprocess.Popen(
                pin(argv, cpu),
                env=env,
                cwd=cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self, name: str) -> None:
        proc = self.running.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            try:
                os.killpg(proc.pid, sig)
                proc.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue
            except ProcessLookupError:
                return

    def stop_all(self) -> None:
        for name in list(self.running):
            self.stop(name)

    def wait_healthy(self, name: str, url: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.running[name].poll() is not None:
                raise BenchFailed(f"{name} exited early:\n{self.log_tail(name)}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.3)
        raise BenchFailed(f"{name} not healthy after {timeout:.0f} s:\n{self.log_tail(name)}")

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.log_dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def log_problems(self, name: str) -> list[str]:
        path = self.log_dir / f"{name}.log"
        if not path.exists():
            return []
        text = path.read_text(errors="replace").splitlines()
        return [line for line in text if re.search(r"WARNING|ERROR|CRITICAL|Traceback", line)]


# --- CPU accounting ---------------------------------------------------------------------------


def _stat(path: Path) -> tuple[str, list[str]]:
    text = path.read_text()
    return text[text.index("(") + 1 : text.rindex(")")], text.rsplit(")", 1)[1].split()


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) that process ``pid`` has used."""
    fields = _stat(Path(f"/proc/{pid}/stat"))[1]
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_usage(pid: int) -> tuple[float, int]:
    """Process ``pid``'s system CPU seconds and page faults (minor + major) so far: a process
    that keeps getting fresh pages from the kernel pays for them in system time, and on a
    virtual machine whose host is busy that can double a memory-hungry server's CPU."""
    fields = _stat(Path(f"/proc/{pid}/stat"))[1]
    return int(fields[12]) / os.sysconf("SC_CLK_TCK"), int(fields[7]) + int(fields[9])


def postgres_cpu() -> float:
    """CPU seconds of all PostgreSQL processes, with the backends that already exited."""
    stats = {}
    for path in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, fields = _stat(path)
        except OSError:
            continue
        if name == "postgres":
            stats[path.parent.name] = fields
    ticks = 0
    for fields in stats.values():
        ticks += int(fields[11]) + int(fields[12])
        if fields[1] not in stats:  # the postmaster: add its reaped children
            ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def redis_cpu() -> float:
    info = redis.Redis.from_url(REDIS_URL).info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def machine_cpu() -> tuple[int, int]:
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return sum(fields), fields[3] + fields[4]  # all jiffies, idle + iowait


def busy_between(a: tuple[int, int], b: tuple[int, int]) -> float:
    return 1 - (b[1] - a[1]) / max(1, b[0] - a[0])


def cpu_busy(seconds: float = 1.0) -> float:
    """The fraction of all CPUs busy over ``seconds`` (to notice other load on the machine)."""
    before = machine_cpu()
    time.sleep(seconds)
    return busy_between(before, machine_cpu())


def wait_for_quiet(wait_idle: float) -> float:
    """How busy the machine is, after waiting up to ``wait_idle`` s for it to calm down."""
    busy, deadline = cpu_busy(), time.monotonic() + wait_idle
    while busy > 0.15 and time.monotonic() < deadline:
        busy = cpu_busy(5)
    if busy > 0.15:
        print(f"WARNING: the machine is already {busy:.0%} busy:\n{busiest_processes()}")
    return busy


# --- wrk (closed loop throughput) -------------------------------------------------------------


def wrk(
    url: str,
    script_args: list[str],
    *,
    seconds: float,
    connections: int,
    script: Path = HERE / "wrk.lua",
) -> dict[str, Any]:
    """One wrk run; the script's ``done()`` prints a ``WRK_RESULT {json}`` line."""
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "5s"]
    argv += ["-s", str(script), url, "--", *script_args]
    done = subprocess.run(pin(argv, LOAD_CPU), capture_output=True, text=True, timeout=seconds + 30)
    if done.returncode:
        raise BenchFailed(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRK_RESULT ")), None)
    if line is None:
        raise BenchFailed(f"wrk printed no result:\n{done.stdout}\n{done.stderr}")
    result: dict[str, Any] = json.loads(line.removeprefix("WRK_RESULT "))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["errors"] = sum(
        result[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts")
    )
    return result


def metered(server: int, label: str, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``run()`` (a wrk run) with the server's CPU time per request (which other load on the
    machine hardly changes), PostgreSQL's and Redis's, and how busy the whole machine was."""
    meters = {"server": lambda: process_cpu(server), "postgres": postgres_cpu, "redis": redis_cpu}
    before, machine0 = {k: f() for k, f in meters.items()}, machine_cpu()
    usage0 = process_usage(server)
    result = run()
    used, machine1 = {k: f() - before[k] for k, f in meters.items()}, machine_cpu()
    usage1 = process_usage(server)
    for name, seconds_used in used.items():
        result[f"{name}_cpu_ms_per_req"] = seconds_used * 1e3 / max(1, result["requests"])
    result["server_system_share"] = (usage1[0] - usage0[0]) / max(used["server"], 1e-9)
    result["server_faults_per_req"] = (usage1[1] - usage0[1]) / max(1, result["requests"])
    result["server_core_use"] = used["server"] / (result["duration_us"] / 1e6)
    result["machine_busy"] = busy_between(machine0, machine1)
    print(
        f"  {label:8} {result['rps']:8.0f} req/s  non-2xx {result['non_2xx']}"
        f"  socket errors {result['errors']}  server CPU"
        f" {result['server_cpu_ms_per_req']:.3f} ms/req ({result['server_core_use']:.0%} of a core)"
        f"  machine {result['machine_busy']:.0%} busy"
        f"  (system {result['server_system_share']:.0%},"
        f" {result['server_faults_per_req']:.2f} page faults/req)"
    )
    return result


# --- the paced (open loop) client -------------------------------------------------------------


def http_request(port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return (head + "\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    if length is None:
        raise BenchFailed(f"response without Content-Length: {head[:200]!r}")
    await reader.readexactly(int(length[1]))
    return int(head[9:12])


def percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def paced(
    port: int, make: Callable[[int], bytes], *, rate: float, seconds: float, pool: int = 64
) -> dict[str, Any]:
    """Send ``rate`` requests/s for ``seconds`` over ``pool`` keep-alive connections.

    Latency runs from each request's scheduled send time, so time spent waiting for a free
    connection or behind a slow response counts (no coordinated omission)."""
    loop = asyncio.get_running_loop()
    idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(pool):
        idle.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    latencies: list[float] = []
    lags: list[float] = []
    statuses: Counter[int | str] = Counter()

    async def one(i: int, scheduled: float) -> None:
        reader, writer = await idle.get()
        try:
            async with asyncio.timeout(10):
                writer.write(make(i))
                statuses[await read_response(reader)] += 1
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            statuses[type(exc).__name__] += 1
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        finally:
            idle.put_nowait((reader, writer))
        latencies.append(loop.time() - scheduled)

    total = int(rate * seconds)
    start = loop.time() + 0.1
    tasks = []
    for i in range(total):
        scheduled = start + i / rate
        if (delay := scheduled - loop.time()) > 0:
            await asyncio.sleep(delay)
        lags.append(loop.time() - scheduled)
        tasks.append(asyncio.create_task(one(i, scheduled)))
    sent_in = loop.time() - start
    try:
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
    finally:
        while not idle.empty():
            idle.get_nowait()[1].close()
    ordered, lags = sorted(latencies), sorted(lags)
    return {
        "target_rps": rate,
        "sent_rps": total / sent_in,
        "requests": total,
        "statuses": {str(k): v for k, v in statuses.items()},
        "ok": sum(v for k, v in statuses.items() if isinstance(k, int) and 200 <= k < 300),
        "p50_ms": percentile(ordered, 0.50) * 1e3,
        "p90_ms": percentile(ordered, 0.90) * 1e3,
        "p99_ms": percentile(ordered, 0.99) * 1e3,
        "max_ms": ordered[-1] * 1e3,
        "send_lag_p99_ms": percentile(lags, 0.99) * 1e3,
    }


def print_paced(label: str, result: dict[str, Any]) -> None:
    print(
        f"  {label:26} target {result['target_rps']:6.0f}/s sent {result['sent_rps']:6.0f}/s"
        f"  p50 {result['p50_ms']:6.1f} p99 {result['p99_ms']:6.1f} max {result['max_ms']:6.1f} ms"
        f"  statuses {result['statuses']}"
    )


# --- the database and the machine -------------------------------------------------------------


async def pg(url: str, sql: str) -> Any:
    connection = await asyncpg.connect(url, timeout=10)
    try:
        return await connection.fetchval(sql)
    finally:
        await connection.close()


def busiest_processes() -> str:
    ps = ["ps", "-eo", "pid,pcpu,etime,args", "--sort=-pcpu"]
    return "\n".join(subprocess.run(ps, capture_output=True, text=True).stdout.splitlines()[:4])


def machine() -> dict[str, Any]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "pinned": PINNED,
        "postgres": asyncio.run(pg(PG_ADMIN, "show server_version")),
        "synchronous_commit": asyncio.run(pg(PG_ADMIN, "show synchronous_commit")),
        "redis": redis.Redis.from_url(REDIS_URL).info("server")["redis_version"],
    }


def machine_line(m: dict[str, Any]) -> str:
    return (
        f"machine: {m['nproc']} CPUs ({m['cpu']}), Python {m['python']}, PostgreSQL"
        f" {m['postgres']} (synchronous_commit={m['synchronous_commit']}), Redis {m['redis']},"
        f" {'server on CPU 0, load on CPU 1' if m['pinned'] else 'not pinned'};"
        f" other load before/after: {m['busy_before']:.0%} / {m['busy_after']:.0%} of all CPUs"
    )


def write_results(name: str, started: Any, results: dict[str, Any]) -> Path:
    """Keep a run's figures under bench/results/ (not committed) and say where."""
    out = HERE / "results" / f"{name}-{started:%Y%m%d-%H%M%S}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"\nwrote {out}")
    return out


def print_rows(rows: list[tuple[str, str, str]]) -> None:
    width = max(len(row[0]) for row in rows) + 2
    for name, value, unit in rows:
        print(f"{name:<{width}}{value:>18}  {unit}")


# A fixed piece of Python work, the same in every version of Civicline: what the worker does
# per case (JSON, regular expressions over Chinese text, dicts and sorting), without our code.
_REFERENCE_TEXT = (
    "人民路88号的小区门口，烧烤摊每天晚上十点以后还在营业，油烟和噪音很大，电话13800000000，"
    "希望城管部门尽快处理。The stall has been there since 2026-11-02; 已经反映过三次了。"
) * 3
_REFERENCE_DOC = {
    "case": "261206-00042",
    "events": [{"kind": "opened", "at": f"2026-12-06T10:{m:02d}:00", "n": m} for m in range(40)],
    "text": _REFERENCE_TEXT,
}


def _reference_once() -> int:
    doc = json.loads(json.dumps(_REFERENCE_DOC, ensure_ascii=False))
    found = re.findall(r"\d{11}|\d+号|[\u4e00-\u9fff]{2,4}(?:路|街|部门)", doc["text"])
    counts = Counter(doc["text"])
    ordered = sorted(doc["events"], key=lambda e: (-e["n"], e["at"]))
    return len(found) + len(counts) + len(ordered)


def reference_cpu_ms(cpu: str = LOAD_CPU, repeats: int = 5, rounds: int = 400) -> float:
    """CPU per unit of the fixed reference work, on ``cpu`` (the core the worker is pinned
    to), the best of ``repeats``: a same-run yardstick for CPU figures of our own code that,
    unlike the NLU, does not change when Civicline does."""
    before = os.sched_getaffinity(0)
    if PINNED:
        os.sched_setaffinity(0, {int(cpu)})
    try:
        best = float("inf")
        for _ in range(repeats):
            started = time.process_time()
            for _ in range(rounds):
                _reference_once()
            best = min(best, (time.process_time() - started) * 1e3 / rounds)
        return best
    finally:
        os.sched_setaffinity(0, before)

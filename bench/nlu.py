"""NLU benchmark: the local classifier and the Rasa server, side by side in one run.

    .venv/bin/python bench/nlu.py [--rasa] [--rasa-epochs N] [--n 2000]

Local: training time, classifications per second on one core (one text at a time, as the
worker calls it), p50/p99 latency, and 5-fold cross-validated accuracy and macro-F1 on the
project's data. With --rasa (needs `make rasa-install`): training time (`make rasa-train`,
which reuses a model whose inputs are unchanged), time to ready, parse p50/p99 over HTTP, and
5-fold accuracy and macro-F1 on the same folds as the local figures (a fresh Rasa model per
fold, as `civicline nlu eval --cv 5` trains it: about 14 minutes here with the config's 200
epochs; --rasa-epochs lowers them for a quick look).
Aims (the NLU issue): local >= 1,000 classifications/s on one core; Rasa p99 < 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import socket
import statistics
import subprocess
import time
from pathlib import Path

import httpx

from civicline.nlu.evaluation import cross_validate
from civicline.nlu.local import LocalClassifier
from civicline.nlu.rasa import RasaClassifier
from civicline.nlu.rasa_folds import RasaFolds, SubprocessRunner, require_python
from civicline.nlu.training_data import default_data_path, load_examples

ROOT = Path(__file__).resolve().parents[1]
RASA = ROOT / ".rasa-venv" / "bin" / "rasa"
FOLDS = 5
SEED = 0
LOGGING = ROOT / "src" / "civicline" / "nlu" / "rasa" / "logging.yml"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def bench_local(n: int) -> None:
    examples = load_examples(default_data_path())
    started = time.perf_counter()
    model = LocalClassifier.train(examples)
    trained = time.perf_counter() - started
    texts = [e.text for e in examples]
    model.classify_sync(texts[0])
    timings = []
    for i in range(n):
        t0 = time.perf_counter()
        model.classify_sync(texts[i % len(texts)])
        timings.append((time.perf_counter() - t0) * 1000)
    rate = 1000 / statistics.mean(timings)
    report = asyncio.run(cross_validate(examples, FOLDS, LocalClassifier.train, SEED))
    print(f"local  training                  {trained:8.1f} s  ({len(examples)} examples)")
    print(f"local  classifications/s         {rate:8.0f}    (aim >= 1,000 on one core)")
    print(
        f"local  p50 / p99                 {percentile(timings, 0.5):8.2f} / "
        f"{percentile(timings, 0.99):.2f} ms"
    )
    print(f"local  5-fold accuracy / macro-F1 {report.accuracy:7.3f} / {report.macro_f1:.3f}")


def bench_rasa_folds(epochs: int | None) -> None:
    """Rasa's 5-fold figures on the folds the local classifier was measured on (same seed)."""
    examples = load_examples(default_data_path())
    folds = RasaFolds(SubprocessRunner(require_python()), epochs=epochs)
    started = time.perf_counter()

    def fold_done(done: int, total: int) -> None:
        elapsed = time.perf_counter() - started
        print(f"rasa   fold {done} of {total} done      {elapsed:7.0f} s", flush=True)

    report = asyncio.run(cross_validate(examples, FOLDS, folds, SEED, progress=fold_done))
    took = time.perf_counter() - started
    shown = "config's" if epochs is None else str(epochs)
    print(f"rasa   5-fold accuracy / macro-F1 {report.accuracy:7.3f} / {report.macro_f1:.3f}")
    print(
        f"rasa   5-fold time               {took:8.0f} s  ({shown} epochs, "
        f"{len(examples)} examples)"
    )


async def parse_timings(url: str, token: str, texts: list[str], n: int) -> list[float]:
    async with httpx.AsyncClient() as http:
        rasa = RasaClassifier(http, url, token=token, timeout_seconds=5)
        await rasa.classify(texts[0])
        timings = []
        for i in range(n):
            t0 = time.perf_counter()
            await rasa.classify(texts[i % len(texts)])
            timings.append((time.perf_counter() - t0) * 1000)
        return timings


def bench_rasa(n: int) -> None:
    if not RASA.exists():
        raise SystemExit("Rasa is not installed: run `make rasa-install` first")
    started = time.perf_counter()
    done = subprocess.run(
        ["make", "--no-print-directory", "-s", "rasa-train"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=1800,
    )
    trained = time.perf_counter() - started
    model = ROOT / done.stdout.strip().splitlines()[-1]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    token = secrets.token_urlsafe(16)
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false"}
    server = subprocess.Popen(
        [
            str(RASA),
            "run",
            "--enable-api",
            "--auth-token",
            token,
            "--port",
            str(port),
            "-i",
            "127.0.0.1",
            "-m",
            str(model),
            "--logging-config-file",
            str(LOGGING),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        started = time.perf_counter()
        while True:
            if time.perf_counter() - started > 180 or server.poll() is not None:
                raise SystemExit("the Rasa server did not come up")
            try:
                if httpx.get(f"{url}/status", params={"token": token}, timeout=1).is_success:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        ready = time.perf_counter() - started
        texts = [e.text for e in load_examples(default_data_path())]
        timings = asyncio.run(parse_timings(url, token, texts, n))
    finally:
        server.terminate()
        server.wait(30)
    print(f"rasa   training (make rasa-train) {trained:7.1f} s  (0 s when the model is cached)")
    print(f"rasa   ready after start          {ready:7.1f} s")
    print(f"rasa   parses/s, one at a time    {1000 / statistics.mean(timings):7.0f}")
    print(
        f"rasa   p50 / p99                  {percentile(timings, 0.5):7.2f} / "
        f"{percentile(timings, 0.99):.2f} ms  (aim p99 < 100 ms)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rasa", action="store_true", help="also train, start and time Rasa")
    parser.add_argument(
        "--rasa-epochs", type=int, default=None, help="DIET epochs for Rasa's cross-validation"
    )
    parser.add_argument("--n", type=int, default=2000, help="classifications to time")
    args = parser.parse_args()
    bench_local(args.n)
    if args.rasa:
        bench_rasa(min(args.n, 500))
        bench_rasa_folds(args.rasa_epochs)

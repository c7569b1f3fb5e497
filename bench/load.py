"""Load benchmark: `python app.py` in its own process on 127.0.0.1, driven by concurrent clients.

    python bench/load.py                                  # 20 clients x 50 requests, prints figures
    python bench/load.py --write-results                  # ... and records them in bench/RESULTS.md (## Load)
    python bench/load.py --clients 4 --requests 5 --json out.json   # the short form CI runs

Each client is a thread with its own HTTP connection and session hash calling the public
`search` endpoint the way any script would, through both of Gradio's routes one after the
other in one run: queued (POST /gradio_api/call/search, then read the event stream) and
direct (one POST to /gradio_api/run/search). A request counts as an error unless it
completes with hits. Traffic goes only to 127.0.0.1,
and the run is bounded by --clients x --requests and by --time-limit.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from common import cpu_model  # bench/ is on sys.path when this file runs

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
QUESTIONS = ROOT / "tests" / "data" / "seed_questions.jsonl"
FALLBACK_QUESTIONS = ["Who is the president of Ecuador?", "When did formal diplomatic relations begin?"]
LONG_QUESTION = ("Who is the president of Ecuador? " * 4000)[:100_000]


def questions() -> list[str]:
    if QUESTIONS.exists():
        return [json.loads(line)["question"] for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    return FALLBACK_QUESTIONS


def start_app(docs: Path, index: Path, port: int, log: Path, wait_s: float) -> subprocess.Popen:
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}
    env.pop("QA_HOST", None)  # the benchmark only ever listens on 127.0.0.1
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--docs", str(docs), "--index", str(index),
                                 "--host", "127.0.0.1", "--port", str(port)], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"app.py exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    stop_app(proc)
    raise SystemExit(f"app.py did not start within {wait_s:.0f} s:\n{log.read_text()}")


def stop_app(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def search(client: httpx.Client, base: str, question: str, k: int = 3, via: str = "call", session: str = "") -> dict:
    """One call of the search endpoint; the result dict, or an exception saying what went wrong.

    ``via="call"`` goes through Gradio's queue (a POST, then the event stream);
    ``via="run"`` is Gradio's direct route (one POST answered with the result). ``session``
    is the client's session hash, as ``gradio_client`` sends one per client: without it
    Gradio builds a fresh session state (a copy of every component's config) per request,
    a quarter of the app's CPU under load here (py-spy, bench/RESULTS.md "Load").
    """
    # Every parameter, in order: question, k, previous_question, since, until, source.
    body = {"data": [question, k, "", "", "", ""], **({"session_hash": session} if session else {})}
    if via == "run":
        answered = client.post(f"{base}/gradio_api/run/search", json=body)
        answered.raise_for_status()
        return _checked(answered.json()["data"][0], question)
    started = client.post(f"{base}/gradio_api/call/search", json=body)
    started.raise_for_status()
    stream = client.get(f"{base}/gradio_api/call/search/{started.json()['event_id']}")
    stream.raise_for_status()
    event, data = None, None
    for line in stream.text.splitlines():
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:") and event == "complete":
            data = json.loads(line[5:])
    if event != "complete" or not data:
        raise RuntimeError(f"no result: {stream.text[:200]!r}")
    return _checked(data[0], question)


def _checked(result: dict, question: str) -> dict:
    if not result.get("hits"):
        raise RuntimeError(f"no hits for {question!r}")
    return result


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def run(base: str, clients: int, requests: int, deadline: float, via: str = "call") -> dict:
    pool = questions()
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(clients)

    def client_loop(number: int) -> None:
        with httpx.Client(timeout=60) as client:
            start.wait()
            for i in range(requests):
                if time.monotonic() > deadline:
                    with lock:
                        errors.append(f"client {number}: time limit reached before request {i}")
                    return
                question = pool[(number * requests + i) % len(pool)]
                began = time.perf_counter()
                try:
                    search(client, base, question, via=via, session=f"load-{via}-{number}")
                except Exception as err:  # every failure is counted and shown, never raised
                    with lock:
                        errors.append(f"client {number} request {i}: {err!r}"[:300])
                    continue
                with lock:
                    latencies.append(time.perf_counter() - began)

    threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(clients)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    ms = [x * 1000 for x in latencies]
    return {
        "via": via, "clients": clients, "requests": clients * requests, "completed": len(latencies), "errors": len(errors),
        "error_samples": errors[:5], "wall_s": round(wall, 2),
        "throughput_rps": round(len(latencies) / wall, 1) if wall else 0.0,
        "p50_ms": round(percentile(ms, 50), 1) if ms else 0.0,
        "p95_ms": round(percentile(ms, 95), 1) if ms else 0.0,
        "p99_ms": round(percentile(ms, 99), 1) if ms else 0.0,
        "max_ms": round(max(ms), 1) if ms else 0.0,
        "mean_ms": round(statistics.fmean(ms), 1) if ms else 0.0,
    }


def long_question_ms(base: str, repeats: int = 5) -> tuple[float, bool]:
    """Median time of a 100,000-character question through the endpoint, and whether it said it cut it."""
    times, truncated = [], True
    with httpx.Client(timeout=60) as client:
        for _ in range(repeats):
            began = time.perf_counter()
            result = search(client, base, LONG_QUESTION, session="load-long")
            times.append((time.perf_counter() - began) * 1000)
            truncated &= bool(result["truncated"])
    return round(statistics.median(times), 1), truncated


def write_results(figures: dict, command: str) -> None:
    """Replace the "## Load" section of bench/RESULTS.md (other sections are left as they are)."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    routes = figures["routes"]
    first = next(iter(routes.values()))
    how = {"call": "queued: POST `/gradio_api/call/search`, then its event stream",
           "run": "direct: one POST to `/gradio_api/run/search`"}
    section = (
        "## Load\n\n"
        f"`{command}`: the app (`python app.py`, seed articles, real model) in its own process on 127.0.0.1, "
        f"{first['clients']} concurrent clients x {first['requests'] // first['clients']} requests each to the "
        "`search` endpoint over plain HTTP, each client with its own session hash as `gradio_client` sends; "
        "the routes one after the other in one run. A request counts as an error unless it completes with "
        "hits. Latency is per request, as a client sees it.\n\n"
        "| route | requests | errors | p50 | p95 | p99 | max | throughput |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|\n"
        + "".join(f"| {how[via]} | {r['requests']} | {r['errors']} | {r['p50_ms']:.0f} ms | {r['p95_ms']:.0f} ms | "
                  f"{r['p99_ms']:.0f} ms | {r['max_ms']:.0f} ms | {r['throughput_rps']} req/s |\n"
                  for via, r in routes.items())
        + f"\nA 100,000-character question through the queued route: {figures['long_question_ms']:.0f} ms (median of 5), "
        f"cut to its first 2,000 characters and reported as cut: {'yes' if figures['long_question_truncated'] else 'NO'}.\n\n"
        f"Machine: {figures['machine']}; 1-minute load average during the run {figures['load_average']} "
        f"(the app's and the clients' own load included). Measured {figures['date']}.\n"
        + "".join(f"Target p95 <= 300 ms, {via} route: {'met' if r['p95_ms'] <= 300 else 'NOT met'}.\n"
                  for via, r in routes.items())
    )
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.strip() == "## Load"), None)
    if start is None:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ") or lines[i].startswith("### ")), len(lines))
        text = "".join(lines[:start]) + section + ("\n" + "".join(lines[end:]) if end < len(lines) else "")
    RESULTS.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients (at most 64)")
    parser.add_argument("--requests", type=int, default=50, help="requests per client (at most 1000)")
    parser.add_argument("--docs", default=str(ROOT / "seeds"), help="folder of articles to serve (copied first)")
    parser.add_argument("--time-limit", type=float, default=600, help="seconds the load may run in all")
    parser.add_argument("--via", nargs="+", choices=("call", "run"), default=["call", "run"],
                        help="routes to load, one after the other in one run: call (the queue) and run (direct)")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--write-results", action="store_true", help="record the figures in bench/RESULTS.md")
    args = parser.parse_args(argv)
    if not (1 <= args.clients <= 64 and 1 <= args.requests <= 1000):
        parser.error("--clients must be 1-64 and --requests 1-1000")

    work = Path(tempfile.mkdtemp(prefix="qa-load-"))
    try:
        docs = work / "docs"
        shutil.copytree(args.docs, docs)
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = start_app(docs, work / "index", port, work / "app.log", wait_s=240)
        base = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(timeout=60) as client:
                search(client, base, "warm up the connection")
            # Other work on the machine shares its cores: the 1-minute load average says how much.
            load_before = os.getloadavg()[0]
            figures = {"routes": {}}
            for via in args.via:
                figures["routes"][via] = run(base, args.clients, args.requests, time.monotonic() + args.time_limit, via)
            figures["load_average"] = round(max(load_before, os.getloadavg()[0]), 1)
            figures["long_question_ms"], figures["long_question_truncated"] = long_question_ms(base)
        finally:
            stop_app(proc)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    figures["machine"] = f"{cpu_model()}, {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"
    figures["date"] = time.strftime("%Y-%m-%d")
    print(json.dumps(figures, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))
    if args.write_results:
        write_results(figures, "python bench/load.py " + " ".join(argv if argv is not None else sys.argv[1:]))
    return 0 if all(r["errors"] == 0 for r in figures["routes"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())

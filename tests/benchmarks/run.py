"""Benchmarks for dodo-inngest's speed and scale targets, each against a baseline run alongside.

    python tests/benchmarks/run.py            # every target (about 3 minutes)
    python tests/benchmarks/run.py --quick    # smaller runs, no 100k replay

These machines are noisy: figures are medians, and every target is judged by a ratio or a
figure measured in the same run as its baseline. Nothing here runs in the default test suite.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from standardwebhooks.webhooks import Webhook as Signer

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
PAYMENT_JS = ROOT / "samples" / "transforms" / "payment.js"
SAMPLE = ROOT / "samples" / "webhooks" / "payment.succeeded.json"
SECRET = "whsec_" + base64.b64encode(b"dodo-inngest-benchmark-secret-32").decode()
CLI = [sys.executable, "-m", "dodo_inngest_cli"]
ENV = {**os.environ, "NO_COLOR": "1"}

Row = tuple[str, str, str, str, bool]


def median_wall(command: list[str], runs: int) -> float:
    """Median wall time of a command, in seconds."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True, cwd=ROOT, env=ENV)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def imported_modules(args: list[str]) -> set[str]:
    """Top-level modules `dodo-inngest ARGS` imports (python -X importtime)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "dodo_inngest_cli", *args],
                          capture_output=True, text=True, cwd=ROOT, env=ENV, check=True)
    names = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


MINIMAL_TYPER_APP = """
import typer
app = typer.Typer()
@app.command()
def hello(name: str = "x") -> None:
    print(name)
@app.command()
def other() -> None:
    pass
app()
"""


def bench_startup(runs: int) -> list[Row]:
    """Targets 1: --help and rules load no engine, HTTP client or SDK; within 1.5x of typer."""
    baseline = median_wall([sys.executable, "-c", "import typer"], runs)
    minimal = median_wall([sys.executable, "-c", MINIMAL_TYPER_APP, "--help"], runs)
    rows: list[Row] = [("start-up: a minimal two-command Typer app --help (informational: "
                        "Typer's own floor)", f"{minimal * 1000:.0f} ms",
                        f"{baseline * 1000:.0f} ms", f"{minimal / baseline:.2f}×", True)]
    for args in (["--help"], ["rules"]):
        heavy = imported_modules(args) & {"quickjs", "_quickjs", "httpx", "dodopayments"}
        wall = median_wall([*CLI, *args], runs)
        ratio = wall / baseline
        rows.append((f"start-up: dodo-inngest {' '.join(args)} (≤ 1.5× import typer; "
                     "no quickjs/httpx/dodopayments)",
                     f"{wall * 1000:.0f} ms" + (f", imports {sorted(heavy)}" if heavy else ""),
                     f"{baseline * 1000:.0f} ms", f"{ratio:.2f}×", ratio <= 1.5 and not heavy))
    return rows


def bench_sandbox(seconds: float) -> list[Row]:
    """Target 2: isolated deliveries of the corrected payment transform, one core; and what
    one costs at the least: the context, the harness, the transform with the JSON in and out."""
    sys.path.insert(0, str(ROOT))
    import quickjs

    from dodo_inngest_cli.sandbox import _HARNESS_LEAN, Limits, Transform
    from dodo_inngest_cli.sources import read_webhook

    transform = Transform.from_file(PAYMENT_JS)
    webhook = read_webhook(SAMPLE)
    limits = Limits()
    body = webhook.body

    def rate(step: Callable[[], object]) -> float:
        for _ in range(100):
            step()
        count, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            for _ in range(100):
                step()
            count += 100
        return count / (time.perf_counter() - started)

    def context() -> quickjs.Context:
        fresh = quickjs.Context()
        fresh.set_memory_limit(limits.memory_bytes)
        fresh.set_max_stack_size(limits.stack_bytes)
        fresh.set_time_limit(limits.time_ms / 1000)
        return fresh

    def unguarded() -> object:
        """A fresh context, the transform and one call with the JSON in and out: what any
        isolated run pays, with nothing guarding it."""
        call = context().eval(PAYMENT_JS.read_text() + "\n;(function (b) { return "
                              "JSON.stringify(handler({method: 'POST', url: 'u', payload: "
                              "JSON.parse(b), eventType: 'payment.succeeded', env: {}})); })")
        return json.loads(call(body))

    isolated = rate(lambda: transform.run(webhook))
    bare = rate(context)
    harness = rate(lambda: context().eval(_HARNESS_LEAN))
    floor = rate(unguarded)
    reused_context = quickjs.Context()
    reused_context.eval(PAYMENT_JS.read_text())
    reused_context.eval("function __bench(body) { return JSON.stringify(handler({method: 'POST', "
                        "url: 'u', payload: JSON.parse(body), eventType: 'payment.succeeded', "
                        "env: {}})); }")
    bench = reused_context.get("__bench")
    reused = rate(lambda: bench(body))
    rows = [("sandbox: isolated deliveries/s, one core (≥ 8,000)", f"{isolated:,.0f}/s",
             f"{reused:,.0f}/s reused context", f"{isolated / reused:.2f}×", isolated >= 8000),
            ("sandbox floor: a fresh context with its limits, freed (informational)",
             f"{1e6 / bare:,.0f} µs", f"{1e6 / isolated:,.0f} µs a delivery",
             f"{isolated / bare:.2f}×", True),
            ("sandbox floor: + compiling the harness (informational)",
             f"{1e6 / harness - 1e6 / bare:,.0f} µs", f"{1e6 / isolated:,.0f} µs a delivery",
             f"{(1e6 / harness - 1e6 / bare) * isolated / 1e6:.2f}×", True),
            ("sandbox floor: a context, the transform, JSON in and out, unguarded (informational)",
             f"{floor:,.0f}/s", f"{isolated:,.0f}/s isolated", f"{isolated / floor:.2f}×",
             True)]
    node = shutil.which("node")
    if node:
        count = 20000
        script = (f"const fs=require('fs');{PAYMENT_JS.read_text()}\n"
                  f"const body=fs.readFileSync({json.dumps(str(SAMPLE))},'utf8');"
                  f"for(let i=0;i<2000;i++)JSON.stringify(handler({{method:'POST',url:'u',"
                  f"payload:JSON.parse(body),eventType:'payment.succeeded',env:{{}}}}));"
                  f"const t=process.hrtime.bigint();for(let i=0;i<{count};i++)"
                  f"JSON.stringify(handler({{method:'POST',url:'u',payload:JSON.parse(body),"
                  f"eventType:'payment.succeeded',env:{{}}}}));"
                  f"console.log(Number(process.hrtime.bigint()-t)/1e9);")
        elapsed = float(subprocess.run([node, "-e", script], capture_output=True, text=True,
                                       check=True).stdout)
        node_rate = count / elapsed
        rows.append(("sandbox vs Node.js (same handler, same JSON; informational)",
                     f"{isolated:,.0f}/s", f"{node_rate:,.0f}/s node",
                     f"{isolated / node_rate:.3f}×", True))
    return rows


def bench_test_command(runs: int) -> list[Row]:
    """Target 3: `dodo-inngest test` over the whole library, three transforms, Dodo checks on."""
    baseline = median_wall([sys.executable, "-c", "import typer"], runs)
    wall = median_wall([*CLI, "test", "-t", "samples/transforms/payment.js", "-t",
                        "samples/transforms/subscription.js", "-t",
                        "samples/transforms/dispute.js", "--format", "json"], runs)
    return [("test: whole bundled library × 3 transforms, Dodo validation (≤ 1.5 s)",
             f"{wall:.2f} s", f"{baseline:.2f} s import typer", f"{wall / baseline:.1f}×",
             wall <= 1.5)]


def bench_fuzz() -> list[Row]:
    """Issue target: 1,000 generated payloads for one event type, shrinking included."""
    sys.path.insert(0, str(ROOT))
    from dodo_inngest_cli.fuzz import fuzz, sample_body
    from dodo_inngest_cli.pipeline import Checks
    from dodo_inngest_cli.sandbox import Transform

    fragile = Transform(PAYMENT_JS.read_text().replace(
        "payment_method: p.payment_method ?? null,",
        "payment_method: p.payment_method.toUpperCase(),"), "fragile.js")
    sample = sample_body("payment.succeeded")
    started = time.perf_counter()
    report = fuzz(fragile, "payment.succeeded", examples=1000, seed=1, checks=Checks(),
                  baseline=sample.payload if sample else None)
    elapsed = time.perf_counter() - started
    per = elapsed / report.tried * 1000
    return [("fuzz: 1,000 payloads, payment.succeeded, with a failure to shrink (≤ 10 s)",
             f"{elapsed:.1f} s", f"{per:.2f} ms a payload", "", elapsed <= 10)]


def write_capture(path: Path, count: int) -> None:
    """count signed deliveries of the realistic payment sample, each its own payment id."""
    document = json.loads(SAMPLE.read_text())
    signer = Signer(SECRET)
    now = dt.datetime.now(dt.timezone.utc)
    with path.open("w", encoding="utf-8") as handle:
        for index in range(count):
            document["data"]["payment_id"] = f"pay_{index:08d}"
            body = json.dumps(document, separators=(",", ":"))
            msg_id = f"msg_{index:08d}"
            headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
                       "webhook-signature": signer.sign(msg_id, now, body)}
            handle.write(json.dumps({"v": 1, "id": msg_id, "received_at": now.isoformat(),
                                     "headers": headers, "body": body, "verified": True},
                                    separators=(",", ":")) + "\n")


def start_server() -> tuple[subprocess.Popen[str], str]:
    """The loopback Inngest server in its own process; returns it and its URL."""
    code = ("import sys, time; sys.path.insert(0, sys.argv[1])\n"
            "from inngest_server import InngestServer\n"
            "with InngestServer() as server:\n"
            "    print(server.url, flush=True)\n"
            "    sys.stdin.read()\n"
            "    print(len(server.received), flush=True)\n")
    process = subprocess.Popen([sys.executable, "-c", code, str(TESTS)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def stop_server(process: subprocess.Popen[str]) -> int:
    """Stop the server; how many events it accepted."""
    out, _ = process.communicate("", timeout=60)
    return int(out.strip().splitlines()[-1])


def replay_once(capture: Path) -> tuple[float, int, int]:
    """Replay a capture to a fresh server: (deliveries/s, peak RSS in KiB, events received)."""
    server, url = start_server()
    try:
        started = time.perf_counter()
        done = subprocess.run(["/usr/bin/time", "-f", "%M", *CLI, "replay", str(capture), "-t",
                               str(PAYMENT_JS), "--url", f"{url}/e/bench", "--state",
                               str(capture.with_suffix(f".{time.time_ns()}.state"))],
                              capture_output=True, text=True, cwd=ROOT, env=ENV, check=False)
        elapsed = time.perf_counter() - started
    finally:
        received = stop_server(server)
    if done.returncode != 0:
        raise SystemExit(f"replay failed: {done.stderr[-2000:]}")
    rss_kib = int(done.stderr.strip().splitlines()[-1])
    lines = sum(1 for _ in capture.open())
    return lines / elapsed, rss_kib, received


def raw_post_rate(capture: Path, count: int) -> float:
    """Baseline: the same events POSTed by httpx with 4 threads, no transform or checks."""
    server, url = start_server()
    bodies = []
    with capture.open() as handle:
        for _, line in zip(range(count), handle, strict=False):
            bodies.append(json.loads(line)["body"])
    try:
        started = time.perf_counter()
        with httpx.Client() as client, ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda b: client.post(f"{url}/e/bench", content=json.dumps(
                {"name": "dodo/payment.succeeded", "data": json.loads(b)["data"]})), bodies))
        elapsed = time.perf_counter() - started
    finally:
        stop_server(server)
    return len(bodies) / elapsed


def bench_replay(folder: Path, *, big: bool) -> list[Row]:
    """Target 4: replay throughput with default settings, and flat memory."""
    small = folder / "10k.jsonl"
    write_capture(small, 10_000)
    rate, rss, received = replay_once(small)
    baseline = raw_post_rate(small, 3000)
    rows = [("replay: 10,000 deliveries → loopback Inngest, defaults (≥ 1,000/s)",
             f"{rate:,.0f}/s ({received:,} received)", f"{baseline:,.0f}/s raw httpx",
             f"{rate / baseline:.2f}×", rate >= 1000 and received == 10_000),
            ("replay: peak RSS at 10,000 (≤ 150 MB)", f"{rss / 1024:.0f} MB", "", "",
             rss / 1024 <= 150)]
    if big:
        large = folder / "100k.jsonl"
        write_capture(large, 100_000)
        _, big_rss, big_received = replay_once(large)
        rows.append(("replay: peak RSS at 100,000 (≤ 1.1× the 10,000 figure)",
                     f"{big_rss / 1024:.0f} MB ({big_received:,} received)",
                     f"{rss / 1024:.0f} MB", f"{big_rss / rss:.2f}×",
                     big_rss <= rss * 1.1 and big_received == 100_000))
    return rows


def post_signed(url: str, count: int, clients: int) -> float:
    """Signed deliveries/s from concurrent clients."""
    document = json.loads(SAMPLE.read_text())
    signer = Signer(SECRET)
    now = dt.datetime.now(dt.timezone.utc)
    requests = []
    for index in range(count):
        document["data"]["payment_id"] = f"pay_{index:08d}"
        body = json.dumps(document, separators=(",", ":"))
        requests.append((body, {"webhook-id": f"msg_{index}", "webhook-timestamp":
                                str(int(now.timestamp())),
                                "webhook-signature": signer.sign(f"msg_{index}", now, body)}))
    lock = threading.Lock()
    statuses: list[int] = []

    def client(chunk: list[tuple[str, dict[str, str]]]) -> None:
        with httpx.Client() as http:
            for body, headers in chunk:
                status = http.post(url, content=body, headers=headers).status_code
                with lock:
                    statuses.append(status)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, [requests[i::clients] for i in range(clients)]))
    elapsed = time.perf_counter() - started
    if statuses.count(200) != count:
        raise SystemExit(f"listen lost deliveries: {count - statuses.count(200)}")
    return count / elapsed


def bench_listen(folder: Path, count: int) -> list[Row]:
    """Target 5: signed deliveries/s into `listen` with capture on, none lost."""
    capture = folder / "listen.jsonl"
    process = subprocess.Popen([*CLI, "listen", "--port", "0", "--secret", SECRET,
                                "--capture", str(capture)], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True, cwd=ROOT, env=ENV)
    assert process.stdout is not None
    url = process.stdout.readline().split()[-1]
    threading.Thread(target=process.stdout.read, daemon=True).start()
    try:
        rate = post_signed(url, count, 16)
    finally:
        process.terminate()
        process.wait(timeout=30)
    captured = sum(1 for _ in capture.open())
    baseline = bare_server_rate(count)
    return [("listen: signed deliveries/s, 16 clients, capture on (≥ 500/s, none lost)",
             f"{rate:,.0f}/s ({captured:,} captured)", f"{baseline:,.0f}/s bare stdlib server",
             f"{rate / baseline:.2f}×", rate >= 500 and captured == count)]


def bare_server_rate(count: int) -> float:
    """Baseline: a ThreadingHTTPServer that reads the body and answers 200, nothing else."""
    code = ("from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer\n"
            "class H(BaseHTTPRequestHandler):\n"
            "    protocol_version = 'HTTP/1.1'\n"
            "    disable_nagle_algorithm = True\n"
            "    def log_message(self, *a): pass\n"
            "    def do_POST(self):\n"
            "        self.rfile.read(int(self.headers['content-length']))\n"
            "        self.send_response(200); self.send_header('content-length', '2')\n"
            "        self.end_headers(); self.wfile.write(b'{}')\n"
            "s = ThreadingHTTPServer(('127.0.0.1', 0), H)\n"
            "print(f'http://127.0.0.1:{s.server_address[1]}/', flush=True)\n"
            "s.serve_forever()\n")
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    try:
        return post_signed(url, count, 16)
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs, no 100k replay")
    args = parser.parse_args()
    runs = 5 if args.quick else 9
    rows: list[Row] = []
    rows += bench_startup(runs)
    rows += bench_sandbox(1.0 if args.quick else 3.0)
    rows += bench_test_command(3 if args.quick else 5)
    rows += bench_fuzz()
    with tempfile.TemporaryDirectory() as folder:
        rows += bench_replay(Path(folder), big=not args.quick)
        rows += bench_listen(Path(folder), 1000 if args.quick else 3000)
    widths = [max(len(str(row[i])) for row in rows) for i in range(4)]
    header = ("target", "measured", "baseline", "ratio")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + "  met")
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row[:4], widths, strict=True))
              + ("  yes" if row[4] else "  NO"))
    met = sum(row[4] for row in rows)
    print(f"\n{met} of {len(rows)} targets met.")


if __name__ == "__main__":
    main()

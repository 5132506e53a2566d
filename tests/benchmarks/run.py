"""Benchmarks for dodo-inngest's speed and scale targets, each against a baseline run alongside.

    python tests/benchmarks/run.py            # every target (about 3 minutes)
    python tests/benchmarks/run.py --quick    # smaller runs, no 100k replay
    python tests/benchmarks/run.py --readme   # and write the table into README's Performance

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
from typing import IO, Any

import httpx
from standardwebhooks.webhooks import Webhook as Signer

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
PAYMENT_JS = ROOT / "samples" / "transforms" / "payment.js"
SAMPLE = ROOT / "samples" / "webhooks" / "payment.succeeded.json"
SECRET = "whsec_" + base64.b64encode(b"dodo-inngest-benchmark-secret-32").decode()
CLI = [sys.executable, "-m", "dodo_inngest_cli"]
ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
ENV["NO_COLOR"] = "1"
"""As a user's machine runs it: compiled modules cached (an installed copy has them)."""

Row = tuple[str, str, str, str, bool]


def median_wall(command: list[str], runs: int) -> float:
    """Median wall time of a command, in seconds, after one untimed run (which writes the
    bytecode caches, as any first run does)."""
    subprocess.run(command, capture_output=True, check=True, cwd=ROOT, env=ENV)
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
    """Start-up of --help and the interactive commands: within 1.5× of `import typer`, and no
    engine, HTTP client or SDK loaded where none is needed."""
    baseline = median_wall([sys.executable, "-c", "import typer"], runs)
    minimal = median_wall([sys.executable, "-c", MINIMAL_TYPER_APP, "--help"], runs)
    rows: list[Row] = [("start-up: a minimal two-command Typer app --help (informational: "
                        "Typer's own floor)", f"{minimal * 1000:.0f} ms",
                        f"{baseline * 1000:.0f} ms", f"{minimal / baseline:.2f}×", True)]
    light = {"quickjs", "_quickjs", "httpx", "dodopayments"}
    for args, forbidden in ((["--help"], light), (["test", "--help"], light),
                            (["rules"], light), (["samples", "list"], light),
                            (["run", str(PAYMENT_JS), str(SAMPLE), "--no-dodo-check"],
                             {"httpx", "dodopayments"})):
        heavy = imported_modules(args) & forbidden
        wall = median_wall([*CLI, *args], runs)
        ratio = wall / baseline
        shown = " ".join("…/" + Path(a).name if "/" in a else a for a in args)
        rows.append((f"start-up: dodo-inngest {shown} (≤ 1.5× import typer)",
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


def bench_test_command(runs: int, folder: Path) -> list[Row]:
    """`test` over the whole library (Dodo checks on), and its marginal throughput: 2,000
    payment payloads against 20, --format json, one transform (≥ 3,000 deliveries/s), with
    what the official-model check costs on top."""
    baseline = median_wall([sys.executable, "-c", "import typer"], runs)
    wall = median_wall([*CLI, "test", "-t", "samples/transforms/payment.js", "-t",
                        "samples/transforms/subscription.js", "-t",
                        "samples/transforms/dispute.js", "--format", "json"], runs)
    rows: list[Row] = [("test: whole bundled library × 3 transforms, Dodo validation (≤ 1.5 s)",
                        f"{wall:.2f} s", f"{baseline:.2f} s import typer",
                        f"{wall / baseline:.1f}×", wall <= 1.5)]
    body = json.loads(SAMPLE.read_text())
    for count in (20, 2000):
        target = folder / f"p{count}"
        target.mkdir()
        for n in range(count):
            body["data"]["payment_id"] = f"pay_{n:06d}"
            (target / f"p{n}.json").write_text(json.dumps(body))
    timed: dict[tuple[int, bool], float] = {}
    for check in (False, True):
        for count in (20, 2000):
            flags = [] if check else ["--no-dodo-check"]
            timed[count, check] = median_wall(
                [*CLI, "test", "-t", str(PAYMENT_JS), "-s", str(folder / f"p{count}"),
                 "--format", "json", *flags], max(3, runs // 2))
    for check in (False, True):
        marginal = 1980 / (timed[2000, check] - timed[20, check])
        name = "with the Dodo model check (informational)" if check else "(≥ 3,000/s)"
        rows.append((f"test: marginal deliveries/s, 2,000 vs 20 payloads, --format json {name}",
                     f"{marginal:,.0f}/s", f"{timed[20, check]:.2f} s for 20",
                     f"{timed[2000, check]:.2f} s for 2,000", check or marginal >= 3000))
    return rows


def bench_fuzz() -> list[Row]:
    """Fuzz targets: 1,000 payloads of one type with a failure to reduce (≤ 1.5 s), one
    process and two; generation alone; the sandbox floor every payload pays."""
    sys.path.insert(0, str(ROOT))
    from dodo_inngest_cli import generate
    from dodo_inngest_cli.dodo import event_models
    from dodo_inngest_cli.fuzz import failing_codes, fuzz, sample_body
    from dodo_inngest_cli.pipeline import Checks
    from dodo_inngest_cli.sandbox import Transform

    fragile = Transform(PAYMENT_JS.read_text().replace(
        "payment_method: p.payment_method ?? null,",
        "payment_method: p.payment_method.toUpperCase(),"), "fragile.js")
    sample = sample_body("payment.succeeded")
    assert sample is not None
    event_models()  # the SDK import (~0.3 s) is not the fuzzer's
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(1000):
        failing_codes(fragile, sample.payload, sample.body, Checks())
    floor, floor_cpu = time.perf_counter() - started, time.process_time() - cpu
    started = time.perf_counter()
    for index in range(1000):
        generate.payload("payment.succeeded", 1, index)
    drawing = time.perf_counter() - started
    times = {}
    for workers in (1, 2):
        started, cpu = time.perf_counter(), time.process_time()
        report = fuzz(fragile, "payment.succeeded", examples=1000, seed=1, checks=Checks(),
                      baseline=sample.payload, workers=workers)
        times[workers] = (time.perf_counter() - started, time.process_time() - cpu)
        assert report.tried == 1000 and report.reproducers[0].changes
    (one, one_cpu), (two, _) = times[1], times[2]
    # 1,000 payloads each: seconds in all are milliseconds a payload. CPU time beside wall
    # time: on a busy machine the first stays what this process costs.
    return [("fuzz: 1,000 payloads, payment.succeeded, a failure to reduce, one process "
             "(≤ 1.5 s)", f"{one:.2f} s ({one_cpu:.2f} s CPU)",
             f"{floor:.2f} s ({floor_cpu:.2f} s CPU) sandbox + checks of the sample ×1,000",
             f"{one / floor:.2f}×", one <= 1.5),
            ("fuzz: the same on two worker processes (≤ 1.5 s)", f"{two:.2f} s",
             f"{one:.2f} s one process", f"{two / one:.2f}×", two <= 1.5),
            ("fuzz: generation alone, draw + strict validation, per payload (informational)",
             f"{drawing:.2f} ms", f"{floor:.2f} ms sandbox + checks", f"{drawing / floor:.2f}×",
             True)]


def one_core() -> None:
    """Pin a child process to one core (its fuzzing then runs in one process)."""
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def bench_test_fuzz(runs: int) -> list[Row]:
    """Fuzz target: `test --fuzz 100` over the three bundled transforms (≤ 10 s), on every
    core and pinned to one; the same `test` without fuzzing as the baseline."""
    command = [*CLI, "test", "--format", "json"]
    plain = median_wall(command, runs)
    both = median_wall([*command, "--fuzz", "100"], runs)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([*command, "--fuzz", "100"], capture_output=True, check=True, cwd=ROOT,
                       env=ENV, preexec_fn=one_core)
        times.append(time.perf_counter() - started)
    single = statistics.median(times)
    return [("test --fuzz 100, 3 bundled transforms × 23 event types, every core (≤ 10 s)",
             f"{both:.2f} s", f"{plain:.2f} s without --fuzz", f"{both / plain:.1f}×",
             both <= 10),
            ("test --fuzz 100, the same pinned to one core (≤ 10 s)", f"{single:.2f} s",
             f"{both:.2f} s every core", f"{single / both:.2f}×", single <= 10)]


BARE_WATCH = """
import sys
from watchfiles import watch
from dodo_inngest_cli.watch import DEBOUNCE_MS, STEP_MS
print("ready", flush=True)
for changes in watch(sys.argv[1], step=STEP_MS, debounce=DEBOUNCE_MS, recursive=False):
    print("changed", flush=True)
"""


def save_to_line(command: list[str], folder: Path, edits: int, ready: list[tuple[str, str]],
                 done: str) -> float:
    """Median seconds from writing the transform to the next stdout line containing done, in
    a process started with command in folder, once it printed each (stream, text) of ready."""
    import queue

    process = subprocess.Popen(command, cwd=folder, env=ENV, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out: queue.Queue[str] = queue.Queue()
    err: queue.Queue[str] = queue.Queue()

    def pump(stream: IO[str], lines: queue.Queue[str]) -> None:
        for line in stream:
            lines.put(line)

    for stream, lines in ((process.stdout, out), (process.stderr, err)):
        threading.Thread(target=pump, args=(stream, lines), daemon=True).start()

    def wait_for(lines: queue.Queue[str], text: str) -> None:
        while text not in lines.get(timeout=60):
            pass

    code = PAYMENT_JS.read_text()
    times = []
    try:
        for where, text in ready:
            wait_for(out if where == "out" else err, text)
        time.sleep(0.5)  # a quiet start: no event from setting up
        for index in range(edits):
            started = time.perf_counter()
            (folder / "payment.js").write_text(code.replace(
                "metadata: p.metadata ?? {}", f"metadata: p.metadata ?? {{}}, edit: {index}"))
            wait_for(out, done)
            times.append(time.perf_counter() - started)
            time.sleep(0.2)
    finally:
        process.terminate()
        process.wait(timeout=30)
    return statistics.median(times)


def bench_watch(edits: int) -> list[Row]:
    """Issue target: `test --watch` on a one-transform project, save to verdict on screen."""
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        shutil.copy(PAYMENT_JS, folder / "payment.js")
        shutil.copy(SAMPLE, folder / "payment.succeeded.json")
        ours = save_to_line([*CLI, "test", "--watch", "-t", "payment.js", "-s",
                             "payment.succeeded.json"], folder, edits,
                            [("out", " passed, "), ("err", "watching")], " passed, ")
        bare = save_to_line([sys.executable, "-c", BARE_WATCH, str(folder)], folder, edits,
                            [("out", "ready")], "changed")
    return [("watch: save to verdict on screen, one transform × one sample (≤ 150 ms)",
             f"{ours * 1000:.0f} ms", f"{bare * 1000:.0f} ms bare watchfiles event",
             f"{ours / bare:.2f}×", ours <= 0.150)]


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
    rows = [("replay: 10,000 deliveries → loopback Inngest, defaults (≥ 2,000/s)",
             f"{rate:,.0f}/s ({received:,} received)", f"{baseline:,.0f}/s raw httpx",
             f"{rate / baseline:.2f}×", rate >= 2000 and received == 10_000),
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
    """Target 5: signed deliveries/s into `listen` with capture on, none lost, threads bounded
    (a fixed pool, whatever the number of clients)."""
    capture = folder / "listen.jsonl"
    process = subprocess.Popen([*CLI, "listen", "--port", "0", "--secret", SECRET,
                                "--capture", str(capture)], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True, cwd=ROOT, env=ENV)
    assert process.stdout is not None
    url = process.stdout.readline().split()[-1]
    threading.Thread(target=process.stdout.read, daemon=True).start()
    peak = PeakThreads(process.pid)
    try:
        rate = post_signed(url, count, 16)
    finally:
        peak.stop()
        process.terminate()
        process.wait(timeout=30)
    captured = sum(1 for _ in capture.open())
    waitress, stdlib = bare_server_rate(count, BARE_WAITRESS), bare_server_rate(count, BARE_STDLIB)
    threads = f", {peak.value} threads at most" if peak.value else ""
    return [("listen: signed deliveries/s, 16 clients, capture on (≥ 1,000/s, none lost, "
             "threads bounded)", f"{rate:,.0f}/s ({captured:,} captured{threads})",
             f"{waitress:,.0f}/s bare waitress, no work (bare stdlib server: {stdlib:,.0f}/s)",
             f"{rate / waitress:.2f}×",
             rate >= 1000 and captured == count and peak.value <= 16)]


def bench_capture(folder: Path, count: int) -> list[Row]:
    """Group commit: durable appends/s from 8 threads (a listener's workers), against the same
    lines written and fsync'ed one at a time under a lock (the writer before group commit)."""
    from dodo_inngest_cli.capture import CaptureWriter, Delivery

    body = SAMPLE.read_text()
    deliveries = [Delivery(f"msg_{n}", "2026-03-14T10:00:00.000Z", {}, body, True, "")
                  for n in range(count)]
    writer = CaptureWriter(folder / "grouped.jsonl")
    grouped = threaded_rate(deliveries, writer.append)
    writer.close()
    fd = os.open(folder / "serial.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    lock = threading.Lock()

    def one_at_a_time(delivery: Delivery) -> None:
        with lock:
            os.write(fd, (delivery.to_line() + "\n").encode())
            os.fsync(fd)

    serial = threaded_rate(deliveries, one_at_a_time)
    os.close(fd)
    return [("capture: durable appends/s from 8 threads, group commit (informational)",
             f"{grouped:,.0f}/s", f"{serial:,.0f}/s one fsync per append",
             f"{grouped / serial:.2f}×", True)]


def threaded_rate(items: list[Any], step: Callable[[Any], None], threads: int = 8) -> float:
    """Items/s through step from concurrent threads."""
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(step, items))
    return len(items) / (time.perf_counter() - started)


class PeakThreads:
    """The most threads a process had, sampled every 20 ms (Linux's /proc; 0 elsewhere)."""

    def __init__(self, pid: int) -> None:
        self.status = Path(f"/proc/{pid}/status")
        self.value = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def sample(self) -> None:
        while not self.done.wait(0.02):
            try:
                lines = self.status.read_text().splitlines()
            except OSError:
                return
            count = next(int(line.split()[1]) for line in lines if line.startswith("Threads:"))
            self.value = max(self.value, count)

    def stop(self) -> None:
        self.done.set()
        self.thread.join()


BARE_WAITRESS = """
from waitress.server import create_server
def app(environ, start_response):
    environ["wsgi.input"].read()
    start_response("200 OK", [("content-type", "application/json"), ("content-length", "2")])
    return [b"{}"]
s = create_server(app, host="127.0.0.1", port=0, threads=8, asyncore_use_poll=True)
print(f"http://127.0.0.1:{s.effective_port}/", flush=True)
s.run()
"""

BARE_STDLIB = """
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    def log_message(self, *a): pass
    def do_POST(self):
        self.rfile.read(int(self.headers["content-length"]))
        self.send_response(200); self.send_header("content-length", "2")
        self.end_headers(); self.wfile.write(b"{}")
s = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(f"http://127.0.0.1:{s.server_address[1]}/", flush=True)
s.serve_forever()
"""


def bare_server_rate(count: int, code: str) -> float:
    """Baseline: a server that reads the body and answers 200, nothing else."""
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
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
    parser.add_argument("--readme", action="store_true",
                        help="write the table into README.md between the performance markers")
    args = parser.parse_args()
    runs = 5 if args.quick else 9
    rows: list[Row] = []
    rows += bench_startup(runs)
    rows += bench_sandbox(1.0 if args.quick else 3.0)
    rows += bench_fuzz()
    rows += bench_test_fuzz(3 if args.quick else 5)
    rows += bench_watch(10 if args.quick else 30)
    with tempfile.TemporaryDirectory() as folder:
        rows += bench_test_command(3 if args.quick else 5, Path(folder))
        rows += bench_replay(Path(folder), big=not args.quick)
        rows += bench_listen(Path(folder), 1000 if args.quick else 3000)
        rows += bench_capture(Path(folder), 1000 if args.quick else 3000)
    widths = [max(len(str(row[i])) for row in rows) for i in range(4)]
    header = ("target", "measured", "baseline", "ratio")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + "  met")
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row[:4], widths, strict=True))
              + ("  yes" if row[4] else "  NO"))
    met = sum(row[4] for row in rows)
    print(f"\n{met} of {len(rows)} targets met.")
    if args.readme:
        write_readme(rows)


README_MARKERS = ("<!-- performance:start -->\n", "<!-- performance:end -->")


def write_readme(rows: list[Row]) -> None:
    """Replace the table between README's performance markers with these rows."""
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    start, end = README_MARKERS
    before, found, rest = text.partition(start)
    if not found or end not in rest:
        sys.exit(f"README.md lacks the markers {start.strip()} … {end}")
    lines = ["| Target | Measured | Baseline (same run) | Ratio | Met |", "|---|---|---|---|---|"]
    lines += [f"| {target} | {measured} | {baseline} | {ratio} | {'yes' if ok else 'no'} |"
              for target, measured, baseline, ratio, ok in rows]
    readme.write_text(before + start + "\n".join(lines) + "\n" + end
                      + rest.split(end, 1)[1], encoding="utf-8")
    print(f"wrote {len(rows)} rows into {readme}")


if __name__ == "__main__":
    main()

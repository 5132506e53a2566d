"""The one outbound path: `send`, `replay` and `listen --forward` batch, seed and settle
through the relay, so the same deliveries meet the same fate on every path."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from inngest_server import InngestServer
from test_capture import body_for, write_capture

from dodo_inngest_cli import jsonio
from dodo_inngest_cli.client import Target
from dodo_inngest_cli.listener import Listener, ListenerConfig, Received
from dodo_inngest_cli.relay import Item, batches, seed_for

from conftest import RunCli

# pay_000001's event is sent in seconds: Inngest refuses it with a 400 (the check is ignored,
# as a user forcing it through would).
TRANSFORM = ("function handler(w) {\n  const p = w.payload.data;\n"
             "  const ms = new Date(w.payload.timestamp).getTime();\n"
             "  w.payload = {name: 'dodo/' + w.eventType, id: p.payment_id, data: {},\n"
             "    ts: p.payment_id === 'pay_000001' ? Math.floor(ms / 1000) : ms};\n"
             "  return w;\n}\n")
EXPECTED = [("pay_000000", "accepted"), ("pay_000001", "rejected"), ("pay_000002", "accepted")]


@pytest.fixture
def transform(tmp_path: Path) -> Path:
    path = tmp_path / "t.js"
    path.write_text(TRANSFORM)
    return path


def test_send_replay_and_listen_settle_a_mid_batch_400_alike(
        cli: RunCli, tmp_path: Path, transform: Path) -> None:
    payloads = tmp_path / "payloads"
    payloads.mkdir()
    for n in range(3):
        (payloads / f"{n}.json").write_text(body_for(n))
    capture = tmp_path / "c.jsonl"
    write_capture(capture, 3)
    relaxed = ["--ignore", "ts-in-seconds", "--no-dodo-check"]
    fates: dict[str, list[tuple[str, str]]] = {}
    with InngestServer() as inngest:
        url = f"{inngest.url}/e/k"
        sent = json.loads(cli("send", "-t", str(transform), str(payloads), "--url", url,
                              "--batch", "10", "--force", "--format", "json", *relaxed,
                              code=1).stdout)
        fates["send"] = [(id_, row["outcome"]) for id_, row in
                         zip(("pay_000000", "pay_000001", "pay_000002"), sent["events"],
                             strict=True)]
        requests_after_send = len(inngest.requests)
        replayed = json.loads(cli("replay", str(capture), "-t", str(transform), "--url", url,
                                  "--batch", "10", "--format", "json", *relaxed,
                                  code=1).stdout)
        state = [json.loads(line) for line in
                 (tmp_path / ".dodo-inngest-replay-state.jsonl").read_text().splitlines()[1:]]
        fates["replay"] = [(f"pay_{r['delivery'][4:]}", r["outcome"]) for r in state]
        assert replayed["summary"]["accepted"] == 2 and replayed["summary"]["rejected"] == 1
        fates["listen"] = listen_forward(transform, url, relaxed)
        bodies = [json.loads(r["body"]) for r in inngest.requests]
    assert fates == {"send": EXPECTED, "replay": EXPECTED, "listen": EXPECTED}
    # send and replay: one batch of three, then the one after the culprit again, alone
    sizes = [len(b) if isinstance(b, list) else 1 for b in bodies]
    assert sizes[:requests_after_send] == [3, 1]
    assert sizes[requests_after_send:requests_after_send + 2] == [3, 1]


def listen_forward(transform: Path, url: str, relaxed: list[str]) -> list[tuple[str, str]]:
    """Forward three deliveries through a real listener; each one's outcome, in order."""
    from dodo_inngest_cli.client import EventClient, Target
    from dodo_inngest_cli.pipeline import Checks
    from dodo_inngest_cli.relay import Relay
    from dodo_inngest_cli.sandbox import Transform

    seen: list[Received] = []
    with EventClient(retries=0) as client:
        relay = Relay(Transform.from_file(transform), Target(url),
                      Checks(ignore=frozenset({"ts-in-seconds"}), dodo_check=False), client)
        listener = Listener("127.0.0.1", 0, ListenerConfig(forward=relay, ack_after_forward=True),
                            seen.append)
        listener.start()
        try:
            for n in range(3):
                httpx.post(listener.address, content=body_for(n),
                           headers={"webhook-id": f"msg_{n:06d}"})
        finally:
            listener.stop()
    return [(f"pay_{r.delivery[4:]}", r.forwarded.outcome.value) for r in seen
            if r.forwarded is not None]


def item(key: str, events: list[object], *, array: bool = False) -> Item:
    return Item(key, key, events, array, "POST", "http://x/e/k", {}, 1_773_480_413_589)


def test_batches_count_events_and_never_split_a_delivery() -> None:
    target = Target("http://x/e/k")
    items = [item("a", [{"n": 1}]), item("b", [{"n": 2}, {"n": 3}], array=True),
             item("c", [{"n": 4}])]
    assert [[i.key for i in b.items] for b in batches(items, target, max_events=2)] == [
        ["a"], ["b"], ["c"]]
    assert [[i.key for i in b.items] for b in batches(items, target, max_events=3)] == [
        ["a", "b"], ["c"]]
    [alone] = batches([item("a", [{"n": 1}])], target, max_events=1)
    assert alone.payload == {"n": 1}
    [together] = batches(items, target, max_events=10)
    assert together.body == jsonio.encode([{"n": 1}, {"n": 2}, {"n": 3}, {"n": 4}])


def test_a_batch_is_measured_on_the_bytes_sent() -> None:
    target = Target("http://x/e/k")
    wide = "é" * (700 * 1024)  # 1.4 MiB as UTF-8, 4.2 MiB if escaped as \\u00e9
    items = [item(k, [{"s": wide}]) for k in "abc"]
    assert [len(b.items) for b in batches(items, target, max_events=10)] == [2, 1]


def test_a_batch_at_the_byte_limit_counts_its_brackets_and_commas() -> None:
    from dodo_inngest_cli.relay import MAX_REQUEST_BYTES

    target = Target("http://x/e/k")
    # Two events whose bodies add up to the limit less one byte: with "[", "," and "]" the
    # request would be two bytes over it.
    first = {"s": "a" * 1000}
    filler = MAX_REQUEST_BYTES - 1 - len(jsonio.encode(first)) - len(jsonio.encode({"s": ""}))
    items = [item("a", [first]), item("b", [{"s": "b" * filler}])]
    assert [len(b.items) for b in batches(items, target, max_events=10)] == [1, 1]
    fitting = [item("a", [first]), item("b", [{"s": "b" * (filler - 2)}])]
    [together] = batches(fitting, target, max_events=10)
    assert len(together.body) == MAX_REQUEST_BYTES


def test_a_400_for_every_event_is_settled_without_recursion(cli: RunCli, tmp_path: Path) -> None:
    # Each 400 rejects one event and sends the rest again: as many requests as events, in a
    # queue, not a call stack as deep as the batch is long.
    events = [{"name": "dodo/x", "id": f"e{n}", "ts": 1, "data": {}} for n in range(1200)]
    (tmp_path / "events.json").write_text(json.dumps(events))
    with InngestServer() as server:
        result = cli("send", "--event", str(tmp_path / "events.json"), "--url",
                     f"{server.url}/e/key", "--force", "--batch", "5000", "--retries", "0",
                     "--format", "json", code=1)
    rows = json.loads(result.stdout)["events"]
    assert [r["outcome"] for r in rows] == ["rejected"] * 1200
    assert len(server.requests) == 1200


def test_the_seed_is_the_same_for_the_same_request_on_every_run() -> None:
    target = Target("http://x/e/k")
    items = [item("a", [{}]), item("b", [{}])]
    assert seed_for(items, target) == seed_for(list(items), target)
    assert seed_for(items, target).startswith("1773480413589,")
    assert seed_for(items, target) != seed_for(items[:1], target)
    assert seed_for(items, target) != seed_for(items, Target("http://x/e/k", env="b"))

"""Watching: which files affect which pairs, what a change re-runs, and what it reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from dodo_inngest_cli.models import Status
from dodo_inngest_cli.plan import Choices
from dodo_inngest_cli.suite import SuiteOptions
from dodo_inngest_cli.watch import Kind, Round, WatchSession, suite_setup

from conftest import write_json

TRANSFORM = """\
function handler(w) {
  const d = w.payload.data;
  w.payload = {name: "dodo/" + w.eventType, id: w.eventType + ":" + d.id,
               ts: 1773480413589, data: {id: d.id}};
  return w;
}
"""
BROKEN = "function handler(w) {\n  return w.payload.data.customer.email;\n}\n"


def body(event_type: str, ident: str) -> dict[str, object]:
    return {"business_id": "bus_1", "type": event_type, "timestamp": "2026-03-14T09:26:53Z",
            "data": {"id": ident}}


@pytest.fixture
def project(in_tmp: Path) -> Path:
    """t.js over hooks/first.json (payment.succeeded) and hooks/second.json (refund.succeeded),
    configured in dodo-inngest.toml."""
    (in_tmp / "t.js").write_text(TRANSFORM)
    (in_tmp / "hooks").mkdir()
    write_json(in_tmp / "hooks" / "first.json", body("payment.succeeded", "pay_1"))
    write_json(in_tmp / "hooks" / "second.json", body("refund.succeeded", "ref_1"))
    (in_tmp / "dodo-inngest.toml").write_text(
        'samples = ["hooks"]\ndodo-check = false\n[[transforms]]\nfile = "t.js"\n')
    return in_tmp


def session(**options: object) -> WatchSession:
    return WatchSession(lambda: suite_setup(None, Choices(), SuiteOptions(**options)))  # type: ignore[arg-type]


def changes(round_: Round) -> list[tuple[str, str]]:
    return [(delta.kind.value, delta.result.sample) for delta in round_.deltas]


def test_first_run_runs_every_pair(project: Path) -> None:
    first = session().first()
    assert (first.number, first.total, len(first.reran), first.deltas) == (1, 2, 2, [])
    assert [r.status for r in first.results] == [Status.PASSED, Status.PASSED]


def test_a_transform_change_reruns_its_pairs_and_says_what_broke_and_what_was_fixed(
        project: Path) -> None:
    watched = session()
    watched.first()
    (project / "t.js").write_text("function handler(w) {\n  return w\n")
    broken = watched.apply([project / "t.js"])
    assert (broken.number, broken.changed, len(broken.reran), broken.total) == (
        2, (project / "t.js",), 2, 2)
    assert changes(broken) == [("newly failing", "first"), ("newly failing", "second")]
    assert [f.code for f in broken.deltas[0].result.findings] == ["js-syntax"]
    (project / "t.js").write_text(BROKEN)
    assert changes(watched.apply([project / "t.js"])) == [
        ("still failing, differently", "first"), ("still failing, differently", "second")]
    assert changes(watched.apply([project / "t.js"])) == []  # the same failure: nothing new
    (project / "t.js").write_text(TRANSFORM)
    fixed = watched.apply([project / "t.js"])
    assert changes(fixed) == [("fixed", "first"), ("fixed", "second")]
    assert fixed.summary.passed == 2


def test_a_sample_change_reruns_only_its_pair_with_the_output_diff(project: Path) -> None:
    watched = session()
    watched.first()
    write_json(project / "hooks" / "second.json", body("refund.succeeded", "ref_2"))
    changed = watched.apply([project / "hooks" / "second.json"])
    assert ([r.sample for r in changed.reran], changed.total) == (["second"], 2)
    [delta] = changed.deltas
    assert (delta.kind, delta.result.sample) == (Kind.CHANGED, "second")
    assert [str(c) for c in delta.changes] == ['~ /payload/data/id: "ref_1" → "ref_2"',
                                               '~ /payload/id: "refund.succeeded:ref_1" → '
                                               '"refund.succeeded:ref_2"']


def test_unchanged_transforms_are_kept_compiled(project: Path) -> None:
    (project / "u.js").write_text(TRANSFORM)
    watched = session(transforms=[Path("t.js"), Path("u.js")])
    watched.first()
    kept = watched.state.plan[1].transform
    (project / "t.js").write_text(BROKEN)
    round_ = watched.apply([project / "t.js"])
    assert [(r.transform, r.sample) for r in round_.reran] == [("t.js", "first"),
                                                               ("t.js", "second")]
    assert watched.state.plan[1].transform is kept


def test_an_unreadable_change_is_reported_and_retried_with_the_next(project: Path) -> None:
    watched = session()
    watched.first()
    (project / "hooks" / "first.json").write_text("{bad")
    failed = watched.apply([project / "hooks" / "first.json"])
    assert failed.error is not None
    assert (failed.error.message, failed.reran, failed.summary.passed) == (
        "hooks/first.json:1:2: not valid JSON: Expecting property name enclosed in double "
        "quotes", [], 2)
    (project / "t.js").write_text(BROKEN)
    assert watched.apply([project / "t.js"]).error is not None  # the payload is still bad
    write_json(project / "hooks" / "first.json", body("payment.succeeded", "pay_1"))
    recovered = watched.apply([project / "hooks" / "first.json"])
    assert recovered.error is None
    assert changes(recovered) == [("newly failing", "first"), ("newly failing", "second")]


def test_payloads_added_to_or_removed_from_a_watched_folder_replan(project: Path) -> None:
    watched = session()
    watched.first()
    added = project / "hooks" / "third.json"
    write_json(added, body("payment.failed", "pay_3"))
    grown = watched.apply([added])
    assert (changes(grown), grown.total, [r.sample for r in grown.reran]) == (
        [("new", "third")], 3, ["third"])
    added.unlink()
    shrunk = watched.apply([added])
    assert (changes(shrunk), shrunk.total) == ([("removed", "third")], 2)


def test_a_save_by_rename_is_a_change_not_a_removal(project: Path) -> None:
    watched = session()
    watched.first()
    target = project / "t.js"
    target.rename(project / "t.js~")  # vim's backup, then a new file under the old name
    target.write_text(BROKEN)
    round_ = watched.apply([target, project / "t.js~"])
    assert changes(round_) == [("newly failing", "first"), ("newly failing", "second")]


def test_a_config_change_reruns_everything(project: Path) -> None:
    watched = session()
    watched.first()
    config = project / "dodo-inngest.toml"
    config.write_text(config.read_text().replace('file = "t.js"',
                                                 'file = "t.js"\nevents = ["payment.*"]'))
    round_ = watched.apply([config])
    assert (changes(round_), round_.total) == ([("removed", "second")], 1)
    assert [r.status for r in round_.results] == [Status.PASSED, Status.SKIPPED]


def test_snapshot_schema_and_trigger_files_rerun_the_pairs_that_use_them(project: Path) -> None:
    (project / "schemas" / "dodo").mkdir(parents=True)
    triggers = write_json(project / "triggers.json",
                          [{"function": "f", "event": "dodo/payment.succeeded"},
                           {"function": "g", "event": "dodo/refund.succeeded"}])
    watched = session(snapshots=Path("snaps"), update_snapshots=False, schemas=Path("schemas"),
                      triggers=Path("triggers.json"))
    first = watched.first()
    assert [[f.code for f in r.findings] for r in first.results] == [["snapshot-missing"]] * 2

    snapshot = project / "snaps" / "t" / "first.json"
    snapshot.parent.mkdir(parents=True)
    write_json(snapshot, {"method": "POST", "url": "https://inn.gs/e/****-key", "headers": {},
                          "payload": {}})
    round_ = watched.apply([snapshot])
    assert ([r.sample for r in round_.reran], changes(round_)) == (
        ["first"], [("newly failing", "first")])

    schema = write_json(project / "schemas" / "dodo" / "refund.succeeded.json",
                        {"type": "object", "required": ["amount"]})
    round_ = watched.apply([schema])
    assert ([r.sample for r in round_.reran], changes(round_)) == (
        ["second"], [("newly failing", "second")])
    assert "schema-mismatch" in [f.code for f in round_.reran[0].findings]

    write_json(triggers, [{"function": "f", "event": "dodo/payment.succeeded"}])
    round_ = watched.apply([triggers])
    assert [r.sample for r in round_.reran] == ["first", "second"]
    assert [[m.function for m in r.triggers or []] for r in round_.reran] == [["f"], []]


def test_which_paths_matter(project: Path) -> None:
    watched = session()
    watched.first()
    wants = watched.deps.wants
    assert [wants(project / name) for name in (
        "t.js", "dodo-inngest.toml", "hooks/first.json", "hooks/new.json", "hooks/new.js",
        "hooks/.first.json.swp", "hooks/notes.txt", "other.js", "t.js~", ".#t.js")] == [
        True, True, True, True, True, False, False, False, False, False]
    assert watched.deps.folders == (project, project / "hooks")


def test_a_folder_made_in_a_watched_folder_is_watched_too(project: Path) -> None:
    watched = session()
    watched.first()
    (project / "hooks" / "more").mkdir()
    assert watched.deps.wants(project / "hooks" / "more")
    round_ = watched.apply([project / "hooks" / "more"])
    assert round_.quiet
    assert watched.deps.folders == (project, project / "hooks", project / "hooks" / "more")


def test_the_snapshot_ignore_patterns_leave_volatile_values_out_of_output_changes(
        project: Path) -> None:
    (project / "t.js").write_text(TRANSFORM.replace("ts: 1773480413589", "ts: 1773480413000"))
    config = project / "dodo-inngest.toml"
    config.write_text('snapshot-ignore = ["/payload/ts"]\n' + config.read_text())
    watched = session()
    watched.first()
    (project / "t.js").write_text(TRANSFORM)
    assert changes(watched.apply([project / "t.js"])) == []


def test_reran_counts_leave_out_pairs_an_event_filter_skips(project: Path) -> None:
    config = project / "dodo-inngest.toml"
    config.write_text(config.read_text() + 'events = ["refund.*"]\n')
    watched = session()
    first = watched.first()
    assert (first.total, [r.sample for r in first.reran]) == (1, ["second"])

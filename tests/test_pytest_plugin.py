"""The pytest plugin: `pytest --dodo-inngest` in scratch projects, and the `dodo_transform`
fixture in this repository's own tests (the plugin is installed with the package)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from dodo_inngest_cli.pytest_plugin import TransformRunner

from conftest import ROOT, WEBHOOKS

GOOD = """\
function handler(webhook) {
  const p = webhook.payload;
  webhook.payload = {
    name: "dodo/" + webhook.eventType,
    id: webhook.eventType + ":" + p.data.payment_id,
    data: {payment_id: p.data.payment_id},
    ts: new Date(p.timestamp).getTime(),
  };
  return webhook;
}
"""
# The same, with ts in seconds for payment.failed only: exactly one broken pair.
BROKEN = GOOD.replace(
    "ts: new Date(p.timestamp).getTime(),",
    'ts: webhook.eventType === "payment.failed"\n'
    "      ? Math.floor(new Date(p.timestamp).getTime() / 1000)\n"
    "      : new Date(p.timestamp).getTime(),")
CONFIG = """\
samples = ["webhooks"]

[[transforms]]
file = "transforms/good.js"

[[transforms]]
file = "transforms/broken.js"
"""
PAIRS = ["transforms/broken.js::payment.failed", "transforms/broken.js::payment.succeeded",
         "transforms/good.js::payment.failed", "transforms/good.js::payment.succeeded"]


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A scratch project: two transforms × two samples, one pair broken."""
    (pytester.path / "transforms").mkdir()
    (pytester.path / "transforms" / "good.js").write_text(GOOD)
    (pytester.path / "transforms" / "broken.js").write_text(BROKEN)
    (pytester.path / "webhooks").mkdir()
    for name in ("payment.succeeded", "payment.failed"):
        (pytester.path / "webhooks" / f"{name}.json").write_bytes(
            (WEBHOOKS / f"{name}.json").read_bytes())
    (pytester.path / "dodo-inngest.toml").write_text(CONFIG)
    return pytester


def test_each_transform_sample_pair_is_an_item(project: pytest.Pytester) -> None:
    result = project.runpytest("--dodo-inngest", "--collect-only", "-q")
    assert result.outlines[:5] == [*PAIRS, ""]
    assert result.ret == pytest.ExitCode.OK


def test_exactly_the_broken_pair_fails_with_its_findings(project: pytest.Pytester) -> None:
    result = project.runpytest("--dodo-inngest", "-p", "no:randomly")
    result.assert_outcomes(passed=3, failed=1)
    text = result.stdout.str()
    failure = text[text.index("_ transforms/broken.js × payment.failed _"):
                   text.index("short test summary info")]
    assert [line for line in failure.splitlines()[1:] if line and not line.startswith("=")] == [
        "failed: ts-in-seconds",
        "  ✗ ts-in-seconds /ts  ts 1773480667 is in seconds: as milliseconds, which Inngest "
        "reads, it is 1970-01-21T12:38:00.667Z, and Inngest rejects it ('timestamp is before "
        "Jan 1, 1980'); as seconds it is 2026-03-14T09:31:07.000Z",
        "      hint: Inngest wants milliseconds: multiply by 1000, or drop the '/ 1000' from "
        "Math.floor(new Date(…).getTime() / 1000)",
    ]
    result.stdout.fnmatch_lines(
        ["FAILED transforms/broken.js::payment.failed - failed: ts-in-seconds"])


def test_last_failed_reruns_only_the_broken_pair(project: pytest.Pytester) -> None:
    project.runpytest("--dodo-inngest").assert_outcomes(passed=3, failed=1)
    again = project.runpytest("--dodo-inngest", "--lf", "-v")
    again.assert_outcomes(failed=1)
    assert [line.split(" ")[0] for line in again.outlines if " FAILED" in line] == [
        "transforms/broken.js::payment.failed"]
    again.stdout.fnmatch_lines(["run-last-failure: rerun previous 1 failure*"])


def test_keyword_selection_and_exit_first_work_as_usual(project: pytest.Pytester) -> None:
    selected = project.runpytest("--dodo-inngest", "-k", "payment.succeeded")
    selected.assert_outcomes(passed=2, deselected=2)
    first = project.runpytest("--dodo-inngest", "-x")
    first.assert_outcomes(failed=1)
    first.stdout.fnmatch_lines(["*stopping after 1 failures*"])


def test_parallel_runs_with_xdist(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("--dodo-inngest", "-n", "2")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        ["FAILED transforms/broken.js::payment.failed - failed: ts-in-seconds"])


def test_inert_unless_asked(project: pytest.Pytester) -> None:
    result = project.runpytest("--collect-only", "-q")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    assert not any("transforms/" in line for line in result.outlines)


def test_ini_option_and_testpaths_that_miss_the_transforms(project: pytest.Pytester) -> None:
    project.makeini("[pytest]\ndodo_inngest = true\ntestpaths = tests\n")
    (project.path / "tests").mkdir()
    (project.path / "tests" / "test_app.py").write_text("def test_app():\n    pass\n")
    result = project.runpytest("--collect-only", "-q")
    assert result.outlines[:6] == ["tests/test_app.py::test_app", *PAIRS[2:], *PAIRS[:2], ""]


@pytest.mark.parametrize("how", ["option", "ini"])
def test_the_config_file_can_be_named(project: pytest.Pytester, how: str) -> None:
    (project.path / "ci").mkdir()
    (project.path / "dodo-inngest.toml").rename(project.path / "ci" / "checks.toml")
    (project.path / "ci" / "checks.toml").write_text(
        CONFIG.replace('"webhooks"', '"../webhooks"').replace('"transforms/', '"../transforms/'))
    if how == "ini":
        project.makeini("[pytest]\ndodo_inngest_config = ci/checks.toml\n")
        args = ["--dodo-inngest"]
    else:
        args = ["--dodo-inngest", "--dodo-inngest-config", "ci/checks.toml"]
    result = project.runpytest(*args, "--collect-only", "-q")
    assert result.outlines[:5] == [*PAIRS, ""]


def test_snapshots_are_written_on_request_then_compared(project: pytest.Pytester) -> None:
    (project.path / "dodo-inngest.toml").write_text(
        'snapshots = "snapshots"\n' + CONFIG.replace(
            '\n[[transforms]]\nfile = "transforms/broken.js"\n', ""))
    written = project.runpytest("--dodo-inngest", "--dodo-inngest-update-snapshots")
    written.assert_outcomes(passed=2)
    written.stdout.fnmatch_lines([
        "dodo-inngest: snapshot written: snapshots/transforms/good/payment.failed.json",
        "dodo-inngest: snapshot written: snapshots/transforms/good/payment.succeeded.json"])
    (project.path / "transforms" / "good.js").write_text(
        GOOD.replace('"dodo/" + webhook.eventType', '"dodo/" + webhook.eventType + ".v2"'))
    changed = project.runpytest("--dodo-inngest")
    changed.assert_outcomes(failed=2)
    changed.stdout.fnmatch_lines([
        "failed: snapshot-mismatch",
        "  ✗ snapshot-mismatch *",
        '    ~ /payload/name: "dodo/payment.failed" → "dodo/payment.failed.v2"'])


def test_same_named_samples_keep_a_snapshot_each(project: pytest.Pytester) -> None:
    for folder in ("a", "b"):
        (project.path / "webhooks" / folder).mkdir()
        (project.path / "webhooks" / folder / "pay.json").write_bytes(
            (WEBHOOKS / "payment.succeeded.json").read_bytes())
    (project.path / "dodo-inngest.toml").write_text(
        'snapshots = "snapshots"\n' + CONFIG.replace(
            '\n[[transforms]]\nfile = "transforms/broken.js"\n', ""))
    written = project.runpytest("--dodo-inngest", "--dodo-inngest-update-snapshots",
                                "-k", "pay and not payment")
    written.assert_outcomes(passed=2)
    assert sorted(p.relative_to(project.path / "snapshots").as_posix()
                  for p in (project.path / "snapshots").rglob("*.json")) == [
        "transforms/good/webhooks/a/pay.json", "transforms/good/webhooks/b/pay.json"]


def test_a_broken_config_fails_the_fixture_in_one_line(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", **{"dodo-inngest": 'strict = "yes"\n'})
    pytester.makepyfile("def test_it(dodo_transform):\n    dodo_transform('t.js')\n")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)  # a fixture that fails is the test's error
    result.stdout.fnmatch_lines(["*dodo-inngest.toml: strict: input should be a valid boolean"
                                 " (hint: see the Configuration section of the README)"])
    assert "Traceback" not in result.stdout.str() and "_tool_config" not in result.stdout.str()


@pytest.mark.parametrize(("config", "message"), [
    ("bogus = 1\n", "ERROR: {path}/dodo-inngest.toml: bogus: unknown key (hint: known keys: *"),
    ('[[transforms]]\nfile = "transforms/missing.js"\n',
     "ERROR: {path}/transforms/missing.js: no such transform file (hint: check the path in "
     "{path}/dodo-inngest.toml)"),
    ("", "ERROR: --dodo-inngest: {path}/dodo-inngest.toml lists no transforms (hint: list them "
         "as [[transforms]] in dodo-inngest.toml, or in [tool.dodo-inngest] of pyproject.toml)"),
])
def test_configuration_errors_are_one_line(project: pytest.Pytester, config: str,
                                           message: str) -> None:
    (project.path / "dodo-inngest.toml").write_text(config)
    result = project.runpytest("--dodo-inngest")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message.format(path=project.path)])


def test_a_sample_folder_that_holds_nothing_is_a_collection_error(
        project: pytest.Pytester) -> None:
    for sample in (project.path / "webhooks").iterdir():
        sample.unlink()
    result = project.runpytest("--dodo-inngest")
    result.stdout.fnmatch_lines([
        "*ERROR collecting transforms/broken.js*",
        f"{project.path}/webhooks: the folder holds no .json payloads (hint: point at the "
        "folder that holds the samples)"])


def test_dodo_transform_runs_a_configured_transform_on_a_bundled_sample(
        dodo_transform: Any) -> None:
    run: TransformRunner = dodo_transform("payment.js")
    result = run("payment.succeeded", overrides=["data.currency=JPY", "data.total_amount=5000"])
    assert result.transform == str(ROOT / "samples" / "transforms" / "payment.js")
    assert (result.status.value, result.findings) == ("passed", [])
    assert result.request is not None
    assert (result.request.payload["name"], result.request.payload["data"]["currency"],
            result.request.payload["data"]["total_amount"]) == (
        "dodo/payment.succeeded", "JPY", 5000)


def test_dodo_transform_takes_a_dict_or_a_payload_file(dodo_transform: Any) -> None:
    run: TransformRunner = dodo_transform("samples/transforms/dispute.js")
    body = {"business_id": "b", "type": "dispute.opened", "timestamp": "2026-01-01T00:00:00Z",
            "data": {"dispute_id": "dis_1", "payment_id": "pay_1"}}
    from_dict = run(body, overrides=["data.dispute_id=dis_2"])
    assert from_dict.request is not None
    assert from_dict.request.payload["data"]["dispute_id"] == "dis_2"
    assert body["data"] == {"dispute_id": "dis_1", "payment_id": "pay_1"}  # left as given
    from_file = run(WEBHOOKS / "payment.failed.json")
    assert (from_file.sample, from_file.status.value) == ("payment.failed", "cancelled")


@pytest.mark.parametrize(("call", "message"), [
    (lambda fixture: fixture("nope.js"),
     f"dodo_transform('nope.js'): no such file, and no configured transform is named so "
     f"({ROOT / 'pyproject.toml'})"),
    (lambda fixture: fixture("payment.js")("payment.succeded"),
     "no bundled sample named 'payment.succeded' (hint: did you mean 'payment.succeeded'? "
     "'dodo-inngest samples list' shows them all)"),
    (lambda fixture: fixture("payment.js")("payment.succeeded", overrides=["data.nope=1"]),
     "--set data.nope: the sample has no field 'data.nope' (hint: --set changes existing "
     "fields; 'dodo-inngest samples show TYPE' prints them)"),
    (lambda fixture: fixture("payment.js")(WEBHOOKS),
     f"{WEBHOOKS}: holds {len(list(WEBHOOKS.rglob('*.json')))} payloads; a transform runs on "
     "one"),
])
def test_dodo_transform_errors_fail_the_test_with_one_line(dodo_transform: Any, call: Any,
                                                           message: str) -> None:
    with pytest.raises(pytest.fail.Exception) as failed:
        call(dodo_transform)
    assert str(failed.value) == message


def test_the_readme_fixture_example_passes(dodo_transform: Any) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- pytest-fixture -->\n```python\n(.*?)\n```", readme, re.S)
    assert match is not None
    namespace: dict[str, Any] = {}
    exec(match.group(1), namespace)
    [test] = [value for name, value in namespace.items() if name.startswith("test_")]
    test(dodo_transform)


def test_the_plugin_is_registered_by_the_installed_package(pytestconfig: pytest.Config) -> None:
    plugin = pytestconfig.pluginmanager.get_plugin("dodo-inngest")
    assert plugin is not None and Path(plugin.__file__).name == "pytest_plugin.py"
    assert pytestconfig.pluginmanager.get_plugin("dodo-inngest-pairs") is None  # not asked

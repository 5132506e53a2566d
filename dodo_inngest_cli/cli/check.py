"""Commands that check transforms: `test`, `run`, `fuzz`, `schema infer`."""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import ExitCode
from .options import (
    Command,
    ConfigOpt,
    DodoCheckOpt,
    EndpointOpt,
    EnvOpt,
    EventGlobOpt,
    FailOnUnhandledOpt,
    Format,
    FormatOpt,
    FunctionsOpt,
    FuzzOpt,
    IgnoreOpt,
    MemoryLimitOpt,
    PathsArg,
    PythonOpt,
    SaveFailuresOpt,
    SeedOpt,
    StrictOpt,
    TimeLimitOpt,
    WatchOpt,
    choices,
)

if TYPE_CHECKING:
    from ..suite import SuiteReport
    from .output import Output


class ReportFormat(str, enum.Enum):
    """Report formats of `test`."""

    text = "text"
    json = "json"
    junit = "junit"
    github = "github"
    short = "short"


def test(
    paths: PathsArg = None,
    transform: Annotated[list[Path] | None, typer.Option(
        "--transform", "-t", metavar="FILE", help="A transform to test (repeatable).",
        show_default=False)] = None,
    samples: Annotated[list[str] | None, typer.Option(
        "--samples", "-s", metavar="PAYLOAD",
        help="A payload file, a folder of them, or a bundled sample name such as "
             "payment.succeeded (repeatable).", show_default=False)] = None,
    event: EventGlobOpt = None,
    output_format: Annotated[ReportFormat, typer.Option(
        "--format", "-f", metavar="text|json|junit|github|short",
        help="text for people, json for machines, junit for CI test reports, github for "
             "workflow annotations, short for editors and grep (FILE:LINE:COL: SEVERITY CODE: "
             "message [sample]).")] = ReportFormat.text,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", metavar="FILE",
        help="Write the report to FILE; the one-line summary still goes to the terminal.",
        show_default=False)] = None,
    show_output: Annotated[bool, typer.Option(
        "--show-output", help="Show each outgoing request and the console lines.")] = False,
    only_failures: Annotated[bool, typer.Option(
        "--only-failures", help="Show only the failed and errored pairs (and the summary).")]
    = False,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="Show only the summary line (and the exit code).")] = False,
    snapshots: Annotated[Path | None, typer.Option(
        "--snapshots", metavar="DIR",
        help="Compare each request with its snapshot in DIR (config: snapshots).",
        show_default=False)] = None,
    update_snapshots: Annotated[bool, typer.Option(
        "--update-snapshots", help="Write new and changed snapshots, and say what changed.")]
    = False,
    prune: Annotated[bool, typer.Option(
        "--prune", help="Delete the snapshots of this run's transforms and samples that no "
                        "pair matched.")] = False,
    schemas: Annotated[Path | None, typer.Option(
        "--schemas", metavar="DIR",
        help="Validate each event's data with DIR/<event name>.json (config: schemas).",
        show_default=False)] = None,
    triggers: Annotated[Path | None, typer.Option(
        "--triggers", metavar="FILE",
        help="The Inngest functions events must reach: a JSON or TOML list of {function, "
             "event, expression?} (config: triggers).", show_default=False)] = None,
    functions: FunctionsOpt = None,
    python: PythonOpt = None,
    snapshot_functions: Annotated[bool, typer.Option(
        "--snapshot-functions", help="Snapshots also hold what each function run returned.")]
    = False,
    fuzz: FuzzOpt = 0,
    seed: SeedOpt = 0,
    save_failures: SaveFailuresOpt = None,
    ignore: IgnoreOpt = None,
    strict: StrictOpt = None,
    dodo_check: DodoCheckOpt = None,
    time_limit: TimeLimitOpt = None,
    memory_limit: MemoryLimitOpt = None,
    env: EnvOpt = None,
    endpoint_url: EndpointOpt = None,
    config: ConfigOpt = None,
    watch: WatchOpt = False,
    coverage: Annotated[bool, typer.Option(
        "--coverage", help="Also map every Dodo event type × transform (as `coverage`).")]
    = False,
    fail_on_unhandled: FailOnUnhandledOpt = False,
) -> int:
    """Run transforms over sample payloads and check every result against Inngest's contract.

    With no paths, the transforms and samples listed in the config are used; with no samples
    anywhere, the bundled library. On GitHub Actions, findings also become annotations
    (whenever the report does not hold stdout) and the job summary gets a Markdown report.

    Examples:

    \b
      dodo-inngest test
      dodo-inngest test -t payment.js -s samples/webhooks --event 'payment.*'
      dodo-inngest test --snapshots tests/snapshots --update-snapshots
      dodo-inngest test --format junit --output report.xml
      dodo-inngest test --watch
      dodo-inngest test -t payment.js -s payment.succeeded --functions app:client
      dodo-inngest test --format short
    """
    from ..ci import github_actions, workspace
    from ..config import load_config
    from ..errors import in_range
    from ..report import github_annotations, junit_xml, short_lines
    from ..suite import SuiteOptions, run_suite
    from .coverage_view import print_coverage, report_unhandled
    from .interrupt import interruptible
    from .output import Output, file_console, report_file
    from .render import Detail, FuzzProgress, print_fuzz, print_snapshots, print_suite, summary_line

    in_range("--fuzz", fuzz, 0, 100_000)
    output_ = Output()
    progress = FuzzProgress(output_.err)
    options = SuiteOptions(paths=paths or (), transforms=transform or (), samples=samples or (),
                           events=event or (), snapshots=snapshots,
                           update_snapshots=update_snapshots, prune=prune, schemas=schemas,
                           triggers=triggers, fuzz=fuzz, seed=seed, save_failures=save_failures,
                           coverage=coverage, fail_on_unhandled=fail_on_unhandled,
                           functions=functions or (), python=python,
                           snapshot_functions=snapshot_functions)
    chosen = choices(ignore=ignore, strict=strict, dodo_check=dodo_check, time_limit=time_limit,
                     memory_limit=memory_limit, env=env, endpoint_url=endpoint_url)
    detail = Detail.SUMMARY if quiet else Detail.FAILURES if only_failures else Detail.ALL
    if watch:
        from ..errors import InputError
        from ..watch import suite_setup
        from .watching import watch_test

        clashing = [flag for flag, given in (
            (f"--format {output_format.value}", output_format is not ReportFormat.text),
            ("--output", output is not None), ("--update-snapshots", update_snapshots),
            ("--prune", prune), ("--fuzz", fuzz > 0), ("--coverage", coverage),
            ("--fail-on-unhandled", fail_on_unhandled)) if given]
        if clashing:
            raise InputError(f"--watch cannot be combined with {clashing[0]}",
                             hint="watching shows text for people; run that once without "
                                  "--watch")
        return watch_test(lambda: suite_setup(config, chosen, options), output_,
                          show_output=show_output, detail=detail)
    with interruptible() as cancel:
        try:
            report = run_suite(load_config(config), chosen, options, cancel=cancel,
                               on_fuzz_start=progress.start, on_fuzz_report=progress.advance)
        finally:
            progress.stop()
    if output_format is ReportFormat.text:
        if output is not None:
            with report_file(output) as handle:
                print_suite(file_console(handle), report, show_output=show_output)
        print_suite(output_.out, report, show_output=show_output, detail=detail)
        if report.snapshots is not None and detail is not Detail.SUMMARY:
            print_snapshots(output_.out, report.snapshots, report.orphans, report.pruned)
        if fuzz and detail is not Detail.SUMMARY:
            print_fuzz(output_.out, report.fuzzed, seed=seed)
        if report.coverage is not None and detail is not Detail.SUMMARY:
            output_.out.print()
            print_coverage(output_, report.coverage, fields=False)
        if report.coverage is not None:
            report_unhandled(output_, report.coverage, fail_on_unhandled=fail_on_unhandled)
        if github_actions():
            output_.data(github_annotations(report.results, root=workspace()))
        _append_job_summary(output_, report)
        return report.exit_code
    from .. import jsonio

    if output_format is ReportFormat.json:
        data = jsonio.dumps_report(report.to_json())
    elif output_format is ReportFormat.junit:
        data = junit_xml(report.results, seconds=report.seconds, fuzzed=report.fuzzed)
    elif output_format is ReportFormat.short:
        data = short_lines(report.results)
    else:
        data = github_annotations(report.results, root=workspace())
    if report.coverage is not None:
        report_unhandled(output_, report.coverage, fail_on_unhandled=fail_on_unhandled)
    if output is not None:
        with report_file(output) as handle:
            handle.write(data)
        line = summary_line(report.summary, report.seconds)
        line.append(f"; report written to {output}")
        output_.out.print(line, soft_wrap=True)
        if github_actions():
            output_.data(github_annotations(report.results, root=workspace()))
    elif output_format is ReportFormat.json:
        output_.json_text(data)
    else:
        output_.data(data)
    _append_job_summary(output_, report)
    return report.exit_code


def _append_job_summary(output: Output, report: SuiteReport) -> None:
    """Append the Markdown summary to GitHub's job summary file when there is one; a file
    that cannot be written is a warning, never a failure of the run."""
    from ..ci import step_summary
    from ..job_summary import job_summary
    from ..redaction import redact

    path = step_summary()
    if path is None:
        return
    try:
        with path.open("a", encoding="utf-8", errors="backslashreplace") as handle:
            handle.write(redact(job_summary(report)))
    except OSError as exc:
        output.warning(f"{path}: cannot write the job summary: {exc.strerror}")


def fuzz_command(
    transform: Annotated[Path, typer.Argument(
        metavar="TRANSFORM", help="The transform (.js).", show_default=False)],
    examples: Annotated[int, typer.Option(
        "--examples", "-n", metavar="N", help="Generated payloads per event type.")] = 100,
    seed: SeedOpt = 0,
    event: EventGlobOpt = None,
    save_failures: SaveFailuresOpt = None,
    output_format: FormatOpt = Format.text,
    ignore: IgnoreOpt = None,
    strict: StrictOpt = None,
    time_limit: TimeLimitOpt = None,
    memory_limit: MemoryLimitOpt = None,
    env: EnvOpt = None,
    config: ConfigOpt = None,
) -> int:
    """Throw generated Dodo payloads at a transform and shrink every failure to a reproducer.

    Payloads are valid under the official Dodo models (null where nullable, optional fields
    absent, every currency, edge-length and non-ASCII strings, boundary amounts and
    timestamps), for each event type the transform handles (its bundled sample is neither
    cancelled nor passed through). A failure is shown as the smallest change to the bundled
    sample that still fails; --save-failures keeps it as a sample to re-run with `test`.

    Examples:

    \b
      dodo-inngest fuzz payment.js
      dodo-inngest fuzz dispute.js -n 1000 --seed 7 --save-failures tests/webhooks/fuzz
    """
    from ..config import load_config
    from ..errors import in_range
    from ..fuzz import fuzz_plan
    from ..pipeline import Planned
    from ..plan import checks, event_filters, load_transform
    from .interrupt import interruptible
    from .output import Output
    from .render import FuzzProgress, print_fuzz

    in_range("--examples", examples, 1, 100_000)
    config_ = load_config(config)
    chosen = choices(ignore=ignore, strict=strict, dodo_check=False, time_limit=time_limit,
                     memory_limit=memory_limit, env=env)
    loaded = load_transform(transform, config_, chosen)
    output = Output()
    progress = FuzzProgress(output.err)
    with interruptible() as cancel:
        try:
            reports = fuzz_plan(
                [Planned(loaded, event_filters(config_).get(transform.resolve()))],
                examples=examples, seed=seed, checks=checks(config_, chosen),
                events=tuple(event or ()), save_to=save_failures, on_start=progress.start,
                on_report=progress.advance, cancel=cancel)
        finally:
            progress.stop()
    ok = all(r.ok for r in reports)
    if output_format is Format.json:
        output.report({"version": 1, "ok": ok, "seed": seed, "examples": examples,
                       "reports": [r.to_json() for r in reports]})
    else:
        print_fuzz(output.out, reports, seed=seed)
    return ExitCode.OK if ok else ExitCode.FAILED


def run(
    transform: Annotated[Path, typer.Argument(
        metavar="TRANSFORM", help="The transform (.js).", show_default=False)],
    payload: Annotated[str | None, typer.Argument(
        metavar="PAYLOAD", help="A Dodo webhook body (.json), a bundled sample name such as "
                                  "payment.succeeded, or - for standard input (the default).",
        show_default=False)] = None,
    request: Annotated[bool, typer.Option(
        "--request", help="Print the whole request (method, url, headers, payload).")] = False,
    ignore: IgnoreOpt = None,
    strict: StrictOpt = None,
    dodo_check: DodoCheckOpt = None,
    time_limit: TimeLimitOpt = None,
    memory_limit: MemoryLimitOpt = None,
    env: EnvOpt = None,
    endpoint_url: EndpointOpt = None,
    functions: FunctionsOpt = None,
    python: PythonOpt = None,
    config: ConfigOpt = None,
    watch: WatchOpt = False,
) -> int:
    """Run one transform on one payload: the outgoing payload on stdout, findings on stderr.

    With --functions, the project's Inngest functions the event triggers run on it too; what
    each did goes to stderr.

    Examples:

    \b
      dodo-inngest run payment.js samples/webhooks/payment.succeeded.json
      dodo-inngest run payment.js payment.succeeded --request
      cat delivery.json | dodo-inngest run payment.js - | jq .name
      dodo-inngest run payment.js payment.succeeded --watch
      dodo-inngest run payment.js payment.succeeded --functions app:client
    """
    from ..config import load_config
    from ..errors import InputError
    from ..models import Status
    from ..pipeline import Expectations, evaluate
    from ..plan import checks, function_stage, load_transform, one_payload
    from ..sources import parse_webhook
    from .output import Output
    from .render import print_run

    chosen = choices(ignore=ignore, strict=strict, dodo_check=dodo_check,
                     time_limit=time_limit, memory_limit=memory_limit, env=env,
                     endpoint_url=endpoint_url)
    if watch:
        from ..watch import run_setup
        from .watching import watch_run

        if payload is None or payload == "-":
            raise InputError("run --watch needs a payload file or a bundled sample name, not "
                             "standard input", hint="dodo-inngest run payment.js "
                                                    "payment.succeeded --watch")
        named = payload
        return watch_run(lambda: run_setup(config, chosen, transform, named), Output(),
                         request=request)
    config_ = load_config(config)
    if payload is None or payload == "-":
        if payload is None and sys.stdin.isatty():
            raise InputError("no payload: name a .json file or a bundled sample, or pipe one in",
                             hint="dodo-inngest run payment.js payment.succeeded")
        webhook = parse_webhook(sys.stdin.buffer.read(), source="<stdin>", name="stdin")
    else:
        webhook = one_payload(payload)
    stage = function_stage(config_, functions or (), python)
    try:
        result = evaluate(load_transform(transform, config_, chosen), webhook,
                          checks(config_, chosen),
                          expect=Expectations(functions=stage) if stage else None)
    finally:
        if stage is not None:
            stage.close()
    print_run(Output(), result, request=request)
    return ExitCode.FAILED if result.status in (Status.FAILED, Status.ERROR) else ExitCode.OK


def schema_infer(
    paths: PathsArg = None,
    schemas: Annotated[Path, typer.Option(
        "--schemas", metavar="DIR", help="Where to write DIR/<event name>.json.")]
    = Path("schemas"),
    transform: Annotated[list[Path] | None, typer.Option(
        "--transform", "-t", metavar="FILE", help="A transform (repeatable).",
        show_default=False)] = None,
    samples: Annotated[list[str] | None, typer.Option(
        "--samples", "-s", metavar="PAYLOAD",
        help="A payload file, a folder of them, or a bundled sample name (repeatable).",
        show_default=False)] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing schemas.")]
    = False,
    config: ConfigOpt = None,
) -> None:
    """Write a starting JSON Schema for the data of each event the transforms send now.

    Runs the same transforms × samples as `test`, and merges what each event name carried
    (types, and the fields present every time as required). Edit the result to taste.

    Examples:

    \b
      dodo-inngest schema infer --schemas schemas
      dodo-inngest schema infer -t payment.js -s samples/webhooks --schemas schemas
    """
    from ..config import load_config
    from ..models import Status
    from ..pipeline import Checks, run_plan
    from ..plan import plan_tests
    from ..schemas import write_schemas
    from .output import Output, text

    plan, webhooks = plan_tests(load_config(config), choices(), paths=paths or (),
                                transforms=transform or (), samples=samples or ())
    results = run_plan(plan, webhooks, Checks(dodo_check=False))
    written = write_schemas(schemas, [r.request.payload for r in results
                                      if r.request is not None and r.status is Status.PASSED],
                            force=force)
    output = Output()
    for path in written:
        output.err.print(text(f"wrote {path}"), soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the checking commands to the app."""
    app.command(cls=Command, short_help="Check transforms × samples against Inngest's "
                                        "contract.")(test)
    app.command(cls=Command, short_help="Run one transform on one payload (for pipes).")(run)
    app.command("fuzz", cls=Command,
                short_help="Fuzz a transform with generated Dodo payloads.")(fuzz_command)
    schema = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                         help="JSON Schemas for the events your transforms send.",
                         short_help="JSON Schemas for the events sent.")
    schema.command("infer", cls=Command,
                   short_help="Infer a starting schema per event name.")(schema_infer)
    app.add_typer(schema, name="schema")

"""The `dodo-inngest` command line: each command parses, calls the core, renders.

Heavy modules (QuickJS, pydantic, the pipeline) are imported inside the commands, so
`--help` and `rules` start fast.
"""


import contextlib
import enum
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from . import __version__
from .errors import DodoInngestError, ExitCode

if TYPE_CHECKING:
    from .cancel import Cancel
    from .plan import Choices

DEBUG_ENV = "DODO_INNGEST_DEBUG"

EXIT_CODES_HELP = (
    "Exit codes: 0 success · 1 checks failed or deliveries failed · "
    "2 usage or input error · 130 interrupted."
)


class _Group(TyperGroup):
    """The one place that turns errors into a message, a hint and an exit code."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             windows_expand_args: bool = True, **extra: Any) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        debug_env = os.environ.get(DEBUG_ENV, "")
        debug = "--debug" in argv or debug_env not in ("", "0")
        try:
            value = super().main(argv, prog_name, complete_var, standalone_mode=False,
                                 windows_expand_args=windows_expand_args, **extra)
            code = value if isinstance(value, int) else ExitCode.OK
            if code == ExitCode.INTERRUPTED:
                _error("interrupted", None)
        except DodoInngestError as exc:
            _error(exc.message, exc.hint)
            code = exc.exit_code
        except typer.TyperException as exc:  # a usage error: bad flag, bad value
            context = getattr(exc, "ctx", None)
            if type(exc).__name__ == "NoArgsIsHelpError":
                code = ExitCode.OK  # the help is already shown
            else:
                command = context.command_path if context is not None else "dodo-inngest"
                _error(exc.format_message(), f"see '{command} --help'")
                code = ExitCode.USAGE
        except (typer.Abort, KeyboardInterrupt):
            _error("interrupted", None)
            code = ExitCode.INTERRUPTED
        except Exception as exc:
            if debug_env == "raise":
                raise  # for the test suite: an unexpected error fails the test with its traceback
            if debug:
                _traceback(exc)
            _error(f"internal error: {type(exc).__name__}: {exc}",
                   "this is a bug in dodo-inngest; run again with --debug for the traceback")
            code = ExitCode.FAILED
        if standalone_mode:
            sys.exit(int(code))
        return code


def _traceback(exc: BaseException) -> None:
    """The traceback on stderr, with event keys masked."""
    import traceback

    from .masking import mask_url

    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    sys.stderr.write(mask_url(text))


@contextlib.contextmanager
def _ctrl_c_cancels() -> Iterator["Cancel"]:
    """A cancellation token Ctrl-C sets before interrupting as usual: a Ctrl-C swallowed on
    the way (an `Exception ignored in …` callback) still stops the work at its next check."""
    import signal

    from .cancel import Cancel

    cancel = Cancel()

    def interrupt(signum: int, frame: Any) -> None:
        cancel.set()
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        yield cancel
    finally:
        signal.signal(signal.SIGINT, previous)


def _error(message: str, hint: str | None) -> None:
    from .render import make_console, print_error

    print_error(make_console(stderr=True), message, hint)


app = typer.Typer(
    cls=_Group,
    name="dodo-inngest",
    help="Test, check, send and replay Dodo Payments webhook transformations for Inngest.\n\n"
         + EXIT_CODES_HELP,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dodo-inngest {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
    debug: Annotated[bool, typer.Option("--debug",
                                        help="Show tracebacks for unexpected errors.")] = False,
) -> None:
    """Test, check, send and replay Dodo Payments webhook transformations for Inngest."""


class Format(str, enum.Enum):
    """Output formats of `send`."""

    text = "text"
    json = "json"


# Options shared by several commands.
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
IgnoreOpt = Annotated[list[str] | None, typer.Option(
    "--ignore", metavar="CODE", help="Drop findings with this rule code (repeatable).")]
StrictOpt = Annotated[bool | None, typer.Option(
    "--strict/--no-strict", help="Warnings fail too.", show_default=False)]
TimeLimitOpt = Annotated[float | None, typer.Option(
    "--time-limit", metavar="MS", min=1, help="Time limit per delivery in ms.",
    show_default="100")]
MemoryLimitOpt = Annotated[float | None, typer.Option(
    "--memory-limit", metavar="MIB", min=1,
    help="Memory limit per delivery in MiB.", show_default="25")]
EnvOpt = Annotated[list[str] | None, typer.Option(
    "--env", metavar="KEY=VALUE", help="A transformation variable, seen as webhook.env.KEY.")]
EndpointOpt = Annotated[str | None, typer.Option(
    "--endpoint-url", metavar="URL", help="The endpoint URL the transform sees as webhook.url.")]
DodoCheckOpt = Annotated[bool | None, typer.Option(
    "--dodo-check/--no-dodo-check",
    help="Validate payloads against the official Dodo models.", show_default="on")]
UrlOpt = Annotated[str | None, typer.Option(
    "--url", metavar="URL", help="A full Event API URL, e.g. https://inn.gs/e/<key>.")]
EventKeyOpt = Annotated[str | None, typer.Option(
    "--event-key", metavar="KEY", help="The event key [env: INNGEST_EVENT_KEY].")]
BaseUrlOpt = Annotated[str | None, typer.Option(
    "--base-url", metavar="URL",
    help="The Event API origin [env: INNGEST_EVENT_API_BASE_URL, INNGEST_BASE_URL].",
    show_default="https://inn.gs")]
DevOpt = Annotated[bool, typer.Option(
    "--dev", help="Send to the Inngest Dev Server (any key) [env: INNGEST_DEV]; "
                  "--base-url picks another one.", show_default="http://127.0.0.1:8288")]
InngestEnvOpt = Annotated[str | None, typer.Option(
    "--inngest-env", metavar="NAME",
    help="The branch environment, sent as x-inngest-env [env: INNGEST_ENV].")]
RetriesOpt = Annotated[int, typer.Option(
    "--retries", metavar="N", min=0, max=20,
    help="Retries for network errors, 5xx and 429 (with backoff).")]
TimeoutOpt = Annotated[float, typer.Option(
    "--timeout", metavar="SECONDS", min=0.1, help="Timeout per HTTP attempt.")]
SecretOpt = Annotated[str | None, typer.Option(
    "--secret", metavar="WHSEC", envvar="DODO_PAYMENTS_WEBHOOK_KEY", show_envvar=True,
    help="Dodo's webhook signing secret (whsec_…); never printed.", show_default=False)]
FuzzOpt = Annotated[int, typer.Option(
    "--fuzz", metavar="N", min=0,
    help="Also run N generated payloads (valid under the official Dodo models) per event "
         "type each transform handles.")]
SeedOpt = Annotated[int, typer.Option(
    "--seed", metavar="N", help="The fuzzing seed: the same seed, the same payloads.")]
SaveFailuresOpt = Annotated[Path | None, typer.Option(
    "--save-failures", metavar="DIR",
    help="Save each minimal failing payload as a sample file in DIR.")]
ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", metavar="FILE",
    help="Config file.", show_default="dodo-inngest.toml or pyproject.toml, found upward")]


def _choices(ignore: list[str] | None, strict: bool | None, dodo_check: bool | None,
             time_limit: float | None, memory_limit: float | None, env: list[str] | None,
             endpoint_url: str | None) -> "Choices":
    from .plan import Choices

    return Choices(ignore=ignore or (), strict=strict, dodo_check=dodo_check,
                   time_limit=time_limit, memory_limit=memory_limit, env=env or (),
                   endpoint_url=endpoint_url)


class ReportFormat(str, enum.Enum):
    """Report formats of `test`."""

    text = "text"
    json = "json"
    junit = "junit"
    github = "github"


@app.command()
def test(
    paths: Annotated[list[Path] | None, typer.Argument(
        help="Transforms (.js), payloads (.json) and folders of them.", show_default=False)]
    = None,
    transform: Annotated[list[Path] | None, typer.Option(
        "--transform", "-t", metavar="FILE", help="A transform to test (repeatable).")] = None,
    samples: Annotated[list[Path] | None, typer.Option(
        "--samples", "-s", metavar="PATH",
        help="A payload file or folder (repeatable).")] = None,
    event: Annotated[list[str] | None, typer.Option(
        "--event", metavar="GLOB", help="Only payloads of these event types, e.g. 'payment.*'.")]
    = None,
    output_format: Annotated[ReportFormat, typer.Option(
        "--format", "-f",
        help="text for people, json for machines, junit for CI test reports, github for "
             "workflow annotations.")] = ReportFormat.text,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", metavar="FILE",
        help="Write the report to FILE; the text summary still goes to the terminal.")] = None,
    show_output: Annotated[bool, typer.Option(
        "--show-output", help="Show each outgoing request and the console lines.")] = False,
    snapshots: Annotated[Path | None, typer.Option(
        "--snapshots", metavar="DIR",
        help="Compare each request with its snapshot in DIR [config: snapshots].")] = None,
    update_snapshots: Annotated[bool, typer.Option(
        "--update-snapshots", help="Write new and changed snapshots, and say what changed.")]
    = False,
    prune: Annotated[bool, typer.Option(
        "--prune", help="Delete snapshots no transform × sample matched.")] = False,
    schemas: Annotated[Path | None, typer.Option(
        "--schemas", metavar="DIR",
        help="Validate each event's data with DIR/<event name>.json [config: schemas].")]
    = None,
    triggers: Annotated[Path | None, typer.Option(
        "--triggers", metavar="FILE",
        help="The Inngest functions events must reach: JSON or TOML list of {function, event, "
             "expression?} [config: triggers].")] = None,
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
) -> int:
    """Run transforms over sample payloads and check every result against Inngest's contract.

    With no paths, the transforms and samples listed in the config are used; with no samples
    anywhere, the bundled library.

    [bold]Examples[/bold]

      dodo-inngest test
      dodo-inngest test -t payment.js -s samples/webhooks --event 'payment.*'
      dodo-inngest test --snapshots tests/snapshots --update-snapshots
      dodo-inngest test --format junit --output report.xml
    """
    from .config import load_config
    from .pipeline import run_plan
    from .plan import checks, expectations, test_plan
    from .report import Summary, github_annotations, junit_xml, report_json

    started = time.perf_counter()
    settings = load_config(config)
    choices = _choices(ignore, strict, dodo_check, time_limit, memory_limit, env, endpoint_url)
    judged = checks(settings, choices)
    expect = expectations(settings, snapshots=snapshots, update=update_snapshots,
                          schemas=schemas, triggers=triggers)
    plan, webhooks = test_plan(settings, choices, paths=paths or (), transforms=transform or (),
                               samples=samples or (), events=event or ())
    results = run_plan(plan, webhooks, judged, expect=expect)
    store = expect.snapshots
    pruned = store.prune() if store and prune else []
    orphans = store.orphans() if store else []
    summary = Summary.of(results)
    fuzzed = []
    if fuzz:
        from .fuzz import fuzz_plan
        from .render import FuzzProgress, make_console

        progress = FuzzProgress(make_console(stderr=True))
        try:
            with _ctrl_c_cancels() as cancel:
                fuzzed = fuzz_plan(plan, examples=fuzz, seed=seed, checks=judged,
                                   events=tuple(event or ()), save_to=save_failures,
                                   on_start=progress.start, on_report=progress.advance,
                                   cancel=cancel)
        finally:
            progress.stop()
    ok = summary.ok and all(report.ok for report in fuzzed)
    seconds = time.perf_counter() - started

    from .render import make_console, print_fuzz, print_json, print_snapshots, print_text_report

    terminal = make_console()
    if output_format is ReportFormat.text:
        if output is not None:
            with _open_output(output) as handle:
                print_text_report(make_console(file=handle), results, summary, seconds,
                                  show_output=show_output)
        print_text_report(terminal, results, summary, seconds, show_output=show_output)
        if store is not None:
            print_snapshots(terminal, store, orphans, pruned)
        if fuzz:
            print_fuzz(terminal, fuzzed, seed=seed)
        if os.environ.get("GITHUB_ACTIONS") == "true":
            terminal.out(github_annotations(results), end="", highlight=False)
        return ExitCode.OK if ok else ExitCode.FAILED
    document: Any = None
    if output_format is ReportFormat.json:
        document = report_json(results)
        document["ok"] = ok
        if store is not None:
            document["snapshots"] = store.report(orphans, pruned)
        if fuzz:
            document["fuzz"] = {"seed": seed, "examples": fuzz,
                                "reports": [report.to_json() for report in fuzzed]}
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    elif output_format is ReportFormat.junit:
        text = junit_xml(results, seconds=seconds, fuzzed=fuzzed)
    else:
        text = github_annotations(results)
    if output is not None:
        with _open_output(output) as handle:
            handle.write(text)
        terminal.print(summary_text(summary, seconds, output), soft_wrap=True)
    elif document is not None:
        print_json(terminal, document)
    else:
        terminal.out(text, end="", highlight=False)
    return ExitCode.OK if ok else ExitCode.FAILED


def _open_output(path: Path) -> Any:
    from .errors import InputError

    try:
        return path.open("w", encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot write the report: {exc.strerror}",
                         hint="check the folder exists and is writable") from None


def summary_text(summary: Any, seconds: float, output: Path) -> Any:
    """The one-line summary, naming where the report went."""
    from .render import summary_line

    line = summary_line(summary, seconds)
    line.append(f"; report written to {output}")
    return line


@app.command("fuzz")
def fuzz_command(
    transform: Annotated[Path, typer.Argument(help="The transform (.js).", show_default=False)],
    examples: Annotated[int, typer.Option(
        "--examples", "-n", metavar="N", min=1,
        help="Generated payloads per event type.")] = 100,
    seed: SeedOpt = 0,
    event: Annotated[list[str] | None, typer.Option(
        "--event", metavar="GLOB", help="Only these event types, e.g. 'dispute.*'.")] = None,
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

    [bold]Examples[/bold]

      dodo-inngest fuzz payment.js
      dodo-inngest fuzz dispute.js -n 1000 --seed 7 --save-failures tests/webhooks/fuzz
    """
    from .config import load_config
    from .fuzz import fuzz_plan
    from .pipeline import Planned
    from .plan import checks, event_filters, load_transform
    from .render import make_console, print_fuzz, print_json

    settings = load_config(config)
    choices = _choices(ignore, strict, False, time_limit, memory_limit, env, None)
    loaded = load_transform(transform, settings, choices)
    from .render import FuzzProgress

    progress = FuzzProgress(make_console(stderr=True))
    try:
        with _ctrl_c_cancels() as cancel:
            reports = fuzz_plan(
                [Planned(loaded, event_filters(settings).get(transform.resolve()))],
                examples=examples, seed=seed, checks=checks(settings, choices),
                events=tuple(event or ()), save_to=save_failures,
                on_start=progress.start, on_report=progress.advance, cancel=cancel)
    finally:
        progress.stop()
    out = make_console()
    if output_format is Format.json:
        print_json(out, {"version": 1, "ok": all(r.ok for r in reports), "seed": seed,
                         "examples": examples, "reports": [r.to_json() for r in reports]})
    else:
        print_fuzz(out, reports, seed=seed)
    return ExitCode.OK if all(r.ok for r in reports) else ExitCode.FAILED


@app.command()
def run(
    transform: Annotated[Path, typer.Argument(help="The transform (.js).", show_default=False)],
    payload: Annotated[str | None, typer.Argument(
        help="A Dodo webhook body (.json), or - for standard input.",
        show_default="stdin")] = None,
    request: Annotated[bool, typer.Option(
        "--request", help="Print the whole request (method, url, headers, payload).")] = False,
    ignore: IgnoreOpt = None,
    strict: StrictOpt = None,
    dodo_check: DodoCheckOpt = None,
    time_limit: TimeLimitOpt = None,
    memory_limit: MemoryLimitOpt = None,
    env: EnvOpt = None,
    endpoint_url: EndpointOpt = None,
    config: ConfigOpt = None,
) -> int:
    """Run one transform on one payload: the outgoing payload on stdout, findings on stderr.

    [bold]Examples[/bold]

      dodo-inngest run payment.js samples/webhooks/payment.succeeded.json
      cat delivery.json | dodo-inngest run payment.js - | jq .name
    """
    from .config import load_config
    from .errors import InputError
    from .models import Status
    from .pipeline import evaluate
    from .plan import checks, load_transform
    from .sources import parse_webhook, read_webhook

    settings = load_config(config)
    choices = _choices(ignore, strict, dodo_check, time_limit, memory_limit, env, endpoint_url)
    judged = checks(settings, choices)
    if payload is None or payload == "-":
        if payload is None and sys.stdin.isatty():
            raise InputError("no payload: name a .json file or pipe one in",
                             hint="dodo-inngest run payment.js payment.succeeded.json")
        webhook = parse_webhook(sys.stdin.buffer.read(), source="<stdin>", name="stdin")
    else:
        webhook = read_webhook(Path(payload))
    result = evaluate(load_transform(transform, settings, choices), webhook, judged)

    from .masking import mask_url
    from .render import console_lines, findings_grid, make_console, print_json

    err = make_console(stderr=True)
    for line in console_lines(result.console, indent=""):
        err.print(line)
    if result.findings:
        err.print(findings_grid(result.findings))
    if result.request is not None and result.status is not Status.CANCELLED \
            and result.status is not Status.ERROR:
        document = result.request.to_json() if request else result.request.payload
        if request:
            document["url"] = mask_url(document["url"])
        print_json(make_console(), document)
    return ExitCode.FAILED if result.status in (Status.FAILED, Status.ERROR) else ExitCode.OK


@app.command()
def rules(
    code: Annotated[str | None, typer.Argument(
        help="A rule code to explain, e.g. ts-in-seconds.", show_default=False)] = None,
) -> None:
    """List every rule, or explain one with an example of the fix.

    [bold]Examples[/bold]

      dodo-inngest rules
      dodo-inngest rules ts-in-seconds
    """
    from .render import make_console, print_rule, rules_table
    from .rules import RULES, check_codes

    out = make_console()
    if code is None:
        out.print(rules_table(list(RULES.values())))
    else:
        check_codes([code])
        print_rule(out, RULES[code])


@app.command()
def send(
    ctx: typer.Context,
    samples: Annotated[list[str] | None, typer.Argument(
        help="Dodo payloads (.json files, folders, or bundled sample names) to transform and "
             "send.", show_default=False)] = None,
    transform: Annotated[Path | None, typer.Option(
        "--transform", "-t", metavar="FILE", help="The Dodo transform to run first.")] = None,
    events_file: Annotated[Path | None, typer.Option(
        "--event", metavar="FILE",
        help="Send ready Inngest events from this JSON file (an object or an array).")] = None,
    url: UrlOpt = None,
    event_key: EventKeyOpt = None,
    base_url: BaseUrlOpt = None,
    dev: DevOpt = False,
    inngest_env: InngestEnvOpt = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Print the exact requests (key masked) and send nothing.")] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="Send even when checks find errors.")] = False,
    batch: Annotated[int, typer.Option(
        "--batch", metavar="N", min=1, max=5000,
        help="Send up to N events per request, as one array.")] = 1,
    retries: RetriesOpt = 5,
    timeout: TimeoutOpt = 10.0,
    wait: Annotated[float, typer.Option(
        "--wait", metavar="SECONDS", min=0,
        help="With --dev: wait this long for function runs and show them.")] = 0.0,
    inngest_spec: Annotated[str | None, typer.Option(
        "--inngest-transform", metavar="FILE|default",
        help="Run an Inngest webhook transform after Dodo's, showing the event Inngest "
             "stores.")] = None,
    output_format: FormatOpt = Format.text,
    ignore: IgnoreOpt = None,
    strict: StrictOpt = None,
    dodo_check: DodoCheckOpt = None,
    time_limit: TimeLimitOpt = None,
    memory_limit: MemoryLimitOpt = None,
    env: EnvOpt = None,
    config: ConfigOpt = None,
) -> int:
    """Transform payloads (or take ready events), check them, and send them to Inngest.

    Checks run first: an error finding blocks the send unless --force. Network errors, 5xx
    and 429 are retried with backoff; other 4xx are not. The event key is masked in all output.

    [bold]Examples[/bold]

      dodo-inngest send --dev -t payment.js payment.succeeded
      dodo-inngest send --url "https://inn.gs/e/$INNGEST_EVENT_KEY" -t payment.js webhooks/
      dodo-inngest send --event events.json --dry-run
      dodo-inngest send --dev --wait 10 -t payment.js samples/webhooks/payment.succeeded.json
    """
    from .config import load_config
    from .errors import InputError
    from .forward import Forwarder, resolve_target
    from .masking import mask_url
    from .plan import checks, load_transform, send_webhooks
    from .sending import (
        Outcome,
        from_events,
        from_samples,
        inngest_transform,
        read_events_file,
        requests,
        send_json,
    )
    from .sending import send as send_requests

    settings = load_config(config)
    choices = _choices(ignore, strict, dodo_check, time_limit, memory_limit, env, None)
    judged = checks(settings, choices)
    target = resolve_target(url=url, event_key=event_key, base_url=base_url,
                            dev=True if dev else None, env=inngest_env)
    if (transform is None) == (events_file is None):
        raise InputError("give either -t TRANSFORM with payloads, or --event FILE",
                         hint="dodo-inngest send --dev -t payment.js payment.succeeded")
    if events_file is not None:
        if samples:
            raise InputError("--event FILE sends ready events; it takes no payloads",
                             hint="drop the payload arguments, or use -t TRANSFORM")
        prepared = from_events(read_events_file(events_file), str(events_file), judged, target)
    else:
        assert transform is not None
        prepared = from_samples(load_transform(transform, settings, choices),
                                send_webhooks(samples or []), judged, target,
                                inngest_transform(inngest_spec))
    planned = requests(prepared, batch=batch)
    debug = bool(ctx.find_root().params.get("debug"))
    blocked = any(p.blocking for p in prepared) and not force and not dry_run

    from .render import make_console, print_json, print_send

    out, err = make_console(), make_console(stderr=True)
    log = (lambda line: err.print(f"debug: {mask_url(line)}", soft_wrap=True)) if debug else None
    with Forwarder(timeout=timeout, retries=retries, log=log) as forwarder:
        sent = [] if dry_run or blocked else send_requests(
            planned, forwarder, target, wait_s=wait if target.dev else 0.0)
        outcome = Outcome(prepared, planned, sent, dry_run=dry_run, blocked=blocked)
        if output_format is Format.json:
            print_json(out, send_json(outcome, target, forwarder))
        else:
            print_send(out, err, outcome, target, forwarder)
    return ExitCode.OK if outcome.ok else ExitCode.FAILED


@app.command()
def listen(
    transform: Annotated[Path | None, typer.Option(
        "--transform", "-t", metavar="FILE", help="The Dodo transform (with --forward).")]
    = None,
    host: Annotated[str, typer.Option("--host", help="The address to listen on.")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535,
                                      help="The port (0: any free one).")] = 8787,
    path: Annotated[str, typer.Option("--path", help="The path Dodo posts to.")] = "/",
    secret: SecretOpt = None,
    capture: Annotated[Path | None, typer.Option(
        "--capture", metavar="FILE",
        help="Append each accepted delivery to this capture file (JSON Lines).")] = None,
    forward: Annotated[bool, typer.Option(
        "--forward", help="Transform and send each delivery to Inngest as it arrives.")]
    = False,
    ack_after_forward: Annotated[bool, typer.Option(
        "--ack-after-forward",
        help="Answer 502 when forwarding fails, so Dodo retries (default: acknowledge once "
             "captured).")] = False,
    body_limit: Annotated[int, typer.Option(
        "--body-limit", metavar="BYTES", min=1, help="Larger bodies get 413.")]
    = 1024 * 1024,
    url: UrlOpt = None,
    event_key: EventKeyOpt = None,
    base_url: BaseUrlOpt = None,
    dev: DevOpt = False,
    inngest_env: InngestEnvOpt = None,
    retries: RetriesOpt = 5,
    timeout: TimeoutOpt = 10.0,
    env: EnvOpt = None,
    config: ConfigOpt = None,
) -> int:
    """Receive real Dodo deliveries: verify signatures, capture them, optionally forward them.

    Point a tunnel (ngrok, cloudflared) at it and add the tunnel's URL as a Dodo webhook
    endpoint. Ctrl-C finishes what is in flight and prints a summary.

    [bold]Examples[/bold]

      dodo-inngest listen --secret "$DODO_PAYMENTS_WEBHOOK_KEY" --capture deliveries.jsonl
      dodo-inngest listen --capture d.jsonl --forward -t payment.js --dev
    """
    import signal
    import threading

    from .capture import CaptureWriter, load_secret
    from .config import load_config
    from .errors import InputError
    from .forward import Forwarder, resolve_target
    from .listener import Listener, ListenerConfig
    from .plan import checks, load_transform
    from .render import ListenView, make_console
    from .replay import Relay

    settings = load_config(config)
    if forward and transform is None:
        raise InputError("--forward needs -t TRANSFORM", hint="add -t payment.js")
    signer = load_secret(secret) if secret else None
    choices = _choices(None, None, None, None, None, env, None)
    out = make_console()
    view = ListenView(out)
    forwarder = None
    relay = None
    if forward and transform is not None:
        target = resolve_target(url=url, event_key=event_key, base_url=base_url,
                                dev=True if dev else None, env=inngest_env)
        forwarder = Forwarder(timeout=timeout, retries=retries)
        relay = Relay(load_transform(transform, settings, choices), target, forwarder,
                      checks(settings, choices))
    writer = CaptureWriter(capture) if capture is not None else None
    listener = Listener(host, port, ListenerConfig(
        path=path if path.startswith("/") else "/" + path, signer=signer, capture=writer,
        relay=relay, ack_after_forward=ack_after_forward, body_limit=body_limit),
        view.add)
    stopped = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    listener.start()
    view.started(listener.address + listener.config.path, verified=signer is not None,
                 capture=capture, forwarding=relay.target.shown if relay else None)
    try:
        with view:
            while not stopped.wait(0.2):
                pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        listener.stop()
        if writer is not None:
            writer.close()
        if forwarder is not None:
            forwarder.close()
    view.summary()
    return ExitCode.OK


@app.command()
def replay(
    captures: Annotated[list[Path], typer.Argument(
        help="Capture files (.jsonl), payload files (.json), or folders of them.",
        show_default=False)],
    transform: Annotated[Path, typer.Option(
        "--transform", "-t", metavar="FILE", help="The Dodo transform.")],
    url: UrlOpt = None,
    event_key: EventKeyOpt = None,
    base_url: BaseUrlOpt = None,
    dev: DevOpt = False,
    inngest_env: InngestEnvOpt = None,
    secret: SecretOpt = None,
    allow_unverified: Annotated[bool, typer.Option(
        "--allow-unverified", help="With --secret: send deliveries that fail verification "
                                   "too.")] = False,
    event: Annotated[list[str] | None, typer.Option(
        "--event", metavar="GLOB", help="Only these Dodo event types, e.g. 'payment.*'.")]
    = None,
    since: Annotated[str | None, typer.Option(
        "--since", metavar="TIME", help="Only events at or after this Dodo event time "
                                        "(ISO-8601).")] = None,
    until: Annotated[str | None, typer.Option(
        "--until", metavar="TIME", help="Only events before this Dodo event time.")] = None,
    delivery_id: Annotated[list[str] | None, typer.Option(
        "--id", metavar="WEBHOOK_ID", help="Only this delivery (repeatable).")] = None,
    concurrency: Annotated[int, typer.Option(
        "--concurrency", metavar="N", min=1, max=64, help="Requests in flight.")] = 4,
    rate: Annotated[float | None, typer.Option(
        "--rate", metavar="N", min=0.01, help="At most N deliveries a second.")] = None,
    batch: Annotated[int, typer.Option(
        "--batch", metavar="N", min=1, max=5000,
        help="Deliveries per request, their events sent as one array (1: each alone, as "
             "Dodo does).")] = 20,
    state: Annotated[Path | None, typer.Option(
        "--state", metavar="FILE", help="The replay state file.",
        show_default="<capture>.state.jsonl")] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Send again what the state file says was delivered.")] = False,
    no_assign_id: Annotated[bool, typer.Option(
        "--no-assign-id", help="Do not give events without an id one derived from the "
                               "delivery.")] = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Transform and check; send nothing, record nothing.")] = False,
    retries: RetriesOpt = 5,
    timeout: TimeoutOpt = 10.0,
    ignore: IgnoreOpt = None,
    strict: StrictOpt = None,
    dodo_check: DodoCheckOpt = None,
    env: EnvOpt = None,
    config: ConfigOpt = None,
) -> int:
    """Replay captured deliveries through a transform to Inngest, exactly once per target.

    A state file records what each delivery did per target, so running again sends only
    what is not yet confirmed (Ctrl-C and crashes lose nothing); --force re-sends. Events
    without an id get one derived from the delivery, so Inngest de-duplicates them too.

    [bold]Examples[/bold]

      dodo-inngest replay deliveries.jsonl -t payment.js --dev
      dodo-inngest replay deliveries.jsonl -t payment.js --url "https://inn.gs/e/$KEY" \\
          --secret "$DODO_PAYMENTS_WEBHOOK_KEY" --event 'payment.*' --since 2026-03-01
    """
    import signal

    from .capture import count_deliveries, load_secret, parse_time, read_deliveries
    from .config import load_config
    from .errors import InputError
    from .forward import Forwarder, resolve_target
    from .plan import checks, load_transform
    from .render import ReplayView, make_console
    from .replay import Filters, Relay, Replay, StateFile, default_state_path

    settings = load_config(config)
    choices = _choices(ignore, strict, dodo_check, None, None, env, None)
    target = resolve_target(url=url, event_key=event_key, base_url=base_url,
                            dev=True if dev else None, env=inngest_env)
    try:
        window = (parse_time(since) if since else None, parse_time(until) if until else None)
    except ValueError:
        raise InputError(f"--since/--until: {since or until!r} is not an ISO-8601 time",
                         hint="e.g. 2026-03-01 or 2026-03-01T12:00:00Z") from None
    signer = load_secret(secret) if secret else None
    total = count_deliveries(captures)
    forwarder = None if dry_run else Forwarder(timeout=timeout, retries=retries)
    relay = Relay(load_transform(transform, settings, choices), target, forwarder,
                  checks(settings, choices), assign_id=not no_assign_id)
    state_file = None if dry_run else StateFile(state or default_state_path(captures))
    run = Replay(relay, state_file, Filters(tuple(event or ()), window[0], window[1],
                                            tuple(delivery_id or ())),
                 signer=signer, allow_unverified=allow_unverified, force=force,
                 concurrency=concurrency, rate=rate, batch=batch)
    interrupted = False

    def on_sigint(*_: object) -> None:
        nonlocal interrupted
        interrupted = True
        run.stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, on_sigint)
    view = ReplayView(make_console(), make_console(stderr=True), total, target.shown)
    try:
        with view:
            run.run(read_deliveries(captures), view.add)
    finally:
        signal.signal(signal.SIGINT, previous)
        if forwarder is not None:
            forwarder.close()
        if state_file is not None:
            state_file.close()
    view.summary(interrupted=interrupted)
    if interrupted:
        return ExitCode.INTERRUPTED
    return ExitCode.FAILED if view.counts["failed"] or view.counts["rejected"] \
        else ExitCode.OK


@app.command()
def verify(
    captures: Annotated[list[Path], typer.Argument(
        help="Capture files (.jsonl) or folders of them.", show_default=False)],
    secret: SecretOpt = None,
    tolerance: Annotated[float | None, typer.Option(
        "--tolerance", metavar="SECONDS", min=0,
        help="Also require the signature time within this many seconds of now (off: "
             "captures are old).")] = None,
    output_format: FormatOpt = Format.text,
) -> int:
    """Check the Standard Webhooks signatures of captured deliveries.

    [bold]Examples[/bold]

      dodo-inngest verify deliveries.jsonl --secret "$DODO_PAYMENTS_WEBHOOK_KEY"
    """
    from .capture import load_secret, verify_all
    from .errors import InputError
    from .render import make_console, print_json, verify_table

    if not secret:
        raise InputError("verify needs the webhook secret",
                         hint="--secret whsec_… or DODO_PAYMENTS_WEBHOOK_KEY")
    rows = verify_all(captures, load_secret(secret), tolerance_s=tolerance)
    counts = {key: sum(r["result"] == key for r in rows)
              for key in ("valid", "invalid", "unsigned", "unreadable")}
    out = make_console()
    if output_format is Format.json:
        print_json(out, {"version": 1, "ok": not counts["invalid"], "summary": counts,
                         "deliveries": rows})
    else:
        out.print(verify_table(rows))
        out.print(", ".join(f"{n} {k}" for k, n in counts.items()))
    return ExitCode.FAILED if counts["invalid"] else ExitCode.OK


@app.command()
def init(
    folder: Annotated[Path, typer.Argument(
        help="Where to write the starter project.", show_default=True)] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")]
    = False,
) -> None:
    """Start a project: corrected transforms, config, a snapshots folder and a CI workflow.

    The transforms send ts in milliseconds, an idempotency id and provider-prefixed names
    (dodo/payment.succeeded), and cancel the event types they do not handle.

    [bold]Examples[/bold]

      dodo-inngest init
      dodo-inngest init billing-events && cd billing-events && dodo-inngest test
    """
    from .render import make_console
    from .starter import NEXT_STEPS, write_starter

    written = write_starter(folder, force=force)
    out = make_console()
    for path in written:
        out.print(f"wrote {path}", soft_wrap=True, markup=False)
    out.print()
    out.print("Next:", soft_wrap=True)
    if folder.resolve() != Path.cwd().resolve():
        out.print(f"  cd {folder}", soft_wrap=True, markup=False)
    for step in NEXT_STEPS:
        out.print(f"  {step}", soft_wrap=True, markup=False)


samples_app = typer.Typer(
    cls=TyperGroup, no_args_is_help=True, rich_markup_mode="rich",
    help="The bundled Dodo payloads: one per event type, plus edge-case variants.")
app.add_typer(samples_app, name="samples")


@samples_app.command("list")
def samples_list() -> None:
    """List the bundled samples: event type, family, file, and what each is.

    [bold]Examples[/bold]

      dodo-inngest samples list
    """
    from .library import library_root, samples
    from .render import make_console, samples_tables
    from .sources import shown

    out = make_console()
    for index, table in enumerate(samples_tables(samples(), shown(library_root()))):
        if index:
            out.print()
        out.print(table)


@samples_app.command("show")
def samples_show(
    name: Annotated[str, typer.Argument(
        help="An event type (payment.succeeded) or a variant name.", show_default=False)],
    set_: Annotated[list[str] | None, typer.Option(
        "--set", metavar="PATH=VALUE",
        help="Change a field: a dotted path; the value is parsed as JSON when it is JSON.")]
    = None,
    dodo_check: DodoCheckOpt = None,
) -> None:
    """Print a bundled sample's body as JSON, optionally with fields changed.

    [bold]Examples[/bold]

      dodo-inngest samples show payment.succeeded
      dodo-inngest samples show payment.succeeded --set data.currency=JPY \\
          --set data.total_amount=5000
      dodo-inngest samples show dispute.opened > dispute.json
    """
    import json

    from .library import load
    from .pipeline import Checks, check_input
    from .render import findings_grid, make_console, print_json
    from .sources import parse_webhook

    body = load(name, set_ or ())
    print_json(make_console(), body)
    webhook = parse_webhook(json.dumps(body).encode(), source=name, name=name)
    findings = check_input(webhook, Checks(dodo_check=dodo_check is not False))
    if findings:
        make_console(stderr=True).print(findings_grid(findings))


@samples_app.command("export")
def samples_export(
    folder: Annotated[Path, typer.Argument(help="Where to write the files.", show_default=False)],
    event: Annotated[list[str] | None, typer.Option(
        "--event", metavar="GLOB", help="Only these event types, e.g. 'payment.*'.")] = None,
    variants: Annotated[bool, typer.Option(
        "--variants", help="Also write the edge-case variants (into FOLDER/variants).")]
    = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
) -> None:
    """Copy the bundled samples into a folder, to edit them or keep them with your tests.

    [bold]Examples[/bold]

      dodo-inngest samples export tests/webhooks
      dodo-inngest samples export tests/webhooks --event 'subscription.*' --variants
    """
    from .library import export
    from .render import make_console

    written = export(folder, events=event or (), variants=variants, force=force)
    make_console(stderr=True).print(f"wrote {len(written)} files to {folder}", soft_wrap=True)


schema_app = typer.Typer(
    cls=TyperGroup, no_args_is_help=True, rich_markup_mode="rich",
    help="JSON Schemas for the events your transforms send.")
app.add_typer(schema_app, name="schema")


@schema_app.command("infer")
def schema_infer(
    paths: Annotated[list[Path] | None, typer.Argument(
        help="Transforms (.js), payloads (.json) and folders of them.", show_default=False)]
    = None,
    schemas: Annotated[Path, typer.Option(
        "--schemas", metavar="DIR", help="Where to write DIR/<event name>.json.")]
    = Path("schemas"),
    transform: Annotated[list[Path] | None, typer.Option(
        "--transform", "-t", metavar="FILE", help="A transform (repeatable).")] = None,
    samples: Annotated[list[Path] | None, typer.Option(
        "--samples", "-s", metavar="PATH", help="A payload file or folder (repeatable).")]
    = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing schemas.")]
    = False,
    config: ConfigOpt = None,
) -> None:
    """Write a starting JSON Schema for the data of each event the transforms send now.

    Runs the same transforms × samples as `test`, and merges what each event name carried
    (types, and the fields present every time as required). Edit the result to taste.

    [bold]Examples[/bold]

      dodo-inngest schema infer --schemas schemas
      dodo-inngest schema infer -t payment.js -s samples/webhooks --schemas schemas
    """
    from .config import load_config
    from .pipeline import Checks, run_plan
    from .plan import test_plan
    from .render import make_console
    from .schemas import write_schemas

    settings = load_config(config)
    plan, webhooks = test_plan(settings, _choices(None, None, None, None, None, None, None),
                               paths=paths or (), transforms=transform or (),
                               samples=samples or ())
    results = run_plan(plan, webhooks, Checks(dodo_check=False))
    written = write_schemas(schemas, [r.request.payload for r in results
                                      if r.request is not None and r.status.value == "passed"],
                            force=force)
    err = make_console(stderr=True)
    for path in written:
        err.print(f"wrote {path}", soft_wrap=True, markup=False)


def main() -> None:
    """The console script's entry point."""
    app()

"""`dodo-inngest coverage`: every Dodo event type × every transform, and the fields they read."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
    IgnoreOpt,
    MemoryLimitOpt,
    PathsArg,
    StrictOpt,
    TimeLimitOpt,
    choices,
)


def coverage(
    paths: PathsArg = None,
    transform: Annotated[list[Path] | None, typer.Option(
        "--transform", "-t", metavar="FILE", help="A transform to map (repeatable).",
        show_default=False)] = None,
    samples: Annotated[list[str] | None, typer.Option(
        "--samples", "-s", metavar="PAYLOAD",
        help="Payloads to run each type on (a file, a folder, a bundled sample name); types "
             "without one use the bundled sample.", show_default=False)] = None,
    event: EventGlobOpt = None,
    fields: Annotated[bool, typer.Option(
        "--fields", help="Also list the payload fields each transform reads per event type, "
                         "and whether it survives the nullable and optional ones being null "
                         "or absent.")] = False,
    fail_on_unhandled: FailOnUnhandledOpt = False,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="Show only the summary line (and the exit code).")] = False,
    output_format: FormatOpt = Format.text,
    ignore: IgnoreOpt = None,
    strict: StrictOpt = None,
    dodo_check: DodoCheckOpt = None,
    time_limit: TimeLimitOpt = None,
    memory_limit: MemoryLimitOpt = None,
    env: EnvOpt = None,
    endpoint_url: EndpointOpt = None,
    config: ConfigOpt = None,
) -> int:
    """Map every Dodo event type the installed SDK knows × every transform.

    Each cell says what the transform does with the type's sample: sent (as which Inngest
    event), cancelled, passthrough (sent raw: Inngest rejects it), error, filtered (its
    configured events exclude the type), or no sample. Types no transform sends are listed;
    declare the ones you skip on purpose with ignore-events in the config.

    Examples:

    \b
      dodo-inngest coverage
      dodo-inngest coverage -t payment.js --fields --event 'payment.*'
      dodo-inngest coverage --fail-on-unhandled --format json
    """
    from ..config import load_config
    from ..coverage import coverage_map
    from ..plan import checks, plan_tests
    from .coverage_view import coverage_line, print_coverage, report_unhandled
    from .output import Output

    config_ = load_config(config)
    chosen = choices(ignore=ignore, strict=strict, dodo_check=dodo_check, time_limit=time_limit,
                     memory_limit=memory_limit, env=env, endpoint_url=endpoint_url)
    plan, webhooks = plan_tests(config_, chosen, paths=paths or (), transforms=transform or (),
                                samples=samples or ())
    found = coverage_map(plan, webhooks, checks(config_, chosen),
                         ignore=config_.settings.ignore_events, events=event or (),
                         fields=fields)
    output = Output()
    if output_format is Format.json:
        output.report(found.to_json())
    elif quiet:
        output.out.print(coverage_line(found), soft_wrap=True)
    else:
        print_coverage(output, found, fields=fields)
    failed = report_unhandled(output, found, fail_on_unhandled=fail_on_unhandled)
    return ExitCode.FAILED if failed else ExitCode.OK


def register(app: typer.Typer) -> None:
    """Add the coverage command to the app."""
    app.command(cls=Command, short_help="Map every Dodo event type × every transform.")(
        coverage)

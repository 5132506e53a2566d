"""Commands about the project and the tool: `init`, `samples`, `rules`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .options import Command, DodoCheckOpt, EventGlobOpt


def init(
    folder: Annotated[Path, typer.Argument(
        metavar="DIR", help="Where to write the starter project (default: here).",
        show_default=False)] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")]
    = False,
) -> None:
    """Start a project: corrected transforms, config, a snapshots folder and a CI workflow.

    The transforms send ts in milliseconds, an idempotency id and provider-prefixed names
    (dodo/payment.succeeded), and cancel the event types they do not handle. The workflow
    installs dodo-inngest the way this copy was installed (a version, or a git URL at its
    commit); a copy from a local folder or file gets an install step marked EDIT.

    Examples:

    \b
      dodo-inngest init
      dodo-inngest init billing-events && cd billing-events && dodo-inngest test
    """
    from ..install import current
    from ..starter import NEXT_STEPS, WORKFLOW_PATH, write_starter
    from .output import Output, text

    install = current()
    written, root = write_starter(folder, install, force=force)
    output = Output()
    out = output.out
    for path in written:
        out.print(text(f"wrote {path}"), soft_wrap=True)
    workflow = folder / WORKFLOW_PATH
    if root is not None:
        output.warning(f"GitHub reads workflows only at the repository's root: move {workflow} "
                       f"to {root / WORKFLOW_PATH} (it runs in {folder} as written)")
    if install.requirement is None:
        output.warning(f"{install.explain()}, which CI cannot install from: edit the install "
                       f"step of {workflow} (README: Install)")
    out.print()
    out.print("Next:", soft_wrap=True)
    if folder.resolve() != Path.cwd().resolve():
        out.print(text(f"  cd {folder}"), soft_wrap=True)
    for step in NEXT_STEPS:
        out.print(text(f"  {step}"), soft_wrap=True)


def samples_list() -> None:
    """List the bundled samples: event type, family, file, and what each is.

    Examples:

    \b
      dodo-inngest samples list
    """
    from ..library import library_root, samples
    from ..sources import shown
    from .output import Output
    from .render import print_samples

    print_samples(Output().out, samples(), shown(library_root()))


def samples_show(
    name: Annotated[str, typer.Argument(
        metavar="NAME", help="An event type (payment.succeeded) or a variant name.",
        show_default=False)],
    set_: Annotated[list[str] | None, typer.Option(
        "--set", metavar="PATH=VALUE",
        help="Change a field: a dotted path; the value is parsed as JSON when it is JSON.",
        show_default=False)] = None,
    dodo_check: DodoCheckOpt = None,
) -> None:
    """Print a bundled sample's body as JSON, optionally with fields changed.

    Examples:

    \b
      dodo-inngest samples show payment.succeeded
      dodo-inngest samples show payment.succeeded --set data.currency=JPY \\
          --set data.total_amount=5000
      dodo-inngest samples show dispute.opened > dispute.json
    """
    from .. import jsonio
    from ..library import load
    from ..pipeline import Checks, check_input
    from ..sources import parse_webhook
    from .output import Output
    from .render import print_findings

    body = load(name, set_ or ())
    output = Output()
    output.json(body)
    webhook = parse_webhook(jsonio.encode(body), source=name, name=name)
    findings = check_input(webhook, Checks(dodo_check=dodo_check is not False))
    if findings:
        print_findings(output.err, findings)


def samples_export(
    folder: Annotated[Path, typer.Argument(
        metavar="DIR", help="Where to write the files.", show_default=False)],
    event: EventGlobOpt = None,
    variants: Annotated[bool, typer.Option(
        "--variants", help="Also write the edge-case variants (into DIR/variants).")]
    = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
) -> None:
    """Copy the bundled samples into a folder, to edit them or keep them with your tests.

    Examples:

    \b
      dodo-inngest samples export tests/webhooks
      dodo-inngest samples export tests/webhooks --event 'subscription.*' --variants
    """
    from ..library import export
    from .output import Output, text

    written = export(folder, events=event or (), variants=variants, force=force)
    Output().err.print(text(f"wrote {len(written)} files to {folder}"), soft_wrap=True)


def rules(
    code: Annotated[str | None, typer.Argument(
        metavar="CODE", help="A rule code to explain, e.g. ts-in-seconds.",
        show_default=False)] = None,
) -> None:
    """List every rule, or explain one with an example of the fix.

    Examples:

    \b
      dodo-inngest rules
      dodo-inngest rules ts-in-seconds
    """
    from ..rules import RULES, check_codes
    from .output import Output
    from .render import print_rule, print_rules

    out = Output().out
    if code is None:
        print_rules(out, list(RULES.values()))
    else:
        check_codes([code])
        print_rule(out, RULES[code])


def register(app: typer.Typer) -> None:
    """Add the project commands to the app."""
    app.command(cls=Command, short_help="Start a project: transforms, config, CI workflow.")(
        init)
    samples = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                          help="The bundled Dodo payloads: one per event type, plus edge-case "
                               "variants.", short_help="The bundled Dodo payloads.")
    samples.command("list", cls=Command, short_help="List the bundled samples.")(samples_list)
    samples.command("show", cls=Command, short_help="Print a sample, fields changed.")(
        samples_show)
    samples.command("export", cls=Command, short_help="Copy the samples into a folder.")(
        samples_export)
    app.add_typer(samples, name="samples")
    app.command(cls=Command, short_help="List the rules, or explain one.")(rules)

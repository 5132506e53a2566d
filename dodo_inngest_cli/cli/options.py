"""Options shared by several commands, declared once; and the choices they make."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from typer._click import _textwrap
from typer.core import TyperArgument, TyperCommand

if TYPE_CHECKING:
    from typer import _click as click

    from ..plan import Choices


class _HelpWrapper(_textwrap.TextWrapper):
    """click's help wrapper, minus its habit of breaking words at hyphens and in the middle:
    option names (`--base-url`), header names and URLs in help are never cut."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("break_on_hyphens", False)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def _handle_long_word(self, reversed_chunks: list[str], cur_line: list[str], cur_len: int,
                          width: int) -> None:
        if not cur_line:  # longer than a whole line: it gets one to itself, uncut
            cur_line.append(reversed_chunks.pop())


_textwrap.TextWrapper = _HelpWrapper  # type: ignore[misc]


class Command(TyperCommand):
    """A command whose help names each argument by its metavar, with no Python type."""

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        for param in self.params:
            if isinstance(param, TyperArgument) and param.metavar:
                param.display_type_rich = _no_type  # type: ignore[method-assign]
        super().format_help(ctx, formatter)


def _no_type(ctx: object) -> str:
    return ""


class Format(str, enum.Enum):
    """Output formats of the commands that report on deliveries."""

    text = "text"
    json = "json"


PathsArg = Annotated[list[Path] | None, typer.Argument(
    metavar="PATH", help="Transforms (.js), payloads (.json) and folders of them.",
    show_default=False)]
FormatOpt = Annotated[Format, typer.Option(
    "--format", "-f", metavar="text|json", help="Output format.")]
IgnoreOpt = Annotated[list[str] | None, typer.Option(
    "--ignore", metavar="CODE", help="Drop findings with this rule code (repeatable).",
    show_default=False)]
StrictOpt = Annotated[bool | None, typer.Option(
    "--strict/--no-strict", help="Warnings fail too.", show_default=False)]
TimeLimitOpt = Annotated[float | None, typer.Option(
    "--time-limit", metavar="MS", help="Time limit per delivery in ms (default 100).",
    show_default=False)]
MemoryLimitOpt = Annotated[float | None, typer.Option(
    "--memory-limit", metavar="MIB", help="Memory limit per delivery in MiB (default 25).",
    show_default=False)]
EnvOpt = Annotated[list[str] | None, typer.Option(
    "--env", metavar="KEY=VALUE", help="A transformation variable, seen as webhook.env.KEY.",
    show_default=False)]
EndpointOpt = Annotated[str | None, typer.Option(
    "--endpoint-url", metavar="URL", help="The endpoint URL the transform sees as webhook.url.",
    show_default=False)]
DodoCheckOpt = Annotated[bool | None, typer.Option(
    "--dodo-check/--no-dodo-check",
    help="Validate payloads against the official Dodo models (default on).",
    show_default=False)]
UrlOpt = Annotated[str | None, typer.Option(
    "--url", metavar="URL", help="A full Event API URL, e.g. https://inn.gs/e/KEY.",
    show_default=False)]
EventKeyOpt = Annotated[str | None, typer.Option(
    "--event-key", metavar="KEY", help="The event key (env: INNGEST_EVENT_KEY).",
    show_default=False)]
BaseUrlOpt = Annotated[str | None, typer.Option(
    "--base-url", metavar="URL",
    help="The Event API origin (env: INNGEST_EVENT_API_BASE_URL, INNGEST_BASE_URL; default "
         "https://inn.gs).", show_default=False)]
DevOpt = Annotated[bool, typer.Option(
    "--dev", help="Send to the Inngest Dev Server at http://127.0.0.1:8288, which accepts any "
                  "key (env: INNGEST_DEV); --base-url picks another.")]
InngestEnvOpt = Annotated[str | None, typer.Option(
    "--inngest-env", metavar="NAME",
    help="The branch environment, sent as x-inngest-env (env: INNGEST_ENV).",
    show_default=False)]
RetriesOpt = Annotated[int, typer.Option(
    "--retries", metavar="N", help="Retries for network errors, 5xx and 429, with backoff.")]
TimeoutOpt = Annotated[float, typer.Option(
    "--timeout", metavar="SECONDS", help="Timeout per HTTP attempt.")]
SecretOpt = Annotated[str | None, typer.Option(
    "--secret", metavar="WHSEC", envvar="DODO_PAYMENTS_WEBHOOK_KEY", show_envvar=False,
    help="Dodo's webhook signing secret, the whsec_ key (better: set "
         "DODO_PAYMENTS_WEBHOOK_KEY, which other users cannot see in the process list); never "
         "printed.", show_default=False)]
FuzzOpt = Annotated[int, typer.Option(
    "--fuzz", metavar="N",
    help="Also run N generated payloads (valid under the official Dodo models) per event "
         "type each transform handles.")]
SeedOpt = Annotated[int, typer.Option(
    "--seed", metavar="N", help="The fuzzing seed: the same seed, the same payloads.")]
SaveFailuresOpt = Annotated[Path | None, typer.Option(
    "--save-failures", metavar="DIR",
    help="Save each minimal failing payload as a sample file in DIR.", show_default=False)]
ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", metavar="FILE",
    help="The config file (default: dodo-inngest.toml or pyproject.toml, found upward).",
    show_default=False)]
FailOnUnhandledOpt = Annotated[bool, typer.Option(
    "--fail-on-unhandled",
    help="Exit 1 when an event type the Dodo SDK knows is neither sent by a transform nor "
         "declared in ignore-events (config).")]
WatchOpt = Annotated[bool, typer.Option(
    "--watch", "-w", help="Keep running: on every save, re-run what the change affects "
                          "(transforms, samples, config, snapshots, schemas, triggers); "
                          "Ctrl-C stops.")]
FunctionsOpt = Annotated[list[str] | None, typer.Option(
    "--functions", metavar="TARGET",
    help="Run the project's own Inngest functions on each event: a Python module:attribute "
         "(a client, a function or a list of them) or a .js/.ts file exporting functions "
         "(repeatable; config: [functions] targets). They run as your own code, like your "
         "tests.", show_default=False)]
PythonOpt = Annotated[str | None, typer.Option(
    "--python", metavar="PATH",
    help="The Python that runs Python --functions targets (default: the one running "
         "dodo-inngest; config: [functions] python).", show_default=False)]
EventGlobOpt = Annotated[list[str] | None, typer.Option(
    "--event", metavar="GLOB", help="Only payloads of these Dodo event types, e.g. "
                                    "'payment.*' (repeatable).", show_default=False)]


def choices(*, ignore: Sequence[str] | None = None, strict: bool | None = None,
            dodo_check: bool | None = None, time_limit: float | None = None,
            memory_limit: float | None = None, env: Sequence[str] | None = None,
            endpoint_url: str | None = None) -> Choices:
    """What the command line chose; None leaves the config's value."""
    from ..plan import Choices

    return Choices(ignore=tuple(ignore or ()), strict=strict, dodo_check=dodo_check,
                   time_limit=time_limit, memory_limit=memory_limit, env=tuple(env or ()),
                   endpoint_url=endpoint_url)

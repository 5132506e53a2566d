"""The `dodo-inngest` command line: each command parses its options, calls the core, renders
the result, and returns the exit code the result gives.

`app` is assembled here from the command families (`check`, `coverage`, `deliver`, `project`);
this module
is also the one place that turns errors into a message, a hint and an exit code. Modules that
pull in QuickJS, httpx, the Dodo SDK or Hypothesis are imported inside the commands, so help
and `rules` start fast.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from .. import __version__
from ..errors import DodoInngestError, ExitCode
from . import check, coverage, deliver, project

DEBUG_ENV = "DODO_INNGEST_DEBUG"
GLOBAL_FLAGS = ("--debug", "--version")

HELP = """Test, check, send and replay Dodo Payments webhook transformations for Inngest.

Exit codes: 0 success; 1 checks failed or deliveries failed; 2 usage or input error; 130
interrupted. --debug and --version may also follow the command."""


class _Group(TyperGroup):
    """The one place that turns errors into a message, a hint and an exit code."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             windows_expand_args: bool = True, **extra: Any) -> Any:
        from ..redaction import reset

        reset()
        argv = list(sys.argv[1:] if args is None else args)
        debug_env = os.environ.get(DEBUG_ENV, "")
        argv, flags = _global_flags(argv)
        debug = "--debug" in flags or debug_env not in ("", "0")
        try:
            if "--version" in flags:
                typer.echo(f"dodo-inngest {__version__}")
                code: int = ExitCode.OK
            else:
                extra.setdefault("obj", {"debug": "--debug" in flags or debug_env == "1"})
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
                _error(plain_usage_error(exc.format_message()), f"see '{command} --help'")
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


def _global_flags(argv: list[str]) -> tuple[list[str], set[str]]:
    """The arguments without the global flags (wherever they stand before `--`), and them."""
    end = argv.index("--") if "--" in argv else len(argv)
    found = {a for a in argv[:end] if a in GLOBAL_FLAGS}
    return [a for i, a in enumerate(argv) if i >= end or a not in GLOBAL_FLAGS], found


_PYDANTIC = [
    (re.compile(r"Value error, (.*)"), r"\1"),
    (re.compile(r"Input should be greater than or equal to (\S+)"), r"must be at least \1"),
    (re.compile(r"Input should be less than or equal to (\S+)"), r"must be at most \1"),
    (re.compile(r"Input should be a valid (number|integer)[^.]*"), r"not \1"),
    (re.compile(r"Input should be a finite number"), "must be a finite number"),
]


def plain_usage_error(message: str) -> str:
    """A usage error in our words, not the parameter library's."""
    for pattern, replacement in _PYDANTIC:
        message = pattern.sub(replacement, message)
    message = re.sub(r"is not one of ((?:'[^']*'(?:, )?)+)",
                     lambda m: "is not one of " + m.group(1).replace("'", ""), message)
    return message.rstrip(".")


def _traceback(exc: BaseException) -> None:
    """The traceback on stderr, secrets masked."""
    import traceback

    from ..redaction import redact

    sys.stderr.write(redact("".join(traceback.format_exception(type(exc), exc,
                                                               exc.__traceback__))))


def _error(message: str, hint: str | None) -> None:
    from .output import Output

    Output().error(message, hint)


app = typer.Typer(cls=_Group, name="dodo-inngest", help=HELP, no_args_is_help=True,
                  pretty_exceptions_enable=False, rich_markup_mode=None,
                  context_settings={"help_option_names": ["-h", "--help"],
                                    "max_content_width": 100})


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", help="Show the version and exit.")]
    = False,
    debug: Annotated[bool, typer.Option("--debug",
                                        help="Show tracebacks for unexpected errors.")] = False,
) -> None:
    """Test, check, send and replay Dodo Payments webhook transformations for Inngest."""


for _family in (check, coverage, deliver, project):
    _family.register(app)


def main() -> None:
    """The console script's entry point."""
    app()

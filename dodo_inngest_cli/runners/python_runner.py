"""Runs a project's Inngest functions for dodo-inngest, in the project's own interpreter.

Started by path (`python python_runner.py`), so that interpreter needs the `inngest` SDK only,
not dodo-inngest. It speaks JSON lines: one request a line on stdin, one answer a line on
stdout, each answer behind a marker. The functions run with the SDK's
`inngest.experimental.mocked.trigger`, one at a time, once each (no retries). What they print
is captured per run; anything written to the real stdout at any time goes to stderr instead,
so it can never corrupt an answer, and nothing can read the requests.

Requests and answers:

    {"op": "load", "root": DIR, "targets": ["app:client", ...]}
      → {"ok": true, "functions": [{"id", "name", "target", "triggers": [{"event",
         "expression"}], "crons", "file", "line"}]}
      → {"ok": false, "target", "problem": "sdk" | "sdk-version" | "import" | "attribute" |
         "type" | "empty", "module", "attribute", "kind", "error"}
    {"op": "run", "index": N, "event": {...}, "steps": {step id: stub}}
      → {"ok": true, "output", "error": null | {"message", "frames": [{"file", "line",
         "function", "code"}]}, "printed": [...], "stubbed": [step ids]}
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import io
import json
import os
import re
import sys
import traceback
from collections.abc import Callable
from typing import Any, TextIO

MARK = "\x1edodo-inngest "
"""What starts every answer line (the parent ignores any other line)."""
PRINTED_LIMIT = 65536
"""Characters of a run's printed output kept."""
UNSTUBBED = re.compile(r"step (.+) is not stubbed")
"""The message of the SDK's UnstubbedStepError, which names the step it met."""


class Capture(io.TextIOBase):
    """A text stream that keeps what is written to it, up to PRINTED_LIMIT characters."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0

    def write(self, text: str) -> int:
        """Keep the text (the first PRINTED_LIMIT characters of a run)."""
        if self.size < PRINTED_LIMIT:
            self.parts.append(text[:PRINTED_LIMIT - self.size])
        self.size += len(text)
        return len(text)

    def lines(self) -> list[str]:
        """What was written, line by line."""
        text = "".join(self.parts)
        if self.size > PRINTED_LIMIT:
            text += f"\n… ({self.size - PRINTED_LIMIT} more characters)"
        return text.splitlines()


def last_line(exc: BaseException) -> str:
    """The exception as the last line of its traceback: `KeyError: 'amount'`."""
    return traceback.format_exception_only(type(exc), exc)[-1].strip()


def own(filename: str, root: str) -> bool:
    """Whether a traceback frame is in the project's own code (not the SDK, not a library)."""
    path = os.path.abspath(filename)
    parts = path.split(os.sep)
    return path.startswith(root + os.sep) and "site-packages" not in parts \
        and "dist-packages" not in parts and path != os.path.abspath(__file__)


class Runner:
    """The loaded functions and how to run one."""

    def __init__(self) -> None:
        self.functions: list[Any] = []
        self.root = ""
        self.client: Any = None
        """The SDK's mock client, made on loading."""

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        """Answer one request."""
        if request["op"] == "load":
            return self.load(request["root"], request["targets"])
        return self.run(request["index"], request["event"], request["steps"])

    def load(self, root: str, targets: list[str]) -> dict[str, Any]:
        """Import each target and list the functions it names."""
        self.root = os.path.abspath(root)
        if self.root not in sys.path:
            sys.path.insert(0, self.root)
        try:
            import inngest
        except ImportError as exc:
            return {"ok": False, "target": targets[0], "problem": "sdk",
                    "error": last_line(exc)}
        try:
            from inngest.experimental import mocked
        except ImportError as exc:
            return {"ok": False, "target": targets[0], "problem": "sdk-version",
                    "error": last_line(exc)}
        self.client = mocked.Inngest(app_id="dodo-inngest", is_production=False)
        found: list[Any] = []
        for target in targets:
            module_name, _, attribute = target.partition(":")
            try:
                module = importlib.import_module(module_name)
            except BaseException as exc:  # SystemExit at import included
                return {"ok": False, "target": target, "problem": "import",
                        "module": module_name, "error": last_line(exc)}
            value: Any = module
            for name in attribute.split("."):
                if not hasattr(value, name):
                    return {"ok": False, "target": target, "problem": "attribute",
                            "module": module_name, "attribute": attribute}
                value = getattr(value, name)
            if isinstance(value, inngest.Function):
                named = [value]
            elif isinstance(value, inngest.Inngest):
                named = self.made_with(value, inngest.Function)
            elif isinstance(value, (list, tuple)) and all(
                    isinstance(item, inngest.Function) for item in value):
                named = list(value)
            else:
                strays = [item for item in value if not isinstance(item, inngest.Function)] \
                    if isinstance(value, (list, tuple)) else [value]
                kind = type(strays[0]).__name__
                return {"ok": False, "target": target, "problem": "type",
                        "attribute": attribute,
                        "kind": f"list holding a {kind}" if strays[0] is not value else kind}
            if not named:
                return {"ok": False, "target": target, "problem": "empty",
                        "kind": "client" if isinstance(value, inngest.Inngest) else "list"}
            found += [(target, fn) for fn in named if all(fn is not f for _, f in found)]
        self.functions = [fn for _, fn in found]
        return {"ok": True, "functions": [describe(target, fn) for target, fn in found]}

    def made_with(self, client: Any, function_type: Any) -> list[Any]:
        """The functions made with a client in the project's modules imported so far."""
        prefix = f"{client.app_id}-"
        functions: list[Any] = []
        for module in list(sys.modules.values()):
            filename = getattr(module, "__file__", None)
            if not filename or not own(filename, self.root):
                continue
            for value in list(vars(module).values()):
                if isinstance(value, function_type) and value.id.startswith(prefix) and all(
                        value is not fn for fn in functions):
                    functions.append(value)
        return functions

    def run(self, index: int, event: dict[str, Any], steps: dict[str, Any]) -> dict[str, Any]:
        """Run one function once on one event; waits and invokes with no stub get null."""
        import inngest
        from inngest.experimental import mocked
        from inngest.experimental.mocked.errors import UnstubbedStepError

        function = self.functions[index]
        once = copy.copy(function)  # the SDK retries a failure 4 times; run it once
        once._opts = function._opts.model_copy(update={"retries": 0})
        client = self.client
        fields = {key: event[key] for key in ("name", "data", "id", "ts")
                  if event.get(key) is not None}

        def trigger() -> Any:
            return mocked.trigger(once, inngest.Event(**fields), client, step_stubs=stubs)

        stubs: dict[str, object] = dict(steps)
        stubbed: list[str] = []
        output: Any = None
        error: BaseException | None = None
        while True:  # again from the start, each time a wait or an invoke has no stub
            printed = Capture()
            try:
                result = captured(printed, trigger)
                output, error = result.output, result.error
            except UnstubbedStepError as exc:
                step = UNSTUBBED.fullmatch(str(exc))
                if step is not None and step.group(1) not in stubs:
                    stubs[step.group(1)] = mocked.Timeout
                    stubbed.append(step.group(1))
                    continue
                error = exc
            except (Exception, SystemExit) as exc:  # the user's code: any failure is reported
                error = exc
            break
        if error is None:
            try:
                json.dumps(output)
            except (TypeError, ValueError) as exc:  # what the SDK does before answering
                error, output = type(exc)(f"returned unserializable data: {exc}"), None
        return {"ok": True, "output": output,
                "error": None if error is None else self.error(error),
                "printed": printed.lines(), "stubbed": stubbed}

    def error(self, exc: BaseException) -> dict[str, Any]:
        """The exception's last line and the frames of the project's own code."""
        frames = [frame for frame in traceback.extract_tb(exc.__traceback__)
                  if own(frame.filename, self.root)]
        return {"message": last_line(exc),
                "frames": [{"file": os.path.abspath(frame.filename), "line": frame.lineno,
                            "function": frame.name, "code": (frame.line or "").strip()}
                           for frame in frames]}


def describe(target: str, function: Any) -> dict[str, Any]:
    """One function: its id, name, triggers and where it is defined."""
    triggers = function.get_config("http://localhost").main.triggers
    handler = getattr(function, "_handler", None)
    code = getattr(handler, "__code__", None)
    return {"id": function.local_id, "name": function.name, "target": target,
            "triggers": [{"event": t.event, "expression": t.expression}
                         for t in triggers if hasattr(t, "event")],
            "crons": [t.cron for t in triggers if hasattr(t, "cron")],
            "file": os.path.abspath(code.co_filename) if code else None,
            "line": code.co_firstlineno if code else None}


def captured(printed: Capture, call: Callable[[], Any]) -> Any:
    """Call with stdout and stderr captured."""
    saved = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = printed
    try:
        return call()
    finally:
        sys.stdout, sys.stderr = saved


def main() -> None:
    """Serve requests until stdin closes."""
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    requests: TextIO = os.fdopen(os.dup(0), "r", encoding="utf-8")
    os.dup2(2, 1)  # a stray write to stdout, from any code at any time, lands on stderr
    nothing = os.open(os.devnull, os.O_RDONLY)
    os.dup2(nothing, 0)
    os.close(nothing)
    sys.stdout = sys.stderr
    sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115 - for the process's life
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    runner = Runner()
    for line in requests:
        answers.write(MARK + json.dumps(runner.handle(json.loads(line))) + "\n")
        answers.flush()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()

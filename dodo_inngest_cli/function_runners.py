"""The processes that run a project's Inngest functions: how each is launched, and talking to
it.

Python targets (`module:attribute`) run in `runners/python_runner.py` under the interpreter
running dodo-inngest, or the one `--python` names; JavaScript and TypeScript files run in
`runners/node_runner.mjs` under Node with the project's `@inngest/test` (and `tsx` for
TypeScript), found in the `node_modules` folders above the file. One process per runtime and
project for a whole run; requests and answers are JSON lines. A request that overruns its
time limit kills the process, and the next request starts a fresh one, so a function that
hangs costs its own run only.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from .errors import InputError

RUNNERS = Path(__file__).resolve().parent / "runners"
MARK = "\x1edodo-inngest "
"""What starts an answer line; any other line on a runner's stdout is ignored."""
JS_SUFFIXES = (".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts", ".tsx")
TS_SUFFIXES = (".ts", ".mts", ".cts", ".tsx")
LOAD_SECONDS = 60.0
"""How long importing the targets may take."""
STDERR_KEPT = 20
"""Lines of a runner's stderr kept to explain why it stopped."""


@dataclasses.dataclass(frozen=True)
class Launch:
    """How to start one runner, and the targets it loads."""

    runtime: str
    """python or node."""
    command: tuple[str, ...]
    cwd: Path
    targets: tuple[str, ...]
    """What the runner is asked to load: module:attribute, or absolute file paths."""
    shown: tuple[str, ...]
    """The targets as the user wrote them, for messages."""


class RunnerStopped(Exception):
    """The runner did not answer: it ran past the time limit (and was stopped), or exited."""

    def __init__(self, timed_out: bool, detail: str) -> None:
        super().__init__(detail)
        self.timed_out = timed_out
        self.detail = detail


def is_js(target: str) -> bool:
    """Whether a target is a JavaScript or TypeScript file (else a Python module:attribute)."""
    return target.lower().endswith(JS_SUFFIXES)


def launches(targets: Sequence[tuple[str, Path | None]], *, root: Path,
             python: str | None) -> list[Launch]:
    """The runners for the targets: one Python runner for every module:attribute, one Node
    runner per project for the files. Each target is (as written, its file when it is one).
    Problems that can be seen before starting anything are InputErrors with the fix."""
    found: list[Launch] = []
    modules = [shown for shown, file in targets if file is None]
    for shown in modules:
        module, sep, attribute = shown.partition(":")
        if not (sep and module and attribute):
            raise InputError(f"--functions {shown}: expected module:attribute (Python) or a "
                             ".js/.ts file",
                             hint="e.g. --functions app.inngest:client or --functions "
                                  "src/inngest/functions.ts")
    if modules:
        found.append(Launch("python", (interpreter(python), str(RUNNERS / "python_runner.py")),
                            root, tuple(modules), tuple(modules)))
    projects: dict[Path, list[tuple[str, Path]]] = {}
    files = [(shown, file) for shown, file in targets if file is not None]
    if files and shutil.which("node") is None:
        shown, file = files[0]
        tsx = " tsx" if file.suffix.lower() in TS_SUFFIXES else ""
        raise InputError(f"{shown}: running JavaScript functions needs Node.js, and 'node' is "
                         "not on PATH",
                         hint="install Node.js 20 or later (https://nodejs.org), then in "
                              f"{_package_folder(file)}: npm install --save-dev inngest "
                              f"@inngest/test{tsx}")
    for shown, file in files:
        if not file.is_file():
            raise InputError(f"{shown}: no such file",
                             hint="name a .js or .ts file that exports Inngest functions")
        project = _installed(file, "@inngest/test")
        if project is None:
            raise InputError(f"{shown}: @inngest/test is not installed (no "
                             f"node_modules/@inngest/test above {file.resolve().parent})",
                             hint=f"in {_package_folder(file)}: npm install --save-dev "
                                  "@inngest/test")
        if file.suffix.lower() in TS_SUFFIXES and not (project / "node_modules" / "tsx").is_dir():
            raise InputError(f"{shown}: TypeScript needs tsx, which is not installed in "
                             f"{project}", hint=f"in {project}: npm install --save-dev tsx")
        projects.setdefault(project, []).append((shown, file))
    node = shutil.which("node") or "node"
    for project, members in projects.items():
        typescript = any(file.suffix.lower() in TS_SUFFIXES for _, file in members)
        command = (node, *(("--import", "tsx") if typescript else ()),
                   str(RUNNERS / "node_runner.mjs"))
        found.append(Launch("node", command, project, tuple(str(f.resolve()) for _, f in members),
                            tuple(shown for shown, _ in members)))
    return found


def interpreter(python: str | None) -> str:
    """The Python that runs Python targets: --python's, else the one running dodo-inngest."""
    if python is None:
        return sys.executable
    found = shutil.which(python)
    if found is None:
        raise InputError(f"--python {python}: no such interpreter",
                         hint="the project's own Python, e.g. .venv/bin/python")
    return found


def _installed(file: Path, package: str) -> Path | None:
    """The nearest folder above the file whose node_modules holds the package."""
    for folder in file.resolve().parents:
        if (folder / "node_modules" / package / "package.json").is_file():
            return folder
    return None


def _package_folder(file: Path) -> Path:
    """The nearest folder above the file with a package.json, else the file's own folder."""
    for folder in file.resolve().parents:
        if (folder / "package.json").is_file():
            return folder
    return file.resolve().parent


class RunnerProcess:
    """One runner process: started on first use, asked one request at a time, and started
    again (loading the same targets) after it was stopped or exited."""

    def __init__(self, launch: Launch, root: Path) -> None:
        self.launch = launch
        self.root = root
        self.process: subprocess.Popen[bytes] | None = None
        self.answers: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.stderr: collections.deque[str] = collections.deque(maxlen=STDERR_KEPT)
        self.stderr_reader: threading.Thread | None = None

    def load(self) -> dict[str, Any]:
        """Start the runner and load the targets; the runner's answer."""
        self._start()
        return self._ask({"op": "load", "root": str(self.root),
                          "targets": list(self.launch.targets)}, LOAD_SECONDS)

    def ensure_loaded(self) -> None:
        """Start the runner again if it was stopped (its time does not count for a run)."""
        if self.process is not None:
            return
        try:
            answer = self.load()
        except RunnerStopped:
            return  # run() says so
        if not answer.get("ok"):
            self._kill()

    def run(self, index: int, event: Any, steps: dict[str, Any],
            seconds: float) -> dict[str, Any]:
        """Run the function at index on the event; RunnerStopped when it does not answer."""
        if self.process is None:
            raise RunnerStopped(False, f"the {self.launch.runtime} runner could not start "
                                       "again after the last run")
        return self._ask({"op": "run", "index": index, "event": event, "steps": steps},
                         seconds)

    def close(self) -> None:
        """End the runner: stdin closed, then stopped if it does not exit at once."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        try:
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _start(self) -> None:
        self.answers = queue.Queue()
        self.stderr.clear()
        try:
            self.process = subprocess.Popen(
                self.launch.command, cwd=self.launch.cwd, stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))
        except OSError as exc:
            raise InputError(f"{self.launch.command[0]}: cannot start: "
                             f"{exc.strerror or exc}") from None
        assert self.process.stdout is not None and self.process.stderr is not None
        threading.Thread(target=_read_answers, args=(self.process.stdout, self.answers),
                         daemon=True).start()
        self.stderr_reader = threading.Thread(target=_read_lines,
                                              args=(self.process.stderr, self.stderr),
                                              daemon=True)
        self.stderr_reader.start()

    def _ask(self, request: dict[str, Any], seconds: float) -> dict[str, Any]:
        process = self.process
        assert process is not None and process.stdin is not None
        self.stderr.clear()  # what it says while answering this request explains an exit
        try:
            process.stdin.write(json.dumps(request).encode("utf-8") + b"\n")
            process.stdin.flush()
            answer = self.answers.get(timeout=seconds)
        except queue.Empty:
            self._kill()
            raise RunnerStopped(True, f"no answer within {seconds:g} s") from None
        except OSError:
            answer = None
        if answer is None:
            self._kill()
            if self.stderr_reader is not None:
                self.stderr_reader.join(timeout=1)
            code = process.returncode
            said = next((line for line in reversed(self.stderr) if line.strip()), "")
            raise RunnerStopped(False, f"the {self.launch.runtime} runner exited"
                                       + (f" with code {code}" if code is not None else "")
                                       + (f": {said}" if said else ""))
        return answer

    def _kill(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            process.kill()
            process.wait()


def _read_answers(stream: IO[bytes], answers: queue.Queue[dict[str, Any] | None]) -> None:
    """Put each answer line on the queue, then None at the end of the stream."""
    for raw in stream:
        line = raw.decode("utf-8", "replace")
        if line.startswith(MARK):
            answers.put(json.loads(line[len(MARK):]))
    answers.put(None)


def _read_lines(stream: IO[bytes], kept: collections.deque[str]) -> None:
    """Keep the last lines of a stream (a runner's stderr), so it never fills up."""
    for raw in stream:
        kept.append(raw.decode("utf-8", "replace").rstrip())

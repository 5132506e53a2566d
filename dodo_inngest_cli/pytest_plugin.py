"""The pytest plugin: each configured transform × sample as a test item, and the
`dodo_transform` fixture for Python tests that need a transform's output.

pytest loads it wherever dodo-inngest is installed (the `pytest11` entry point), so it stays
inert unless asked: it collects nothing without `pytest --dodo-inngest` (or `dodo_inngest =
true` in the pytest configuration), and imports the rest of dodo-inngest only when a pair runs
or the fixture is used.

Items are the transform files themselves: `transforms/payment.js::payment.succeeded`, so `-k`,
`-x`, `--lf` and parallel runs (pytest-xdist) work as with any test. A pair fails when `test`
would fail it: its status and error codes, then the findings as `test`'s text report shows
them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

if TYPE_CHECKING:
    from _pytest._code.code import TerminalRepr

    from .config import Config
    from .errors import DodoInngestError
    from .models import Result, Webhook
    from .pipeline import Checks, Expectations, Planned
    from .rules import Finding

PLUGIN_NAME = "dodo-inngest-pairs"


def pytest_addoption(parser: pytest.Parser) -> None:
    """The plugin's options and ini settings."""
    group = parser.getgroup("dodo-inngest", "Dodo Payments → Inngest transformations")
    group.addoption("--dodo-inngest", action="store_true", default=False,
                    help="Test each transform × sample of the dodo-inngest config "
                         "(ini: dodo_inngest = true).")
    group.addoption("--dodo-inngest-update-snapshots", action="store_true", default=False,
                    help="Write new and changed dodo-inngest snapshots.")
    group.addoption("--dodo-inngest-config", metavar="FILE", default=None,
                    help="The dodo-inngest config file (default: dodo-inngest.toml or "
                         "pyproject.toml, found upward from where pytest runs).")
    parser.addini("dodo_inngest", type="bool", default=False,
                  help="Test each transform × sample of the dodo-inngest config.")
    parser.addini("dodo_inngest_config", default="",
                  help="The dodo-inngest config file, relative to the rootdir.")


def pytest_configure(config: pytest.Config) -> None:
    """When asked, load the dodo-inngest config and collect its transforms."""
    if not (config.getoption("dodo_inngest") or config.getini("dodo_inngest")):
        return
    pairs = Pairs(_tool_config(config),
                  update=bool(config.getoption("dodo_inngest_update_snapshots")))
    for path in pairs.transforms:
        if not path.is_file():
            raise pytest.UsageError(f"{path}: no such transform file (hint: check the path in "
                                    f"{pairs.config.source})")
    if not pairs.transforms:
        where = (f"{pairs.config.source} lists no transforms" if pairs.config.source else
                 f"no dodo-inngest config found upward from {config.rootpath}")
        raise pytest.UsageError(f"--dodo-inngest: {where} (hint: list them as [[transforms]] "
                                "in dodo-inngest.toml, or in [tool.dodo-inngest] of "
                                "pyproject.toml)")
    config.pluginmanager.register(pairs, PLUGIN_NAME)
    source = getattr(config, "args_source", None)  # pytest 7.4 and later
    if source is None or source.name != "ARGS":
        # testpaths (or the invocation folder) may not reach the transforms: add them.
        covered = [Path(arg).resolve() for arg in config.args]
        config.args += [str(path) for path in pairs.transforms
                        if not any(path.is_relative_to(folder) for folder in covered)]


def _tool_config(config: pytest.Config) -> Config:
    """The dodo-inngest config: the option (from the invocation folder), the ini setting (from
    the rootdir), or the one found upward from the invocation folder, as the command line
    finds it (in a monorepo, the rootdir can be above the project)."""
    from .config import load_config
    from .errors import DodoInngestError

    option, ini = config.getoption("dodo_inngest_config"), config.getini("dodo_inngest_config")
    named = (config.invocation_params.dir / option if option else
             config.rootpath / ini if ini else None)
    try:
        return load_config(named, start=config.invocation_params.dir)
    except DodoInngestError as exc:
        raise pytest.UsageError(_message(exc)) from None


def _message(exc: DodoInngestError) -> str:
    """A core error as one line: the message, then the hint."""
    return exc.message + (f" (hint: {exc.hint})" if exc.hint else "")


class Pairs:
    """The transforms and samples of the config, loaded once per run, and the checks that
    judge each pair."""

    def __init__(self, config: Config, *, update: bool) -> None:
        from .plan import Choices

        self.config = config
        self.update = update
        self.choices = Choices()
        self.transforms = [config.path(entry.file).resolve()
                           for entry in config.settings.transforms]
        self._webhooks: list[Webhook] | None = None
        self._judge: tuple[Checks, Expectations] | None = None
        self._inputs: dict[int, list[Finding]] = {}

    def pytest_collect_file(self, file_path: Path,
                            parent: pytest.Collector) -> TransformFile | None:
        """A configured transform file is a collector of its pairs."""
        if file_path.resolve() in self.transforms:
            return TransformFile.from_parent(parent, path=file_path)
        return None

    def planned(self, path: Path) -> Planned:
        """One transform with its event filter."""
        from .pipeline import Planned
        from .plan import event_filters, load_transform
        from .sources import shown

        return Planned(load_transform(shown(path), self.config, self.choices),
                       event_filters(self.config).get(path.resolve()))

    def webhooks(self) -> list[Webhook]:
        """The config's samples, or the bundled library."""
        if self._webhooks is None:
            from .plan import configured_webhooks, unique_names

            # same-named samples in two folders: two snapshots, as `test` keeps them
            self._webhooks = unique_names(configured_webhooks(self.config))
        return self._webhooks

    def judge(self) -> tuple[Checks, Expectations]:
        """The checks and expectations (snapshots, schemas, triggers) of the config."""
        if self._judge is None:
            from .plan import checks, expectations

            self._judge = (checks(self.config, self.choices),
                           expectations(self.config, update=self.update))
        return self._judge

    def run(self, planned: Planned, index: int) -> Result:
        """One pair, judged as `test` judges it."""
        from .pipeline import check_input, evaluate

        checks, expect = self.judge()
        webhook = self.webhooks()[index]
        if index not in self._inputs:
            self._inputs[index] = check_input(webhook, checks)
        return evaluate(planned.transform, webhook, checks, self._inputs[index], expect)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """The snapshots this run wrote or updated."""
        from .sources import shown

        store = self._judge[1].snapshots if self._judge is not None else None
        if store is None:
            return
        for path in store.written:
            terminalreporter.write_line(f"dodo-inngest: snapshot written: {shown(path)}")
        for path, _ in store.updated:
            terminalreporter.write_line(f"dodo-inngest: snapshot updated: {shown(path)}")


class TransformFile(pytest.File):
    """A configured transform: one item per sample its event filter lets through."""

    def collect(self) -> Iterator[PairItem]:
        """An item per pair, named by the sample (by its path when two share a name)."""
        from .errors import DodoInngestError

        pairs: Pairs = self.config.pluginmanager.getplugin(PLUGIN_NAME)
        try:
            planned = pairs.planned(self.path)
            webhooks = pairs.webhooks()
        except DodoInngestError as exc:
            raise self.CollectError(_message(exc)) from None
        names = [w.name for w in webhooks]
        for index, webhook in enumerate(webhooks):
            if planned.handles(webhook.event_type):
                name = webhook.name if names.count(webhook.name) == 1 else webhook.source
                yield PairItem.from_parent(self, name=name, planned=planned, index=index)


class PairFailed(Exception):
    """A pair that `test` would fail."""

    def __init__(self, result: Result) -> None:
        super().__init__(result.status.value)
        self.result = result


class PairItem(pytest.Item):
    """One transform × sample."""

    def __init__(self, *, planned: Planned, index: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.planned = planned
        self.index = index

    def runtest(self) -> None:
        """Run the pair; fail it as `test` would."""
        from .models import Status

        pairs: Pairs = self.config.pluginmanager.getplugin(PLUGIN_NAME)
        result = pairs.run(self.planned, self.index)
        if result.status in (Status.FAILED, Status.ERROR):
            raise PairFailed(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str | TerminalRepr:
        """The findings of a failed pair, as `test`'s text report shows them."""
        if isinstance(excinfo.value, PairFailed):
            from .report import result_details
            from .rules import Severity

            result = excinfo.value.result
            codes = " ".join(dict.fromkeys(f.code for f in result.findings
                                           if f.severity is Severity.ERROR))
            head = f"{result.status.value}: {codes or 'warnings (strict)'}"
            return head + "\n" + result_details(result)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        """Where the pair is: the transform file, and the pair's name."""
        return self.path, None, f"{self.planned.transform.path} × {self.name}"


class TransformRunner:
    """Runs one transform on a sample, as `dodo-inngest run` does, and returns the Result."""

    def __init__(self, planned: Planned, config: Config) -> None:
        self.planned = planned
        self.config = config

    def __call__(self, sample: str | Path | Mapping[str, Any], *,
                 overrides: Sequence[str] = ()) -> Result:
        """sample: a bundled sample name (payment.succeeded), a payload file, or a body as a
        dict; overrides: `PATH=VALUE` changes, as `--set` takes them (data.currency=JPY)."""
        from . import jsonio
        from .errors import DodoInngestError
        from .library import apply_overrides, load
        from .pipeline import evaluate
        from .plan import Choices, checks, is_sample_name, payloads
        from .sources import parse_webhook

        try:
            if isinstance(sample, Mapping):
                body, name = jsonio.loads(jsonio.dumps(dict(sample))), "dict"
            elif is_sample_name(sample):
                body, name = load(str(sample)), str(sample)
            else:
                found = payloads([sample])
                if len(found) != 1:
                    _fail(f"{sample}: holds {len(found)} payloads; a transform runs on one")
                body, name = found[0].payload, found[0].name
            apply_overrides(body, overrides)
            webhook = parse_webhook(jsonio.encode(body), source=name, name=name)
            return evaluate(self.planned.transform, webhook, checks(self.config, Choices()))
        except DodoInngestError as exc:
            _fail(_message(exc))


def _fail(message: str) -> NoReturn:
    pytest.fail(message, pytrace=False)


@pytest.fixture
def dodo_transform(request: pytest.FixtureRequest) -> Callable[[str | Path], TransformRunner]:
    """`dodo_transform("payment.js")`: a transform (a path from the rootdir or the config's
    folder, or the file name of a configured transform), as a function from a sample (a bundled
    sample name, a payload file or a dict, with `overrides=["data.currency=JPY"]`) to its
    Result: `.request` (method, url, headers, payload), `.findings`, `.status`, `.console`."""
    try:
        config = _tool_config(request.config)
    except pytest.UsageError as exc:  # a broken config fails the test that needs it, plainly
        _fail(str(exc))

    def load(name: str | Path) -> TransformRunner:
        from .errors import DodoInngestError
        from .pipeline import Planned
        from .plan import Choices, load_transform

        found = _transform_path(Path(name), config, request.config.rootpath)
        try:
            return TransformRunner(Planned(load_transform(found, config, Choices())), config)
        except DodoInngestError as exc:
            _fail(_message(exc))

    return load


def _transform_path(name: Path, config: Config, rootpath: Path) -> Path:
    for candidate in (config.root / name, rootpath / name):
        if candidate.is_file():
            return candidate
    named = [config.path(e.file) for e in config.settings.transforms
             if Path(e.file).name == name.name and len(name.parts) == 1]
    if len(named) == 1:
        return named[0]
    _fail(f"dodo_transform({str(name)!r}): no such file, and "
          + ("several configured transforms are named so" if named else
             "no configured transform is named so")
          + f" ({config.source or 'no dodo-inngest config found'})")

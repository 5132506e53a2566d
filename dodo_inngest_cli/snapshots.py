"""Golden snapshots of outgoing requests, compared structurally.

One readable JSON file per transform × sample holds the expected request (method, masked URL,
headers, payload; or `{"cancelled": true, …}`). A mismatch lists the JSON paths added, removed
and changed, old → new. Volatile values are excluded by JSON-pointer patterns (`*` stands for
one path segment).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from . import jsonio
from .errors import InputError
from .jsonio import pointer_parts, pointer_token, read_json_file
from .models import OutgoingRequest
from .redaction import redact
from .rules import Finding, finding

MISSING = object()


@dataclasses.dataclass(frozen=True)
class Change:
    """One difference: a JSON path, what happened there, and the values before and after."""

    path: str
    kind: str
    """added, removed or changed."""
    old: Any = None
    new: Any = None

    def to_json(self) -> dict[str, Any]:
        """The change as the JSON report shows it."""
        return {"path": self.path, "kind": self.kind, "old": self.old, "new": self.new}

    def __str__(self) -> str:
        if self.kind == "added":
            return f"+ {self.path}: {_short(self.new)}"
        if self.kind == "removed":
            return f"- {self.path}: {_short(self.old)}"
        return f"~ {self.path}: {_short(self.old)} → {_short(self.new)}"


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def diff(old: Any, new: Any, path: str = "") -> list[Change]:
    """Structural differences between two JSON values, in path order."""
    if isinstance(old, dict) and isinstance(new, dict):
        changes: list[Change] = []
        for key in sorted(set(old) | set(new)):
            where = f"{path}/{pointer_token(key)}"
            if key not in new:
                changes.append(Change(where, "removed", old[key], None))
            elif key not in old:
                changes.append(Change(where, "added", None, new[key]))
            else:
                changes += diff(old[key], new[key], where)
        return changes
    if isinstance(old, list) and isinstance(new, list):
        changes = []
        for index in range(max(len(old), len(new))):
            where = f"{path}/{index}"
            if index >= len(new):
                changes.append(Change(where, "removed", old[index], None))
            elif index >= len(old):
                changes.append(Change(where, "added", None, new[index]))
            else:
                changes += diff(old[index], new[index], where)
        return changes
    if old == new and type(old) is type(new):
        return []
    return [Change(path or "/", "changed", old, new)]


def without(document: Any, patterns: Iterable[str]) -> Any:
    """A copy of the document with the values at the pointer patterns removed."""
    copy = json.loads(json.dumps(document))
    for pattern in patterns:
        _drop(copy, pointer_parts(pattern))
    return copy


def _drop(node: Any, parts: list[str]) -> None:
    if not parts:
        return
    head, rest = parts[0], parts[1:]
    if isinstance(node, dict):
        keys = list(node) if head == "*" else [head] if head in node else []
        for key in keys:
            if rest:
                _drop(node[key], rest)
            else:
                del node[key]
    elif isinstance(node, list):
        indexes = range(len(node)) if head == "*" else \
            [int(head)] if head.isdigit() and int(head) < len(node) else []
        for index in reversed(list(indexes)):
            if rest:
                _drop(node[index], rest)
            else:
                node[index] = None


def document(request: OutgoingRequest | None, *, cancelled: bool,
             functions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """What a snapshot holds for one result: the request sent (and with functions what each
    function run on its events returned, --snapshot-functions), or, for a cancelled
    delivery, the verdict alone (not the input it was given)."""
    if cancelled or request is None:
        return {"cancelled": cancelled}
    whole = request.to_json()
    if functions is not None:
        whole["functions"] = functions
    stored: dict[str, Any] = jsonio.loads(redact(jsonio.dumps(whole)))
    return stored  # as written: secrets masked


@dataclasses.dataclass(frozen=True)
class Scope:
    """The transforms and samples a run covers: pruning and orphans stay inside it."""

    transforms: tuple[str, ...]
    samples: frozenset[str] | None
    """The samples run; None when the run took every sample it knows (no filter)."""
    all_transforms: bool
    """The run took every configured transform: a folder of one no longer configured is in
    scope too."""


@dataclasses.dataclass
class SnapshotStore:
    """A folder of snapshots: compare, write (in update mode), and find the unused ones."""

    root: Path
    update: bool = False
    ignore: tuple[str, ...] = ()
    used: set[Path] = dataclasses.field(default_factory=set)
    scope: Scope | None = None
    """Which snapshots this run answers for; None: every snapshot in the folder."""
    written: list[Path] = dataclasses.field(default_factory=list)
    updated: list[tuple[Path, list[Change]]] = dataclasses.field(default_factory=list)

    def path(self, transform: str, sample: str) -> Path:
        """The snapshot file of one transform × sample: DIR/<transform path>/<sample>.json."""
        stem = Path(transform).with_suffix("")
        parts = [p for p in stem.parts if p not in ("/", "..", ".")]
        return self.root.joinpath(*parts, f"{sample}.json")

    def check(self, transform: str, sample: str, current: dict[str, Any]) \
            -> tuple[list[Finding], list[Change]]:
        """Compare with the stored snapshot; in update mode, write it instead."""
        path = self.touch(transform, sample)
        stored = self._read(path)
        if stored is MISSING:
            if self.update:
                self._write(path, current)
                self.written.append(path)
                return [], []
            return [finding("snapshot-missing", f"no snapshot at {path}",
                            hint="record it with --update-snapshots")], []
        changes = diff(without(stored, self.ignore), without(current, self.ignore))
        if not changes:
            return [], []
        if self.update:
            self._write(path, current)
            self.updated.append((path, changes))
            return [], changes
        shown = "; ".join(str(change) for change in changes[:3])
        more = f" (+{len(changes) - 3} more)" if len(changes) > 3 else ""
        return [finding("snapshot-mismatch",
                        f"{len(changes)} difference{'s' if len(changes) != 1 else ''} from "
                        f"{path}: {shown}{more}",
                        hint="if the change is intended, run with --update-snapshots")], changes

    def report(self, orphans: list[Path], pruned: list[Path]) -> dict[str, Any]:
        """What this run did to the snapshots, for the JSON report."""
        return {"written": [str(p) for p in self.written],
                "updated": [{"path": str(p), "diff": [c.to_json() for c in changes]}
                            for p, changes in self.updated],
                "orphans": [str(p) for p in orphans], "pruned": [str(p) for p in pruned]}

    def touch(self, transform: str, sample: str) -> Path:
        """Mark a pair's snapshot as in use this run (even when it could not be compared)."""
        path = self.path(transform, sample)
        self.used.add(path.resolve())
        return path

    def orphans(self) -> list[Path]:
        """Snapshot files in this run's scope that no transform × sample matched."""
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.rglob("*.json")
                      if p.resolve() not in self.used and self._in_scope(p))

    def _in_scope(self, path: Path) -> bool:
        if self.scope is None:
            return True
        folder = path.parent.resolve()
        folders = {self.path(t, "x").parent.resolve() for t in self.scope.transforms}
        if folder not in folders and not self.scope.all_transforms:
            return False
        return self.scope.samples is None or path.stem in self.scope.samples

    def prune(self) -> list[Path]:
        """Delete the orphans; returns what was deleted."""
        gone = self.orphans()
        for path in gone:
            path.unlink()
        return gone

    def _read(self, path: Path) -> Any:
        if not path.exists():
            return MISSING
        return read_json_file(path, what="snapshot",
                              hint="fix it, or delete it and run with --update-snapshots")

    def _write(self, path: Path, current: dict[str, Any]) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(redact(jsonio.dumps(current, indent=2, sort_keys=True)) + "\n",
                            encoding="utf-8")
        except OSError as exc:
            raise InputError(f"{path}: cannot write: {exc.strerror}") from None

"""Writing files safely: append-only logs, and new files that are never silently overwritten."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TextIO

from .errors import InputError


def make_folder_for(path: Path, what: str, hint: str) -> None:
    """Create the folder a file goes in; a failure is an InputError saying why."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise InputError(f"{path}: cannot open the {what}: a part of its folder is a file",
                         hint=hint) from None
    except OSError as exc:
        raise InputError(f"{path}: cannot open the {what}: {exc.strerror}", hint=hint) \
            from None


def open_for_append(path: Path, what: str, hint: str) -> TextIO:
    """Open a file to append to, creating its folder; a new file is readable by its owner
    only (captures and state files hold customer data). A failure is an InputError saying
    why."""
    make_folder_for(path, what, hint)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    except OSError as exc:
        raise InputError(f"{path}: cannot open the {what}: {exc.strerror}", hint=hint) \
            from None
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):  # /dev/null, a pipe: no fsync, no size
        os.close(descriptor)
        raise InputError(f"{path}: the {what} must be a regular file, not a device or a pipe",
                         hint="name a file it can append to and sync, e.g. deliveries.jsonl")
    return os.fdopen(descriptor, "a", encoding="utf-8")


def ends_with_newline(path: Path) -> bool:
    """Whether a non-empty file's last byte is a line break (its last line is whole)."""
    with path.open("rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


def write_new_files(files: dict[Path, str | bytes], *, force: bool, hint: str) -> list[Path]:
    """Write every file, creating folders; if any exists and not force, write none."""
    existing = [path for path in files if path.exists()]
    if existing and not force:
        count = f" ({len(existing)} of the {len(files)} files do)" if len(files) > 1 else ""
        raise InputError(f"{existing[0]} exists{count}", hint=hint)
    try:
        for path, content in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
    except (FileExistsError, NotADirectoryError) as exc:
        raise InputError(f"{exc.filename}: cannot create this folder: a file is in the way",
                         hint="name a folder (or a new one), not a file or a path through "
                              "one") from None
    except OSError as exc:
        raise InputError(f"{exc.filename}: cannot write: {exc.strerror}",
                         hint="check the folder is writable") from None
    return list(files)

"""Files the commands write, checked before the work starts: one line naming the path, exit 1.

An evaluation or a video conversion can take minutes; finding out at the end that `--out` is an
existing file, a folder that cannot be written, or a CSV that would be silently replaced wastes
them and used to end in a traceback. `check-config` uses the same probe for the transcript
folder. Nothing is created by a check: the nearest folder that exists is probed with a
temporary file, which fails for exactly the reasons a real write would (permissions, read-only
or pseudo file systems).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from edge.errors import Sign2SoundError


class OutputError(Sign2SoundError):
    """An output path that cannot be written (or would overwrite a file without --force)."""


def unwritable_reason(folder: Path) -> str | None:
    """Why files cannot be created in `folder` (made first if missing); None when they can."""
    existing = Path(folder)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a folder"
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        return f"cannot create files in {existing}: {exc.strerror or exc}"
    return None


def check_output_file(path: Path, *, force: bool) -> None:
    """A file the command will write: not a folder, not an existing file unless `force`, and
    in a folder that can be written."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path}: is a folder; give the name of the file to write")
    if path.exists() and not force:
        raise OutputError(f"{path}: already exists; pass --force to overwrite it")
    reason = unwritable_reason(path.parent)
    if reason:
        raise OutputError(f"{path}: cannot write it: {reason}")


def check_output_folder(path: Path) -> None:
    """A folder the command will write files into (created if missing)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path}: exists and is not a folder; --out names a folder")
    reason = unwritable_reason(path)
    if reason:
        raise OutputError(f"{path}: cannot write there: {reason}")


@contextlib.contextmanager
def writing(path: Path) -> Iterator[None]:
    """Turn an OSError while writing `path` (disk full, storage gone) into one OutputError."""
    try:
        yield
    except OSError as exc:
        raise OutputError(f"{path}: cannot write it: {exc.strerror or exc}") from exc

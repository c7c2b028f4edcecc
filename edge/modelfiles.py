"""The one checksum check for shipped model files (models/SHA256SUMS, `sha256sum -c` format).

A model swapped or truncated on the SD card must fail loudly at start, naming the file and both
hashes, instead of spelling nonsense for months. The daemon checks every file it loads against
the list (`classifier.checksums`): the classifier, its labels and the hand landmark bundle; a
file the list does not name is refused too. The list is plain `sha256sum` output, remade after
a model or label change with:

    cd models && sha256sum hand_landmarker.task hand_landmarker_lite.task labels.txt \
        letters_int8.tflite > SHA256SUMS

(`sign2sound export --install` updates the lines of the files it installs.)
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from edge.errors import Sign2SoundError


class ModelError(Sign2SoundError):
    """A model file that is missing, truncated, altered or of the wrong shape."""


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_sums(sums_path: Path) -> dict[str, str]:
    """{file name: sha256} from a `sha256sum` listing (`<hex>  <name>` or `<hex> *<name>`)."""
    sums_path = Path(sums_path)
    try:
        text = sums_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelError(f"{sums_path}: cannot read checksum list: {exc.strerror or exc}") from exc
    sums: dict[str, str] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or len(parts[0]) != 64:
            raise ModelError(f"{sums_path}: line {lineno}: expected '<sha256>  <file>'")
        sums[parts[1].strip().lstrip("*")] = parts[0].lower()
    return sums


def verify_sha256(path: Path, sums_path: Path) -> str:
    """Check `path` against its line in `sums_path`; returns the sha256 or raises ModelError.

    The file is looked up by its name relative to the folder of `sums_path` (as `sha256sum -c`
    run from that folder would), falling back to the bare file name.
    """
    path, sums_path = Path(path), Path(sums_path)
    if not path.is_file():
        raise ModelError(f"{path}: file not found")
    sums = read_sums(sums_path)
    try:
        key = str(path.resolve().relative_to(sums_path.resolve().parent))
    except ValueError:
        key = path.name
    expected = sums.get(key, sums.get(path.name))
    if expected is None:
        raise ModelError(
            f"{path}: no checksum for {key!r} in {sums_path}: add its line (sha256sum) or set "
            "classifier.checksums to '' to load unlisted files"
        )
    actual = sha256_of(path)
    if actual != expected:
        raise ModelError(
            f"{path}: sha256 mismatch: expected {expected} (from {sums_path}), got {actual}; "
            "the file is corrupt or was replaced: reinstall it or update the checksum list"
        )
    return actual


def verify_against(path: Path, sums_path: Path | None) -> str | None:
    """`verify_sha256` when a checksum list is configured (`Config.checksums_path()`), else
    nothing (classifier.checksums: '' turns the check off)."""
    return None if sums_path is None else verify_sha256(path, sums_path)

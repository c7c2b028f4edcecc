"""The signer profile file: what `sign2sound enroll` writes and the pipeline loads.

A small JSON file (about 60 KB) holding derived numbers only: per enrolled letter the mean of the
signer's hand-frame features and how many frames it came from, and one pooled covariance (the
signer's frame-to-frame spread). No frame, image or single hand's landmarks is ever written, so
nothing of what the camera saw can be recovered from it. It names the model it was made for by
the model file's sha256: a profile made for another model reads that model's mistakes, so it is
refused (re-enrol), as is a corrupt, truncated or empty file, each with one line naming the file.

Where it lives: `classifier.profile`; a relative path goes under the state folder
($STATE_DIRECTORY, /var/lib/sign2sound for the service), next to the transcript. A missing file
means "not enrolled"; an empty `classifier.profile` turns adaptation off.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from edge.adaptation import FEATURE_NAME, HAND_FRAME_DIM, Fusion, LetterModel, SignerAdapter
from edge.errors import Sign2SoundError
from edge.modelfiles import sha256_of

log = logging.getLogger(__name__)

FORMAT = "sign2sound signer profile"
VERSION = 1
PRIVACY_NOTE = (
    "derived numbers only: each letter's mean hand-frame features and one pooled covariance; "
    "no frame, image or landmarks of any single frame"
)


class ProfileError(Sign2SoundError):
    """A signer profile that cannot be used: corrupt, empty, or made for another model."""


@dataclass(frozen=True)
class SignerProfile:
    """A loaded (or freshly built) profile."""

    model_sha256: str
    labels: tuple[str, ...]
    letters: LetterModel
    fusion: Fusion
    created: str
    model_file: str = ""

    @property
    def letter_names(self) -> tuple[str, ...]:
        return tuple(self.letters.means)

    def describe(self) -> str:
        """One line for the log and STATUS: how many letters, when."""
        return f"{len(self.letters.means)} letters, enrolled {self.created[:16].replace('T', ' ')}"

    def adapter(self) -> SignerAdapter:
        return SignerAdapter(self.letters, self.labels, self.fusion)

    def to_json(self) -> dict[str, Any]:
        letters = self.letters
        return {
            "format": FORMAT,
            "version": VERSION,
            "privacy": PRIVACY_NOTE,
            "model_sha256": self.model_sha256,
            "model_file": self.model_file,
            "labels": list(self.labels),
            "created": self.created,
            "feature": FEATURE_NAME,
            "fusion": asdict(self.fusion),
            "letters": {
                c: {"frames": int(letters.frames[c]), "mean": _floats(m)}
                for c, m in letters.means.items()
            },
            "covariance": [_floats(row) for row in letters.covariance],
            "covariance_dof": int(letters.dof),
        }


def _floats(values: np.ndarray) -> list[float]:
    return [float(f"{v:.6g}") for v in np.asarray(values, np.float64)]


def model_identity(model_path: Path) -> str:
    """The sha256 a profile is tied to (the model file's)."""
    return sha256_of(Path(model_path))


def new_profile(
    letters: LetterModel,
    *,
    model_path: Path,
    labels: Sequence[str],
) -> SignerProfile:
    return SignerProfile(
        model_sha256=model_identity(model_path),
        labels=tuple(labels),
        letters=letters,
        fusion=Fusion(),
        created=datetime.now().astimezone().isoformat(timespec="seconds"),
        model_file=Path(model_path).name,
    )


def save_profile(profile: SignerProfile, path: Path) -> None:
    """Write atomically (a temporary file renamed over the old one), readable by its owner only."""
    path = Path(path)
    text = json.dumps(profile.to_json(), separators=(",", ":")) + "\n"
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
    except OSError as exc:
        raise ProfileError(f"{path}: cannot write the signer profile: {exc.strerror}") from exc


def load_profile(path: Path, *, model_sha256: str, labels: Sequence[str]) -> SignerProfile:
    """Read and check a profile; ProfileError (one line, naming the file) when it cannot be used."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ProfileError(f"{path}: no signer profile here (sign2sound enroll makes one)") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{path}: cannot read the signer profile: {exc}") from exc
    if not text.strip():
        raise ProfileError(f"{path}: the signer profile is empty; enrol again (sign2sound enroll)")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProfileError(
            f"{path}: the signer profile is corrupt (not JSON: {exc.msg} at line {exc.lineno}); "
            "enrol again (sign2sound enroll) or remove it (sign2sound enroll --reset)"
        ) from exc
    profile = _parse(path, data, labels)
    if profile.model_sha256 != model_sha256:
        raise ProfileError(
            f"{path}: the signer profile was made for another model (sha256 "
            f"{profile.model_sha256[:12]}..., {profile.model_file or 'unknown file'}); the model "
            f"now is {model_sha256[:12]}...: enrol again (sign2sound enroll) or remove it "
            "(sign2sound enroll --reset)"
        )
    return profile


def _parse(path: Path, data: Any, labels: Sequence[str]) -> SignerProfile:
    def bad(why: str) -> ProfileError:
        return ProfileError(
            f"{path}: the signer profile is corrupt ({why}); enrol again (sign2sound enroll) or "
            "remove it (sign2sound enroll --reset)"
        )

    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise bad("not a sign2sound signer profile")
    if data.get("version") != VERSION:
        raise bad(f"version {data.get('version')!r}, this program reads version {VERSION}")
    if data.get("feature") != FEATURE_NAME:
        raise bad(f"features {data.get('feature')!r}, expected {FEATURE_NAME!r}")
    sha = data.get("model_sha256")
    if not isinstance(sha, str) or len(sha) != 64:
        raise bad("no model sha256")
    if list(data.get("labels") or []) != list(labels):
        raise ProfileError(
            f"{path}: the signer profile was made for a model with other labels; enrol again "
            "(sign2sound enroll) or remove it (sign2sound enroll --reset)"
        )
    letters = data.get("letters")
    if not isinstance(letters, dict) or not letters:
        raise ProfileError(
            f"{path}: the signer profile holds no letters; enrol again (sign2sound enroll)"
        )
    means, frames = {}, {}
    for letter, entry in sorted(letters.items()):
        if letter not in labels or not isinstance(entry, dict):
            raise bad(f"unknown letter {letter!r}")
        mean = _array(entry.get("mean"), (HAND_FRAME_DIM,))
        count = entry.get("frames")
        if mean is None or not isinstance(count, int) or count < 1:
            raise bad(f"letter {letter} has no usable mean")
        means[letter], frames[letter] = mean, count
    cov = _array(data.get("covariance"), (HAND_FRAME_DIM, HAND_FRAME_DIM))
    dof = data.get("covariance_dof")
    if cov is None or not isinstance(dof, int) or dof < 1:
        raise bad("no usable covariance")
    if not np.allclose(cov, cov.T, atol=1e-5) or np.trace(cov) <= 0:
        raise bad("the covariance is not a covariance")
    fusion_data = data.get("fusion")
    try:
        fusion = Fusion(**fusion_data)
        values = asdict(fusion).values()
    except TypeError as exc:
        raise bad("no usable fusion settings") from exc
    if not all(isinstance(v, int | float) and math.isfinite(v) and v >= 0 for v in values):
        raise bad("no usable fusion settings")
    created = str(data.get("created") or "")
    return SignerProfile(
        sha,
        tuple(labels),
        LetterModel(means, frames, cov, dof),
        fusion,
        created,
        str(data.get("model_file") or ""),
    )


def _array(value: Any, shape: tuple[int, ...]) -> np.ndarray | None:
    try:
        arr = np.asarray(value, np.float64)
    except (TypeError, ValueError):
        return None
    if arr.shape != shape or not np.isfinite(arr).all():
        return None
    return arr


def reset_profile(path: Path) -> bool:
    """Remove the profile (`enroll --reset`); False when there was none."""
    try:
        Path(path).unlink()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise ProfileError(f"{path}: cannot remove the signer profile: {exc.strerror}") from exc
    return True


@dataclass(frozen=True)
class ProfileState:
    """What the pipeline runs with, for the log and STATUS: the adapter (None: the model alone)
    and one line saying why."""

    adapter: SignerAdapter | None
    path: Path | None
    summary: str


def load_adapter(path: Path, classifier) -> tuple[SignerProfile, SignerAdapter]:
    """The profile at `path` checked against `classifier` (its model file's sha256 and labels),
    and its adapter; ProfileError when it cannot be used."""
    profile = load_profile(
        path, model_sha256=model_identity(classifier.model_path), labels=classifier.labels
    )
    try:
        return profile, profile.adapter()
    except (ValueError, np.linalg.LinAlgError) as exc:
        raise ProfileError(
            f"{path}: the signer profile is corrupt ({exc}); enrol again (sign2sound enroll) or "
            "remove it (sign2sound enroll --reset)"
        ) from exc


def profile_state(config, classifier, *, strict: bool = False) -> ProfileState:
    """The profile `classifier.profile` names, for this classifier (config: edge.config.Config).

    Not enrolled (no file) or adaptation off (empty key): the model alone. A profile that cannot
    be used: ProfileError with `strict` (eval, enroll), otherwise one ERROR line and the model
    alone, so a box whose model was upgraded keeps spelling until its signer enrols again.
    """
    path = config.profile_path()
    if path is None:
        return ProfileState(None, None, "profile off")
    if not path.exists() and not strict:
        return ProfileState(None, path, f"not enrolled (no {path})")
    try:
        profile, adapter = load_adapter(path, classifier)
    except ProfileError as exc:
        if strict:
            raise
        log.error("%s; running on the model alone", exc)
        return ProfileState(None, path, f"profile {path.name} refused (see the log)")
    log.info("signer profile %s: %s", path, profile.describe())
    return ProfileState(adapter, path, f"profile {path.name} ({profile.describe()})")

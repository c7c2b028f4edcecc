"""Signer adaptation: the model's letter probabilities re-weighed by how close the hand is to
this signer's own enrolled letters (the profile of `sign2sound enroll`).

Most of what the model gets wrong on a stranger is how one person forms a few letters (one
signer's S reads as M, another's R as U). The model stays untouched; after it, each window's
newest hand is compared with the signer's letters and the two are fused:

- features: the hand's shape in its OWN frame (y axis wrist to middle knuckle, x axis index to
  pinky knuckle, z their cross product), 63 values, plus where that frame points in the camera's
  view (its y and z axes, 6 values): finger configuration and orientation apart, so a signer's
  letter turned a little differently still matches it (measured on the validation sources: 2-3
  points better than the raw 63 features);
- a distance: squared Mahalanobis distance to each enrolled letter's mean, with the covariance
  pooled over the signer's letters (shrunk towards its average variance, `shrinkage`), i.e. the
  signer's own frame-to-frame spread: nearest class mean after linear discriminant whitening;
- fusion over the ENROLLED letters only: score_c = model_weight * ln max(p_c, prob_floor)
  - d2_c / (2 shape_scale), softmax, scaled to the probability mass the model gave those letters.
  The `_` class (moving between letters) and letters not enrolled (J and Z are motions) keep the
  model's own probability, so the decoder's view of transitions and strokes does not change.
  The floor matters: the INT8 output is quantised in steps of 1/256, so "0" means "below 0.004"
  and must not veto a letter the shape says it is.

All of it is a few small matrix products on preallocated buffers: tens of microseconds per frame.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from edge.features import FEATURE_DIM, NUM_LANDMARKS, PRESENT

FEATURE_NAME = "hand-frame-v1"  # what a profile's means are measured in
HAND_FRAME_DIM = FEATURE_DIM + 6  # shape in the hand's frame, then its y and z axes
_MIDDLE_KNUCKLE, _INDEX_KNUCKLE, _PINKY_KNUCKLE = 9, 5, 17
_EPS = 1e-6


@dataclass(frozen=True)
class Fusion:
    """How shape and model are weighed (chosen on the validation sources; kept in each profile
    so a profile behaves the same after an upgrade that changes the defaults)."""

    model_weight: float = 1.0
    shape_scale: float = 3.0
    prob_floor: float = 0.02
    shrinkage: float = 0.1


def hand_frame_features(shapes: np.ndarray) -> np.ndarray:
    """(n, 63) or (63,) normalised shapes -> (n, 69) or (69,) hand-frame features (float64).

    For fitting and evaluation; the per-frame path is `SignerAdapter`, which does the same on
    its own buffers. A degenerate hand (knuckles on the wrist) gives NaN rows.
    """
    arr = np.asarray(shapes, np.float64)
    single = arr.ndim == 1
    h = arr.reshape(-1, NUM_LANDMARKS, 3)
    y = h[:, _MIDDLE_KNUCKLE]
    y = y / np.maximum(np.linalg.norm(y, axis=1, keepdims=True), _EPS)
    x = h[:, _PINKY_KNUCKLE] - h[:, _INDEX_KNUCKLE]
    x = x - (x * y).sum(1, keepdims=True) * y
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), _EPS)
    z = np.cross(x, y)
    frame = np.stack([x, y, z], axis=1)  # rows: the hand's axes in camera coordinates
    local = np.einsum("nij,nkj->nki", frame, h).reshape(len(h), FEATURE_DIM)
    out = np.hstack([local, y, z])
    return out[0] if single else out


@dataclass(frozen=True)
class LetterModel:
    """What a profile holds: per enrolled letter its mean features and frame count, and the
    signer's pooled within-letter covariance with its degrees of freedom. Derived numbers only:
    no frame can be recovered from them."""

    means: Mapping[str, np.ndarray]  # letter -> (HAND_FRAME_DIM,)
    frames: Mapping[str, int]
    covariance: np.ndarray  # (HAND_FRAME_DIM, HAND_FRAME_DIM)
    dof: int  # sum over letters of (frames - 1)


def fit_letters(samples: Mapping[str, np.ndarray]) -> LetterModel:
    """Means and pooled covariance from each letter's hand-frame features (n_i, 69), n_i >= 2."""
    means: dict[str, np.ndarray] = {}
    frames: dict[str, int] = {}
    scatter = np.zeros((HAND_FRAME_DIM, HAND_FRAME_DIM))
    dof = 0
    for letter in sorted(samples):
        feats = np.asarray(samples[letter], np.float64)
        if feats.ndim != 2 or feats.shape[1] != HAND_FRAME_DIM or len(feats) < 2:
            raise ValueError(f"letter {letter}: need at least 2 feature rows of {HAND_FRAME_DIM}")
        mean = feats.mean(0)
        resid = feats - mean
        scatter += resid.T @ resid
        dof += len(feats) - 1
        means[letter] = mean
        frames[letter] = len(feats)
    if not means:
        raise ValueError("no letters to fit")
    return LetterModel(means, frames, scatter / dof, dof)


def merge_letters(base: LetterModel, new: LetterModel) -> LetterModel:
    """`base` with the letters of `new` replaced or added (`enroll --letters`). Frames are never
    kept, so a redone letter's share of the pooled covariance is removed as an average share."""
    redone = set(new.means) & set(base.means)
    kept_dof = base.dof - sum(base.frames[c] - 1 for c in redone)
    kept_dof = max(kept_dof, 0)
    dof = kept_dof + new.dof
    covariance = (kept_dof * base.covariance + new.dof * new.covariance) / max(dof, 1)
    means = {c: m for c, m in base.means.items() if c not in redone} | dict(new.means)
    frames = {c: n for c, n in base.frames.items() if c not in redone} | dict(new.frames)
    return LetterModel(dict(sorted(means.items())), dict(sorted(frames.items())), covariance, dof)


class SignerAdapter:
    """`apply(window, probs) -> probs`: the model's probabilities re-weighed towards the enrolled
    letter the window's newest hand is closest to. Allocates nothing per call; the returned array
    is reused by the next call (like LetterClassifier.predict)."""

    def __init__(self, letters: LetterModel, labels: Sequence[str], fusion: Fusion) -> None:
        index = {label: i for i, label in enumerate(labels)}
        names = [c for c in letters.means if c in index]
        if not names:
            raise ValueError("none of the profile's letters is a label of the model")
        self.letters = tuple(names)
        self.fusion = fusion
        cov = np.asarray(letters.covariance, np.float64)
        average = max(float(np.trace(cov)) / len(cov), _EPS)
        shrunk = (1 - fusion.shrinkage) * cov + fusion.shrinkage * average * np.eye(len(cov))
        whiten = np.linalg.inv(np.linalg.cholesky(shrunk))  # w = whiten @ f has unit spread
        means = np.stack([letters.means[c] for c in names]) @ whiten.T
        self._whiten = whiten.astype(np.float32)
        self._means = means.astype(np.float32)  # (L, 69) whitened
        self._mean_sq = (means**2).sum(1).astype(np.float32)
        self._index = np.array([index[c] for c in names], np.intp)
        self._gain = np.float32(1.0 / (2.0 * fusion.shape_scale))
        # per-call buffers
        self._hand = np.zeros((NUM_LANDMARKS, 3), np.float32)
        self._axes = np.zeros((3, 3), np.float32)
        self._feat = np.zeros(HAND_FRAME_DIM, np.float32)
        self._white = np.zeros(HAND_FRAME_DIM, np.float32)
        self._score = np.zeros(len(names), np.float32)
        self._model = np.zeros(len(names), np.float32)
        self._out = np.zeros(len(labels), np.float32)

    def distances(self, window: np.ndarray) -> np.ndarray | None:
        """Squared whitened distance of the window's newest hand to each enrolled letter (a
        buffer, valid until the next call), or None when that step has no usable hand."""
        last = window[-1]
        if last[PRESENT] < 0.5:
            return None
        hand, axes = self._hand, self._axes
        hand.reshape(-1)[:] = last[:FEATURE_DIM]
        y, x, z = axes[1], axes[0], axes[2]
        y[:] = hand[_MIDDLE_KNUCKLE]
        norm_y = float(np.sqrt(y @ y))
        np.subtract(hand[_PINKY_KNUCKLE], hand[_INDEX_KNUCKLE], out=x)
        x -= (x @ y) / max(norm_y * norm_y, _EPS) * y
        norm_x = float(np.sqrt(x @ x))
        if norm_y < _EPS or norm_x < _EPS:
            return None
        y /= norm_y
        x /= norm_x
        z[0] = x[1] * y[2] - x[2] * y[1]
        z[1] = x[2] * y[0] - x[0] * y[2]
        z[2] = x[0] * y[1] - x[1] * y[0]
        feat = self._feat
        np.matmul(hand, axes.T, out=feat[:FEATURE_DIM].reshape(NUM_LANDMARKS, 3))
        feat[FEATURE_DIM : FEATURE_DIM + 3] = y
        feat[FEATURE_DIM + 3 :] = z
        np.matmul(self._whiten, feat, out=self._white)
        # |w - m|^2 = |m|^2 - 2 m.w + |w|^2
        score = self._score
        np.matmul(self._means, self._white, out=score)
        score *= -2.0
        score += self._mean_sq
        score += self._white @ self._white
        return score

    def apply(self, window: np.ndarray, probs: np.ndarray) -> np.ndarray:
        """Fused probabilities for one (steps, channels) window and the model's `probs`."""
        out = self._out
        out[:] = probs
        d2 = self.distances(window)
        if d2 is None:
            return out
        model = self._model
        np.take(probs, self._index, out=model)
        mass = float(model.sum())
        if mass <= 0.0:
            return out
        fusion = self.fusion
        np.maximum(model, fusion.prob_floor, out=model)
        np.log(model, out=model)
        model *= fusion.model_weight
        d2 *= -self._gain
        d2 += model
        d2 -= d2.max()
        np.exp(d2, out=d2)
        d2 *= mass / float(d2.sum())
        out[self._index] = d2
        return out


class AdaptedClassifier:
    """A classifier whose `predict` is followed by a SignerAdapter: what the pipeline's hook does,
    for code that calls a classifier directly (`sign2sound eval --profile` on letters)."""

    def __init__(self, classifier, adapter: SignerAdapter) -> None:
        self.classifier = classifier
        self.adapter = adapter

    def __getattr__(self, name: str):
        return getattr(self.classifier, name)

    def predict(self, window: np.ndarray, *, timing: bool = False) -> np.ndarray:
        probs = self.classifier.predict(window, timing=timing)
        return self.adapter.apply(window, probs)

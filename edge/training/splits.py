"""The fixed split of ../shared/data by source, chosen before any result of the streaming model.

Frames of one source are one person in one room: a source is wholly in training, validation or
test. The choice was made from what each source is (camera, people, letters present; see
../shared/data/PROVENANCE.md), not from any score, and is written down here so training, the
word-stream builder and evaluation all use the same one. Never tune on TEST_SOURCES.

- TEST_SOURCES: five webcam signers with all 26 letters. The first three are the held-out split
  of the first model (so its numbers stay comparable); `tutututu123ggg` and `seeeeeeel` are two
  of the ten sources added later (one young man at a door, one hand and forearm at a wall).
- MOTION_TEST_SOURCES: `gh0stsh0t`, the real J and Z motion clips: J and Z are scored on them,
  so no real Z motion is trained on (lart101 has no Z; Z is learnt from synthesised strokes).
- VAL_SOURCES: three more signers for every choice (early stopping, recipe, decoder settings):
  `vedantborse-ai` (the first model's validation source), `cankayauniversity` (a dim, backlit
  room) and `priyamwadasonnet` (small hands in a whole frame; no F).
- Everything else trains, including `lart101` (the only real transitions: its word cuts are
  therefore in-sample and are reported as such).
"""

from __future__ import annotations

TEST_SOURCES: tuple[str, ...] = (
    "mariia00",
    "t32rahman",
    "meyyappan-dm",
    "tutututu123ggg",
    "seeeeeeel",
)
MOTION_TEST_SOURCES: tuple[str, ...] = ("gh0stsh0t",)
VAL_SOURCES: tuple[str, ...] = ("vedantborse-ai", "cankayauniversity", "priyamwadasonnet")
HELD_OUT_SOURCES: tuple[str, ...] = (*TEST_SOURCES, *MOTION_TEST_SOURCES)

#!/usr/bin/env bash
# Rebuild models/hand_landmarker.task (full) and models/hand_landmarker_lite.task offline from the
# Apache-2.0 .tflite files inside the mediapipe==0.10.21 wheel (mediapipe 1.x wheels bundle no
# model; see DESIGN.md). Needs pip and zip. Usage: models/build_hand_landmarker.sh [OUT_DIR]
set -euo pipefail
out=$(realpath "${1:-$(dirname "$0")}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.11 \
  --platform manylinux_2_28_x86_64 "mediapipe==0.10.21" -d .
unzip -q -o mediapipe-0.10.21-*.whl 'mediapipe/modules/*/*.tflite'
for variant in full lite; do
  mkdir "$variant"
  # The lite palm detector of that wheel carries no TFLITE_METADATA, so MediaPipe 1.x refuses it
  # ("requires specifying NormalizationOptions metadata"). Both palm detectors take the same
  # 192x192 input and give the same outputs, and in VIDEO mode the palm detector only runs when
  # tracking is lost: the lite bundle pairs the full palm detector with the lite landmark model,
  # which is what runs on every frame (about 35% less time per frame than the full pair).
  cp "mediapipe/modules/palm_detection/palm_detection_full.tflite" "$variant/hand_detector.tflite"
  cp "mediapipe/modules/hand_landmark/hand_landmark_$variant.tflite" \
    "$variant/hand_landmarks_detector.tflite"
  suffix=$([ "$variant" = full ] && echo "" || echo "_lite")
  # stored (-0), no extra attributes (-X): MediaPipe memory-maps the members
  (cd "$variant" && TZ=UTC zip -X -0 -q "$out/hand_landmarker$suffix.task" \
    hand_detector.tflite hand_landmarks_detector.tflite)
done
sha256sum "$out"/hand_landmarker*.task

#!/usr/bin/env bash
# Rebuild models/hand_landmarker.task (full) and models/hand_landmarker_lite.task offline from the
# Apache-2.0 .tflite files inside the mediapipe==0.10.21 wheel (mediapipe 1.x wheels bundle no
# model; see DESIGN.md). Needs python3 with pip. Usage: models/build_hand_landmarker.sh [OUT_DIR]
set -euo pipefail

# zip_aligned OUT.task FILE...: a zip of FILEs stored (MediaPipe memory-maps the members), each
# member's data starting at a multiple of 64 bytes. MediaPipe's LiteRT reads the tensors in place
# only if their buffers are aligned in memory; a member at an odd offset (plain `zip` put the palm
# detector at byte 50) makes it copy them and warn "has an unaligned buffer ... Re-export the
# model to align buffers". The padding goes in the local header's extra field (ID 0xd935, as
# Android's zipalign does it); fixed dates and no attributes keep the bundle reproducible.
zip_aligned() {
  python3 - "$@" <<'PY'
import struct, sys, zipfile
ALIGN = 64
out, *files = sys.argv[1:]
with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as bundle:
    for path in files:
        name = path.rsplit("/", 1)[-1]
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        header_end = bundle.fp.tell() + 30 + len(name.encode()) + 6  # local header + extra id
        pad = -header_end % ALIGN
        info.extra = struct.pack("<HHH", 0xD935, 2 + pad, ALIGN) + bytes(pad)
        with open(path, "rb") as fh:
            bundle.writestr(info, fh.read())
PY
}
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
  zip_aligned "$out/hand_landmarker$suffix.task" \
    "$variant/hand_detector.tflite" "$variant/hand_landmarks_detector.tflite"
done
sha256sum "$out"/hand_landmarker*.task

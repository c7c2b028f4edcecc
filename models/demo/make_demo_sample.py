"""Build the bundled demo sample: a short video that fingerspells HELLO, plus its landmark replay.

Source: the real letter clips of Lart101/AslSignLanguageWeb
@ 59d38f13e0201e56eed2251fa9133241603e34c1 (`static/sign_language_videos/alphabet/<L>.mp4`, MIT,
one seated signer), as re-encoded to 360x640
in ../shared/data/clips/lart101/, and their per-frame MediaPipe landmarks in
../shared/data/sequences/lart101.csv. Each clip shows the hand rising, holding the letter and
staying up; only the HELD part of each letter is used, cut together in the order H, E, L, L, O.
Between the two Ls the signer's resting frames (hand down, no hand found) give the short release
a repeated letter needs; resting frames at the start and the end give the word its beginning and
its end ("no hand" for longer than decoder.word_gap_s). The L clip holds for only ~1 s after
MediaPipe picks up the raised hand, so its held frames are played forward then backward.

Written with OpenCV only (mp4v, 15 fps, scaled to 270x480 to stay small; the Pi sees about that
rate). The replay CSV holds the lart101.csv rows of the very frames used (renumbered, t_ms at
15 fps), so the tests can run everything after the landmark stage without MediaPipe.

Run from the repository root: .venv/bin/python models/demo/make_demo_sample.py [DATA_DIR]
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import cv2

OUT_DIR = Path(__file__).resolve().parent
FPS = 15
STEP = 2  # the source clips are 30 fps: every second frame
SIZE = (270, 480)  # width, height: 0.75 of the source's 360x640
WORD = "HELLO"

# (clip letter, first frame, last frame, ping-pong): frame numbers of the 30 fps source clips
REST = ("H", 0, 11, False)  # the signer at rest before raising the hand: no hand found
SEGMENTS = [
    REST,
    ("H", 50, 104, False),
    ("E", 40, 102, False),
    ("L", 80, 111, True),
    REST,  # release between the two Ls
    ("L", 80, 111, True),
    ("O", 34, 103, False),
    ("H", 0, 27, False),  # the word ends: no hand for ~0.9 s ...
    ("E", 0, 18, False),  # ... and ~0.6 s more
]


def segment_frames(first: int, last: int, ping_pong: bool) -> list[int]:
    frames = list(range(first, last + 1, STEP))
    return frames + frames[::-1] if ping_pong else frames


def main(data_dir: Path) -> None:
    clips = data_dir / "clips" / "lart101"
    rows: dict[tuple[str, int], dict[str, str]] = {}
    with (data_dir / "sequences" / "lart101.csv").open(newline="") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames
        for row in reader:
            rows[(row["sequence"].split(":")[1], int(row["frame"]))] = row
    cache: dict[str, list] = {}

    def clip_frames(letter: str) -> list:
        if letter not in cache:
            cap = cv2.VideoCapture(str(clips / f"{letter}.mp4"))
            frames = []
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                frames.append(frame)
            cap.release()
            cache[letter] = frames
        return cache[letter]

    video_path = OUT_DIR / "hello.mp4"
    writer = cv2.VideoWriter(
        str(video_path), cv2.CAP_FFMPEG, cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE
    )
    out_rows = []
    index = 0
    for letter, first, last, ping_pong in SEGMENTS:
        source = clip_frames(letter)
        for frame_no in segment_frames(first, last, ping_pong):
            writer.write(cv2.resize(source[frame_no], SIZE, interpolation=cv2.INTER_AREA))
            row = rows.get((letter, frame_no))
            if row is not None:
                row = dict(row)
                row.update(
                    sequence=f"demo:{WORD}",
                    frame=str(index),
                    t_ms=str(round(index * 1000 / FPS)),
                    width=str(SIZE[0]),
                    height=str(SIZE[1]),
                    file=f"lart101/{letter}.mp4#{frame_no}",
                )
                out_rows.append(row)
            index += 1
    writer.release()
    with (OUT_DIR / "hello_landmarks.csv").open("w", newline="") as handle:
        out = csv.DictWriter(handle, fieldnames=header)
        out.writeheader()
        out.writerows(out_rows)
    print(f"{video_path}: {index} frames, {index / FPS:.1f} s, {video_path.stat().st_size} bytes")
    print(f"{OUT_DIR / 'hello_landmarks.csv'}: {len(out_rows)} frames with a hand")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/work/shared/data"))

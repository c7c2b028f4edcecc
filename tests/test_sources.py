"""Frame sources and the capture thread, on the real demo clip and real recorded landmarks."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pytest
from fault_sources import FlakyCamera

from edge.config import REPO_ROOT, SHARED_DATA_DIR, load_config
from edge.sources import (
    AutoCamera,
    CaptureThread,
    EndOfStream,
    LandmarkReplaySource,
    OpenCVSource,
    PiCamera2Source,
    SourceError,
    open_source,
    source_from_config,
)

DEMO_VIDEO = REPO_ROOT / "models" / "demo" / "hello.mp4"
DEMO_CSV = REPO_ROOT / "models" / "demo" / "hello_landmarks.csv"
LART101_CSV = SHARED_DATA_DIR / "sequences" / "lart101.csv"


def read_all(source) -> list:
    source.open()
    try:
        frames = []
        while (frame := source.read()) is not None:
            frames.append(frame)
        return frames
    finally:
        source.close()


def test_replay_feeds_missing_frames_as_no_hand() -> None:
    frames = read_all(LandmarkReplaySource(DEMO_CSV, realtime=False))
    csv_rows = DEMO_CSV.read_text().count("\n") - 1
    assert [f.index for f in frames] == list(range(len(frames)))
    hands = [f.observation.has_hand for f in frames]
    assert sum(hands) == csv_rows
    assert not any(hands[:6])  # the clip starts with the signer at rest
    last_frame = int(DEMO_CSV.read_text().splitlines()[-1].split(",")[-3])
    assert len(frames) == last_frame + 1  # up to the last recorded frame, gaps included
    assert hands.count(False) == len(frames) - csv_rows > 6  # the release between the Ls too
    times = np.array([f.t for f in frames])
    assert np.allclose(np.diff(times), 1 / 15, atol=2e-3)
    first = next(f.observation for f in frames if f.observation.has_hand)
    assert first.landmarks.shape == (21, 3)
    assert first.aspect == pytest.approx(270 / 480)
    assert first.handedness in ("Left", "Right")


def test_replay_picks_one_sequence_of_a_multi_sequence_file() -> None:
    with pytest.raises(SourceError, match=r"sequences.*#<sequence>"):
        LandmarkReplaySource(LART101_CSV, realtime=False).open()
    frames = read_all(LandmarkReplaySource(f"{LART101_CSV}#lart101:H", realtime=False))
    assert len(frames) == 105  # frames 0..104 of the H clip, 28 of them without a hand
    assert sum(f.observation.has_hand for f in frames) == 77
    assert frames[40].t == pytest.approx(40 / 30, abs=1e-3)


def test_replay_errors_name_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"nothere\.csv: no such file"):
        LandmarkReplaySource(tmp_path / "nothere.csv").open()
    lines = DEMO_CSV.read_text().splitlines()
    bad = lines[:4] + [lines[4].replace(",", ",oops", 1)] + lines[5:]
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(bad) + "\n")
    with pytest.raises(SourceError, match=r"bad\.csv, line 5: not a number"):
        LandmarkReplaySource(path).open()
    (tmp_path / "cols.csv").write_text("label,x0,y0\nA,0.1,0.2\n")
    with pytest.raises(SourceError, match=r"cols\.csv: missing column"):
        LandmarkReplaySource(tmp_path / "cols.csv").open()


def test_replay_reads_gzip_and_refuses_time_going_backwards(tmp_path: Path) -> None:
    import gzip

    packed = tmp_path / "hello.csv.gz"
    packed.write_bytes(gzip.compress(DEMO_CSV.read_bytes()))
    plain = read_all(LandmarkReplaySource(DEMO_CSV, realtime=False))
    gz = read_all(LandmarkReplaySource(packed, realtime=False))
    assert [(f.index, f.t, f.observation.has_hand) for f in gz] == [
        (f.index, f.t, f.observation.has_hand) for f in plain
    ]
    lines = DEMO_CSV.read_text().splitlines()
    head = lines[0].split(",")
    t_col = head.index("t_ms")
    row = lines[10].split(",")
    row[t_col] = "5"  # frame order kept, time jumps back to the start
    path = tmp_path / "back.csv"
    path.write_text("\n".join([*lines[:10], ",".join(row), *lines[11:]]) + "\n")
    with pytest.raises(
        SourceError, match=r"back\.csv, line 11: t_ms [0-9.]+ of frame [0-9]+ does not come after"
    ):
        LandmarkReplaySource(path).open()


def test_replay_paces_in_real_time() -> None:
    source = LandmarkReplaySource(DEMO_CSV, realtime=True)
    source.open()
    start = time.monotonic()
    for _ in range(10):
        source.read()
    elapsed = time.monotonic() - start
    source.close()
    assert elapsed >= 9 / 15 - 0.02  # nine frame intervals of the 15 fps stream


def test_video_file_gives_rgb_frames_with_stream_timestamps() -> None:
    frames = read_all(OpenCVSource(DEMO_VIDEO, realtime=False))
    assert len(frames) == 195
    assert all(f.image.shape == (480, 270, 3) and f.image.dtype == np.uint8 for f in frames)
    assert frames[30].t == pytest.approx(2.0)
    # RGB, not OpenCV's BGR: the signer's navy shirt is bluer than it is red
    shirt = frames[0].image[400:460, 100:170].reshape(-1, 3).mean(axis=0)
    assert shirt[2] > shirt[0]


def test_video_file_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"video file .*missing\.mp4: no such file"):
        OpenCVSource(tmp_path / "missing.mp4").open()
    not_video = tmp_path / "notes.mp4"
    not_video.write_text("this is not a video\n")
    with pytest.raises(SourceError, match=r"notes\.mp4: cannot decode it as a video"):
        OpenCVSource(not_video).open()


def test_open_source_parses_camera_source(tmp_path: Path, monkeypatch) -> None:
    replay = open_source(f"replay:{DEMO_CSV}")
    assert isinstance(replay, LandmarkReplaySource) and replay.path == DEMO_CSV
    device = open_source("2")
    assert isinstance(device, OpenCVSource) and device.live and device.target == 2
    video = open_source(str(DEMO_VIDEO), realtime=False)
    assert isinstance(video, OpenCVSource) and not video.live and not video.paced
    auto = open_source("auto")  # no picamera2 here: USB device 0 only
    assert isinstance(auto, AutoCamera) and auto.live
    assert [type(c) for c in auto.cameras] == [OpenCVSource]
    with pytest.raises(SourceError, match="picamera2 is not installed"):
        open_source("picamera2")
    with pytest.raises(SourceError, match=r"Pi camera \(picamera2\): picamera2 is not installed"):
        PiCamera2Source().open()  # imported lazily: every other source works without it
    # relative paths in the config resolve against the install folder (from any working folder)
    monkeypatch.chdir(tmp_path)
    config = load_config(overrides=["camera.source=replay:models/demo/hello_landmarks.csv"])
    assert source_from_config(config).path == DEMO_CSV


def test_capture_thread_reads_a_file_as_fast_as_possible_without_dropping() -> None:
    capture = CaptureThread(OpenCVSource(DEMO_VIDEO, realtime=False), slot_size=1).start()
    indices = []
    try:
        while True:
            frame = capture.get(timeout=5)
            assert frame is not None
            indices.append(frame.index)
    except EndOfStream:
        pass
    capture.stop()
    assert indices == list(range(195))
    assert capture.stats.dropped == 0 and capture.error is None


def test_capture_thread_drops_the_oldest_frame_for_a_slow_consumer() -> None:
    camera = FlakyCamera(
        LandmarkReplaySource(DEMO_CSV, realtime=False), fail_after=10**6, failed_opens=0
    )
    camera.paced = True  # behaves like a camera: drop, never block
    capture = CaptureThread(camera, slot_size=2).start()
    time.sleep(0.3)  # a slow landmark stage: the whole clip arrives meanwhile
    got = []
    try:
        while (frame := capture.get(timeout=2)) is not None:
            got.append(frame.index)
            time.sleep(0.01)
    except EndOfStream:
        pass
    capture.stop()
    total = len(read_all(LandmarkReplaySource(DEMO_CSV, realtime=False)))
    assert capture.stats.captured == total
    assert capture.stats.dropped > 0
    assert len(got) + capture.stats.dropped == capture.stats.captured
    assert got[-1] == total - 1  # the newest frames survive, the stale ones were dropped
    assert got == sorted(got)


def test_capture_thread_reopens_a_camera_that_disappears(caplog) -> None:
    camera = FlakyCamera(
        LandmarkReplaySource(DEMO_CSV, realtime=False), fail_after=40, failed_opens=3
    )
    capture = CaptureThread(camera, slot_size=8, retry_initial_s=0.05, retry_max_s=0.2)
    capture.block_when_full = True  # keep every frame so the test can check the order
    times = []
    with caplog.at_level(logging.DEBUG, logger="edge.sources"):
        capture.start()
        try:
            while (frame := capture.get(timeout=5)) is not None:
                times.append(frame.t)
        except EndOfStream:
            pass
        capture.stop()
    total = len(read_all(LandmarkReplaySource(DEMO_CSV, realtime=False)))
    assert len(times) == total  # every frame of the stream, before and after the outage
    assert np.all(np.diff(times) > 0)
    assert capture.stats.outages == 1
    assert camera.open_failures == 3 and capture.stats.reopen_attempts == 5
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "stopped delivering frames" in errors[0].getMessage()
    assert any("is back after" in r.getMessage() for r in caplog.records)


def test_capture_thread_keeps_retrying_a_camera_that_yields_nothing(caplog) -> None:
    capture = CaptureThread(OpenCVSource(97), retry_initial_s=0.05, retry_max_s=0.1)
    with caplog.at_level(logging.ERROR, logger="edge.sources"):
        capture.start()
        assert capture.get(timeout=0.6) is None
        capture.stop()
    assert capture.stats.captured == 0
    assert capture.stats.reopen_attempts >= 3  # it kept trying, with backoff
    assert capture.stats.outages == 1
    assert "camera device 97: cannot open the device" in capture.stats.last_error
    assert len(caplog.records) == 1  # one line per outage, not one per attempt


def test_auto_camera_takes_the_first_that_opens_and_names_all_that_did_not(tmp_path: Path):
    missing = OpenCVSource(96)
    video = OpenCVSource(DEMO_VIDEO, realtime=False)
    auto = AutoCamera([missing, video])
    auto.open()
    assert auto.name == video.name and auto.read().image.shape == (480, 270, 3)
    auto.close()
    with pytest.raises(SourceError, match=r"no camera found: camera device 96: cannot open the "
                       r"device; camera device 95: cannot open the device"):  # fmt: skip
        AutoCamera([OpenCVSource(96), OpenCVSource(95)]).open()


def test_capture_thread_reports_a_broken_file_as_the_end_with_its_error(tmp_path: Path) -> None:
    capture = CaptureThread(OpenCVSource(tmp_path / "gone.mp4", realtime=False)).start()
    with pytest.raises(EndOfStream):
        capture.get(timeout=5)
    capture.stop()
    assert isinstance(capture.error, SourceError)
    assert "gone.mp4: no such file" in str(capture.error)

"""Where frames come from, and the capture thread that keeps them flowing.

A FrameSource has three calls: `open()`, `read() -> Frame | None` (None = the stream ended, only
for finite sources such as a video file) and `close()`. A failing device raises SourceError
naming it. Sources:

- PiCamera2Source: the Raspberry Pi camera through picamera2 (apt's python3-picamera2; imported
  lazily because the PyPI package cannot work without libcamera);
- OpenCVSource: an OpenCV device index (a USB webcam) or a video file; video files give their
  own stream timestamps and are paced in real time when `camera.realtime` is on;
- LandmarkReplaySource: recorded landmark frames in the project's CSV format (see
  ../shared/data/README.md); it yields HandObservation directly and so enters after the landmark
  stage, while everything after it runs exactly as live.

CaptureThread reads a source on its own thread into a bounded slot. For a live camera the slot
drops the OLDEST frame when full (counted in `dropped`), so a slow landmark stage never builds a
backlog and latency stays bounded. A finite source read as fast as possible (tests, benchmarks)
blocks instead, so no frame of a file is ever skipped. When a live source fails, the thread
closes it and reopens it with exponential backoff, logging once per outage.
"""

from __future__ import annotations

import collections
import contextlib
import csv
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from edge.dataset import open_text
from edge.errors import Sign2SoundError
from edge.observation import HandObservation

log = logging.getLogger(__name__)

REPLAY_PREFIX = "replay:"


class SourceError(Sign2SoundError):
    """A camera, video file or replay that cannot be opened or read; names the device or file."""


@dataclass(slots=True)
class Frame:
    """One captured frame: an RGB image (camera/video) or a ready observation (landmark replay).

    t: seconds, on time.monotonic() for live cameras and on the stream's own clock for files;
    index: the frame number within the source (counts across reopenings of a live camera).
    """

    t: float
    index: int
    image: np.ndarray | None = None
    observation: HandObservation | None = None


class FrameSource(Protocol):
    """The three calls the capture thread needs.

    `live` sources (cameras) are reopened when they fail; `paced` sources deliver frames at their
    own rate (a camera, or a file played in real time), the others as fast as they are taken.
    A source whose frames already carry a HandObservation sets `gives_observations = True` (the
    landmark replay); the daemon then loads no hand tracker.
    """

    name: str
    live: bool
    paced: bool

    def open(self) -> None: ...

    def read(self) -> Frame | None: ...

    def close(self) -> None: ...


class _Pacer:
    """Sleeps so stream time t is reached at wall time start + t (real-time playback)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._origin: float | None = None

    def reset(self) -> None:
        self._origin = None

    def wait(self, t: float) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if self._origin is None:
            self._origin = now - t
        delay = self._origin + t - now
        if delay > 0:
            time.sleep(delay)


class OpenCVSource:
    """An OpenCV device index (webcam) or a video file, frames converted to RGB.

    A device is `live` (monotonic timestamps, reopened on failure); a file is finite and gives its
    stream timestamps (frame index / fps, so they are strictly increasing even when the container's
    own timestamps are not).
    """

    def __init__(
        self,
        target: int | str | Path,
        *,
        width: int = 640,
        height: int = 480,
        fps: float = 30.0,
        realtime: bool = True,
    ) -> None:
        self.target = target
        self.live = isinstance(target, int)
        self.name = f"camera device {target}" if self.live else f"video file {target}"
        self._size = (width, height)
        self._fps = fps
        self._pacer = _Pacer(realtime and not self.live)
        self.paced = self.live or realtime
        self._cap = None
        self._file_fps = fps
        self._index = 0

    def open(self) -> None:
        import cv2

        if not self.live and not Path(self.target).is_file():
            raise SourceError(f"{self.name}: no such file")
        if self.live:
            # OpenCV prints its own warning on every failed open; during a camera outage that is
            # one line per retry. Our one ERROR per outage says it all.
            _quiet_opencv(cv2)
        cap = cv2.VideoCapture(self.target)
        if not cap.isOpened():
            cap.release()
            what = "cannot open the device" if self.live else "cannot decode it as a video"
            raise SourceError(f"{self.name}: {what}")
        if self.live:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self._size[0])
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self._size[1])
            cap.set(cv2.CAP_PROP_FPS, self._fps)
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the freshest frame, not a queue of stale ones
        else:
            file_fps = cap.get(cv2.CAP_PROP_FPS)
            self._file_fps = file_fps if math.isfinite(file_fps) and file_fps > 0 else self._fps
        self._cap = cap
        self._pacer.reset()
        if not self.live:
            self._index = 0

    def read(self) -> Frame | None:
        import cv2

        if self._cap is None:
            raise SourceError(f"{self.name}: read before open")
        ok, bgr = self._cap.read()
        if not ok or bgr is None:
            if self.live:
                raise SourceError(f"{self.name}: the camera stopped delivering frames")
            return None  # end of the file
        t = time.monotonic() if self.live else self._index / self._file_fps
        self._pacer.wait(t)
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        frame = Frame(t=t, index=self._index, image=rgb)
        self._index += 1
        return frame

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


def _quiet_opencv(cv2) -> None:
    with contextlib.suppress(AttributeError):
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


class PiCamera2Source:
    """The Raspberry Pi camera module through picamera2 (libcamera).

    picamera2 comes from apt (python3-picamera2) on Raspberry Pi OS; the venv must be created with
    --system-site-packages to see it. It is imported only here, so every other source works on a
    machine without it. Frames are requested as RGB888, which libcamera lays out as B,G,R bytes in
    memory, i.e. what OpenCV calls BGR; they are converted to RGB. Timestamps are monotonic.
    Cannot run off a Pi; `open()` raises SourceError when picamera2 or the camera is missing.
    """

    live = True
    paced = True

    def __init__(self, *, width: int = 640, height: int = 480, fps: float = 30.0) -> None:
        self.name = "Pi camera (picamera2)"
        self._size = (width, height)
        self._fps = fps
        self._camera = None
        self._index = 0

    def open(self) -> None:
        try:
            from picamera2 import Picamera2
        except ImportError as exc:
            raise SourceError(
                f"{self.name}: picamera2 is not installed (on Raspberry Pi OS: "
                "sudo apt install python3-picamera2, venv with --system-site-packages)"
            ) from exc
        try:
            camera = Picamera2()
            config = camera.create_video_configuration(
                main={"size": self._size, "format": "RGB888"},
                controls={"FrameRate": self._fps},
                buffer_count=2,
            )
            camera.configure(config)
            camera.start()
        except Exception as exc:  # libcamera raises RuntimeError/IndexError for a missing camera
            raise SourceError(f"{self.name}: cannot start the camera ({exc})") from exc
        self._camera = camera

    def read(self) -> Frame | None:
        if self._camera is None:
            raise SourceError(f"{self.name}: read before open")
        try:
            bgr = self._camera.capture_array("main")
        except Exception as exc:
            raise SourceError(f"{self.name}: capture failed ({exc})") from exc
        frame = Frame(t=time.monotonic(), index=self._index, image=bgr[:, :, ::-1].copy())
        self._index += 1
        return frame

    def close(self) -> None:
        if self._camera is not None:
            try:
                self._camera.stop()
                self._camera.close()
            finally:
                self._camera = None


class AutoCamera:
    """camera.source 'auto': the first of its cameras that opens (Pi camera, then USB device 0).

    Tried again in that order on every reopen, so a box whose Pi camera ribbon is loose still
    works with a USB webcam, and one whose camera is plugged in later finds it.
    """

    live = True
    paced = True

    def __init__(self, cameras: list[FrameSource]) -> None:
        self.cameras = cameras
        self.name = "camera (auto: " + ", then ".join(c.name for c in cameras) + ")"
        self._active: FrameSource | None = None

    def open(self) -> None:
        reasons = []
        for camera in self.cameras:
            try:
                camera.open()
            except SourceError as exc:
                reasons.append(str(exc))
                continue
            self._active = camera
            self.name = camera.name
            return
        raise SourceError("no camera found: " + "; ".join(reasons))

    def read(self) -> Frame | None:
        if self._active is None:
            raise SourceError(f"{self.name}: read before open")
        return self._active.read()

    def close(self) -> None:
        if self._active is not None:
            self._active.close()
            self._active = None


@dataclass(frozen=True, slots=True)
class ReplayRow:
    """One recorded hand of a replay: frame number, time (s) and what HandObservation carries.
    `line` is the row's line in its file (0 = unknown), for error messages."""

    frame: int
    t: float
    landmarks: np.ndarray
    handedness: str | None
    score: float
    aspect: float
    line: int = 0  # in the CSV, for errors found after sorting


def order_replay_rows(rows: list[ReplayRow], where: str) -> tuple[list[ReplayRow], float]:
    """The rows of one sequence sorted by frame, checked, and the frame interval (s).

    Refuses a frame number that appears twice and a time that goes backwards against the frame
    order (naming the line); the interval is taken over the whole run since t_ms is rounded.
    """
    chosen = sorted(rows, key=lambda r: r.frame)
    for prev, row in zip(chosen, chosen[1:], strict=False):
        at = f"{where}, line {row.line}" if row.line else where
        also = f" (also line {prev.line})" if prev.line else ""
        if row.frame == prev.frame:
            raise SourceError(f"{at}: frame {row.frame} appears twice in one sequence{also}")
        if row.t <= prev.t:
            # replayed in frame order, such a stream would run its clock backwards and
            # silently lose letters; it is a broken or merged recording
            raise SourceError(
                f"{at}: t_ms {row.t * 1000:g} of frame {row.frame} does not come after t_ms "
                f"{prev.t * 1000:g} of frame {prev.frame}; times must increase with the frame "
                "number"
            )
    span = chosen[-1].frame - chosen[0].frame
    frame_dt = (chosen[-1].t - chosen[0].t) / span if span else 1 / 30
    if not frame_dt > 0:
        raise SourceError(f"{where}: t_ms does not increase with frame")
    return chosen, frame_dt


def replay_observations(
    rows: list[ReplayRow], frame_dt: float
) -> Iterator[tuple[int, HandObservation]]:
    """(frame index, observation) from frame 0 to the last recorded frame: the rows as hands,
    every frame number missing between them as "no hand" at its place in time. The one
    replay semantics the daemon's replay source and the word evaluation share."""
    frame_no = 0
    for row in rows:
        while frame_no < row.frame:
            t = row.t - (row.frame - frame_no) * frame_dt
            yield frame_no, HandObservation(t=t, landmarks=None, aspect=row.aspect)
            frame_no += 1
        yield (
            frame_no,
            HandObservation(
                t=row.t,
                landmarks=row.landmarks,
                handedness=row.handedness,
                score=row.score,
                aspect=row.aspect,
            ),
        )
        frame_no += 1


class LandmarkReplaySource:
    """Recorded landmark frames of one sequence, in `frame` order, paced by `t_ms`.

    Frame numbers missing from the CSV (MediaPipe found no hand there) are fed as "no hand", from
    frame 0 to the last recorded frame, so the decoder sees the real gaps. `path#sequence` picks
    one sequence of a file holding several. Reads .csv and .csv.gz. Finite; yields
    HandObservation directly.
    """

    live = False
    gives_observations = True  # frames carry a HandObservation: no landmark stage needed

    def __init__(self, path: str | Path, *, realtime: bool = True) -> None:
        text = str(path)
        file_part, _, wanted = text.partition("#")
        self.path = Path(file_part)
        self.sequence = wanted or None
        self.name = f"landmark replay {text}"
        self._pacer = _Pacer(realtime)
        self.paced = realtime
        self._frames: Iterator[tuple[int, HandObservation]] = iter(())

    def open(self) -> None:
        rows, frame_dt = _read_replay_csv(self.path, self.sequence)
        self._frames = replay_observations(rows, frame_dt)
        self._pacer.reset()

    def read(self) -> Frame | None:
        item = next(self._frames, None)
        if item is None:
            return None
        frame_no, obs = item
        self._pacer.wait(obs.t)
        return Frame(t=obs.t, index=frame_no, observation=obs)

    def close(self) -> None:
        self._frames = iter(())


_COORD_COLUMNS = [f"{axis}{i}" for i in range(21) for axis in "xyz"]


def _read_replay_csv(path: Path, sequence: str | None) -> tuple[list[ReplayRow], float]:
    """Read one sequence's rows, sorted by frame; errors name the file and line."""
    where = f"landmark replay {path}"
    try:
        handle = open_text(path)
    except FileNotFoundError as exc:
        raise SourceError(f"{where}: no such file") from exc
    except OSError as exc:
        raise SourceError(f"{where}: cannot read it ({exc.strerror})") from exc
    rows: dict[str, list[ReplayRow]] = {}
    with handle:
        try:
            _read_replay_rows(handle, where, sequence, rows)
        except (OSError, EOFError) as exc:  # a .gz that is not gzip, or cut short
            raise SourceError(f"{where}: not a readable gzip file ({exc})") from exc
    if not rows:
        what = f"no rows of sequence {sequence!r}" if sequence else "no rows"
        raise SourceError(f"{where}: {what}")
    if len(rows) > 1:
        names = ", ".join(list(rows)[:5])
        raise SourceError(
            f"{where}: holds {len(rows)} sequences ({names}, ...); pick one with "
            f"replay:{path}#<sequence>"
        )
    return order_replay_rows(next(iter(rows.values())), where)


def _read_replay_rows(
    handle, where: str, sequence: str | None, rows: dict[str, list[ReplayRow]]
) -> None:
    reader = csv.DictReader(handle)
    header = reader.fieldnames or []
    missing = [c for c in [*_COORD_COLUMNS, "sequence", "frame", "t_ms"] if c not in header]
    if missing:
        raise SourceError(f"{where}: missing column(s) {', '.join(missing[:5])}")
    for record in reader:
        line = reader.line_num
        seq = record["sequence"]
        if sequence is not None and seq != sequence:
            continue
        if None in record.values() or None in record:
            fields = len(header) - list(record.values()).count(None) + len(record.get(None, []))
            raise SourceError(
                f"{where}, line {line}: {fields} fields where the header has {len(header)} "
                f"({'cut short' if None in record.values() else 'too many'})"
            )
        try:
            coords = np.array([float(record[c]) for c in _COORD_COLUMNS], np.float32)
            frame = int(record["frame"])
            t = float(record["t_ms"]) / 1000.0
            score = float(record.get("score") or 0.0)
            width = float(record.get("width") or 0.0)
            height = float(record.get("height") or 0.0)
        except (TypeError, ValueError) as exc:
            raise SourceError(f"{where}, line {line}: not a number ({exc})") from exc
        aspect = width / height if width > 0 and height > 0 else 1.0
        handedness = record.get("handedness") or None
        rows.setdefault(seq, []).append(
            ReplayRow(frame, t, coords.reshape(21, 3), handedness, score, aspect, line)
        )


def open_source(
    spec: str,
    *,
    width: int = 640,
    height: int = 480,
    fps: float = 30.0,
    realtime: bool = True,
) -> FrameSource:
    """Build the source `camera.source` names (not yet opened): 'auto', 'picamera2', a device
    index such as '0', a video file path, or 'replay:<landmarks.csv>[#sequence]'."""
    text = spec.strip()
    if text.startswith(REPLAY_PREFIX):
        return LandmarkReplaySource(text[len(REPLAY_PREFIX) :], realtime=realtime)
    if text == "picamera2":
        if not _picamera2_available():
            raise SourceError(
                "camera.source 'picamera2': picamera2 is not installed (on Raspberry Pi OS: "
                "sudo apt install python3-picamera2, venv with --system-site-packages)"
            )
        return PiCamera2Source(width=width, height=height, fps=fps)
    if text == "auto":
        cameras: list[FrameSource] = []
        if _picamera2_available():
            cameras.append(PiCamera2Source(width=width, height=height, fps=fps))
        cameras.append(OpenCVSource(0, width=width, height=height, fps=fps))
        return AutoCamera(cameras)
    if text.isdigit():
        return OpenCVSource(int(text), width=width, height=height, fps=fps)
    return OpenCVSource(Path(text).expanduser(), width=width, height=height, realtime=realtime)


def is_camera_spec(spec: str) -> bool:
    """Whether a camera.source names a live camera ('auto', 'picamera2', a V4L2 index), not a
    file or a replay."""
    return spec in ("auto", "picamera2") or spec.isdigit()


def source_from_config(config) -> FrameSource:  # config: edge.config.Config
    cam = config.camera
    spec = cam.source
    if spec.startswith(REPLAY_PREFIX):
        rel = spec[len(REPLAY_PREFIX) :]
        file_part, hash_, seq = rel.partition("#")
        spec = REPLAY_PREFIX + str(_resolve_relative(file_part)) + hash_ + seq
    elif not is_camera_spec(spec):
        spec = str(_resolve_relative(spec))
    return open_source(spec, width=cam.width, height=cam.height, fps=cam.fps, realtime=cam.realtime)


def _resolve_relative(text: str) -> Path:
    """A relative file path is tried against the working folder first, then the install."""
    from edge.config import REPO_ROOT

    path = Path(text).expanduser()
    if path.is_absolute() or path.exists():
        return path
    candidate = REPO_ROOT / path
    return candidate if candidate.exists() else path


def _picamera2_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("picamera2") is not None


class EndOfStream(Exception):
    """Raised by CaptureThread.get when a finite source has delivered its last frame."""


@dataclass
class CaptureStats:
    """Counters the daemon reports in STATUS and the logs."""

    captured: int = 0
    dropped: int = 0
    outages: int = 0
    reopen_attempts: int = 0
    connected: bool = False
    last_error: str = ""


class CaptureThread:
    """Reads a FrameSource on its own thread into a bounded slot.

    Live sources: the slot keeps the newest `slot_size` frames and drops the oldest (counted);
    on a SourceError (or any exception from the driver) the source is closed and reopened after
    retry_initial_s, doubling up to retry_max_s, until it works again or stop() is called.
    Finite sources: read to the end; with `block_when_full` (as-fast-as-possible playback) the
    reader waits for room instead of dropping. A failure of a finite source ends the stream with
    its error kept in `error` for the caller to raise.
    """

    def __init__(
        self,
        source: FrameSource,
        *,
        slot_size: int = 1,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 10.0,
        block_when_full: bool | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.source = source
        self.slot_size = slot_size
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        if block_when_full is None:
            block_when_full = not source.paced
        self.block_when_full = block_when_full
        self.stats = CaptureStats()
        self.error: SourceError | None = None
        self._slot: collections.deque[Frame] = collections.deque(maxlen=slot_size)
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._ended = False
        self._outage_started: float | None = None
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)

    # -- consumer side -------------------------------------------------------------------------
    def start(self) -> CaptureThread:
        self._thread.start()
        return self

    def get(self, timeout: float) -> Frame | None:
        """The oldest waiting frame, or None after `timeout` s; EndOfStream when a finite source
        is exhausted (or failed: then `error` is set)."""
        with self._cond:
            if not self._slot and not self._ended:
                self._cond.wait(timeout)
            if self._slot:
                frame = self._slot.popleft()
                self._cond.notify_all()
                return frame
            if self._ended:
                raise EndOfStream()
            return None

    def pending(self) -> int:
        with self._cond:
            return len(self._slot)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)

    # -- producer side -------------------------------------------------------------------------
    def _put(self, frame: Frame) -> None:
        with self._cond:
            if self.block_when_full:
                while len(self._slot) >= self.slot_size and not self._stop.is_set():
                    self._cond.wait(0.1)
            elif len(self._slot) >= self.slot_size:
                self.stats.dropped += 1  # deque(maxlen) drops the oldest on append
            self._slot.append(frame)
            self.stats.captured += 1
            self._cond.notify_all()

    def _finish(self) -> None:
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    def _fail(self, exc: Exception) -> SourceError:
        err = exc if isinstance(exc, SourceError) else SourceError(f"{self.source.name}: {exc}")
        self.stats.last_error = str(err)
        self.stats.connected = False
        return err

    def _run(self) -> None:
        try:
            self._capture_loop()
        finally:
            self._close_source()
            self._finish()

    def _close_source(self) -> None:
        try:
            self.source.close()
        except Exception:  # noqa: BLE001 - closing a broken device must not hide the cause
            log.debug("closing %s failed", self.source.name, exc_info=True)

    def _outage(self, err: SourceError, delay: float) -> bool:
        """Note a failure of a live source; True when it starts a new outage (log it once)."""
        if self._outage_started is None:
            self._outage_started = time.monotonic()
            self.stats.outages += 1
            log.error(
                "%s; retrying with backoff (%.1f s, up to %.1f s)", err, delay, self.retry_max_s
            )
            return True
        log.debug("%s; next attempt in %.1f s", err, delay)
        return False

    def _capture_loop(self) -> None:
        """Open, read until failure, back off, reopen. One ERROR line when an outage starts, one
        WARNING when frames flow again; the attempts in between are DEBUG. The backoff only
        resets once a frame arrives, so a camera that opens but never delivers is not hammered."""
        delay = self.retry_initial_s
        while not self._stop.is_set():
            self.stats.reopen_attempts += 1
            try:
                self.source.open()
                self.stats.connected = True
                while not self._stop.is_set():
                    frame = self.source.read()
                    if frame is None:
                        return  # end of a finite source
                    if self._outage_started is not None:
                        log.warning(
                            "%s is back after %.1f s",
                            self.source.name,
                            time.monotonic() - self._outage_started,
                        )
                        self._outage_started = None
                    delay = self.retry_initial_s
                    self._put(frame)
                return
            except Exception as exc:  # noqa: BLE001 - any driver failure means "retry later"
                err = self._fail(exc)
                self._close_source()
                if not self.source.live:
                    self.error = err
                    return
                self._outage(err, delay)
                if self._stop.wait(delay):
                    return
                delay = min(delay * 2, self.retry_max_s)

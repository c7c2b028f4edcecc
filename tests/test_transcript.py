"""Transcript: every word on disk with its time, and no word lost when the disk says no.

Tests run as root, and root ignores file permissions, so "chmod a-w" would not make a folder
unwritable. The faults here fail for root too:
- a folder that cannot exist: the transcript's parent path is a regular file, so creating the
  folder fails (ENOTDIR/EEXIST), exactly what a mistyped path or a vanished mount gives; removing
  the file and making the folder is the "it works again" step;
- a full disk: /dev/full, the kernel device whose every write fails with ENOSPC;
- a filesystem that refuses new entries: /proc, where not even root can create a folder.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge.transcript import Transcript

WHEN = datetime(2026, 11, 25, 9, 41, 7, 123000, tzinfo=UTC)


def read_lines(path: Path) -> list[tuple[datetime, str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        stamp, word = line.split("\t")
        rows.append((datetime.fromisoformat(stamp), word))
    return rows


def test_words_are_appended_with_their_time_and_the_folder_is_created(tmp_path: Path) -> None:
    path = tmp_path / "state" / "deep" / "transcript.txt"
    transcript = Transcript(path)
    assert transcript.append("HELLO", WHEN)
    assert transcript.append("WORLD", WHEN + timedelta(seconds=3))
    transcript.close()
    assert read_lines(path) == [(WHEN, "HELLO"), (WHEN + timedelta(seconds=3), "WORLD")]
    assert path.read_text().startswith("2026-11-25T09:41:07.123+00:00\tHELLO\n")

    again = Transcript(path, fsync=False)  # a restart appends, it never truncates
    assert again.append("AGAIN", WHEN + timedelta(minutes=1))
    again.close()
    assert [w for _, w in read_lines(path)] == ["HELLO", "WORLD", "AGAIN"]
    assert transcript.written == 2
    assert transcript.pending == 0


def test_naive_times_get_the_local_offset_and_words_cannot_break_lines(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    transcript = Transcript(path)
    transcript.append("TWO\tWORDS\nHERE", datetime(2026, 1, 2, 3, 4, 5))
    transcript.close()
    ((stamp, word),) = read_lines(path)
    assert stamp.tzinfo is not None
    assert word == "TWO WORDS HERE"


def test_unwritable_folder_keeps_words_and_writes_them_first_when_it_works_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "transcripts"
    blocker.write_text("a regular file where the folder should be\n")
    path = blocker / "transcript.txt"
    transcript = Transcript(path)

    with caplog.at_level(logging.WARNING, logger="edge.transcript"):
        assert transcript.append("FIRST", WHEN) is False
        assert transcript.append("SECOND", WHEN + timedelta(seconds=1)) is False
        assert transcript.pending == 2
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 2  # loud: every failed word is reported
        assert str(path) in errors[0].getMessage()
        assert "kept in memory" in errors[0].getMessage()

        assert transcript.retry() is False  # still broken
        assert transcript.pending == 2

        blocker.unlink()  # the folder can be made now
        assert transcript.append("THIRD", WHEN + timedelta(seconds=2)) is True
    assert transcript.pending == 0
    assert "writable again" in caplog.text
    transcript.close()
    assert [w for _, w in read_lines(path)] == ["FIRST", "SECOND", "THIRD"]
    assert transcript.failures == 3


def test_retry_writes_pending_words_without_a_new_word(tmp_path: Path) -> None:
    blocker = tmp_path / "out"
    blocker.write_text("")
    path = blocker / "transcript.txt"
    transcript = Transcript(path)
    assert not transcript.append("WAITING", WHEN)
    blocker.unlink()
    assert transcript.retry() is True
    assert [w for _, w in read_lines(path)] == ["WAITING"]
    transcript.close()


def test_full_disk_is_loud_never_raises_and_close_logs_the_unwritten_words(
    caplog: pytest.LogCaptureFixture,
) -> None:
    transcript = Transcript(Path("/dev/full"))
    with caplog.at_level(logging.ERROR, logger="edge.transcript"):
        for i in range(3):
            assert transcript.append(f"WORD{i}", WHEN) is False
        assert transcript.pending == 3
        assert "No space left on device" in caplog.text
        transcript.close()
    last = caplog.records[-1].getMessage()
    assert "only in this log" in last
    assert all(f"WORD{i}" in last for i in range(3))


def test_a_filesystem_that_refuses_new_folders_even_for_root() -> None:
    transcript = Transcript(Path("/proc/sign2sound-test/transcript.txt"))
    assert transcript.append("KEPT", WHEN) is False
    assert transcript.pending == 1
    assert not Path("/proc/sign2sound-test").exists()


def test_pending_words_are_bounded_and_overflow_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "f"
    blocker.write_text("")
    transcript = Transcript(blocker / "t.txt", max_pending=3)
    with caplog.at_level(logging.ERROR, logger="edge.transcript"):
        for i in range(5):
            transcript.append(f"W{i}", WHEN)
    assert transcript.pending == 3
    assert transcript.lost == 2
    assert "dropping the oldest" in caplog.text and "W0" in caplog.text
    blocker.unlink()
    assert transcript.retry()
    assert [w for _, w in read_lines(blocker / "t.txt")] == ["W2", "W3", "W4"]


def test_moving_to_a_new_path_carries_the_pending_words(tmp_path: Path) -> None:
    blocker = tmp_path / "old"
    blocker.write_text("")
    transcript = Transcript(blocker / "t.txt")
    assert not transcript.append("HELD", WHEN)
    new = tmp_path / "new" / "t.txt"
    assert transcript.move_to(new, fsync=False)
    assert transcript.append("NEXT", WHEN)
    transcript.close()
    assert [w for _, w in read_lines(new)] == ["HELD", "NEXT"]

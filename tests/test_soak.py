"""A short soak of the whole daemon: twenty minutes of signing replayed at accelerated pace.

The long version (an hour or more, same code) is benchmarks/soak_daemon.py. Every word decoded
must be in the transcript, in order; the capture slot, ring buffer and speech queue must stay
within their bounds while the speech queue is really pushed (the replay decodes words far
faster than espeak-ng can say them); RSS must stop growing after warm-up, judged with a generous
margin on medians, never on timing.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from edge.config import REPO_ROOT
from edge.speech import wav_duration

SIGNING_MINUTES = 20
RSS_MARGIN_MB = 20.0  # a leak of one (30, 64) float32 window per frame would be ~150 MB here


def _load_soak_module():
    path = REPO_ROOT / "benchmarks" / "soak_daemon.py"
    spec = importlib.util.spec_from_file_location("soak_daemon", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["soak_daemon"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


soak = _load_soak_module()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory):
    repeats = round(SIGNING_MINUTES * 60 / soak.copy_seconds())
    return soak.run_soak(tmp_path_factory.mktemp("soak"), repeats, rss_every=250)


def test_every_decoded_word_is_in_the_transcript(report) -> None:
    assert report.stream_s >= SIGNING_MINUTES * 60 * 0.99
    assert report.words_decoded == report.repeats  # one word per copy of HELLO
    assert report.distinct_words == ["HELLO"]
    assert report.transcript_matches  # the same words, in the same order, none pending
    assert report.words_in_transcript == report.words_decoded


def test_slot_ring_and_speech_queue_stay_within_their_bounds(report) -> None:
    assert 1 <= report.max_slot <= report.slot_size
    assert report.max_ring == report.ring_capacity  # filled, and never more
    # never over the bound; how close it comes depends on how fast espeak-ng runs on this
    # machine right now, so overflow itself is tested deterministically in test_speech.py
    assert 1 <= report.max_speech_queue <= report.speech_queue_size
    assert report.utterances_failed == 0
    # every utterance is accounted for: spoken or dropped with a log line
    spoken_or_dropped = report.utterances_spoken + report.utterances_dropped
    assert spoken_or_dropped == report.utterances_queued


def test_speech_was_really_produced_throughout(report, tmp_path_factory) -> None:
    wav = next(Path(tmp_path_factory.getbasetemp()).glob("soak*/speech.wav"))
    assert report.utterances_spoken > report.repeats  # words and spoken letters
    assert wav_duration(wav) > report.utterances_spoken * 0.2


def test_rss_stops_growing_after_warm_up(report) -> None:
    assert len(report.rss_samples_mb) >= 20
    assert report.rss_growth_mb < RSS_MARGIN_MB, report.rss_samples_mb
    assert report.problems(RSS_MARGIN_MB) == []


def test_the_soak_report_flags_what_it_checks() -> None:
    """The checker itself can fail: a leak, a lost word and an overfull queue are reported."""
    bad = soak.SoakReport(repeats=3, words_decoded=2, transcript_matches=False)
    bad.speech_queue_size, bad.max_speech_queue = 8, 9
    bad.rss_warm_mb, bad.rss_end_mb = 100.0, 150.0
    problems = " | ".join(bad.problems(RSS_MARGIN_MB))
    assert "transcript" in problems and "2 words decoded from 3" in problems
    assert "speech queue held 9 > 8" in problems and "RSS grew 50.0 MB" in problems

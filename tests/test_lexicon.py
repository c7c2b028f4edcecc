"""Word correction against the shipped word list (models/lexicon.tsv): a misread word is fixed,
a name or a confident reading stands, a bad list is refused in one line, and the Pipeline hook
on the real HELLO replay (real LiteRT, shipped model)."""

from __future__ import annotations

import dataclasses
import logging
import random
from pathlib import Path

import numpy as np
import pytest

from edge import cli
from edge.config import MODELS_DIR, REPO_ROOT, Config, load_config
from edge.daemon import Daemon
from edge.decoder import DecoderEvent
from edge.lexicon import Lexicon, LexiconError, WordCorrector
from edge.pipeline import Pipeline, load_classifier
from edge.sources import LandmarkReplaySource
from edge.speech import WavFileSink
from edge.word_eval import levenshtein

DEMO_CSV = REPO_ROOT / "models" / "demo" / "hello_landmarks.csv"
LABELS = [chr(65 + i) for i in range(26)] + ["_"]


def evidence(word: str, p: float = 0.95, **second: tuple[str, float]) -> np.ndarray:
    """Evidence rows for `word`: each letter at probability p, the rest spread thinly; a
    keyword `i3=("O", 0.4)` gives the letter at position 3 that rival at 0.4 instead."""
    rows = np.full((len(word), len(LABELS)), (1.0 - p) / (len(LABELS) - 1), np.float32)
    for i, letter in enumerate(word):
        rows[i, ord(letter) - 65] = p
    for key, (rival, share) in second.items():
        i = int(key[1:])
        rows[i] = 0.05 / (len(LABELS) - 2)  # 5% spread over the other labels
        rows[i, ord(word[i]) - 65] = 0.95 - share
        rows[i, ord(rival) - 65] = share
    return rows


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config()


@pytest.fixture(scope="module")
def corrector(config: Config) -> WordCorrector:
    made = WordCorrector.from_config(config, LABELS)
    assert made is not None
    return made


def test_the_shipped_list_holds_the_test_words_it_should_and_not_the_rare_ones(corrector):
    lexicon = corrector.lexicon
    rows = (MODELS_DIR / "eval/words/wordlist.tsv").read_text().splitlines()[1:]
    groups = {g: [line.split("\t")[0] for line in rows if line.split("\t")[1] == g]
              for g in ("common", "name", "rare")}  # fmt: skip
    assert all(w in lexicon for w in groups["common"] + groups["name"])
    assert not any(w in lexicon for w in groups["rare"])
    assert "HELLO" in lexicon and lexicon.zipf_of("THE") > lexicon.zipf_of("HELLO") > 3.0


def test_a_misread_common_word_is_corrected(corrector):
    # the last letter read as P, but O nearly as likely: HELLO is far more likely than HELLP
    result = corrector.correct("HELLP", evidence("HELLP", i4=("O", 0.40)))
    assert result.text == "HELLO" and result.changed and result.gain >= corrector.config.margin
    # a double letter read once (the release between the Ls not seen)
    assert corrector.correct("HELO", evidence("HELO", p=0.9)).text == "HELLO"
    # a near-even reading between two letters goes to the word that makes sense
    assert corrector.correct("WORLF", evidence("WORLF", i4=("D", 0.35))).text == "WORLD"


def test_names_and_rare_words_not_in_the_list_come_through_as_read(corrector):
    rows = (MODELS_DIR / "eval/words/wordlist.tsv").read_text().splitlines()[1:]
    rare = [line.split("\t")[0] for line in rows if line.split("\t")[1] == "rare"]
    assert len(rare) >= 25
    for word in rare + ["KUZNETS", "JILLY", "ZAPOTEC"]:
        assert word not in corrector.lexicon
        result = corrector.correct(word, evidence(word, p=0.85))
        assert not result.changed, (word, result)


def test_a_confident_reading_is_not_changed_to_a_more_frequent_word(corrector):
    # LAKE is listed but LIKE is far more frequent: a clearly read A keeps LAKE ...
    assert corrector.lexicon.zipf_of("LIKE") > corrector.lexicon.zipf_of("LAKE") + 1.5
    kept = corrector.correct("LAKE", evidence("LAKE", p=0.95))
    assert kept.text == "LAKE" and not kept.changed
    # ... and the same letters with A and I nearly even do become LIKE (the test can fail)
    assert corrector.correct("LAKE", evidence("LAKE", i1=("I", 0.42))).text == "LIKE"
    # an unlisted reading with every letter confident stays too
    assert corrector.correct("HELLP", evidence("HELLP", p=0.97)).text == "HELLP"


def test_two_letter_words_and_words_without_evidence_are_never_changed(corrector):
    assert corrector.correct("HX", evidence("HX", i1=("E", 0.45))).text == "HX"
    assert corrector.correct("HELLP", None).text == "HELLP"
    event = DecoderEvent("word", "HELLP", 1.0)
    assert corrector.apply(event) is event


def test_evidence_of_the_wrong_shape_keeps_the_word_and_says_so(corrector, caplog):
    rows = evidence("HELLP", i4=("O", 0.40))
    with caplog.at_level(logging.WARNING, logger="edge.lexicon"):
        result = corrector.correct("HELLP", rows[:, :20])
    assert result.text == "HELLP" and not result.changed
    assert "the word is kept as read" in caplog.text


def test_apply_marks_a_corrected_word_with_what_was_read(corrector):
    rows = evidence("HELLP", i4=("O", 0.40))
    corrected = corrector.apply(DecoderEvent("word", "HELLP", 2.5, evidence=rows))
    assert (corrected.kind, corrected.text, corrected.t) == ("word", "HELLO", 2.5)
    assert corrected.raw == "HELLP"
    assert corrected.evidence is rows
    letter = DecoderEvent("letter", "P", 2.0, evidence=rows[4])
    assert corrector.apply(letter) is letter


def test_the_search_finds_every_listed_word_within_the_edit_limit(corrector):
    """The length window and letter-count bound never prune a word the limit allows: compared
    with plain Levenshtein over a slice of the list, on random misreadings."""
    lexicon = corrector.lexicon
    rng = random.Random(3)
    sample = [w for w in lexicon.words if 3 <= len(w) <= 9]
    for word in rng.sample(sample, 25):
        raw = list(word)
        for _ in range(rng.randint(1, 2)):
            i = rng.randrange(len(raw))
            op = rng.choice("sdi")
            if op == "s":
                raw[i] = rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
            elif op == "d" and len(raw) > 2:
                del raw[i]
            else:
                raw.insert(i, rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
        read = "".join(raw)
        k = corrector.allowed_edits(len(read))
        codes = np.frombuffer(read.encode(), np.uint8) - 65
        found = {lexicon.words[i] for i in corrector._candidates(codes, k)}
        near = [w for w in lexicon.words if abs(len(w) - len(read)) <= k]
        expected = {w for w in near if levenshtein(read, w) <= k}
        assert expected <= found, (read, expected - found)


def test_a_raw_reading_that_is_a_listed_word_is_weighed_with_its_own_frequency(corrector):
    # YES is listed: read clearly it stays, even though YET/YEP/... are near
    assert corrector.correct("YES", evidence("YES")).text == "YES"


# -- the word list file -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"HELLO\t4.7\nworld\t5.0\n", "line 2: expected 'WORD<TAB>zipf'"),
        (b"# comment\nHELLO\t4.7\nHELLO\t4.8\n", "line 3: HELLO is listed twice (first at line 2)"),
        (b"HELLO 4.7\n", "line 1: expected 'WORD<TAB>zipf'"),
        (b"HELLO\tmany\n", "line 1: expected 'WORD<TAB>zipf'"),
        (b"HELLO\t4.7\nCAF\xc3\t3.0\n", "line 2: not UTF-8 text"),
        (b"# only a comment\n\n", "the word list has no words"),
    ],
)
def test_a_malformed_word_list_is_refused_naming_the_file_and_line(tmp_path, content, expected):
    path = tmp_path / "words.tsv"
    path.write_bytes(content)
    with pytest.raises(LexiconError) as info:
        Lexicon.load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and expected in message
    assert "\n" not in message


def test_a_missing_word_list_stops_the_start_with_one_line(tmp_path, capsys):
    gone = tmp_path / "gone.tsv"
    code = cli.main(["run", "--allow-root", "--set", f"lexicon.path={gone}",
                     "--set", f"camera.source=replay:{DEMO_CSV}"])  # fmt: skip
    assert code == 1
    lines = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in lines if "error" in line.lower()]  # (and a running-as-root note)
    assert errors == [f"sign2sound run: error: {gone}: word list not found (lexicon.path)"]


def test_a_word_list_is_read_again_when_it_changes(tmp_path):
    path = tmp_path / "words.tsv"
    path.write_text("HELLO\t4.7\n")
    first = Lexicon.load(path)
    assert Lexicon.load(path) is first  # unchanged: shared, not parsed again
    path.write_text("HELLO\t4.7\nWORLD\t5.0\n")
    assert "WORLD" in Lexicon.load(path)


# -- the Pipeline hook, with the real model ---------------------------------------------------
@pytest.fixture(scope="module")
def classifier(config: Config):
    return load_classifier(config)


def replay(pipeline: Pipeline) -> list[DecoderEvent]:
    source = LandmarkReplaySource(DEMO_CSV, realtime=False)
    source.open()
    events = []
    while (frame := source.read()) is not None:
        events += pipeline.process(frame.observation)
    return events + pipeline.finish()


def with_lexicon(config: Config, **values) -> Config:
    return dataclasses.replace(config, lexicon=dataclasses.replace(config.lexicon, **values))


def test_the_real_hello_replay_is_not_corrected(config, classifier):
    pipeline = Pipeline(config, classifier)
    assert pipeline.corrector is not None  # on by default
    words = [e for e in replay(pipeline) if e.kind == "word"]
    assert [(w.text, w.raw) for w in words] == [("HELLO", None)]
    assert words[0].evidence.shape == (5, len(classifier.labels))


def test_the_pipeline_passes_a_corrected_word_with_its_raw_letters(tmp_path, config, classifier):
    """A list without HELLO and a made-up JELLO far more frequent than any real word: the
    real reading of HELLO becomes JELLO, with raw HELLO (the hook's changed path)."""
    path = tmp_path / "words.tsv"
    path.write_text("JELLO\t8.0\nYELLOW\t5.0\n")
    strong = with_lexicon(config, path=str(path), prior_weight=3.0, unknown_zipf=0.0)
    words = [e for e in replay(Pipeline(strong, classifier)) if e.kind == "word"]
    assert [(w.text, w.raw) for w in words] == [("JELLO", "HELLO")]


def test_correction_off_by_config(tmp_path, config, classifier):
    path = tmp_path / "words.tsv"
    path.write_text("JELLO\t8.0\n")
    off = with_lexicon(config, enabled=False, path=str(path), prior_weight=3.0, unknown_zipf=0.0)
    pipeline = Pipeline(off, classifier)
    assert pipeline.corrector is None and WordCorrector.from_config(off, LABELS) is None
    words = [e for e in replay(pipeline) if e.kind == "word"]
    assert [(w.text, w.raw) for w in words] == [("HELLO", None)]
    # off means off: not even a bad path is looked at
    gone = with_lexicon(config, enabled=False, path=str(tmp_path / "gone.tsv"))
    assert Pipeline(gone, classifier).corrector is None


def test_the_daemon_logs_the_raw_letters_and_writes_the_corrected_word(tmp_path, caplog):
    path = tmp_path / "words.tsv"
    path.write_text("JELLO\t8.0\n")
    config = load_config(
        overrides=[f"transcript.path={tmp_path / 'transcript.txt'}", f"lexicon.path={path}",
                   "lexicon.prior_weight=3", "lexicon.unknown_zipf=0",
                   "speech.letter_feedback=none"]
    )  # fmt: skip
    source = LandmarkReplaySource(DEMO_CSV, realtime=False)
    daemon = Daemon(config, source=source, player=WavFileSink(tmp_path / "s.wav"))
    with caplog.at_level(logging.INFO, logger="edge.daemon"):
        summary = daemon.run()
    assert summary.words == ["JELLO"]
    assert "word: JELLO (read HELLO)" in [r.getMessage() for r in caplog.records]
    lines = (tmp_path / "transcript.txt").read_text().splitlines()
    assert [line.split("\t")[1] for line in lines] == ["JELLO"]
    assert daemon.last_word == "JELLO"  # what the button's hold repeats
    assert "last: JELLO" in daemon.status_text(10.0)


def test_a_lexicon_change_on_reload_is_named_as_needing_a_restart(tmp_path: Path, caplog):
    cfg_file = tmp_path / "config.yaml"
    cfg_file.write_text(f"transcript:\n  path: {tmp_path / 'transcript.txt'}\n")
    daemon = Daemon(
        load_config(cfg_file),
        config_path=cfg_file,
        source=LandmarkReplaySource(DEMO_CSV, realtime=False),
        player=WavFileSink(tmp_path / "s.wav"),
    )
    cfg_file.write_text(
        f"transcript:\n  path: {tmp_path / 'transcript.txt'}\nlexicon:\n  margin: 5.0\n"
    )
    with caplog.at_level(logging.WARNING, logger="edge.daemon"):
        daemon._reload()
    assert any(
        "changes to lexicon.margin take effect after a restart" in r.getMessage()
        for r in caplog.records
    )


def test_every_listed_word_is_upper_case_a_to_z_with_a_sane_prior(corrector):
    lexicon = corrector.lexicon
    assert 20_000 <= len(lexicon) <= 60_000
    assert all(w.isascii() and w.isalpha() and w.isupper() for w in lexicon.words)
    assert float(lexicon.zipf.min()) > 1.5 and float(lexicon.zipf.max()) < 8.0
    one_letter = [w for w in lexicon.words if len(w) == 1]
    assert sorted(one_letter) == ["A", "I"]

"""Enrolment before/after on sources the model never trained on, and what it costs per frame.

Protocol (edge/enrol_eval.py): for each source, the first N single frames of each letter (file
order) enrol it, through the same path as `sign2sound enroll --from`; the rest of the source is
the test: its held letters (24 static letters, top-1) and word streams spelled at `--rate`
letters/s from those remaining frames, through the daemon's Pipeline (decoder, gate, word
correction as configured), without and with the profile. `--split val` is for choosing the
method and its settings; `--split test` (edge/training/splits.py TEST_SOURCES) for the numbers.

`--timing` measures SignerAdapter.apply per frame on real windows (the only per-frame cost the
profile adds) and how long a live enrolment of the whole alphabet takes with real espeak-ng
prompts (spoken prompt + beep + settle + capture, per letter).

Run from the repository root (the daemon's config; --set as for any command):
    .venv/bin/python benchmarks/enrolment.py --split test \
        --json benchmarks/results/enrolment/test.json \
        --markdown benchmarks/results/enrolment/test.md
    .venv/bin/python benchmarks/enrolment.py --timing
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from edge.cli import add_config_arguments, comma_names  # noqa: E402
from edge.config import MODELS_DIR, SHARED_DATA_DIR, load_config  # noqa: E402
from edge.dataset import load_many  # noqa: E402
from edge.enrol_eval import as_dicts, evaluate_source, read_words, summary  # noqa: E402
from edge.training.splits import TEST_SOURCES, VAL_SOURCES  # noqa: E402

WORDS = MODELS_DIR / "eval" / "words" / "wordlist.txt"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("val", "test"), default="val")
    parser.add_argument("--sources", type=comma_names, default=(), help="instead of --split")
    parser.add_argument("--n", type=comma_names, default=("5", "10", "20"), help="frames/letter")
    parser.add_argument("--rate", type=float, default=2.0, help="word streams: letters per second")
    parser.add_argument("--words", type=int, default=100, help="word streams per source (0: none)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=SHARED_DATA_DIR / "landmarks")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--markdown", type=Path, default=None)
    parser.add_argument("--timing", action="store_true", help="per-frame cost and live duration")
    add_config_arguments(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    config = load_config(args.config, args.overrides)
    # profiles are built in memory per source: none is read from the state folder
    config = dataclasses.replace(
        config, classifier=dataclasses.replace(config.classifier, profile="")
    )
    from edge.pipeline import load_classifier

    classifier = load_classifier(config)
    report = (timing if args.timing else accuracy)(config, classifier, args)
    text = json.dumps(report, indent=1) + "\n"
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text)
        print(f"wrote {args.json}", file=sys.stderr)
    if args.markdown and not args.timing:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(markdown(report))
        print(f"wrote {args.markdown}", file=sys.stderr)


def _setup(config, classifier) -> dict:
    return {
        "model": config.classifier.model,
        "model_sha256": _sha(classifier),
        "window_s": config.classifier.window_s,
        "decoder": dataclasses.asdict(config.decoder),
        "lexicon": config.lexicon.enabled,
        "machine": platform.machine(),
        "python": platform.python_version(),
        "command": " ".join([".venv/bin/python", *sys.argv]),
    }


def _sha(classifier) -> str:
    from edge.signer_profile import model_identity

    return model_identity(classifier.model_path)


def accuracy(config, classifier, args) -> dict:
    sources = tuple(args.sources) or (VAL_SOURCES if args.split == "val" else TEST_SOURCES)
    table = load_many([args.data / f"{s}.csv" for s in sources])
    words: list[str] = []
    if args.words:
        rng = np.random.default_rng(args.seed)
        words = [str(w) for w in rng.permutation(read_words(WORDS))[: args.words]]
    results = []
    started = time.perf_counter()
    for n in (int(v) for v in args.n):
        for source in sources:
            t0 = time.perf_counter()
            r = evaluate_source(
                config, classifier, table, source, n, words=words, rate=args.rate, seed=args.seed
            )
            results.append(r)
            cer = (
                f"CER {r.cer_before:.3f} -> {r.cer_after:.3f} ({r.words} words)" if r.words else ""
            )
            print(
                f"N={n:<3} {source:<18} held {r.held_before:.3f} -> {r.held_after:.3f}   {cer}"
                f"   ({time.perf_counter() - t0:.1f} s)",
                file=sys.stderr,
                flush=True,
            )
    return {
        "kind": "enrolment",
        "sources": list(sources),
        "split": "custom" if args.sources else args.split,
        "rate": args.rate,
        "words_per_source": args.words,
        "seed": args.seed,
        "setup": _setup(config, classifier),
        "summary": summary(results),
        "results": as_dicts(results),
        "seconds": round(time.perf_counter() - started, 1),
    }


def markdown(report: dict) -> str:
    """The before/after table: held letters and word CER per source and N, and the means."""
    rate = report["rate"]
    lines = [
        f"| source | N | held letters before | after | word CER at {rate:g}/s before | after "
        "| words read right before | after |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]

    def cell(v: float | None, digits: int = 3) -> str:
        return "-" if v is None else f"{v:.{digits}f}"

    order = {s: i for i, s in enumerate(report["sources"])}
    for r in sorted(report["results"], key=lambda r: (r["n"], order[r["source"]])):
        lines.append(
            f"| {r['source']} | {r['n']} | {cell(r['held_before'])} | {cell(r['held_after'])} | "
            f"{cell(r['cer_before'])} | {cell(r['cer_after'])} | "
            f"{cell(r['word_acc_before'], 2)} | {cell(r['word_acc_after'], 2)} |"
        )
    for n, s in report["summary"].items():
        lines.append(
            f"| **all {len(report['sources'])}** | {n} | **{cell(s['held_before'])}** | "
            f"**{cell(s['held_after'])}** | **{cell(s.get('cer_before'))}** | "
            f"**{cell(s.get('cer_after'))}** | {cell(s.get('word_acc_before'), 2)} | "
            f"{cell(s.get('word_acc_after'), 2)} |"
        )
    lines += ["", "Commonest held-letter errors left with the profile (true>read: frames; before):"]
    for r in report["results"]:
        if r["n"] == 10:
            after = ", ".join(f"{k} {v}" for k, v in r["confused_after"].items()) or "none"
            before = ", ".join(f"{k} {v}" for k, v in r["confused_before"].items())
            lines.append(f"- N=10 {r['source']}: {after} (before: {before})")
    setup = report["setup"]
    lines += [
        "",
        f"Model `{setup['model']}` (sha256 {setup['model_sha256'][:12]}...), window "
        f"{setup['window_s']} s, decoder threshold {setup['decoder']['threshold']} and hold "
        f"{setup['decoder']['hold_s']} s, word correction "
        f"{'on' if setup['lexicon'] else 'off'}; {report['words_per_source']} words per source "
        f"(seed {report['seed']}); held letters = the 24 static letters; all = mean over sources "
        "(held) and over every letter of every word (CER).",
        f"Command: `{setup['command']}`",
    ]
    return "\n".join(lines) + "\n"


def timing(config, classifier, args) -> dict:
    """SignerAdapter.apply per frame on real held windows; live duration of a whole alphabet."""
    from edge.enrol_eval import first_frames
    from edge.enrolment import (
        ENROL_LETTERS,
        SETTLE_S,
        fit_profile,
        samples_from_table,
        window_geometry,
    )
    from edge.speech import synthesize_wav, wav_duration, write_beep
    from edge.training.windows import held_windows

    source = VAL_SOURCES[0]
    table = load_many([args.data / f"{source}.csv"])
    samples = samples_from_table(table.select(first_frames(table, 10)), classifier, config)
    adapter = fit_profile(samples.features, classifier=classifier).adapter()
    synth = window_geometry(config, classifier)
    held = held_windows(table, seed=0, labels=list(classifier.labels), synth=synth)
    probs = [classifier.predict(w).copy() for w in held.x]
    for w, p in zip(held.x[:200], probs[:200], strict=True):  # warm-up
        adapter.apply(w, p)
    ns = np.empty(len(held.x), np.int64)
    clock = time.perf_counter_ns
    for i, (w, p) in enumerate(zip(held.x, probs, strict=True)):
        t0 = clock()
        adapter.apply(w, p)
        ns[i] = clock() - t0
    invoke = np.empty(min(len(held.x), 2000), np.int64)
    for i, w in enumerate(held.x[: len(invoke)]):
        t0 = clock()
        classifier.predict(w)
        invoke[i] = clock() - t0
    speech = config.speech
    with tempfile.TemporaryDirectory() as tmp:
        beep = wav_duration(write_beep(Path(tmp) / "beep.wav"))
        prompts = [
            wav_duration(
                synthesize_wav(f"sign {c}", Path(tmp) / "p.wav", speech.voice, speech.rate_wpm)
            )
            for c in ENROL_LETTERS
        ]
        intro = wav_duration(
            synthesize_wav(
                "enrolment. after each beep, hold the letter still",
                Path(tmp) / "i.wav",
                speech.voice,
                speech.rate_wpm,
            )
        )
    hold = SETTLE_S + config.enrolment.capture_s
    live = intro + sum(prompts) + len(prompts) * (beep + hold)

    def us(a: np.ndarray) -> dict:
        q = np.percentile(a, [50, 90, 99]) / 1000.0
        return {"median": round(q[0], 1), "p90": round(q[1], 1), "p99": round(q[2], 1)}

    report = {
        "kind": "enrolment-timing",
        "setup": _setup(config, classifier),
        "windows": len(held.x),
        "adapter_apply_us": us(ns),
        "classifier_predict_us": us(invoke),
        "live_alphabet_s": round(live, 1),
        "live_alphabet": {
            "letters": len(prompts),
            "prompt_s_mean": round(float(np.mean(prompts)), 2),
            "beep_s": round(beep, 2),
            "held_s_per_letter": hold,
            "intro_s": round(intro, 2),
            "signing_s": round(len(prompts) * hold, 1),
        },
    }
    print(
        f"SignerAdapter.apply: median {report['adapter_apply_us']['median']} us, p99 "
        f"{report['adapter_apply_us']['p99']} us per frame (classifier invoke median "
        f"{report['classifier_predict_us']['median']} us) on {platform.machine()}; live "
        f"enrolment of {len(prompts)} letters: {live:.0f} s ({len(prompts) * hold:.0f} s of it "
        "holding letters), when no letter is asked again",
        file=sys.stderr,
    )
    return report


if __name__ == "__main__":
    main()

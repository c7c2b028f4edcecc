"""Peak memory of `sign2sound eval` against the size of the file it reads (issue 13, item 6).

Builds landmark CSVs of the sizes asked for by repeating real rows of ../shared/data, runs
`sign2sound eval` on each in a subprocess and samples the child's RSS with psutil every
`--interval` seconds, and on Linux the kernel's high-water mark of its memory (VmHWM in
/proc/PID/status), which catches a peak between two samples (wait4's ru_maxrss would not do: it
counts the pages of this process at the fork). The target: peak RSS under 500 MB for any file
size.

- `letters`: every 10th single-frame row of each of the 20 sources of landmarks/ and every clip
  of sequences/ (each copy of a clip under its own sequence name, so it stays a clip of its own),
  repeated to the size: held windows, clip windows and the whole letter report.
- `words`: the word streams of models/eval/words/test_words.csv.gz (real hands of the test
  sources), each copy under its own sequence name: every stream replayed through the daemon's
  pipeline.

The files are built once in --workdir and reused (the same bytes every time), so --before can
run another checkout of the project (e.g. main before the change, `git archive` into a folder)
on exactly the same input:

    mkdir -p /tmp/eval-before/main-9fa7b66
    git archive 9fa7b66 | tar -x -C /tmp/eval-before/main-9fa7b66
    .venv/bin/python benchmarks/eval_memory.py --sizes 10,50,200 --kinds letters,words \\
        --before /tmp/eval-before/main-9fa7b66 \\
        --json benchmarks/results/x86_64-amd-epyc-eval-memory.json \\
        --markdown benchmarks/results/x86_64-amd-epyc-eval-memory.md

A checkout runs as `python -m edge.cli` with PYTHONPATH set to it, this interpreter and venv.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from edge.bench.machine import describe_machine  # noqa: E402
from edge.config import MODELS_DIR, SHARED_DATA_DIR  # noqa: E402
from edge.dataset import COORD_COLUMNS, OPTIONAL_COLUMNS, TRUTH_COLUMN, open_text  # noqa: E402

TARGET_MB = 500.0
MB = 2**20
SINGLE_FRAME_EVERY = 10
WORD_STREAMS = MODELS_DIR / "eval" / "words" / "test_words.csv.gz"


def _rows(path: Path) -> list[dict[str, str]]:
    with open_text(path) as handle:
        return list(csv.DictReader(handle))


def base_rows(kind: str) -> list[dict[str, str]]:
    """The real rows one copy of a `kind` file is made of."""
    if kind == "words":
        return _rows(WORD_STREAMS)
    rows = []
    for path in sorted((SHARED_DATA_DIR / "landmarks").glob("*.csv")):
        rows += _rows(path)[::SINGLE_FRAME_EVERY]
    for path in sorted((SHARED_DATA_DIR / "sequences").glob("*.csv")):
        rows += _rows(path)
    return rows


def build_csv(kind: str, size_mb: float, dest: Path) -> dict[str, int]:
    """Repeat the real rows of `kind` until the file has `size_mb` MB (whole rows; a sequence
    of copy k is named `<name>#k`). Returns its bytes and rows."""
    rows = base_rows(kind)
    fields = ["label", *COORD_COLUMNS, *OPTIONAL_COLUMNS]
    if kind == "words":
        fields.append(TRUTH_COLUMN)
    target = int(size_mb * MB)
    written = n = 0
    tmp = dest.with_name(dest.name + ".tmp")
    with tmp.open("wb") as out:
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        copy = 0
        while written + text.tell() < target:
            for row in rows:
                if row["sequence"]:
                    row = row | {"sequence": f"{row['sequence']}#{copy}"}
                writer.writerow(row)
                n += 1
                if text.tell() > 4 * MB or written + text.tell() >= target:
                    data = text.getvalue().encode("utf-8")
                    out.write(data)
                    written += len(data)
                    text.seek(0)
                    text.truncate()
                    if written >= target:
                        break
            copy += 1
        out.write(text.getvalue().encode("utf-8"))
    tmp.replace(dest)
    return {"bytes": dest.stat().st_size, "rows": n}


class PeakSampler:
    """RSS of a process and its children, sampled every `interval` s on a thread."""

    def __init__(self, pid: int, interval: float) -> None:
        self.proc = psutil.Process(pid)
        self.interval = interval
        self.peak = 0
        self.hwm: int | None = None
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _rss(self) -> int:
        total = 0
        for p in [self.proc, *self.proc.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess, psutil.ZombieProcess):
                total += p.memory_info().rss
        return total

    def _hwm(self) -> int | None:
        """The kernel's peak RSS of the process so far (Linux), None where unknown."""
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        return None  # a zombie has no memory lines

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self._rss())
                hwm = self._hwm()
                if hwm is not None:
                    self.hwm = max(self.hwm or 0, hwm)
                self.samples += 1
            except psutil.NoSuchProcess:
                return
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def run_eval(src: Path, data: Path, eval_args: list[str], interval: float) -> dict:
    """`sign2sound eval data` from checkout `src` in a child process; its peak RSS and time."""
    env = dict(os.environ, PYTHONPATH=str(src))
    argv = [sys.executable, "-m", "edge.cli", "eval", str(data), *eval_args]
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen(argv, cwd=src, env=env, stdout=out, stderr=err)
        sampler = PeakSampler(child.pid, interval)
        child.wait()
        sampler.stop()
        wall = time.perf_counter() - start
        out.seek(0), err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    windows = next((line.split()[-2] for line in stdout.splitlines() if " windows" in line), None)
    return {
        "exit_code": child.returncode,
        "peak_rss_mb": round(sampler.peak / MB, 1),
        "peak_rss_hwm_mb": round(sampler.hwm / MB, 1) if sampler.hwm is not None else None,
        "samples": sampler.samples,
        "wall_s": round(wall, 1),
        "letter_windows": int(windows) if windows and windows.isdigit() else None,
        "stderr_tail": stderr.strip().splitlines()[-3:],
        "argv": argv[1:],
    }


def checkout_of(src: Path) -> str:
    """The commit of a git checkout, else the folder's name (e.g. a `git archive` of one)."""
    try:
        head = subprocess.run(
            ["git", "-C", str(src), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        )
        dirty = subprocess.run(
            ["git", "-C", str(src), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return src.name
    return head.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def markdown(result: dict) -> str:
    """The runs as one table: a row per file, a peak RSS column per checkout."""
    labels = list(dict.fromkeys(r["checkout"] for r in result["runs"]))
    head = "| file | MB | rows | " + " | ".join(f"peak RSS MB ({c})" for c in labels)
    head += " | " + " | ".join(f"s ({c})" for c in labels) + " |"
    lines = [head, "|" + " --- |" * (3 + 2 * len(labels))]
    for f in result["files"]:
        runs = {r["checkout"]: r for r in result["runs"] if r["file"] == f["name"]}
        peaks = " | ".join(_cell(runs.get(c), "peak_rss_mb") for c in labels)
        walls = " | ".join(_cell(runs.get(c), "wall_s") for c in labels)
        lines.append(f"| {f['kind']} | {f['bytes'] / MB:.0f} | {f['rows']:,} | {peaks} | {walls} |")
    lines.append("")
    lines.append(f"Target: peak RSS under {TARGET_MB:.0f} MB for any file size.")
    return "\n".join(lines) + "\n"


def _cell(run: dict | None, key: str) -> str:
    if run is None:
        return "-"
    return str(run[key]) if run["exit_code"] == 0 else f"failed (exit {run['exit_code']})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="50,200", help="file sizes in MB (default 50,200)")
    parser.add_argument("--kinds", default="letters", help="letters and/or words, comma-separated")
    parser.add_argument("--model", type=Path, help="--model for eval (default: the shipped one)")
    parser.add_argument("--labels", type=Path, help="--labels for eval")
    parser.add_argument(
        "--before",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="another checkout to run on the same files first (repeatable)",
    )
    parser.add_argument("--workdir", type=Path, help="where the CSVs are built (default: temp)")
    parser.add_argument("--interval", type=float, default=0.05, help="RSS sampling period (s)")
    parser.add_argument("--json", type=Path, help="write every figure here")
    parser.add_argument("--markdown", type=Path, help="write the table here")
    args = parser.parse_args(argv)

    eval_args = []
    if args.model:
        eval_args += ["--model", str(args.model.resolve())]
    if args.labels:
        eval_args += ["--labels", str(args.labels.resolve())]
    sizes = [float(s) for s in args.sizes.split(",")]
    kinds = [k.strip() for k in args.kinds.split(",")]
    if not set(kinds) <= {"letters", "words"}:
        parser.error(f"--kinds: letters and/or words, got {args.kinds!r}")
    with tempfile.TemporaryDirectory(prefix="eval-memory-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        files = []
        for kind in kinds:
            for size in sizes:
                path = workdir / f"eval-memory-{kind}-{size:g}mb.csv"
                if path.exists():
                    info = {"bytes": path.stat().st_size, "rows": _count_rows(path)}
                else:
                    print(f"building {path} ...", file=sys.stderr)
                    info = build_csv(kind, size, path)
                files.append({"name": path.name, "kind": kind, "path": str(path), **info})
        result: dict = {
            "benchmark": "eval-memory",
            "target_peak_rss_mb": TARGET_MB,
            "machine": describe_machine(),
            "eval_args": eval_args,
            "files": files,
            "runs": [],
        }
        for src in [*args.before, REPO_ROOT]:
            label = checkout_of(src.resolve())
            for f in files:
                print(f"{label}: eval {f['name']} ...", file=sys.stderr, flush=True)
                run = run_eval(src.resolve(), Path(f["path"]), eval_args, args.interval)
                run |= {"checkout": label, "src": str(src), "file": f["name"]}
                run["meets_target"] = run["exit_code"] == 0 and run["peak_rss_mb"] < TARGET_MB
                result["runs"].append(run)
                print(
                    f"  peak RSS {run['peak_rss_mb']} MB (VmHWM {run['peak_rss_hwm_mb']}), "
                    f"{run['wall_s']} s, exit {run['exit_code']}",
                    file=sys.stderr,
                    flush=True,
                )
                if args.json:  # after every run: a long benchmark keeps what it measured
                    args.json.parent.mkdir(parents=True, exist_ok=True)
                    args.json.write_text(json.dumps(result, indent=1) + "\n")
    table = markdown(result)
    print(table, end="")
    if args.markdown:
        args.markdown.write_text(table)
    return 0 if all(r["meets_target"] for r in result["runs"] if r["src"] == str(REPO_ROOT)) else 1


def _count_rows(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle) - 1


if __name__ == "__main__":
    raise SystemExit(main())

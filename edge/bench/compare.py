"""`edge-bench compare`: JSON results of the same kind side by side, with ratios to the first.

The question it answers: "how much slower is my Pi than the machine the README numbers came
from, stage by stage?" The headline figures of each kind are flattened to named rows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edge.bench.errors import BenchError
from edge.bench.machine import machine_slug
from edge.bench.report import Table, fmt


def load_results(paths: Sequence[Path]) -> list[dict[str, Any]]:
    results = []
    for path in paths:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise BenchError(f"result file not found: {path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise BenchError(f"cannot read {path}: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise BenchError(f"{path}: not JSON (line {exc.lineno}: {exc.msg})") from exc
        if not isinstance(data, dict) or data.get("tool") != "edge-bench":
            raise BenchError(f'{path}: not an edge-bench result (no "tool": "edge-bench")')
        data["_path"] = str(path)
        results.append(data)
    kinds = {r["kind"] for r in results}
    if len(kinds) > 1:
        raise BenchError(f"cannot compare results of different kinds: {', '.join(sorted(kinds))}")
    return results


def headline_figures(result: dict[str, Any]) -> dict[str, float | None]:
    """Named figures (lower is better unless the name says '/s') of one result."""
    figures: dict[str, float | None] = {}
    if result["kind"] == "model":
        for m in result["models"]:
            steady = m.get("steady") or {}
            figures[f"{m['name']} median µs"] = steady.get("median_us")
            figures[f"{m['name']} p99 µs"] = steady.get("p99_us")
            figures[f"{m['name']} init ms"] = m.get("init_ms")
    else:
        from edge.bench.pipeline_bench import STAGE_LABELS

        for name, stats in (result.get("stages") or {}).items():
            if not stats:
                continue
            label = STAGE_LABELS.get(name, name)
            figures[f"{label} median µs"] = stats.get("median_us")
            figures[f"{label} p99 µs"] = stats.get("p99_us")
        frames = result.get("frames") or {}
        figures["sustained fps"] = frames.get("sustained_fps")
        memory = result.get("memory") or {}
        figures["peak RSS MB"] = memory.get("peak_rss_mb")
        figures["CPU % of one core"] = (result.get("cpu") or {}).get("share_of_one_core_pct")
        delay = (result.get("letters") or {}).get("delay_s") or {}
        figures["letter first frame -> accepted s (median)"] = delay.get("median")
    return figures


def compare_tables(results: Sequence[dict[str, Any]]) -> list[Table]:
    labels = [
        f"{machine_slug(r['machine'])}: {Path(r['_path']).name}, {r.get('created_utc', '?')}, "
        f"load at start {r['machine'].get('load_average_at_start')}"
        for r in results
    ]
    per_result = [headline_figures(r) for r in results]
    names: list[str] = []
    for figures in per_result:
        names += [n for n in figures if n not in names]
    headers = ["figure", *[f"[{i + 1}]" for i in range(len(results))]]
    headers += [f"[{i + 1}]÷[1]" for i in range(1, len(results))]
    rows = []
    for name in names:
        values = [f.get(name) for f in per_result]
        ratios = [
            f"{v / values[0]:.2f}x" if v is not None and values[0] else "-" for v in values[1:]
        ]
        rows.append([name, *[fmt(v, 1) for v in values], *ratios])
    notes = [f"[{i + 1}] {label}" for i, label in enumerate(labels)]
    return [Table(f"Comparison of {results[0]['kind']} results", headers, rows, notes)]

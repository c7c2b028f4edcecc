"""Turn a benchmark report (a plain dict) into a terminal table, Markdown or JSON.

Each benchmark kind describes its figures once as `Table`s; the terminal and Markdown renderers
draw the same tables, so what a README shows is exactly what the terminal showed. JSON carries
every figure plus the machine, the clock and the timing overhead.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.bench.errors import BenchError

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Table:
    title: str
    headers: Sequence[str]
    rows: Sequence[Sequence[str]]
    notes: Sequence[str] = ()


def fmt(value: Any, digits: int = 1) -> str:
    """Numbers with a sensible number of digits; '-' for a figure that does not exist."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if value != 0 and abs(value) < 10 ** (-digits):
            return f"{value:.{digits}g}" if abs(value) >= 1e-3 else f"{value:.2g}"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.{digits}f}"
    return str(value)


def _machine_line(report: dict[str, Any]) -> str:
    m = report.get("machine", {})
    board = f"{m.get('board')}, " if m.get("board") else ""
    pk = m.get("packages", {})
    ort = f"onnxruntime {pk['onnxruntime']}, " if pk.get("onnxruntime") else ""
    return (
        f"{board}{m.get('cpu_model')} ({m.get('arch')}, {m.get('cores_usable')} cores usable), "
        f"{m.get('os')}, Python {m.get('python')}, ai-edge-litert {pk.get('ai-edge-litert')}, "
        f"{ort}mediapipe {pk.get('mediapipe')}, numpy {pk.get('numpy')}; "
        f"load at start {m.get('load_average_at_start')}"
    )


def _timer_line(report: dict[str, Any]) -> str:
    timer = report.get("timer", {})
    overhead = timer.get("overhead", {})
    inside = overhead.get("inside", {})
    return (
        f"clock {timer.get('clock')} ({timer.get('implementation')}); an empty timed section "
        f"reads {fmt(inside.get('median_us', 0) * 1e3, 0)} ns at the median and costs "
        f"{fmt(overhead.get('per_section_us', 0) * 1e3, 0)} ns per section in the loop"
    )


def _targets_table(report: dict[str, Any]) -> Table | None:
    targets = report.get("targets") or []
    if not targets:
        return None
    rows = [
        [
            t["name"],
            f"{fmt(t['value'], 2)} {t['unit']}",
            f"{t['op']} {fmt(t['limit'], 2)}",
            "PASS" if t["passed"] else "FAIL",
        ]
        for t in targets
    ]
    return Table("Targets", ["target", "measured", "limit", "result"], rows)


def render_terminal(report: dict[str, Any], tables: Sequence[Table]) -> str:
    if "machine" in report:
        lines = [f"edge-bench {report['kind']}: {_machine_line(report)}", _timer_line(report), ""]
    else:
        lines = [f"edge-bench {report['kind']}", ""]
    all_tables = [*tables]
    targets = _targets_table(report)
    if targets:
        all_tables.append(targets)
    for table in all_tables:
        widths = [len(h) for h in table.headers]
        for row in table.rows:
            widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
        lines.append(table.title)
        header = "  ".join(
            h.ljust(w) if i == 0 else h.rjust(w)
            for i, (h, w) in enumerate(zip(table.headers, widths, strict=True))
        )
        lines.append(header)
        lines.append("  ".join("-" * w for w in widths))
        for row in table.rows:
            lines.append(
                "  ".join(
                    c.ljust(w) if i == 0 else c.rjust(w)
                    for i, (c, w) in enumerate(zip(row, widths, strict=True))
                )
            )
        lines.extend(f"  {note}" for note in table.notes)
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def render_markdown(report: dict[str, Any], tables: Sequence[Table]) -> str:
    if "machine" in report:
        lines = [f"**edge-bench {report['kind']}** — {_machine_line(report)}", ""]
        lines.append(_timer_line(report))
    else:
        lines = [f"**edge-bench {report['kind']}**"]
    all_tables = [*tables]
    targets = _targets_table(report)
    if targets:
        all_tables.append(targets)
    for table in all_tables:
        lines += ["", f"**{table.title}**", ""]
        lines.append("| " + " | ".join(table.headers) + " |")
        lines.append(
            "| " + " | ".join("---" if i == 0 else "---:" for i in range(len(table.headers))) + " |"
        )
        lines += [
            "| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in table.rows
        ]
        if table.notes:
            lines.append("")
            lines += [f"- {note}" for note in table.notes]
    return "\n".join(lines) + "\n"


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, default=_json_default, allow_nan=False) + "\n"


def write_text(dest: str, text: str, what: str) -> None:
    """Write to a file, or stdout for '-'; a bad destination is one clear error."""
    if dest == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    path = Path(dest)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise BenchError(f"cannot write the {what} to {path}: {exc.strerror or exc}") from exc


def target(
    name: str, value: float | None, op: str, limit: float, unit: str
) -> dict[str, Any] | None:
    """One target check ('<' or '>='); None when the figure was not measured in this run."""
    if value is None:
        return None
    checks: dict[str, Callable[[float, float], bool]] = {
        "<": lambda v, lim: v < lim,
        ">=": lambda v, lim: v >= lim,
    }
    return {
        "name": name,
        "value": float(value),
        "op": op,
        "limit": float(limit),
        "unit": unit,
        "passed": bool(checks[op](value, limit)),
    }

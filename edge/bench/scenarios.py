"""Named benchmark scenarios: small YAML files under benchmarks/scenarios/.

A scenario is just a saved edge-bench command line with a description, so the runs recorded in
benchmarks/results/ can be repeated on a Pi with exactly the same settings:

    description: "..."
    argv: [model, --runs, "5000"]
"""

from __future__ import annotations

from pathlib import Path

import yaml

from edge.bench.errors import BenchError

SCENARIO_DIR = Path(__file__).resolve().parents[2] / "benchmarks" / "scenarios"


def scenario_path(name: str) -> Path:
    path = Path(name)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return path
    return SCENARIO_DIR / f"{name}.yaml"


def list_scenarios() -> list[tuple[str, str]]:
    found = []
    for path in sorted(SCENARIO_DIR.glob("*.yaml")):
        try:
            description = str(yaml.safe_load(path.read_text(encoding="utf-8"))["description"])
        except Exception:
            description = "(unreadable)"
        found.append((path.stem, description))
    return found


def load_scenario(name: str) -> list[str]:
    """The scenario's argv; errors name the file and what is wrong with it."""
    path = scenario_path(name)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        known = ", ".join(n for n, _ in list_scenarios()) or "none"
        raise BenchError(f"scenario not found: {path} (known scenarios: {known})") from None
    except (OSError, yaml.YAMLError) as exc:
        raise BenchError(f"{path}: cannot read the scenario ({exc})") from exc
    argv = data.get("argv") if isinstance(data, dict) else None
    if not isinstance(argv, list) or not argv or argv[0] not in ("model", "pipeline"):
        raise BenchError(
            f"{path}: 'argv' must be a list starting with 'model' or 'pipeline', got {argv!r}"
        )
    return [str(a) for a in argv]

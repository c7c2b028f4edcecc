"""Command-line conventions: a mistyped option shows the usage of the subcommand it was given to,
every option says what it does, and edge-bench's plot carries the targets and the RSS timeline.
"""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from edge import cli
from edge.bench import cli as bench_cli
from edge.bench.pipeline_bench import OVERHEAD_TARGET_US, STAGE_LABELS, pipeline_plot_targets
from edge.bench.plot import latency_figure

# The lead engineer is rewriting `sign2sound eval`; its options get their help there.
HELP_PENDING = {("sign2sound eval", "--model"), ("sign2sound eval", "--labels")}


@pytest.mark.parametrize(
    ("main", "argv", "usage", "error"),
    [
        (
            cli.main,
            ["check-config", "--sett", "decoder.threshold=0.8"],
            "usage: sign2sound check-config [-h] [--config CONFIG]",
            "sign2sound check-config: error: unrecognized arguments: --sett decoder.threshold=0.8",
        ),
        (
            cli.main,
            ["demo", "--replay", "--fast"],
            "usage: sign2sound demo [-h]",
            "sign2sound demo: error: unrecognized arguments: --fast",
        ),
        (
            bench_cli.main,
            ["model", "--repeat", "5"],
            "usage: edge-bench model [-h]",
            "edge-bench model: error: unrecognized arguments: --repeat 5",
        ),
    ],
)
def test_unknown_option_shows_the_subcommands_usage(main, argv, usage, error, capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(usage)
    assert err.rstrip().splitlines()[-1] == error


def _options_without_help(parser: argparse.ArgumentParser, name: str):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _options_without_help(sub, f"{name} {sub_name}")
        elif action.help is None and not isinstance(action, argparse._HelpAction):
            yield name, action.option_strings[0] if action.option_strings else action.dest


def test_every_option_has_help() -> None:
    missing = {
        *_options_without_help(cli.build_parser(), "sign2sound"),
        *_options_without_help(bench_cli.build_parser(), "edge-bench"),
    }
    assert missing <= HELP_PENDING, sorted(missing - HELP_PENDING)


def test_plot_marks_the_1_ms_target_and_adds_rss_over_time() -> None:
    rng = np.random.default_rng(0)
    overhead = STAGE_LABELS["overhead_classified"]
    samples = {
        STAGE_LABELS["landmarks"]: rng.uniform(5e6, 2e7, 200),  # ns
        overhead: rng.uniform(2e5, 4e5, 200),
    }
    rss = [[0.0, 210.0, 0.1], [1.0, 211.5, 0.1], [2.0, 211.0, 0.1], [3.0, 212.0, 0.1]]
    fig = latency_figure(
        samples,
        "pipeline",
        targets_us=pipeline_plot_targets(),
        rss_samples=rss,
        steady_from_s=1.0,
    )
    try:
        landmarks_ax, overhead_ax, rss_ax = fig.axes
        target_lines = [ln for ln in overhead_ax.get_lines() if ln.get_label() == "target 1 ms"]
        assert [ln.get_xdata()[0] for ln in target_lines] == [OVERHEAD_TARGET_US]
        assert not [ln for ln in landmarks_ax.get_lines() if "target" in ln.get_label()]
        assert rss_ax.get_ylabel() == "RSS (MB)"
        timeline = rss_ax.get_lines()[0]
        assert list(timeline.get_xdata()) == [0.0, 1.0, 2.0, 3.0]
        assert list(timeline.get_ydata()) == [210.0, 211.5, 211.0, 212.0]
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)


def test_plot_without_rss_samples_has_only_the_histograms() -> None:
    fig = latency_figure({"classifier": np.full(10, 6_000.0)}, "model")
    try:
        assert len(fig.axes) == 1
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)


def test_plot_targets_name_the_pipeline_series() -> None:
    assert set(pipeline_plot_targets()) == {
        STAGE_LABELS["overhead"],
        STAGE_LABELS["overhead_classified"],
    }

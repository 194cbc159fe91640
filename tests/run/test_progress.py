"""Progress of a run: whole lines when stderr is not a terminal (SLURM logs, ``2> file``)."""

import re
import subprocess
import sys

from helpers import GOOD_SPEC, write_spec

from pipeline.run.progress import LineProgress, progress


def test_line_progress_prints_at_its_interval_and_when_closed():
    lines = []
    times = iter([0.0, 5.0, 31.0, 40.0, 62.0, 70.0])
    with LineProgress(5, lines.append, interval=30.0, clock=times.__next__) as bar:
        for _ in range(4):
            bar.update()
    assert lines == [
        "tasks: 2/5 (40%) after 31 s, 3.9 per min, about 46 s left",
        "tasks: 4/5 (80%) after 62 s, 3.9 per min, about 16 s left",
        "tasks: 4/5 (80%) after 70 s, 3.4 per min, about 18 s left",
    ]


def test_no_progress_prints_nothing():
    lines = []
    with progress(3, lines.append, show=False) as bar:
        bar.update(3)
    assert lines == []


def test_a_run_into_a_pipe_logs_whole_lines(tmp_path):
    spec = write_spec(tmp_path, GOOD_SPEC)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline.cli",
            "run",
            str(spec),
            "--store",
            str(tmp_path / "s"),
            "--workers",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stderr
    assert re.search(r"^tasks: 2/2 \(100%\) after \d+ s$", result.stderr, re.M), result.stderr


def test_line_progress_heartbeat_while_nothing_finishes():
    lines = []
    times = iter([0.0, 30.0, 100.0, 150.0, 400.0, 401.0])
    with LineProgress(2, lines.append, interval=30.0, clock=times.__next__) as bar:
        bar.update()  # at 30 s: a line
        bar.refresh()  # at 100 s: 70 s idle, under 4 intervals, no line
        bar.refresh()  # at 150 s: 120 s, a heartbeat
        bar.refresh()  # at 400 s: another
    assert [line.split(",")[0] for line in lines] == [
        "tasks: 1/2 (50%) after 30 s",
        "tasks: 1/2 (50%) after 2.5 min",
        "tasks: 1/2 (50%) after 6.7 min",
        "tasks: 1/2 (50%) after 6.7 min",
    ]

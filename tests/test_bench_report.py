"""bench/report.py still works: its small mode (40 participants, one run) builds its throwaway database,
times the whole report with its mixed models and prints a row of figures. Their values are the
benchmark's business, not the test's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.test_bench_scripts import run_bench

pytestmark = pytest.mark.slow


def test_the_report_benchmark_runs_in_its_small_mode(tmp_path: Path) -> None:
    out = run_bench("report.py", ["--sizes", "40", "--repeat", "1", "--trials", "2"], tmp_path)
    header = r"participants\s+answers\s+analysed\s+gather s\s+stats s\s+html s\s+json s\s+total s\s+cpu s"
    assert re.search(header, out)
    # 40 participants: every outcome's mixed model is fitted twice, with and without condition
    figures = r"^\s+40\s+(\d+)\s+(\d+)(\s+[\d.]+){6}\s+\d+\s+\d+\s+(\d+) in\s+[\d.]+ s"
    row = re.search(figures, out, re.MULTILINE)
    assert row, out
    answers, analysed, fits = int(row.group(1)), int(row.group(2)), int(row.group(4))
    assert answers > 0 and 0 < analysed <= 40 and fits > 0 and fits % 2 == 0

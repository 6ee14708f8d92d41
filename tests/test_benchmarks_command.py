"""``python -m benchmarks NAME [options]`` runs the named benchmark with the options given
(here the partitions benchmark, sized down to seconds)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path


def test_a_named_benchmark_runs_with_the_options_after_its_name(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "partitions", "--authors", "3", "--repeats", "1"],
        capture_output=True, text=True, timeout=300, cwd=Path(__file__).parents[1],
        env={"PATH": "/usr/bin:/bin", "DAGSTER_HOME": str(tmp_path), "HOME": str(tmp_path),
             "PYTHONPATH": str(Path(__file__).parents[1])},
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "=== benchmarks.partitions ===" in done.stdout
    assert re.search(r"1 author\s+3 authors", done.stdout), done.stdout  # --authors reached it
    assert re.search(r"partitions requested by that first tick\s+4\.000\s+12\.000", done.stdout), done.stdout
    assert "benchmarks.--authors" not in done.stdout

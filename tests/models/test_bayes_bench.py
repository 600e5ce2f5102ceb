"""bench/bayes.py runs (quick mode: 2,000 SIMULATED meta-analyses), so the benchmark cannot
rot; no timing is asserted (performance is measured by the benchmark, not by tests)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parents[2] / "bench" / "bayes.py"


def test_bayes_benchmark_quick_run() -> None:
    out = subprocess.run([sys.executable, str(BENCH), "--quick", "--single-fits", "3",
                          "--r-fits", "2"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("SIMULATED data: 2,000 meta-analyses x k = 10")
    assert "us CPU per fit" in lines[1]
    assert "batch equals single fits" in lines[2]
    assert lines[3].startswith("bayesmeta")       # timed, or "not timed: why"

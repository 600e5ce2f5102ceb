"""bench/mmrm.py runs (quick mode: 100 SIMULATED participants), so the benchmark cannot rot;
no timing is asserted (performance is measured by the benchmark, not by tests)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parents[1] / "bench" / "mmrm.py"


def test_mmrm_benchmark_quick_run() -> None:
    out = subprocess.run([sys.executable, str(BENCH), "--quick"], capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "SIMULATED data: 100 participants" in out.stdout
    assert "metaverdict.trials.mmrm" in out.stdout
    assert "mmrm" in out.stdout.splitlines()[2]     # the peer line: timed or "not timed: why"

"""bench/gpu.py runs on the CPU (a dry run of the GPU benchmark) and fails cleanly without a
GPU library: the script is ready to measure when a device is lent."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "gpu.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=120)


def test_cpu_dry_run_agrees_with_the_cpu_kernel() -> None:
    out = _run("--backend", "numpy", "--n", "600", "--chunk", "200", "--check", "150")
    assert out.returncode == 0, out.stderr
    line = out.stdout.strip()
    assert line.startswith("simulated data | REML k=10 N=600 on numpy/cpu")
    diffs = [float(x) for x in re.findall(r"(?:estimate|tau2) ([0-9.e+-]+)", line)]
    assert len(diffs) == 2 and max(diffs) < 1e-10


def test_missing_gpu_library_is_one_clean_line() -> None:
    out = _run("--backend", "cupy", "--n", "100")
    assert "Traceback" not in out.stdout + out.stderr
    if out.returncode == 2:
        assert len(out.stdout.strip().splitlines()) == 1 and "nothing timed" in out.stdout

"""``bench/floor.py``: the memory floor next to the kernel, one line per row (a small run here;
the numbers themselves are not checked)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "floor.py"


def test_floor_prints_every_row() -> None:
    pytest.importorskip("numba")
    out = subprocess.run([sys.executable, str(SCRIPT), "--n", "4000", "--k", "5",
                          "--repeats", "1"], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("SIMULATED data") and "N = 4,000, k = 5" in lines[0]
    assert lines[-1] == ("kernel rows equal to fit_arrays (estimate, tau2, tau2_se, "
                         "iterations): DL yes, REML yes")
    lines = lines[:-1]
    labels = [re.split(r"\s{2,}", line)[0] for line in lines[1:]]
    assert labels == ["floor: read inputs", "floor: read + write 16 fields, buffer reused",
                      "floor: read + write 16 fields, fresh buffer",
                      "kernel DL (fit_range, buffer reused)",
                      "API DL (fit_arrays: fresh buffer, result table)",
                      "kernel REML (fit_range, buffer reused)",
                      "API REML (fit_arrays: fresh buffer, result table)"]
    assert all(re.search(r"\d+\.\d ns per analysis$", line) for line in lines[1:])

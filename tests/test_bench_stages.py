"""``bench/stages.py``: the kernel's stages one by one, one line per stage (a short run here;
the numbers themselves are not checked, only that every stage ran and took some time)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "stages.py"


def test_stages_prints_every_stage() -> None:
    pytest.importorskip("numba")
    out = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--k", "6"],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("SIMULATED data") and "k = 6" in lines[0]
    rows = [re.fullmatch(r"(.+?)\s{2,}\s*([0-9.]+) ns per analysis", line) for line in lines[1:]]
    assert all(rows), lines
    labels = [m.group(1).strip() for m in rows if m]
    assert labels[0].startswith("load a block") and labels[-1].startswith("grid: Horner")
    assert len(labels) == 10
    assert all(float(m.group(2)) > 0 for m in rows if m)

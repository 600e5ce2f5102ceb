"""``bench/run.py --load``: the batch per-fit time idle and with a competing busy-loop process,
printed as the RESULTS.md section (a small run here; the numbers themselves are not checked).
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "run.py"


def test_load_mode_prints_idle_and_loaded_rows() -> None:
    out = subprocess.run([sys.executable, str(SCRIPT), "--load", "--n", "3000", "--k", "5",
                          "--methods", "DL", "--repeats", "1"], capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "## Batch speed with a competing CPU load (N = 3,000, k = 5)" in text
    rows = [line for line in text.splitlines() if line.startswith("| ")][1:]
    assert [r.split(" | ")[0] for r in rows] == ["| idle", "| 1 core busy, 1 busy-loop process",
                                                "| 1 core busy, 1 busy-loop process"]
    assert all(re.search(r"\d+(\.\d+)? (ns|µs|ms) \|", r) for r in rows)

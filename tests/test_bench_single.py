"""bench/single.py runs in its quick mode and prints its table (no timing is asserted), with
metafor where Rscript and metafor are installed, and says so where they are not."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "single.py"
ROWS = ("REML fit, every field", "DL fit, every field", "full analysis",
        "reading the coefficient table")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), "--quick", *args], capture_output=True,
                          text=True, timeout=300)


def _rows(text: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.strip("|").split("|")]
            for line in text.splitlines() if line.startswith("| ") and "---" not in line]


def test_quick_run_without_metafor_writes_the_table(tmp_path: Path) -> None:
    out_file = tmp_path / "single.md"
    out = _run("--no-metafor", "--out", str(out_file))
    assert out.returncode == 0, out.stderr
    assert "metafor not timed" in out.stdout
    rows = _rows(out_file.read_text())
    assert rows[0][:2] == ["operation", "metaverdict"]
    assert len(rows) == 1 + len(ROWS)
    assert all(row[0].startswith(name) for row, name in zip(rows[1:], ROWS))
    for row in rows[1:]:
        assert row[1].endswith(" ms") and float(row[1].split()[0]) > 0
        assert row[2] == "—"


def test_quick_run_simulated_data() -> None:
    out = _run("--no-metafor", "--simulate", "3")
    assert out.returncode == 0, out.stderr
    assert "simulated studies (seed 3" in out.stdout


def _has_metafor() -> bool:
    rscript = shutil.which("Rscript")
    return rscript is not None and subprocess.run(
        [rscript, "-e", "library(metafor)"], capture_output=True).returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not _has_metafor(), reason="Rscript with metafor is not installed")
def test_quick_run_with_metafor() -> None:
    out = _run()
    assert out.returncode == 0, out.stderr
    rows = _rows(out.stdout)
    assert rows[0][2].startswith("metafor ")
    for row in rows[1:4]:                              # REML, DL, full analysis
        assert row[2].endswith(" ms") and row[3].endswith("×")
    assert rows[1][5] in ("yes", "no") and rows[3][5] in ("yes", "no")

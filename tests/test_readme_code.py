"""Every Python block of the README runs as written (in a scratch store and folder)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)


def test_readme_has_python_blocks() -> None:
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i + 1}" for i in range(len(BLOCKS))])
def test_readme_python_block_runs(code: str, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("METAVERDICT_DATABASE_URL", f"sqlite:///{tmp_path / 'evidence.sqlite'}")
    import matplotlib
    matplotlib.use("Agg")
    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})

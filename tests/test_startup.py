"""Start-up stays light: ``import metaverdict`` and ``metaverdict --help`` load no numerical,
plotting or database library (timings are in bench/startup.py, not here)."""
from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("numpy", "scipy", "pandas", "matplotlib", "sqlalchemy", "numba", "formulaic")


def _loaded(code: str) -> list[str]:
    probe = (f"{code}\nimport sys, json\n"
             f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True,
                         text=True).stdout.strip().splitlines()[-1]
    return json.loads(out)


def test_import_metaverdict_loads_no_heavy_library() -> None:
    assert _loaded("import metaverdict") == []


def test_cli_help_loads_no_heavy_library() -> None:
    code = ("from metaverdict.cli import app\n"
            "try:\n    app(['--help'])\nexcept SystemExit:\n    pass")
    assert _loaded(code) == []


def test_public_names_still_resolve() -> None:
    code = ("import metaverdict as mv\n"
            "assert callable(mv.meta_analysis) and callable(mv.batch.meta_analyses)\n"
            "assert callable(mv.synthesis.answers)\n"
            "from metaverdict import peto, effect_sizes\n")
    assert "numpy" in _loaded(code)          # using a function loads what it needs


def test_every_lazy_name_is_public_and_resolves() -> None:
    import metaverdict as mv
    assert set(mv.__all__) == {"ConvergenceError", "InputError", "__version__", *mv._LAZY}
    for name in mv._LAZY:
        assert getattr(mv, name) is not None, name

"""Store opening: URL resolution, migrations, seeding once, transactions."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import metaverdict.evidence.accounts  # noqa: F401 (its tables are in Base.metadata)
from metaverdict.evidence import open_store
from metaverdict.evidence import store as store_module
from metaverdict.evidence.models import Base, Source
from metaverdict.evidence.store import ENV_URL, default_url

from evidence_fixtures import N_RESULTS


def test_url_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_URL, "sqlite:///from-env.sqlite")
    assert default_url() == "sqlite:///from-env.sqlite"


def test_default_url_is_user_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(ENV_URL, raising=False)
    monkeypatch.setattr(store_module.platformdirs, "user_data_dir",
                        lambda app: str(tmp_path / "data" / app))
    url = default_url()
    assert url == f"sqlite:///{tmp_path / 'data' / 'metaverdict' / 'evidence.sqlite'}"
    with open_store(seed=False) as st:          # created on first use, folder included
        assert st.is_empty()
    assert (tmp_path / "data" / "metaverdict" / "evidence.sqlite").exists()


def test_argument_beats_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(ENV_URL, f"sqlite:///{tmp_path / 'env.sqlite'}")
    with open_store(f"sqlite:///{tmp_path / 'arg.sqlite'}", seed=False):
        pass
    assert (tmp_path / "arg.sqlite").exists() and not (tmp_path / "env.sqlite").exists()


def test_migrations_match_the_models(empty_store) -> None:
    with empty_store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
        assert "alembic_version" in inspect(conn).get_table_names()


def test_seeded_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    with open_store(url) as st:
        assert st.counts()["results"] == N_RESULTS      # raw rows + supplement rows
    with open_store(url) as st:                  # reopening neither re-seeds nor fails
        assert st.counts()["results"] == N_RESULTS


def test_memory_store() -> None:
    with open_store("sqlite://") as st:
        assert st.counts() == {"sources": 43, "results": N_RESULTS, "opinions": 2}


def test_transaction_rolls_back(empty_store) -> None:
    with pytest.raises(RuntimeError), empty_store.transaction() as s:
        s.add(Source(key="x", citation="c", url_or_location="u", design="rct"))
        s.flush()
        raise RuntimeError("boom")
    assert empty_store.is_empty()


def test_stores_are_independent(tmp_path: Path) -> None:
    a = open_store(f"sqlite:///{tmp_path / 'a.sqlite'}", seed=False)
    b = open_store(f"sqlite:///{tmp_path / 'b.sqlite'}")
    try:
        assert a.is_empty() and not b.is_empty()
    finally:
        a.close()
        b.close()


def test_store_seeded_by_an_earlier_bundle_is_refreshed(tmp_path: Path) -> None:
    from metaverdict.evidence.bundled import BUNDLE_KEY, bundle_sha256
    from metaverdict.evidence.io import import_rows
    from metaverdict.evidence.models import StoreMeta

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    user_row = {"source_id": "mytrial2026", "citation": "Me. My trial. 2026.", "design": "rct",
                "treatment": "dry needling", "comparator": "sham", "condition": "neck pain",
                "outcome": "pain", "timepoint": "4 weeks", "effect_measure": "MD",
                "estimate": "-1", "ci_lower": "-2", "ci_upper": "0",
                "url_or_location": "my lab book", "verbatim_quote": "MD -1 (-2 to 0)"}
    with open_store(url) as st:
        import_rows(st, [user_row])
        with st.transaction() as s:                  # pretend an earlier bundle seeded it
            s.merge(StoreMeta(key=BUNDLE_KEY, value="an earlier bundle"))
    with open_store(url) as st:                      # reopening refreshes the bundled sources
        assert st.meta(BUNDLE_KEY) == bundle_sha256()
        assert st.counts()["results"] == N_RESULTS + 1
        assert [r.source_id for r in st.results(source="mytrial2026")] == ["mytrial2026"]
    with open_store(url) as st:                      # and only once
        assert st.counts()["results"] == N_RESULTS + 1


def test_store_does_not_import_what_builds_on_it():
    # open_store (connect + seed) lives in evidence/opening.py, above store.py and bundled.py,
    # so store.py imports neither the seeding nor the CSV layer, not even inside a function
    tree = ast.parse(Path(store_module.__file__).read_text(encoding="utf-8"))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not imported & {"metaverdict.evidence", "metaverdict.evidence.bundled",
                           "metaverdict.evidence.io", "metaverdict.evidence.opening"}


def test_connect_does_not_seed(tmp_path: Path) -> None:
    with store_module.connect(f"sqlite:///{tmp_path / 'c.sqlite'}") as st:
        assert st.is_empty()

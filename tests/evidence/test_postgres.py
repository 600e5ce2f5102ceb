"""The same store on PostgreSQL (runs when METAVERDICT_TEST_POSTGRES_URL is set)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import MetaData, text

from metaverdict.errors import InputError
from metaverdict.evidence import open_store
from metaverdict.evidence.io import export_csv, import_csv

from evidence_fixtures import N_RESULTS, upgrade_from_0002

pytestmark = pytest.mark.postgres


def _reset(url: str) -> None:
    with open_store(url, seed=False) as st, st.engine.begin() as conn:
        meta = MetaData()
        meta.reflect(conn)
        meta.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


def test_postgres_bundled_round_trip(postgres_url: str, tmp_path: Path) -> None:
    _reset(postgres_url)
    with open_store(postgres_url) as st:
        assert st.counts() == {"sources": 43, "results": N_RESULTS, "opinions": 2}
        cushman = st.results(source="cushman2021")
        assert cushman[0].p_relation == "<=" and cushman[0].estimate is None
        export_csv(st, tmp_path / "pg.csv")
        before = st.results_frame().drop(columns=["id"])
    _reset(postgres_url)
    with open_store(postgres_url, seed=False) as st:
        import_csv(st, tmp_path / "pg.csv")
        pd.testing.assert_frame_equal(st.results_frame().drop(columns=["id"]), before)
        bad = tmp_path / "bad.csv"
        frame = pd.read_csv(tmp_path / "pg.csv", dtype=str, keep_default_na=False)
        frame.loc[56, "n_control"] = "abc"
        frame.to_csv(bad, index=False)
        with pytest.raises(InputError, match="row 57, column 'n_control'"):
            import_csv(st, bad)
        assert st.counts()["results"] == N_RESULTS
    _reset(postgres_url)


def test_postgres_migration_0003(postgres_url: str) -> None:
    """A store at revision 0002 with a source gains ``sources.simulated`` (NOT NULL, false)."""
    _reset(postgres_url)
    upgrade_from_0002(postgres_url)
    _reset(postgres_url)

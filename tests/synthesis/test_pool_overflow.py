"""Pooling rows whose standard error squares past the float range is a clean InputError naming
the source and result (it used to be an OverflowError, i.e. "internal error" from the CLI)."""
from __future__ import annotations

import dataclasses

import pytest

from metaverdict.errors import InputError
from metaverdict.synthesis import read_evidence
from metaverdict.synthesis.bodies import pool_rows


def test_huge_standard_error_is_an_input_error(bundled_store) -> None:
    rows = [r for r in read_evidence(bundled_store).rows
            if r.kind == "primary" and r.se is not None and r.harmonised_estimate is not None]
    a, b = rows[0], rows[1]
    huge = dataclasses.replace(b, se=1.5e300)
    pool_rows([a, b])                                 # fine as stored
    with pytest.raises(InputError, match=rf"source '{b.source_id}', result {b.id}: standard "
                                         r"error 1.5e\+300 is too large to pool"):
        pool_rows([a, huge])

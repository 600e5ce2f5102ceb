"""Example datasets shipped with metaverdict (small, published, used in docs and the CLI).

=========  ====================================================================================
name       description
=========  ====================================================================================
dat.bcg    13 trials of the BCG vaccine against tuberculosis: 2x2 counts (``tpos``, ``tneg``,
           ``cpos``, ``cneg``), absolute latitude ``ablat``, allocation ``alloc``, ``year``.
           Colditz GA et al. (1994) JAMA 271:698-702; as distributed in the R package metadat.
=========  ====================================================================================
"""
from __future__ import annotations

from importlib import resources

import pandas as pd

from metaverdict.errors import InputError

EXAMPLES = {"dat.bcg": "dat.bcg.csv"}


def load_example(name: str) -> pd.DataFrame:
    """Return a bundled example dataset as a DataFrame (see the module docstring)."""
    if name not in EXAMPLES:
        raise InputError(f"unknown example dataset {name!r}; available: {', '.join(EXAMPLES)}")
    with resources.files("metaverdict.data").joinpath(EXAMPLES[name]).open() as fh:
        return pd.read_csv(fh)

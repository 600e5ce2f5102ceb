"""The same estimators as :func:`metaverdict.meta_analysis`, vectorised over many analyses.

``meta_analyses(frame, by="analysis_id", yi="yi", vi="vi", method="REML", test="z")`` returns
one row per analysis with the single-fit field names; NumPy by default, any array-API library
with ``backend=``/``device=``, Dask DataFrames partition by partition, files by streaming
(:func:`meta_analyses_file`). One analysis never fails the call: the ``reason`` column says
why a row is not an ordinary fit (:data:`REASONS`).
"""
from typing import TYPE_CHECKING

from metaverdict.batch.engine import (
    BATCH_CONTROL,
    FIELDS,
    KNHA_FIELDS,
    REASON_DTYPE,
    REASONS,
    fit_arrays,
    fit_block,
    meta_analyses,
)
from metaverdict.batch.grouping import Bucket, Grouping, group_rows
from metaverdict.batch.io import ResultWriter, meta_analyses_file, read_chunks

if TYPE_CHECKING:                     # imported on first use (see __getattr__)
    from metaverdict.batch.dask import meta_analyses_dask

__all__ = ["BATCH_CONTROL", "Bucket", "FIELDS", "Grouping", "KNHA_FIELDS", "REASONS",
           "REASON_DTYPE", "ResultWriter",
           "fit_arrays", "fit_block", "group_rows", "meta_analyses", "meta_analyses_dask",
           "meta_analyses_file", "read_chunks"]


def __getattr__(name: str) -> object:
    if name == "meta_analyses_dask":          # imports dask only when asked for
        from metaverdict.batch.dask import meta_analyses_dask
        return meta_analyses_dask
    raise AttributeError(name)

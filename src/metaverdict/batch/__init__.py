"""The same estimators as :func:`metaverdict.meta_analysis`, vectorised over many analyses.

``meta_analyses(frame, by="analysis_id", yi="yi", vi="vi", method="REML", test="z")`` returns
one row per analysis with the single-fit field names; the compiled kernel (with Numba, the
``fast`` extra) or NumPy by default, any array-API library with ``backend=``/``device=``,
Dask DataFrames partition by partition, files by streaming (:func:`meta_analyses_file`). One
analysis never fails the call: the ``reason`` column says why a row is not an ordinary fit
(:data:`REASONS`). :func:`bayesian_meta_analyses` fits the exact Bayesian random-effects
model (bayesmeta) per analysis key in the same way.
"""
from metaverdict.batch._schema import FIELDS, KNHA_FIELDS, REASON_DTYPE, REASONS
from metaverdict.batch.bayes import bayesian_meta_analyses
from metaverdict.batch.dask import meta_analyses_dask
from metaverdict.batch.engine import fit_arrays, meta_analyses
from metaverdict.batch.fitting import BATCH_CONTROL, FAST_CONTROL, fit_block
from metaverdict.batch.grouping import Bucket, Grouping, group_rows
from metaverdict.batch.io import ResultWriter, meta_analyses_file, read_chunks

__all__ = ["BATCH_CONTROL", "Bucket", "FAST_CONTROL", "FIELDS", "Grouping", "KNHA_FIELDS",
           "REASONS", "REASON_DTYPE", "ResultWriter", "bayesian_meta_analyses", "fit_arrays",
           "fit_block", "group_rows", "meta_analyses", "meta_analyses_dask",
           "meta_analyses_file", "read_chunks"]

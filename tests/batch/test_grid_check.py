"""The batch's likelihood-grid check on analyses where a metafor-style search stops at a local
maximum at tau² = 0 (bench/RESULTS.md: 538 of 10^6 SIMULATED analyses of ``bench/run.py``).

The two analyses below are SIMULATED: numbers 3901 and 5250 of ``bench/run.py generate(n, 10)``
(seed 20240609), rounded to 6 significant digits. For both, the REML search from the Hedges
start without the grid (``global_search=False``) ends at tau² = 0, where the score is <= 0.
The default fit must instead take the interior maximum, whose restricted log-likelihood,
computed here from its formula, is higher. The same must hold in the compiled kernel, in the
NumPy array kernels and in the single fit.
"""
from __future__ import annotations

import numpy as np
import pytest

import metaverdict as mv
from metaverdict.batch import fit_arrays
from metaverdict.models.random_effects import SolverControl

SIMULATED = {
    3901: ([0.695446, 1.3065, 0.619772, 1.35711, 0.0603381, -0.185423, 0.930201, 0.0233223,
            0.453238, 1.25407],
           [0.103311, 0.182773, 0.0122631, 0.131777, 0.183626, 0.249399, 0.17819, 0.210714,
            0.0414523, 0.269642]),
    5250: ([0.6041, 1.21085, 0.38818, 1.85843, 0.445714, 1.1593, 1.06865, 0.896842, 0.827084,
            -0.128895],
           [0.259016, 0.283951, 0.129456, 0.17101, 0.219912, 0.0932394, 0.0868433, 0.0420722,
            0.0141898, 0.184618]),
}
NO_GRID = SolverControl(step="newton", global_search=False)


def _reml(t: float, y: np.ndarray, v: np.ndarray) -> float:
    """The restricted log-likelihood up to a constant: -(sum log(v+t) + log sum w + Q)/2."""
    w = 1 / (v + t)
    mu = (w * y).sum() / w.sum()
    return float(-0.5 * (np.log(v + t).sum() + np.log(w.sum()) + (w * (y - mu) ** 2).sum()))


@pytest.mark.parametrize("backend", [None, "numpy"])
def test_the_grid_finds_the_higher_interior_maximum(backend: str | None) -> None:
    y = np.array([SIMULATED[i][0] for i in SIMULATED])
    v = np.array([SIMULATED[i][1] for i in SIMULATED])
    default = fit_arrays(y, v, method="REML", backend=backend)
    local = fit_arrays(y, v, method="REML", backend=backend, control=NO_GRID)
    for row in range(len(y)):
        t_default, t_local = float(default["tau2"][row]), float(local["tau2"][row])
        assert t_local == 0.0                       # the search stopped at the boundary
        assert t_default > 0.0
        assert _reml(t_default, y[row], v[row]) > _reml(0.0, y[row], v[row])
        single = mv.meta_analysis(y[row], v[row], method="REML")
        assert single.tau2 == pytest.approx(t_default, rel=1e-8)

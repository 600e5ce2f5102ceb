"""Numba is optional (the ``fast`` extra): without it the Bayesian fit runs its loops in plain
Python and gives the same numbers."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

import metaverdict as mv

CODE = """
import json, sys
sys.modules["numba"] = None                     # as if Numba were not installed
import metaverdict as mv
from metaverdict._jit import numba_available
assert not numba_available()
r = mv.bayesian_meta_analysis([0.1, 0.3, 0.5, 0.2], [0.01, 0.02, 0.015, 0.03],
                              tau_prior="half-normal", tau_scale=0.5, mcid=0.2,
                              lower_is_better=False)
print(json.dumps([r.marginal_likelihood, r.prob_benefit, r.prob_within]))
"""


def test_same_posterior_without_numba() -> None:
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    r = mv.bayesian_meta_analysis([0.1, 0.3, 0.5, 0.2], [0.01, 0.02, 0.015, 0.03],
                                  tau_prior="half-normal", tau_scale=0.5, mcid=0.2,
                                  lower_is_better=False)
    np.testing.assert_allclose(got, [r.marginal_likelihood, r.prob_benefit, r.prob_within],
                               rtol=1e-10)

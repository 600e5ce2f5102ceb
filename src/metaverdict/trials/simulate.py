"""SIMULATED demo data: a post-marathon dry-needling trial shaped like Cushman et al. (2021).

Cushman DM, et al. Postrace dry needling does not reduce subsequent soreness and cramping - a
randomized controlled trial. Clin J Sport Med 2021;31(3):225-231 (doi 10.1097/JSM.0000000000000794;
stored summary in the bundled evidence, source ``cushman2021``). What the publication's abstract
gives, and all this simulation uses from it:

* 28 runners received dry needling and 34 sham needling (bilateral vastus medialis and soleus,
  within 1 h of the race); soreness on a 0-10 numeric pain rating scale (NPRS) at days 1, 2, 3
  and 7, relative to immediately post-race;
* soleus: more pain with dry needling on day 1 (P <= 0.003) and day 2 (P <= 0.041);
* vastus medialis: no difference (P > 0.05); cramping: no association (P > 0.05).

No means, SDs or correlations are published, so **every number below is an assumption**, chosen
to give that pattern of P-values in expectation, and the data are *not* the trial's data:

=========================  ====================================================================
baseline (post-race NPRS)  soleus N(3.5, 1.8^2), vastus medialis N(4.0, 1.8^2)
course in the sham arm     mean soreness day 1 / 2 / 3 / 7: soleus 4.0 / 3.0 / 2.0 / 0.6,
                           vastus medialis 4.5 / 3.4 / 2.3 / 0.7
dry-needling effect        soleus +1.9 / +1.2 / +0.3 / 0 NPRS points (more pain); vastus 0
between-participant SD     1.8 at every visit; correlation 0.5 between visits and with baseline
NPRS                       rounded to whole points and clipped to 0-10
missing visits             each post-race visit missing with probability 0.05 (at random)
belief                     belief that needling helps, whole points 0-10, uniform, unrelated to
                           the outcome (so the moderator hypothesis is null by construction)
cramps                     any post-race cramping to day 7: probability 0.3 in both arms
=========================  ====================================================================

The bundled file ``marathon_trial_simulated.csv`` is ``simulate_marathon_trial(SEED)``; the tests
regenerate it and check the published P-value pattern on it (MMRM, Kenward-Roger; Fisher's exact
test for cramping). The seed is 2018, the race's year, fixed before looking; under these
assumptions the full pattern is expected, not guaranteed: seeds 2018-2057 reproduce it in 22 of
40 draws (2018 does). ``python -m metaverdict.trials.simulate`` rewrites the file and its
metadata.
"""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from metaverdict.trials.data import TrialData

SEED = 2018
FILE = "marathon_trial_simulated.csv"
ARMS = ("dry needling", "sham")
N = {"dry needling": 28, "sham": 34}
DAYS = (1, 2, 3, 7)
OUTCOMES = {
    "soleus soreness": {"baseline": 3.5, "course": (4.0, 3.0, 2.0, 0.6),
                        "effect": (1.9, 1.2, 0.3, 0.0)},
    "vastus medialis soreness": {"baseline": 4.0, "course": (4.5, 3.4, 2.3, 0.7),
                                 "effect": (0.0, 0.0, 0.0, 0.0)},
}
SD, RHO, P_MISSING, P_CRAMPS = 1.8, 0.5, 0.05, 0.3
METADATA: dict[str, Any] = {
    "simulated": True,
    "title": "SIMULATED post-marathon dry needling trial (shaped like Cushman et al. 2021)",
    "based_on": "cushman2021 (doi 10.1097/JSM.0000000000000794): 28 needled vs 34 sham; soleus "
                "soreness higher on day 1 (P <= 0.003) and day 2 (P <= 0.041); no difference "
                "for vastus medialis or cramping (P > 0.05)",
    "assumptions": {"baseline_mean": {k: v["baseline"] for k, v in OUTCOMES.items()},
                    "sham_course_by_day": {k: dict(zip(DAYS, v["course"]))
                                           for k, v in OUTCOMES.items()},
                    "needling_effect_by_day": {k: dict(zip(DAYS, v["effect"]))
                                               for k, v in OUTCOMES.items()},
                    "sd": SD, "correlation": RHO, "p_missing_visit": P_MISSING,
                    "p_cramps": P_CRAMPS, "nprs": "rounded to whole points, clipped to 0-10",
                    "belief": "uniform whole points 0-10, unrelated to the outcome"},
    "generator": "metaverdict.trials.simulate.simulate_marathon_trial",
}


def simulate_marathon_trial(seed: int = SEED) -> pd.DataFrame:
    """Draw the SIMULATED long-format data set described in the module docstring.

    Parameters
    ----------
    seed : int
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    DataFrame
        Columns ``participant, arm, visit, outcome, value, baseline, belief, cramps,
        simulated`` (``simulated`` is True on every row); one row per participant, outcome and
        day (``value`` empty for a missed visit).

    Examples
    --------
    >>> from metaverdict.trials.simulate import simulate_marathon_trial
    >>> d = simulate_marathon_trial()
    >>> bool(d["simulated"].all()), d.groupby("arm")["participant"].nunique().to_dict()
    (True, {'dry needling': 28, 'sham': 34})
    """
    rng = np.random.default_rng(seed)
    m = len(DAYS) + 1
    corr = np.full((m, m), RHO) + (1.0 - RHO) * np.eye(m)
    chol = np.linalg.cholesky(SD ** 2 * corr)
    rows = []
    pid = 0
    for arm in ARMS:
        for _ in range(N[arm]):
            pid += 1
            belief = int(rng.integers(0, 11))
            cramps = int(rng.random() < P_CRAMPS)
            for outcome, spec in OUTCOMES.items():
                mean = np.array([spec["baseline"], *spec["course"]])
                if arm == "dry needling":
                    mean[1:] += np.array(spec["effect"])
                draw = mean + chol @ rng.standard_normal(m)
                score = np.clip(np.round(draw), 0, 10)
                missing = rng.random(len(DAYS)) < P_MISSING
                for j, day in enumerate(DAYS):
                    rows.append({"participant": f"r{pid:03d}", "arm": arm, "visit": day,
                                 "outcome": outcome,
                                 "value": np.nan if missing[j] else score[j + 1],
                                 "baseline": score[0], "belief": belief, "cramps": cramps,
                                 "simulated": True})
    return pd.DataFrame(rows)


def bundled_path() -> Path:
    """Path of the bundled SIMULATED CSV."""
    return Path(str(resources.files("metaverdict.trials.demo") / FILE))


def load_marathon_trial() -> TrialData:
    """The bundled SIMULATED marathon trial as validated :class:`TrialData` (``simulated``)."""
    from metaverdict.trials.data import trial_data

    return trial_data(bundled_path(), control="sham", covariates=["belief"], simulated=True,
                      source=f"{FILE} (SIMULATED; shaped like Cushman et al. 2021)")


def write_bundle(directory: Path | None = None, seed: int = SEED) -> Path:
    """Write the CSV and its ``.json`` metadata (``simulated: true``)."""
    directory = directory or bundled_path().parent
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / FILE
    simulate_marathon_trial(seed).to_csv(path, index=False)
    meta = dict(METADATA, seed=seed)
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    return path


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    print(write_bundle())

"""Long-format participant data of one two-arm trial: validated, with missing visits counted.

One row per participant, outcome and visit::

    participant,arm,visit,outcome,value,baseline,belief
    r001,dry needling,1,soleus soreness,4,1,7
    r001,dry needling,2,soleus soreness,3,1,7

``value`` may be empty (a missed visit); every other required field must be present. ``visit`` is
a number (e.g. days since the race) or a label; ``baseline`` is the participant's value before
treatment for that outcome (one value per participant and outcome); further columns named in
``covariates`` (e.g. belief in the treatment) are numbers constant within a participant.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from metaverdict._results import ResultMixin
from metaverdict.errors import InputError

REQUIRED = ("participant", "arm", "visit", "outcome", "value", "baseline")


@dataclass(frozen=True, eq=False)
class TrialData(ResultMixin):
    """Validated participant data (see the module docstring for the layout).

    Attributes
    ----------
    frame : DataFrame
        Canonical columns ``participant, arm, visit, outcome, value, baseline`` plus the
        covariates; ``arm`` categorical with the control arm first; ``row`` = the 1-based row
        of the input.
    control, treatment : str
        The two arms (``control`` is the reference of every difference: treatment - control).
    visits : tuple
        The visits in time order.
    outcomes : tuple of str
    covariates : tuple of str
    lower_is_better : bool
        Direction of the outcome scale (pain: lower is better).
    simulated : bool
        The data are simulated (labelled in every output).
    source : str
        Where the data come from (file name or a description).
    """

    frame: pd.DataFrame = field(repr=False)
    control: str
    treatment: str
    visits: tuple[Any, ...]
    outcomes: tuple[str, ...]
    covariates: tuple[str, ...] = ()
    lower_is_better: bool = True
    simulated: bool = False
    source: str = ""

    @property
    def arms(self) -> tuple[str, str]:
        return (self.control, self.treatment)

    def outcome_frame(self, outcome: str) -> pd.DataFrame:
        """Rows of one outcome (a copy)."""
        if outcome not in self.outcomes:
            raise InputError(f"outcome: {outcome!r} is not in the data; choose one of "
                             f"{list(self.outcomes)}")
        return self.frame[self.frame["outcome"] == outcome].copy()

    def missing_visits(self) -> pd.DataFrame:
        """Participants randomized, observed and missing per outcome, arm and visit.

        A participant counts as randomized to an arm once they appear in the data with that
        arm; a visit is missing when its row is absent or its value empty.
        """
        f = self.frame
        randomized = f.groupby("arm", observed=True)["participant"].nunique()
        rows = []
        for outcome in self.outcomes:
            of = f[f["outcome"] == outcome]
            for arm in self.arms:
                for visit in self.visits:
                    at = of[(of["arm"] == arm) & (of["visit"] == visit)]
                    observed = int(at["value"].notna().sum())
                    n = int(randomized.get(arm, 0))
                    rows.append({"outcome": outcome, "arm": arm, "visit": visit,
                                 "randomized": n, "observed": observed,
                                 "missing": n - observed})
        return pd.DataFrame(rows)

    def summary(self) -> str:
        n = self.frame.groupby("arm", observed=True)["participant"].nunique()
        label = " [SIMULATED DATA]" if self.simulated else ""
        lines = [f"Trial data{label}: {self.source}",
                 f"arms: {self.treatment} (n = {n.get(self.treatment, 0)}) vs {self.control} "
                 f"(n = {n.get(self.control, 0)}); outcomes: {', '.join(self.outcomes)}; "
                 f"visits: {', '.join(map(str, self.visits))}"]
        miss = self.missing_visits()
        total = int(miss["missing"].sum())
        lines.append(f"missing visits: {total}" + ("" if total == 0 else " (" + "; ".join(
            f"{r.outcome} {r.arm} visit {r.visit}: {r.missing}"
            for r in miss[miss["missing"] > 0].itertuples()) + ")"))
        return "\n".join(lines)


def trial_data(data: pd.DataFrame | str | Path, control: str | None = None,
               columns: dict[str, str] | None = None, covariates: Sequence[str] = (),
               lower_is_better: bool = True, simulated: bool | None = None,
               source: str | None = None) -> TrialData:
    """Validate long-format participant data.

    Parameters
    ----------
    data : DataFrame or path
        The rows, or a CSV file with a header.
    control : str, optional
        The control (reference) arm; default: an arm named like ``sham``/``placebo``/
        ``control``, else the first in sorted order.
    columns : dict, optional
        Map from the canonical names (``participant``, ``arm``, ``visit``, ``outcome``,
        ``value``, ``baseline``) to the data's column names.
    covariates : sequence of str
        Participant-level numeric columns to keep (e.g. ``["belief"]``).
    lower_is_better : bool
        Direction of the outcome (pain scores: True).
    simulated : bool, optional
        Whether the data are simulated; default: a ``simulated`` column that is true, or
        "simulated" in the file name.
    source : str, optional
        Description (default: the file name).

    Returns
    -------
    TrialData

    Raises
    ------
    InputError
        A missing column; an empty participant, arm, visit or outcome; a value, baseline or
        covariate that is not a number; a participant in two arms; a baseline or covariate that
        changes within a participant; the same participant, outcome and visit twice; not
        exactly two arms. Messages name the row (1-based data row) and the column.

    Examples
    --------
    >>> import pandas as pd
    >>> from metaverdict.trials.data import trial_data
    >>> d = trial_data(pd.DataFrame({"participant": [1, 1, 2, 2], "arm": ["dn", "dn", "sham",
    ...     "sham"], "visit": [1, 2, 1, 2], "outcome": "pain", "value": [3, None, 2, 1],
    ...     "baseline": [1, 1, 2, 2]}))
    >>> d.control, d.visits
    ('sham', (1, 2))
    >>> int(d.missing_visits()["missing"].sum())
    1
    """
    name = source
    if isinstance(data, (str, Path)):
        path = Path(data)
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
        except FileNotFoundError:
            raise InputError(f"file {str(path)!r}: not found") from None
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise InputError(f"file {str(path)!r}: not a readable CSV ({exc})") from None
        name = name or path.name
        if simulated is None and "simulated" in path.name.lower():
            simulated = True
    elif isinstance(data, pd.DataFrame):
        frame = data.copy()
    else:
        raise InputError("data: expected a DataFrame or the path of a CSV file")
    mapping = {c: c for c in REQUIRED}
    mapping.update(columns or {})
    unknown = set(columns or {}) - set(REQUIRED)
    if unknown:
        raise InputError(f"columns: unknown canonical name(s) {sorted(unknown)}; "
                         f"use {', '.join(REQUIRED)}")
    wanted = [mapping[c] for c in REQUIRED] + list(covariates)
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise InputError(f"data: missing column(s) {', '.join(map(repr, missing))}; "
                         f"columns are {', '.join(map(str, frame.columns))}")
    if simulated is None:
        simulated = bool("simulated" in frame.columns and frame["simulated"].astype(str)
                         .str.lower().isin(["true", "1", "yes"]).any())
    out = pd.DataFrame({c: frame[mapping[c]].to_numpy() for c in REQUIRED})
    for c in covariates:
        out[c] = frame[c].to_numpy()
    out.insert(0, "row", np.arange(1, len(out) + 1))
    if out.empty:
        raise InputError("data: no rows")
    for c in ("participant", "arm", "visit", "outcome"):
        blank = out[c].isna() | (out[c].astype(str).str.strip() == "")
        if blank.any():
            raise InputError(f"row {int(out.loc[blank.idxmax(), 'row'])}, column "
                             f"{mapping[c]!r}: empty")
        out[c] = out[c].astype(str).str.strip() if c != "visit" else out[c]
    for c in ("value", "baseline", *covariates):
        out[c] = _numbers(out, c, mapping.get(c, c), allow_missing=c == "value")
    out["visit"] = _visits(out["visit"])
    _constant_within(out, "arm", "participant", mapping)
    for c in ("baseline", *covariates):
        _constant_within(out, c, ["participant", "outcome"] if c == "baseline" else
                         "participant", mapping)
    dup = out.duplicated(["participant", "outcome", "visit"])
    if dup.any():
        r = out[dup].iloc[0]
        visit = r["visit"].item() if isinstance(r["visit"], np.generic) else r["visit"]
        raise InputError(f"row {int(r['row'])}: participant {r['participant']!r} has outcome "
                         f"{r['outcome']!r} at visit {visit!r} twice")
    arms = sorted(out["arm"].unique())
    if len(arms) != 2:
        raise InputError(f"column {mapping['arm']!r}: expected exactly two arms, got "
                         f"{len(arms)} ({', '.join(arms)})")
    if control is None:
        named = [a for a in arms if any(w in a.lower() for w in ("sham", "placebo", "control"))]
        control = named[0] if len(named) == 1 else arms[0]
    elif control not in arms:
        raise InputError(f"control: {control!r} is not an arm of the data ({', '.join(arms)})")
    treatment = arms[1] if arms[0] == control else arms[0]
    out["arm"] = pd.Categorical(out["arm"], categories=[control, treatment])
    visits = tuple(v.item() if isinstance(v, np.generic) else v
                   for v in sorted(out["visit"].unique(), key=_visit_key))
    return TrialData(out, control, treatment, visits, tuple(dict.fromkeys(out["outcome"])),
                     tuple(covariates), lower_is_better, bool(simulated), name or "data frame")


def _numbers(out: pd.DataFrame, col: str, name: str, allow_missing: bool) -> pd.Series:
    raw = out[col]
    text = raw.astype(str).str.strip().str.replace("\u2212", "-", regex=False)
    empty = raw.isna() | (text == "") | (text.str.lower() == "nan")
    num = pd.to_numeric(text.where(~empty), errors="coerce")
    bad = (~empty & num.isna()) | (~empty & ~np.isfinite(num.fillna(0.0)))
    if bad.any():
        i = bad.idxmax()
        raise InputError(f"row {int(out.loc[i, 'row'])}, column {name!r}: not a finite number "
                         f"({raw[i]!r})")
    if not allow_missing and empty.any():
        raise InputError(f"row {int(out.loc[empty.idxmax(), 'row'])}, column {name!r}: empty "
                         "(only the outcome value may be missing)")
    return num.astype(float)


def _visits(v: pd.Series) -> pd.Series:
    """Numeric visits as numbers (int where whole), labels as stripped strings."""
    num = pd.to_numeric(v.astype(str).str.strip(), errors="coerce")
    if num.notna().all():
        whole = bool(np.all(num == np.round(num)))
        return num.astype(int) if whole else num.astype(float)
    return v.astype(str).str.strip()


def _visit_key(v: Any) -> tuple[int, Any]:
    return (0, v) if isinstance(v, (int, float, np.integer, np.floating)) else (1, str(v))


def _constant_within(out: pd.DataFrame, col: str, by: str | list[str],
                     mapping: dict[str, str]) -> None:
    n = out.groupby(by, observed=True)[col].nunique(dropna=False)
    if (n > 1).any():
        key = n[n > 1].index[0]
        keys = key if isinstance(key, tuple) else (key,)
        cols = by if isinstance(by, list) else [by]
        rows = out
        for c, k in zip(cols, keys):
            rows = rows[rows[c] == k]
        r = rows.iloc[1]
        raise InputError(f"row {int(r['row'])}, column {mapping.get(col, col)!r}: differs "
                         f"from earlier rows of participant {r['participant']!r} "
                         f"(must be constant within a participant)")

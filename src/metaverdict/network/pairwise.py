"""``pairwise``: arm-level data (one row per arm, or one row per study with one column per arm)
to the contrasts a network meta-analysis takes, as R's ``meta::pairwise()`` (meta 8.3-0).

Every study with ``a`` arms gives its ``a (a - 1) / 2`` contrasts; contrast ``(i, j)`` of arms
``i < j`` (in the order given) is arm ``i`` versus arm ``j``. Within a study the contrasts are
listed by the first arm, then by the second arm (long data: by the second arm's treatment
label, as meta does). Effect sizes come from
:func:`metaverdict.effect_sizes` (``"OR"``, ``"RR"``, ``"IRR"``, ``"MD"``) with meta's
defaults: 1/2 added to the cells of studies with a zero cell (``incr``, see below), and a
contrast with no events (or, for OR and RR, only events) in both arms left undefined (NaN; the
network meta-analysis then leaves it out, as netmeta does). Two measures follow meta rather
than metafor's ``escalc``:

* ``"RD"``: the risk difference of the observed proportions, ``p1 - p2``, with the variance
  of the corrected counts ``(e1 + c)(n1 - e1 + c) / (n1 + 2c)^3 + ...``;
* ``"SMD"``: the difference in means over the SD pooled over *all* arms of the study,
  :math:`d = (m_1 - m_2) / s_p`, :math:`s_p^2 = \\sum_a (n_a - 1) s_a^2 / \\sum_a (n_a - 1)`,
  with variance :math:`1/n_1 + 1/n_2 + d^2 / (2 N)`, ``N`` the study's total sample size
  (Cohen's d, as meta's ``pairwise()`` computes it, so that the contrasts of a multi-arm
  study are consistent; two-arm studies: the usual pooled SD and ``N = n_1 + n_2``).

The continuity correction is per study, as in meta: when any arm of a study has no events (or,
for OR, RR and RD, only events), ``incr`` is added to every cell of *every* contrast of that
study, so that a multi-arm study's contrasts stay consistent.

References
----------
Schwarzer, G., Carpenter, J. R., & Rücker, G. (2015). Meta-Analysis with R, chapter 8.
Springer. (R packages meta and netmeta.)
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from metaverdict._results import ResultMixin, read_only
from metaverdict.effects import effect_sizes
from metaverdict.errors import InputError
from metaverdict.network._collation import r_sort_key

FloatArray = npt.NDArray[np.float64]

#: summary measures and the arm-level fields each needs
MEASURE_FIELDS: dict[str, tuple[str, ...]] = {
    "OR": ("event", "n"), "RR": ("event", "n"), "RD": ("event", "n"),
    "IRR": ("event", "time"), "MD": ("mean", "sd", "n"), "SMD": ("mean", "sd", "n"),
}
#: ratio measures: estimates are on the log scale
RATIO_MEASURES = frozenset({"OR", "RR", "IRR"})
#: the per-contrast arm columns of each outcome type, in the order of meta's output
_ARM_COLUMNS = {"event": ("event1", "n1", "event2", "n2", "incr1", "incr2"),
                "time": ("event1", "event2", "time1", "time2", "incr1", "incr2"),
                "mean": ("n1", "n2", "mean1", "sd1", "mean2", "sd2")}


@dataclass(frozen=True, eq=False, repr=False)
class PairwiseContrasts(ResultMixin):
    """The contrasts of arm-level data: what :func:`~metaverdict.network.pairwise` returns and
    :func:`~metaverdict.network.network_meta_analysis` accepts.

    ``contrasts`` (a new DataFrame on every access) has one row per contrast: ``studlab``,
    ``treat1``, ``treat2``, ``TE`` (treat1 versus treat2, log scale for ratio measures),
    ``seTE``, the arm-level values of both arms (``event1``, ``n1``, ``event2``, ``n2``,
    ``incr1``, ``incr2``; ``time1``, ``time2``; ``mean1``, ``sd1``, ``mean2``, ``sd2``) and
    ``row`` (the 0-based position of the study's first row in the input). ``TE``/``seTE`` are
    NaN for a contrast whose measure is undefined (no events in both arms).
    """

    sm: str
    _columns: Mapping[str, Any]

    _repr_fields = ("sm", "k", "m")
    _dict_properties = ("contrasts",)

    @property
    def contrasts(self) -> pd.DataFrame:
        """One row per contrast (see the class docstring)."""
        return pd.DataFrame({k: np.array(v, copy=True) for k, v in self._columns.items()})

    @property
    def m(self) -> int:
        """Number of contrasts."""
        return len(self._columns["TE"])

    @property
    def k(self) -> int:
        """Number of studies."""
        return len(dict.fromkeys(self._columns["studlab"]))

    @property
    def arm_fields(self) -> tuple[str, ...]:
        """The arm-level columns present (e.g. ``event1, n1, event2, n2, incr1, incr2``)."""
        fixed = ("studlab", "treat1", "treat2", "TE", "seTE", "row")
        return tuple(c for c in self._columns if c not in fixed)

    def summary(self) -> str:
        """One line per study: its arms and contrasts."""
        frame = self.contrasts
        lines = [f"Pairwise contrasts ({self.sm}): {self.k} studies, {self.m} contrasts"]
        for lab, part in frame.groupby("studlab", sort=False):
            arms = list(dict.fromkeys(list(part["treat1"]) + list(part["treat2"])))
            undefined = int(part["TE"].isna().sum())
            lines.append(f"  {lab}: {len(arms)} arms ({', '.join(map(str, arms))}), "
                         f"{len(part)} contrasts" + (f", {undefined} undefined" if undefined
                                                     else ""))
        return "\n".join(lines)


def pairwise(data: pd.DataFrame | Mapping[str, Any], *, treat: str | Sequence[str],
             sm: str, studlab: Any = None, event: str | Sequence[str] | None = None,
             n: str | Sequence[str] | None = None, mean: str | Sequence[str] | None = None,
             sd: str | Sequence[str] | None = None, time: str | Sequence[str] | None = None,
             incr: float = 0.5, allstudies: bool = False) -> PairwiseContrasts:
    """All pairwise contrasts of arm-level data (R's ``meta::pairwise()``).

    Parameters
    ----------
    data : pandas.DataFrame or mapping
        The arm-level data.
    treat : str or sequence of str
        Long format (one row per arm): the column of the arm's treatment; ``studlab`` then
        names the study column. Wide format (one row per study): one column per arm, e.g.
        ``["treat1", "treat2", "treat3"]`` (a missing treatment ends a study's arms), and
        ``event``, ``n``, ... are lists of columns of the same length.
    sm : {"OR", "RR", "RD", "IRR", "MD", "SMD"}
        Summary measure (log scale for OR, RR, IRR).
    studlab : str or array-like, optional
        Study labels (a column name or values). Required for long data; for wide data the
        row number (1, 2, ...) when omitted.
    event, n, mean, sd, time : str or sequence of str
        Arm-level columns: events and sample sizes (``"OR"``, ``"RR"``, ``"RD"``), events
        and person-time (``"IRR"``), means, SDs and sample sizes (``"MD"``, ``"SMD"``).
    incr : float
        Added to every cell of every contrast of a study with an arm without events (or with
        only events); events only for ``"IRR"``.
    allstudies : bool
        Keep contrasts with no events (OR/RR: or only events) in both arms, with ``incr``.

    Returns
    -------
    PairwiseContrasts

    Raises
    ------
    InputError
        Unknown measure or column, missing arm-level field, a study with one arm or with the
        same treatment twice, impossible counts; the message names the study and the field.

    Examples
    --------
    >>> import pandas as pd
    >>> arms = pd.DataFrame({"study": ["S1", "S1", "S1", "S2", "S2"],
    ...                      "treatment": ["A", "B", "C", "A", "C"],
    ...                      "events": [10, 15, 12, 8, 14], "n": [50, 50, 50, 40, 40]})
    >>> pw = pairwise(arms, treat="treatment", event="events", n="n", studlab="study",
    ...               sm="OR")
    >>> pw.contrasts[["studlab", "treat1", "treat2", "TE", "seTE"]].round(4)
      studlab treat1 treat2      TE    seTE
    0      S1      A      B -0.5390  0.4693
    1      S1      A      C -0.2336  0.4844
    2      S1      B      C  0.3054  0.4526
    3      S2      A      C -0.7673  0.5159
    """
    code = _measure(sm)
    frame = _as_frame(data)
    given = {"event": event, "n": n, "mean": mean, "sd": sd, "time": time}
    needed = MEASURE_FIELDS[code]
    for name in needed:
        if given[name] is None:
            raise InputError(f"sm={code!r} needs the arm-level field {name!r} "
                             f"(needs: {', '.join(needed)})")
    extra = [k for k, v in given.items() if v is not None and k not in needed]
    if extra:
        raise InputError(f"sm={code!r} does not use {', '.join(map(repr, extra))} "
                         f"(needs: {', '.join(needed)})")
    if not (np.isfinite(incr) and incr >= 0):
        raise InputError(f"field 'incr': must be a number >= 0, got {incr!r}")
    studies = (_wide_studies(frame, treat, studlab, {k: given[k] for k in needed})
               if not isinstance(treat, str)
               else _long_studies(frame, treat, studlab, {k: given[k] for k in needed}))
    rows = _contrast_rows(studies, code)
    columns = _effects(rows, code, incr, allstudies)
    return PairwiseContrasts(sm=code, _columns={k: read_only(v) for k, v in columns.items()})


# --- reading the arms ---------------------------------------------------------------------------
@dataclass(frozen=True)
class _Study:
    label: Any
    row: int
    long: bool                              # one row per arm (else one row per study)
    treatments: list[str]
    values: dict[str, list[float]]          # field -> one value per arm
    fields: dict[str, list[str]]            # field -> the column each value came from


def _measure(sm: Any) -> str:
    code = str(sm).upper() if isinstance(sm, str) else None
    if code not in MEASURE_FIELDS:
        raise InputError(f"field 'sm': unknown summary measure {sm!r}; choose one of "
                         f"{', '.join(MEASURE_FIELDS)}")
    return code


def _as_frame(data: Any) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data.reset_index(drop=True)
    if isinstance(data, Mapping):
        return pd.DataFrame(dict(data))
    raise InputError(f"field 'data': expected a pandas DataFrame or a mapping of columns, got "
                     f"{type(data).__name__}")


def _column(frame: pd.DataFrame, name: Any, field: str) -> pd.Series:
    if not isinstance(name, str) or name not in frame.columns:
        raise InputError(f"field {field!r}: no column {name!r} in the data (columns: "
                         f"{', '.join(map(str, frame.columns))})")
    return frame[name]


def treatment_label(value: Any) -> str | None:
    """A treatment label as text (``1.0`` from a numeric column with gaps becomes ``"1"``);
    None for a missing one."""
    if value is None:
        return None
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return None
        if float(value).is_integer():
            return str(int(value))
    text = str(value).strip()
    return text or None


def _labels(frame: pd.DataFrame, studlab: Any, default: list[Any] | None) -> list[Any]:
    if studlab is None:
        if default is None:
            raise InputError("field 'studlab': long (one row per arm) data need a study "
                             "label column to group the arms")
        return default
    if isinstance(studlab, str):
        return list(_column(frame, studlab, "studlab"))
    values = list(studlab)
    if len(values) != len(frame):
        raise InputError(f"field 'studlab': {len(values)} labels for {len(frame)} rows")
    return values


def _wide_studies(frame: pd.DataFrame, treat: Sequence[str], studlab: Any,
                  fields: dict[str, Any]) -> list[_Study]:
    treat = list(treat)
    for name, cols in fields.items():
        if isinstance(cols, str) or len(list(cols)) != len(treat):
            raise InputError(f"field {name!r}: wide data need one column per arm "
                             f"({len(treat)} columns, as for 'treat'), got {cols!r}")
    tcols = [_column(frame, c, "treat") for c in treat]
    vcols = {name: [_column(frame, c, name) for c in cols] for name, cols in fields.items()}
    labels = _labels(frame, studlab, list(range(1, len(frame) + 1)))
    out = []
    for r in range(len(frame)):
        arms = [a for a in range(len(treat)) if treatment_label(tcols[a].iloc[r]) is not None]
        out.append(_Study(label=labels[r], row=r, long=False,
                          treatments=[treatment_label(tcols[a].iloc[r]) or "" for a in arms],
                          values={k: [_number(v[a].iloc[r]) for a in arms]
                                  for k, v in vcols.items()},
                          fields={k: [list(fields[k])[a] for a in arms] for k in vcols}))
    return out


def _long_studies(frame: pd.DataFrame, treat: str, studlab: Any,
                  fields: dict[str, Any]) -> list[_Study]:
    for name, col in fields.items():
        if not isinstance(col, str):
            raise InputError(f"field {name!r}: long data (treat={treat!r}) take one column "
                             f"name per field, got {col!r}")
    tcol = _column(frame, treat, "treat")
    vcols = {name: _column(frame, col, name) for name, col in fields.items()}
    labels = _labels(frame, studlab, None)
    groups: dict[Any, list[int]] = {}
    for r, lab in enumerate(labels):
        if lab is None or (isinstance(lab, float) and not np.isfinite(lab)):
            raise InputError(f"row {r + 1}, field 'studlab': missing study label")
        groups.setdefault(lab, []).append(r)
    out = []
    for lab, rows in groups.items():
        for r in rows:
            if treatment_label(tcol.iloc[r]) is None:
                raise InputError(f"row {r + 1} (study {lab!r}), field {treat!r}: missing "
                                 "treatment")
        out.append(_Study(label=lab, row=rows[0], long=True,
                          treatments=[treatment_label(tcol.iloc[r]) or "" for r in rows],
                          values={k: [_number(v.iloc[r]) for r in rows]
                                  for k, v in vcols.items()},
                          fields={k: [str(fields[k])] * len(rows) for k in vcols}))
    return out


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


# --- contrasts ----------------------------------------------------------------------------------
def _check_study(study: _Study, code: str) -> None:
    where = f"study {study.label!r}"
    if len(study.treatments) < 2:
        raise InputError(f"{where}: needs at least two arms with a treatment, got "
                         f"{len(study.treatments)}")
    seen: dict[str, int] = {}
    for a, t in enumerate(study.treatments):
        if t in seen:
            raise InputError(f"{where}: treatment {t!r} appears in arms {seen[t] + 1} and "
                             f"{a + 1}; each arm of a study must have its own treatment")
        seen[t] = a
    for name, vals in study.values.items():
        for a, v in enumerate(vals):
            col = study.fields[name][a]
            bad = None
            if not np.isfinite(v):
                bad = "must be a finite number"
            elif name == "event" and v < 0:
                bad = "events must be >= 0"
            elif name == "n" and (v < (2 if code in ("MD", "SMD") else 1)):
                bad = f"the arm size must be >= {2 if code in ('MD', 'SMD') else 1}"
            elif name in ("sd", "time") and v <= 0:
                bad = f"{'SD' if name == 'sd' else 'person-time'} must be > 0"
            if bad:
                raise InputError(f"{where}, arm {a + 1} ({study.treatments[a]!r}), field "
                                 f"{col!r}: {bad}, got {v:g}")
    if "event" in study.values and "n" in study.values:
        for a, (e, m) in enumerate(zip(study.values["event"], study.values["n"])):
            if e > m:
                raise InputError(f"{where}, arm {a + 1} ({study.treatments[a]!r}), field "
                                 f"{study.fields['event'][a]!r}: events ({e:g}) exceed the arm "
                                 f"size {study.fields['n'][a]!r} ({m:g})")


def _contrast_rows(studies: list[_Study], code: str) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {"studlab": [], "treat1": [], "treat2": [], "row": [],
                                 "arm1": [], "arm2": [], "study": []}
    for s, study in enumerate(studies):
        _check_study(study, code)
        a = len(study.treatments)
        pairs = [(i, j) for i in range(a - 1) for j in range(i + 1, a)]
        if study.long:      # meta lists a long study's contrasts by the second treatment
            pairs.sort(key=lambda p: (p[0], r_sort_key(study.treatments[p[1]])))
        for i, j in pairs:
            out["studlab"].append(study.label)
            out["treat1"].append(study.treatments[i])
            out["treat2"].append(study.treatments[j])
            out["row"].append(study.row)
            out["arm1"].append(i)
            out["arm2"].append(j)
            out["study"].append(s)
    out["_studies"] = studies   # type: ignore[assignment]
    return out


def _arm_values(rows: dict[str, list[Any]], field: str, which: str) -> FloatArray:
    studies: list[_Study] = rows["_studies"]   # type: ignore[assignment]
    return np.array([studies[s].values[field][a]
                     for s, a in zip(rows["study"], rows[which])], dtype=float)


def _effects(rows: dict[str, list[Any]], code: str, incr: float,
             allstudies: bool) -> dict[str, Any]:
    m = len(rows["studlab"])
    out: dict[str, Any] = {"studlab": np.array(rows["studlab"], dtype=object),
                           "treat1": np.array(rows["treat1"], dtype=object),
                           "treat2": np.array(rows["treat2"], dtype=object)}
    if m == 0:
        raise InputError("field 'data': no studies with at least two arms")
    if code in ("MD", "SMD"):
        n1, n2 = _arm_values(rows, "n", "arm1"), _arm_values(rows, "n", "arm2")
        m1, m2 = _arm_values(rows, "mean", "arm1"), _arm_values(rows, "mean", "arm2")
        s1, s2 = _arm_values(rows, "sd", "arm1"), _arm_values(rows, "sd", "arm2")
        if code == "MD":
            es = effect_sizes("MD", m1i=m1, sd1i=s1, n1i=n1, m2i=m2, sd2i=s2, n2i=n2)
            te, var = es.yi, es.vi
        else:
            te, var, s1, s2 = _smd(rows, n1, n2, m1, m2)
        out.update(TE=te, seTE=np.sqrt(var), n1=n1, n2=n2, mean1=m1, sd1=s1, mean2=m2,
                   sd2=s2)
    else:
        e1, e2 = _arm_values(rows, "event", "arm1"), _arm_values(rows, "event", "arm2")
        second = "time" if code == "IRR" else "n"
        x1, x2 = _arm_values(rows, second, "arm1"), _arm_values(rows, second, "arm2")
        if code == "IRR":
            dropped = (e1 == 0) & (e2 == 0) & (not allstudies)
        else:
            none_or_all = ((e1 == 0) & (e2 == 0)) | ((e1 == x1) & (e2 == x2))
            dropped = none_or_all & (not allstudies) & (code != "RD")
        add = np.where(_sparse_studies(rows, code) & ~dropped, incr, 0.0)
        labels = [f"{s} ({a} vs {b})" for s, a, b in
                  zip(rows["studlab"], rows["treat1"], rows["treat2"])]
        te, var = _count_effects(code, e1, x1, e2, x2, add, dropped, labels)
        out.update(TE=te, seTE=np.sqrt(var), event1=e1, event2=e2)
        if code == "IRR":
            out.update(time1=x1, time2=x2)
        else:
            out.update(n1=x1, n2=x2)
        out.update(incr1=add, incr2=add.copy())
        order = _ARM_COLUMNS["time" if code == "IRR" else "event"]
        out = {**{k: out[k] for k in ("studlab", "treat1", "treat2", "TE", "seTE")},
               **{k: out[k] for k in order}}
    out["row"] = np.array(rows["row"], dtype=np.int64)
    return out


def _sparse_studies(rows: dict[str, list[Any]], code: str) -> npt.NDArray[np.bool_]:
    """Per contrast: does its study have an arm with no events (or, for 2x2 measures, only
    events)? meta then corrects *every* contrast of the study (so that the contrasts of a
    multi-arm study stay consistent)."""
    studies: list[_Study] = rows["_studies"]   # type: ignore[assignment]
    sparse = []
    for st in studies:
        ev = np.asarray(st.values["event"], dtype=float)
        flag = bool((ev == 0).any())
        if code != "IRR":
            flag = flag or bool((ev == np.asarray(st.values["n"], dtype=float)).any())
        sparse.append(flag)
    return np.array([sparse[s] for s in rows["study"]], dtype=bool)


def _count_effects(code: str, e1: FloatArray, x1: FloatArray, e2: FloatArray, x2: FloatArray,
                   add: FloatArray, dropped: npt.NDArray[np.bool_], labels: list[str]
                   ) -> tuple[FloatArray, FloatArray]:
    """Effects and variances of event data, ``add`` (per contrast) added to every cell (the
    events only, for IRR); NaN for the ``dropped`` contrasts."""
    te = np.full(len(e1), np.nan)
    var = np.full(len(e1), np.nan)
    for value in np.unique(add[~dropped]):
        sel = ~dropped & (add == value)
        labs = [lab for lab, keep in zip(labels, sel) if keep]
        to = "all" if value > 0 else "none"
        if code == "IRR":
            es = effect_sizes("IRR", x1i=e1[sel], t1i=x1[sel], x2i=e2[sel], t2i=x2[sel],
                              add=float(value), to=to, labels=labs)
            te[sel], var[sel] = es.yi, es.vi
        elif code == "RD":
            # meta: the observed risk difference, with the variance of the corrected counts
            te[sel] = e1[sel] / x1[sel] - e2[sel] / x2[sel]
            es = effect_sizes("RD", ai=e1[sel], n1i=x1[sel], ci=e2[sel], n2i=x2[sel],
                              add=float(value), to=to, labels=labs)
            var[sel] = es.vi
        else:
            es = effect_sizes(code, ai=e1[sel], n1i=x1[sel], ci=e2[sel], n2i=x2[sel],
                              add=float(value), to=to, labels=labs)
            te[sel], var[sel] = es.yi, es.vi
    return te, var


def _smd(rows: dict[str, list[Any]], n1: FloatArray, n2: FloatArray, m1: FloatArray,
         m2: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    studies: list[_Study] = rows["_studies"]   # type: ignore[assignment]
    pooled = np.empty(len(n1))
    total = np.empty(len(n1))
    for r, s in enumerate(rows["study"]):
        ns = np.asarray(studies[s].values["n"], dtype=float)
        sds = np.asarray(studies[s].values["sd"], dtype=float)
        pooled[r] = np.sqrt(np.sum((ns - 1) * sds**2) / np.sum(ns - 1))
        total[r] = ns.sum()
    d = (m1 - m2) / pooled
    var = 1 / n1 + 1 / n2 + d**2 / (2 * total)
    multi = np.array([len(studies[s].treatments) > 2 for s in rows["study"]])
    # meta reports the pooled SD for the arms of multi-arm studies, the arm's own SD otherwise
    s1 = np.where(multi, pooled, _arm_values(rows, "sd", "arm1"))
    s2 = np.where(multi, pooled, _arm_values(rows, "sd", "arm2"))
    return d, var, s1, s2

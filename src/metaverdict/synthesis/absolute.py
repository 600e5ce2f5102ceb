"""Absolute and familiar effects: what an effect means on a scale a clinician knows.

* An SMD on pain is re-expressed in points on a 0-10 scale: ``SMD × SD`` with a *typical SD*
  (GRADE's recommendation; Schünemann et al., Cochrane Handbook ch. 15.5), here the median
  control-arm SD of the stored pain results on a 0-100 scale, divided by 10; the SD and the
  rows it comes from are stated.
* A pain MD on a 0-100 scale is shown in 0-10 points as well.
* A reported NNT becomes responders per 100 (``100 / NNT``, its CI inverted).
* Arm percentages (responders, recurrence, adverse events) become risks per 100 and their
  difference; with both arm sizes an approximate 95% CI of the risk difference (Wald, from the
  rounded percentages, labelled approximate) and the NNT/NNH (``100 / RD``).
"""
from __future__ import annotations

import math
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass

from metaverdict._results import ResultMixin
from metaverdict.effects.conversions import Z_975
from metaverdict.evidence.queries import ResultRow
from metaverdict.grade.body import Body


@dataclass(frozen=True, repr=False)
class TypicalSD(ResultMixin):
    """A typical SD on a 0-10 pain scale and where it comes from."""

    value: float
    n_results: int
    sources: tuple[str, ...]
    _repr_fields = ("value", "n_results")

    def describe(self) -> str:
        """E.g. ``typical SD 2.5 points (median control-arm SD of 12 stored ...)``."""
        return (f"typical SD {self.value:.1f} points: the median control-arm SD of "
                f"{self.n_results} stored pain results on a 0-100 scale "
                f"({', '.join(self.sources)}), divided by 10")


@dataclass(frozen=True, repr=False)
class AbsoluteEffect(ResultMixin):
    """An effect on a familiar scale: ``estimate`` and CI in ``units``, and how it was got."""

    units: str
    estimate: float | None
    ci_lower: float | None
    ci_upper: float | None
    text: str
    basis: str
    _repr_fields = ("units", "estimate")


def typical_sd(rows: Iterable[ResultRow]) -> TypicalSD | None:
    """The typical SD of pain on a 0-10 scale from the stored control arms (see module)."""
    sds, srcs = [], []
    for r in rows:
        if (r.outcome_domain == "pain" and r.sd_control is not None and
                r.timepoint_window != "baseline" and r.outcome_scale.startswith("0-100")):
            sds.append(r.sd_control / 10.0)
            srcs.append(r.source_id)
    if not sds:
        return None
    return TypicalSD(statistics.median(sds), len(sds), tuple(dict.fromkeys(srcs)))


def _points(x: float | None, scale: float) -> float | None:
    return None if x is None else x * scale


def _ci_text(lo: float | None, hi: float | None, digits: int = 1) -> str:
    if lo is None or hi is None:
        return ""
    return f" (95% CI {lo:.{digits}f} to {hi:.{digits}f})"


def _pain_points(body: Body, sd: TypicalSD | None) -> AbsoluteEffect | None:
    b, lo, hi = body.benefit()
    if b is None:
        return None
    measure = (body.measure or "").split(" ")[0].upper()
    if measure != "SMD" and not re.search(r"unspecified|vas|nrs|nprs", body.outcome_instrument,
                                          re.I):
        return None                          # a questionnaire's pain subscale, not a 0-10 scale
    if measure == "SMD" and sd is not None:
        f = sd.value
        how = f"SMD × {sd.describe()}"
    elif measure in ("MD", "WMD") and body.outcome_scale.startswith("0-100"):
        f, how = 0.1, "MD on a 0-100 scale divided by 10"
    elif measure in ("MD", "WMD") and body.outcome_scale.startswith("0-10"):
        f, how = 1.0, "MD on a 0-10 scale"
    else:
        return None
    pb, plo, phi = _points(b, f), _points(lo, f), _points(hi, f)
    word = "less" if pb >= 0 else "more"
    lo_t, hi_t = (plo, phi) if pb >= 0 else (-phi if phi is not None else None,
                                              -plo if plo is not None else None)
    text = f"about {abs(pb):.1f} points {word} pain on a 0-10 scale{_ci_text(lo_t, hi_t)}"
    return AbsoluteEffect("points on a 0-10 pain scale (benefit positive)", pb, plo, phi,
                          text, how)


def _nnt(body: Body) -> AbsoluteEffect | None:
    if body.estimate is None or body.estimate <= 0:
        return None
    per100 = 100.0 / body.estimate
    lo = 100.0 / body.ci_upper if body.ci_upper else None
    hi = 100.0 / body.ci_lower if body.ci_lower else None
    text = (f"NNT {body.estimate:g}" + (f" (95% CI {body.ci_lower:g} to {body.ci_upper:g})"
                                        if body.has_ci else "")
            + f": about {per100:.0f} more responders per 100 treated"
            + (f" (95% CI {lo:.0f} to {hi:.0f})" if lo is not None and hi is not None else ""))
    return AbsoluteEffect("responders per 100", per100, lo, hi, text,
                          "100 / NNT as reported (its CI inverted)")


def proportions(row: ResultRow, unit: str = "patients") -> AbsoluteEffect | None:
    """Risks per 100 from arm percentages; RD and NNT/NNH (approximate CI with arm sizes)."""
    pt, pc = row.mean_treatment_value, row.mean_control_value
    if pt is None or row.mean_treatment is None or "%" not in row.mean_treatment:
        return None
    ctrl_text = (row.mean_control or "").strip()
    if pc is None:
        if "<" in ctrl_text and "%" in ctrl_text:
            return AbsoluteEffect(f"per 100 {unit}", None, None, None,
                                  f"{pt:g} vs {ctrl_text.replace('%', '')} per 100 {unit} "
                                  "(treatment vs comparator)", "arm percentages as reported")
        return None
    rd = pt - pc
    text = f"{pt:g} vs {pc:g} per 100 {unit}: {abs(rd):.0f} {'more' if rd > 0 else 'fewer'} " \
           f"per 100 with the treatment"
    lo = hi = None
    n1, n2 = row.n_treatment, row.n_control
    basis = "arm percentages as reported"
    if n1 and n2 and rd != 0:
        p1, p2 = pt / 100, pc / 100
        se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2) * 100
        lo, hi = rd - Z_975 * se, rd + Z_975 * se
        text += f" (approximate 95% CI {lo:.0f} to {hi:.0f})"
        nn = 100 / abs(rd)
        text += f"; about 1 in {nn:.1f} treated"
        if lo * hi > 0:
            near, far = min(abs(lo), abs(hi)), max(abs(lo), abs(hi))
            text += f" (1 in {100 / far:.1f} to 1 in {100 / near:.1f})"
        basis = ("Wald CI of the risk difference from the reported (rounded) percentages and "
                 f"the arm sizes {n1} and {n2}: approximate")
    return AbsoluteEffect(f"per 100 {unit}", rd, lo, hi, text, basis)


def absolute_effect(body: Body, rows: dict[int, ResultRow],
                    sd: TypicalSD | None) -> AbsoluteEffect | None:
    """The familiar-scale effect of a body of evidence, where one can be given."""
    if body.measure == "NNT":
        return _nnt(body)
    if body.outcome == "pain" and body.estimate is not None:
        return _pain_points(body, sd)
    if len(body.result_ids) == 1 and body.result_ids[0] in rows:
        row = rows[body.result_ids[0]]
        unit = ("appointments" if "appointment" in (row.outcome_instrument or "")
                else "patients")
        return proportions(row, unit)
    return None

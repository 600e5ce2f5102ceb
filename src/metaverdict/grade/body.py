"""A body of evidence: what GRADE rates and a verdict judges.

A :class:`Body` is one effect (pooled from primary trials, one trial's result, or a review's
pooled result) for one treatment, comparator, condition, outcome and timepoint, with what is
needed to rate it: the risk-of-bias texts of its trials, a review's own certainty, declared
indirectness, k, N, I², and its provenance. Estimates are *harmonised*: treatment minus
comparator (treatment / comparator for ratios), in the outcome's units or SD units.

:meth:`Body.benefit` re-expresses an effect so that positive means benefit to the treated:
``b = -x`` when lower is better (pain), ``b = x`` when higher is better (function), and on the
log scale for ratio measures (``b = -ln(RR)`` for an outcome where lower is better, such as
adverse events). The CI is transformed (and its ends swapped) the same way.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from metaverdict._results import ResultMixin
from metaverdict.errors import InputError
from metaverdict.evidence.vocabulary import RATIO_MEASURES
from metaverdict.grade.levels import Basis
from metaverdict.models import MetaAnalysisResult

#: The bases a body can have (the members of :class:`~metaverdict.grade.levels.Basis`).
BASES: tuple[Basis, ...] = tuple(Basis)


def is_ratio(measure: str | None) -> bool:
    """True for RR, OR and HR (and labels starting with them)."""
    return measure is not None and measure.split(" ")[0].upper() in RATIO_MEASURES


@dataclass(frozen=True, repr=False)
class Body(ResultMixin):
    """One body of evidence (see the module docstring).

    Attributes
    ----------
    treatment, comparator, condition, outcome, window : str
        The claim it answers (comparator: the comparator kind; outcome: the domain).
    basis : Basis
        One of :data:`BASES` (a plain string is converted; another raises InputError).
    label : str
        What distinguishes it from other bodies of the same claim (instrument, site,
        timepoint, source).
    measure, estimate, ci_lower, ci_upper : str or float or None
        Harmonised effect (treatment minus comparator, or ratio) and its 95% CI.
    lower_is_better : bool or None
        The outcome's direction.
    p_relation, p_number : str or float or None
        Reported P-value (``"="``, ``"<="``, ``">"`` ...).
    smd_bound_relation, smd_bound : str or float or None
        Bound on |SMD| derived from a P-value bound and the arm sizes (never an estimate).
    direction_reported : str or None
        ``favours-treatment``, ``favours-comparator`` or ``no-significant-difference`` as the
        source states it (for results without numbers).
    risk_of_bias : tuple of str
        Trial quality texts (e.g. ``PEDro 5/10``) or a review's risk-of-bias statement.
    review_certainty : str or None
        The certainty text a review gives for this result (GRADE or otherwise).
    indirectness : tuple of str
        Declared reasons the evidence answers the claim only indirectly.
    verification : tuple of str
        Reasons the numbers need checking against the original (e.g. read from a secondary
        summary). Not a GRADE domain: shown as a flag beside the result.
    stated_mid, stated_mid_text : float or str or None
        The trial's own minimal important difference (it wins over the MCID table), and the
        authors' words about it (e.g. that the difference "was lower than the minimal
        important difference" when no value is stored).
    year : int or None
        Publication year of the (first) source, for the choice between bodies.
    reported : str or None
        The numbers exactly as the source reported them (its own sign convention), for
        display beside the harmonised effect.
    meta : MetaAnalysisResult or None
        The fit, for a body pooled here from primary trials.
    """

    treatment: str
    comparator: str
    condition: str
    outcome: str
    window: str
    basis: Basis
    label: str = ""
    comparator_name: str = ""
    outcome_instrument: str = "unspecified"
    outcome_scale: str = "unspecified"
    lower_is_better: bool | None = None
    timepoint_raw: str = ""
    timepoint_days: float | None = None
    timepoint_days_min: float | None = None
    timepoint_days_max: float | None = None
    measure: str | None = None
    estimate: float | None = None
    ci_lower: float | None = None
    ci_upper: float | None = None
    pi_lower: float | None = None
    pi_upper: float | None = None
    k: int | None = None
    n_treatment: int | None = None
    n_control: int | None = None
    i2: float | None = None
    p_relation: str | None = None
    p_number: float | None = None
    smd_bound_relation: str | None = None
    smd_bound: float | None = None
    direction_reported: str | None = None
    risk_of_bias: tuple[str, ...] = ()
    review_certainty: str | None = None
    indirectness: tuple[str, ...] = ()
    verification: tuple[str, ...] = ()
    stated_mid: float | None = None
    stated_mid_text: str | None = None
    year: int | None = None
    reported: str | None = None
    result_ids: tuple[int, ...] = ()
    source_ids: tuple[str, ...] = ()
    citations: tuple[str, ...] = ()
    dois: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    meta: MetaAnalysisResult | None = field(default=None, repr=False, compare=False)
    _repr_fields = ("treatment", "comparator", "condition", "outcome", "window", "basis",
                    "estimate")

    def __post_init__(self) -> None:
        if not isinstance(self.basis, Basis):
            try:
                basis = Basis(self.basis)
            except ValueError:
                raise InputError(f"body of evidence, field 'basis': must be one of "
                                 f"{', '.join(BASES)}, got {self.basis!r}") from None
            object.__setattr__(self, "basis", basis)

    # -- derived -----------------------------------------------------------------------
    @property
    def n_total(self) -> int | None:
        """Participants in both arms, where both are known."""
        if self.n_treatment is None or self.n_control is None:
            return None
        return self.n_treatment + self.n_control

    @property
    def has_ci(self) -> bool:
        """True when both CI limits are known."""
        return self.ci_lower is not None and self.ci_upper is not None

    @property
    def day_order(self) -> float:
        """A day count to order a time course by (days, else the range's end, else +inf)."""
        for d in (self.timepoint_days, self.timepoint_days_max, self.timepoint_days_min):
            if d is not None:
                return float(d)
        return math.inf

    def benefit(self) -> tuple[float | None, float | None, float | None]:
        """Estimate and CI on the benefit scale (positive = benefit; log for ratios).

        Returns ``(None, None, None)`` when the direction or the estimate is unknown; CI
        limits are None where not reported.
        """
        if self.estimate is None or self.lower_is_better is None:
            return None, None, None
        sign = -1.0 if self.lower_is_better else 1.0

        def tx(x: float | None) -> float | None:
            if x is None:
                return None
            if is_ratio(self.measure):
                return sign * math.log(x) if x > 0 else None
            return sign * x

        b, lo, hi = tx(self.estimate), tx(self.ci_lower), tx(self.ci_upper)
        if sign < 0:
            lo, hi = hi, lo
        return b, lo, hi

    def p_significant(self, alpha: float = 0.05) -> bool | None:
        """Whether the reported P-value shows significance at ``alpha`` (None if unknown).

        ``P <= p`` or ``P < p`` with p <= alpha: significant; ``P = p``: p < alpha;
        ``P > p`` or ``P >= p`` with p >= alpha: not significant.
        """
        if self.p_number is None or self.p_relation is None:
            return None
        rel, p = self.p_relation, self.p_number
        if rel in ("<", "<="):
            return True if p <= alpha else None
        if rel in (">", ">="):
            return False if p >= alpha else None
        return p < alpha

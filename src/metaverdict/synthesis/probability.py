"""How likely is it that the effect is big enough to matter? P(effect beyond the MCID).

Each answer whose effect is a mean difference (MD) or standardised mean difference (SMD)
with a CI, and whose outcome has an MCID, carries the posterior probability that the true
effect is beyond the MCID in the direction of benefit, of harm, and within ±MCID, under a
stated **sceptical prior** (Spiegelhalter, Freedman & Parmar 1994): a normal prior centred on
no effect whose spread makes an effect beyond the MCID unlikely before the trials are seen,

.. math::

    \\mu \\sim N(0, s_0^2), \\qquad s_0 = \\mathrm{MCID} / z_{1-\\alpha_0},

so that :math:`P(\\mu > \\mathrm{MCID}) = \\alpha_0` a priori (default
:math:`\\alpha_0 = 0.05`, the "sceptical prior" of Spiegelhalter et al.; ``SkepticalPrior(
tail=...)`` overrides it; ``tail=0.5`` approaches a flat prior). The answer's own estimate
:math:`\\hat\\mu` and 95% CI give a normal likelihood with
:math:`\\hat s = (u - l) / (2 z_{0.975})` (the random-effects uncertainty of a pooled
estimate is already in its CI), and the posterior is the conjugate normal

.. math::

    \\mu \\mid \\hat\\mu \\sim N\\left(\\frac{\\hat\\mu / \\hat s^2}{1/\\hat s^2 + 1/s_0^2},
    \\frac{1}{1/\\hat s^2 + 1/s_0^2}\\right).

This is the normal-normal model of :func:`metaverdict.bayesian_meta_analysis` with one
"study" (the answer's summary) and a normal prior for mu, and the test suite checks the two
against each other. Ratio measures, results without a CI and outcomes without an MCID get no
probability (``None``), and the answer says why.

The probability is shown *beside* the GRADE certainty, never instead of it: it is computed
from the numbers as reported and inherits every bias GRADE rates down for.

References
----------
Spiegelhalter, D. J., Freedman, L. S., & Parmar, M. K. B. (1994). Bayesian approaches to
randomized trials. Journal of the Royal Statistical Society A, 157(3), 357-416.
Spiegelhalter, D. J., Abrams, K. R., & Myles, J. P. (2004). Bayesian Approaches to Clinical
Trials and Health-Care Evaluation, section 5.5.2 (sceptical priors). Wiley.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.stats import norm

from metaverdict._results import ResultMixin
from metaverdict.errors import InputError
from metaverdict.grade.body import Body

#: Measures for which a probability is given (differences on the outcome's own or SD scale).
PROBABILITY_MEASURES = frozenset({"MD", "SMD"})
#: The CI level the stored intervals are read at.
CI_LEVEL = 0.95


@dataclass(frozen=True, repr=False)
class SkepticalPrior(ResultMixin):
    """A normal prior on the true effect centred on no effect, with ``P(mu > MCID) = tail``.

    Parameters
    ----------
    tail : float
        Prior probability that the true effect exceeds the MCID in one given direction
        (default 0.05, Spiegelhalter et al. 1994); in (0, 0.5).
    """

    tail: float = 0.05
    _repr_fields = ("tail",)

    def __post_init__(self) -> None:
        if not (isinstance(self.tail, (int, float)) and 0.0 < self.tail < 0.5):
            raise InputError(f"sceptical prior: tail must be a probability in (0, 0.5), "
                             f"got {self.tail!r}")

    def sd(self, mcid: float) -> float:
        """The prior SD ``s0 = MCID / z_{1 - tail}`` for an MCID on the effect's scale."""
        return mcid / float(norm.ppf(1.0 - self.tail))

    def describe(self) -> str:
        """E.g. ``sceptical prior N(0, (MCID/1.64)^2): P(effect > MCID) = 5% before the data``."""
        return (f"sceptical prior N(0, (MCID/{float(norm.ppf(1 - self.tail)):.2f})\u00b2): "
                f"P(effect beyond the MCID) = {self.tail:.0%} each way before the data")


@dataclass(frozen=True, repr=False)
class MCIDProbability(ResultMixin):
    """Posterior probabilities of an effect against its MCID (benefit scale: > 0 = benefit).

    Attributes
    ----------
    benefit : float
        P(true effect > MCID in the benefit direction).
    harm : float
        P(true effect beyond the MCID in the harmful direction).
    within : float
        P(|true effect| < MCID), i.e. no important difference.
    mcid : float
        The MCID on the effect's scale (points for an MD, SD units for an SMD).
    posterior_mean, posterior_sd : float
        The normal posterior of the benefit-scale effect.
    prior : SkepticalPrior
    """

    benefit: float
    harm: float
    within: float
    mcid: float
    posterior_mean: float
    posterior_sd: float
    prior: SkepticalPrior
    _repr_fields = ("benefit", "within", "harm")

    def describe(self) -> str:
        """E.g. ``P(benefit > MCID) 12%, P(no important difference) 85%, P(harm > MCID) 3%``."""
        return (f"P(benefit beyond MCID) {_pct(self.benefit)}, P(within \u00b1MCID) "
                f"{_pct(self.within)}, P(harm beyond MCID) {_pct(self.harm)}")

    def short(self) -> str:
        """E.g. ``benefit 12% · within 85% · harm 3%`` (for a table column)."""
        return (f"benefit {_pct(self.benefit)} \u00b7 within {_pct(self.within)} \u00b7 harm "
                f"{_pct(self.harm)}")

    def summary(self) -> str:
        return f"{self.describe()}\n  {self.prior.describe()}"


def _pct(p: float) -> str:
    if p < 0.005:
        return "<1%"
    if p > 0.995:
        return ">99%"
    return f"{p:.0%}"


def probability_beyond_mcid(estimate: float, ci_lower: float, ci_upper: float, mcid: float,
                            prior: SkepticalPrior | None = None) -> MCIDProbability:
    """Posterior probabilities of a benefit-scale effect against its MCID (module docstring).

    Parameters
    ----------
    estimate, ci_lower, ci_upper : float
        The effect and its 95% CI on the benefit scale (positive = benefit).
    mcid : float
        The MCID on the same scale (> 0).
    prior : SkepticalPrior, optional
        Default ``SkepticalPrior()`` (tail 5%).

    Returns
    -------
    MCIDProbability

    Examples
    --------
    An SMD of 0.6 (95% CI 0.2 to 1.0) against an MCID of 0.5:

    >>> p = probability_beyond_mcid(0.6, 0.2, 1.0, 0.5)
    >>> round(p.benefit, 3), round(p.within, 3)
    (0.305, 0.695)
    """
    prior = prior or SkepticalPrior()
    values = {"estimate": estimate, "ci_lower": ci_lower, "ci_upper": ci_upper, "mcid": mcid}
    for name, value in values.items():
        if not math.isfinite(value):
            raise InputError(f"probability beyond the MCID: {name} must be finite, got {value!r}")
    if not ci_lower < ci_upper:
        raise InputError(f"probability beyond the MCID: ci_lower ({ci_lower}) must be below "
                         f"ci_upper ({ci_upper})")
    if mcid <= 0:
        raise InputError(f"probability beyond the MCID: mcid must be positive, got {mcid}")
    se = (ci_upper - ci_lower) / (2.0 * float(norm.ppf(0.5 + CI_LEVEL / 2)))
    precision = 1.0 / se**2 + 1.0 / prior.sd(mcid) ** 2
    mean, sd = estimate / se**2 / precision, math.sqrt(1.0 / precision)
    benefit = float(norm.sf(mcid, mean, sd))
    harm = float(norm.cdf(-mcid, mean, sd))
    within = float(norm.cdf(mcid, mean, sd) - norm.cdf(-mcid, mean, sd))
    return MCIDProbability(benefit, harm, within, mcid, mean, sd, prior)


def body_probability(body: Body | None, threshold: float | None,
                     prior: SkepticalPrior | None = None) -> MCIDProbability | None:
    """:func:`probability_beyond_mcid` of a body of evidence (None where it does not apply:
    a measure other than MD/SMD, no CI, no known direction, or no MCID)."""
    if body is None or threshold is None or body.measure not in PROBABILITY_MEASURES:
        return None
    b, lo, hi = body.benefit()
    if b is None or lo is None or hi is None or not lo < hi:
        return None
    return probability_beyond_mcid(b, lo, hi, threshold, prior)

"""metaverdict.diagnostics: what a pooled number alone hides.

Functions of a fitted :class:`~metaverdict.models.MetaAnalysisResult` (refits go through the
kernels of :mod:`metaverdict.models`), at parity with R metafor 3.8-1 and 5.0-1;
``leave_one_out``, ``cumulative`` and ``rstandard`` also take Mantel-Haenszel and Peto fits.
A function given a result type it does not support raises ``InputError`` naming itself and the
type:

==========================  ==========================================  ==================
function                    what                                        metafor
==========================  ==========================================  ==================
``leave_one_out``           refit without each study                    ``leave1out``
``cumulative``              refit as studies are added (``collapse=``)  ``cumul``
``influence``               case-deletion diagnostics                   ``influence``
``rstandard``               standardised residuals                      ``rstandard``
``baujat``                  heterogeneity vs influence per study        ``baujat``
``blup``, ``ranef``         shrunken study effects, random effects      ``blup``, ``ranef``
``egger_test``              regression test for funnel asymmetry        ``regtest``
``rank_test``               rank correlation test                       ``ranktest``
``pet_peese``               PET-PEESE limit estimates                   (``regtest``)
``trim_and_fill``           impute missing studies                      ``trimfill``
``fail_safe_n``             Rosenthal / Orwin / Rosenberg / Binomial /  ``fsn``
                            General fail-safe N
``henmi_copas``             interval robust to publication bias         ``hc``
``gosh``                    refit on every (or random) subset           ``gosh``
``likelihood_profile``      log-likelihood over fixed values of tau²    ``profile``
==========================  ==========================================  ==================
"""
from metaverdict.diagnostics.baujat import baujat
from metaverdict.diagnostics.blup import blup, ranef
from metaverdict.diagnostics.cumulative import cumulative
from metaverdict.diagnostics.fail_safe_n import FailSafeN, fail_safe_n
from metaverdict.diagnostics.gosh import GoshResult, gosh
from metaverdict.diagnostics.henmi_copas import HenmiCopas, henmi_copas
from metaverdict.diagnostics.influence import hat_matrix, hat_values, influence, rstandard
from metaverdict.diagnostics.leave_one_out import leave_one_out
from metaverdict.diagnostics.profile import LikelihoodProfile, likelihood_profile
from metaverdict.diagnostics.publication_bias import (
    EggerTest,
    PetPeese,
    RankTest,
    egger_test,
    pet_peese,
    rank_test,
)
from metaverdict.diagnostics.trim_and_fill import TrimAndFill, trim_and_fill

__all__ = ["EggerTest", "FailSafeN", "GoshResult", "HenmiCopas", "LikelihoodProfile", "PetPeese",
           "RankTest", "TrimAndFill", "baujat", "blup", "cumulative", "egger_test", "fail_safe_n",
           "gosh", "hat_matrix", "hat_values", "henmi_copas", "influence", "leave_one_out",
           "likelihood_profile", "pet_peese", "ranef", "rank_test", "rstandard", "trim_and_fill"]

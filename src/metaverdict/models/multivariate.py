r"""General multilevel and multivariate meta-analytic models, the counterpart of metafor's
``rma.mv(yi, V, random = ..., struct = ..., R = ..., W = ..., mods = ...)``.

Model, for k estimates ``y`` with known sampling covariance V (full matrix or variances):

.. math::  y = X\beta + \sum_t Z_t u_t + e,\qquad u_t \sim N(0, D_t),\qquad e \sim N(0, V),

with random-effects terms t as described in :mod:`metaverdict.models.mv_structures`
(``"~ 1 | g"``, ``"~ 1 | a/b"``, ``"~ inner | outer"`` with struct CS, HCS, UN, AR, HAR,
CAR, DIAG or ID, known correlation matrices ``R``), or none at all (M = V). The marginal
covariance is :math:`M = V + \sum_t Z_tD_tZ_t'`; the variance components maximise the ML or
REML likelihood (:mod:`metaverdict.models.mv_likelihood`; models whose terms are all plain
random intercepts use the projected Fisher scoring of
:func:`metaverdict.models.multilevel.multilevel`, which keeps zero components exactly at the
boundary). Then :math:`\hat\beta = (X'M^{-1}X)^{-1}X'M^{-1}y`,
:math:`\operatorname{Var}\hat\beta = (X'M^{-1}X)^{-1}`, or with a weight matrix W
:math:`\hat\beta = (X'WX)^{-1}X'Wy` and
:math:`\operatorname{Var}\hat\beta = (X'WX)^{-1}X'WMWX(X'WX)^{-1}` (metafor ``W=``).

Tests: Wald z, or t on k - p df (``test="t"``); the omnibus test of the coefficients ``btt``
(default: all but the intercept) is :math:`Q_M = \hat\beta_b'V_{bb}^{-1}\hat\beta_b` on m df
(chi-square), or :math:`Q_M/m` on (m, k - p) df (F). :meth:`MultivariateResult.anova` tests
linear combinations :math:`L\beta` the same way (metafor ``anova(res, X = L)``).
:meth:`MultivariateResult.ranef` gives the BLUPs :math:`\hat u_t = D_tZ_t'M^{-1}(y-X\hat\beta)`
with prediction-error variances :math:`D_t - D_tZ_t'PZ_tD_t`,
:math:`P = M^{-1} - M^{-1}X(X'M^{-1}X)^{-1}X'M^{-1}` (metafor ``ranef.rma.mv``).

References: Berkey, Hoaglin, Antczak-Bouckoms, Mosteller & Colditz (1998), *Stat Med*
17:2537-2550; Konstantopoulos (2011), *Res Synth Methods* 2:61-76; Viechtbauer (2010),
metafor; Harville (1977), *JASA* 72:320-338.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import numpy as np
import pandas as pd
from scipy import special

from metaverdict._results import ResultMixin, fmt, fmt_p, format_table, read_only
from metaverdict._validation import as_float_array, check_bounds, check_level, choice
from metaverdict.errors import ConvergenceError, InputError
from metaverdict.models.design import complete_moderators, design_matrix
from metaverdict.models.formulas import LOG_2PI
from metaverdict.models.inference import FitStatistics, critical_value, information_criteria
from metaverdict.models.intervals import (
    CoefficientTable,
    PooledFit,
    coefficient_table,
    coefficient_values,
    prediction_frame,
)
from metaverdict.models.multilevel import _check_v, _fit_components, _Likelihood, _residual_q
from metaverdict.models.mv_likelihood import Model, evaluate, maximise, start_values
from metaverdict.models.mv_structures import PARAMETER_RANGE, RandomTerm, parse_random


@dataclass(frozen=True, eq=False, repr=False)
class WaldTest(ResultMixin):
    """A Wald test of linear hypotheses :math:`L\\beta = 0`: the omnibus ``statistic``
    (chi-square on ``df_num`` df for z tests; F on (``df_num``, ``df_denom``) for t tests)
    and, in ``hypotheses``, each row's estimate, se, statistic and p-value."""

    test: str
    statistic: float
    df_num: int
    df_denom: float
    pvalue: float
    _hypotheses: pd.DataFrame
    _repr_fields = ("test", "statistic", "df_num", "pvalue")
    _dict_properties = ("hypotheses",)

    @property
    def hypotheses(self) -> pd.DataFrame:
        """estimate, se, statistic, pvalue per hypothesis (a copy)."""
        return self._hypotheses.copy()

    def summary(self) -> str:
        if self.test == "t":
            head = f"F({self.df_num}, {fmt(self.df_denom, 0)}) = {fmt(self.statistic)}"
        else:
            head = f"QM({self.df_num}) = {fmt(self.statistic)}"
        rows = [[str(n), fmt(r.estimate), fmt(r.se), fmt(r.statistic), fmt_p(r.pvalue)]
                for n, r in self._hypotheses.iterrows()]
        stat = "t" if self.test == "t" else "z"
        return "\n".join([f"Wald test: {head}, p = {fmt_p(self.pvalue)}", "",
                          format_table(["", "estimate", "se", stat, "p"], rows)])


def _level_positions(levels: Any, names: tuple[str, ...], n: int, field_name: str
                     ) -> np.ndarray:
    """0-based positions of the inner ``levels`` (names, or 1-based positions) for ``n``
    predictions (one level is repeated)."""
    values = list(np.atleast_1d(np.asarray(levels, dtype=object)))
    if len(values) == 1:
        values = values * n
    if len(values) != n:
        raise InputError(f"field {field_name!r}: {len(values)} levels for {n} predictions")
    out = []
    for value in values:
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            if not 1 <= int(value) <= len(names):
                raise InputError(f"field {field_name!r}: position {value} is not one of "
                                 f"1..{len(names)} (levels {list(names)})")
            out.append(int(value) - 1)
        elif str(value) in names:
            out.append(names.index(str(value)))
        else:
            raise InputError(f"field {field_name!r}: no level {value!r} (levels "
                             f"{list(names)})")
    return np.array(out, dtype=int)


def wald(beta: np.ndarray, vb: np.ndarray, L: np.ndarray, test: str, ddf: Any,
         names: list[str]) -> WaldTest:
    """Wald test of :math:`L\\beta = 0` (see the module docstring). ``ddf``: the t tests'
    denominator df, one per coefficient (or one for all); each hypothesis takes the smallest
    df of the coefficients it involves, the omnibus F the smallest of those (metafor
    ``anova(res, X=)``)."""
    est = L @ beta
    cov = L @ vb @ L.T
    se = np.sqrt(np.diag(cov))
    stat = est / se
    m = int(np.linalg.matrix_rank(L))
    qm = float(est @ np.linalg.pinv(cov) @ est)
    if test == "t":
        per_coef = np.broadcast_to(np.asarray(ddf, dtype=float), beta.shape)
        row_df = np.array([per_coef[row != 0].min() if np.any(row != 0) else per_coef.min()
                           for row in L])
        df = float(row_df.min())
        pv = 2 * special.stdtr(row_df, -np.abs(stat))
        qm /= m
        p_omni = float(special.fdtrc(m, df, qm))
    else:
        row_df = np.full(len(L), np.nan)
        df = float("nan")
        pv = 2 * special.ndtr(-np.abs(stat))
        p_omni = float(special.chdtrc(m, qm))
    table = pd.DataFrame({"estimate": est, "se": se, "statistic": stat, "df": row_df,
                          "pvalue": pv}, index=pd.Index(names, name="hypothesis"))
    return WaldTest(test=test, statistic=qm, df_num=m, df_denom=df, pvalue=p_omni,
                    _hypotheses=table)


def containment_df(model: Model) -> np.ndarray:
    """metafor's ``dfs="contain"`` denominator df of each coefficient: the fewest levels
    among the random-effects factors within whose levels the coefficient's column of X is
    constant (the levels of each ``~ 1 | g`` term; for ``~ inner | outer`` terms the
    inner-within-outer cells and the outer levels), or k when none is, minus p; at least 1."""
    k, p = model.X.shape
    factors = []
    for term in model.terms:
        cells = term.Z.argmax(axis=1)
        factors.append(cells)
        if term.structured:
            assert term.outer is not None
            factors.append(np.asarray(term.outer)[cells])
    out = np.full(p, float(k))
    for j in range(p):
        for codes in factors:
            _, level = np.unique(codes, return_inverse=True)
            pairs = np.unique(np.column_stack([level, model.X[:, j]]), axis=0)
            if len(pairs) == level.max() + 1:          # one value of X_j per level
                out[j] = min(out[j], level.max() + 1)
    ddf: np.ndarray = np.maximum(out - p, 1.0)
    return ddf


@dataclass(frozen=True, eq=False, repr=False)
class MultivariateResult(PooledFit, CoefficientTable, ResultMixin):
    """A fitted multilevel/multivariate meta-analytic model (metafor ``rma.mv``).

    ``estimate`` ... ``ci_upper`` describe the first coefficient; ``coefficients`` holds all
    (rows named by ``terms``). ``components`` lists every variance component and correlation
    with metafor's names (``sigma2.1``, ``tau2``, ``rho``, ...); ``sigma2`` holds those of the
    ``~ 1 | g`` terms, ``tau2``/``rho`` those of the first structured term and
    ``gamma2``/``phi`` those of the second (empty arrays when absent).

    Examples
    --------
    >>> import pandas as pd
    >>> import metaverdict as mv
    >>> import metaverdict.models.multivariate
    >>> df = pd.DataFrame({"study": [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6],
    ...                    "outcome": ["a", "b"] * 6,
    ...                    "yi": [0.3, 0.5, 0.1, 0.4, 0.6, 0.5, 0.2, 0.5, 0.9, 0.4, 0.0, 0.3],
    ...                    "vi": [0.02, 0.03, 0.01, 0.02, 0.03, 0.02, 0.01, 0.02, 0.02, 0.01,
    ...                           0.03, 0.02]})
    >>> res = mv.models.multivariate.multivariate("yi", "vi", random="~ outcome | study",
    ...                                           struct="CS", data=df)
    >>> [round(float(v), 4) for v in (res.estimate, res.tau2[0], res.rho[0])]
    [0.3826, 0.0371, 0.1998]
    """

    terms: tuple[str, ...]
    vcov: np.ndarray
    sigma2: np.ndarray
    tau2: np.ndarray
    rho: np.ndarray
    gamma2: np.ndarray
    phi: np.ndarray
    s_names: list[str]
    q: float
    q_df: int
    q_pvalue: float
    df: float
    dfs: str
    ddf: np.ndarray
    fit_statistics: FitStatistics
    converged: bool
    iterations: int
    qm: float | None
    qm_df: tuple[int, float] | None
    qm_pvalue: float | None
    btt: tuple[int, ...]
    _coefficients: np.ndarray = field(kw_only=True, repr=False)
    _values: np.ndarray = field(kw_only=True, repr=False)
    _model: Model = field(kw_only=True, repr=False)
    labels: list[Any] | None = field(default=None, repr=False)
    _repr_fields = ("method", "k", "estimate", "ci_lower", "ci_upper", "pvalue")
    _dict_properties = ("coefficients", "components")

    # -- tables
    @property
    def components(self) -> pd.DataFrame:
        """Every variance component / correlation: ``value``, the ``term`` it belongs to and
        whether it was held ``fixed``."""
        names, owners = [], []
        for term in self._model.terms:
            names += term.names
            owners += [term.label] * len(term.kinds)
        names = _unique_sigma_names(names)
        return pd.DataFrame({"term": owners, "value": np.array(self._values),
                             "fixed": self._model.held},
                            index=pd.Index(names, name="component"))

    @property
    def yi(self) -> np.ndarray:
        return self._model.y

    @property
    def V(self) -> np.ndarray:
        return self._model.V

    @property
    def design(self) -> np.ndarray:
        return self._model.X

    @property
    def user_weight_matrix(self) -> np.ndarray | None:
        """The weight matrix W given to the fit (None: :math:`W = M^{-1}`)."""
        return self._model.W

    def marginal_covariance(self) -> np.ndarray:
        """:math:`M = V + \\sum_t Z_tD_tZ_t'` at the estimates."""
        return self._model.marginal(self._values)

    def weight_matrix(self) -> np.ndarray:
        """W of the fit: the user's, or :math:`M^{-1}`."""
        W = self._model.W
        return np.linalg.inv(self.marginal_covariance()) if W is None else np.array(W)

    def fitted(self) -> np.ndarray:
        """:math:`X\\hat\\beta`."""
        out: np.ndarray = self._model.X @ self.beta
        return out

    def predict(self, newmods: Any = None, tau2_levels: Any = None,
                gamma2_levels: Any = None) -> pd.DataFrame:
        """Fitted values :math:`x'\\hat\\beta` with SE, CI and prediction interval (metafor
        ``predict.rma.mv``).

        The prediction interval is :math:`\\hat\\mu \\pm c\\sqrt{SE^2 + \\sum\\sigma^2_l +
        \\tau^2_j + \\gamma^2_h}`: every ``~ 1 | g`` variance, and the tau² (gamma²) of the
        inner level predicted for the first (second) ``~ inner | outer`` term. A structure
        with one variance (CS, ID, AR, CAR) needs no level. With several (HCS, UN, DIAG, HAR),
        the fitted values use each row's own level; new rows take theirs from
        ``tau2_levels`` / ``gamma2_levels``, and without them have no prediction interval
        (NaN, as metafor).

        Parameters
        ----------
        newmods : array-like, optional
            Full rows of the design (p values each; default: the data's design).
        tau2_levels, gamma2_levels : sequence, optional
            The inner level of each new row for the first / second structured term: level
            names, or 1-based positions in the sorted levels; one value is used for every row.

        Returns
        -------
        DataFrame
            ``pred``, ``se``, ``ci_lower``, ``ci_upper``, ``pi_lower``, ``pi_upper``.
        """
        X = self._model.X if newmods is None else np.atleast_2d(np.asarray(newmods, float))
        if X.shape[1] != self.p:
            raise InputError(f"field 'newmods': each row needs {self.p} values (the design's "
                             f"columns {list(self.terms)}), got {X.shape[1]}")
        pi_var = np.full(len(X), float(np.sum(self.sigma2)))
        structured = [t for t in self._model.terms if t.structured]
        for term, variances, levels, name in zip(structured, (self.tau2, self.gamma2),
                                                 (tau2_levels, gamma2_levels),
                                                 ("tau2_levels", "gamma2_levels")):
            if term.n_variances == 1:
                pi_var += float(variances[0])
            elif newmods is None:
                assert term.inner is not None
                pi_var += variances[term.inner[np.argmax(term.Z, axis=1)]]
            elif levels is None:
                pi_var[:] = np.nan
            else:
                pi_var += variances[_level_positions(levels, term.inner_levels, len(X), name)]
        return prediction_frame(X, self.beta, self.vcov, critical_value(self.level, self.df),
                                pi_var)

    # -- tests
    def wald_test(self, btt: Any) -> WaldTest:
        """Wald test that the coefficients ``btt`` (0-based positions or term names) are all 0
        (metafor ``anova(res, btt=)``)."""
        idx = _positions(btt, self.terms)
        L = np.eye(self.p)[idx]
        return wald(self.beta, self.vcov, L, self.test, self.ddf, [self.terms[i] for i in idx])

    def anova(self, X: Any) -> WaldTest:
        """Wald tests of the linear combinations in the rows of ``X`` (r x p) and their
        omnibus test (metafor ``anova(res, X=)``)."""
        L = np.atleast_2d(np.asarray(X, dtype=float))
        if L.shape[1] != self.p:
            raise InputError(f"field 'X': each hypothesis needs {self.p} coefficients, got "
                             f"{L.shape[1]}")
        names = [" + ".join(f"{c:g}*{t}" for c, t in zip(row, self.terms) if c != 0)
                 for row in L]
        return wald(self.beta, self.vcov, L, self.test, self.ddf, names)

    # -- random effects
    def ranef(self) -> dict[str, pd.DataFrame]:
        """BLUPs of each term's random effects: ``estimate``, ``se`` (square root of the
        prediction-error variance), ``pi_lower``, ``pi_upper`` (metafor ``ranef``)."""
        model = self._model
        M_inv = np.linalg.inv(self.marginal_covariance())
        MiX = M_inv @ model.X
        P = M_inv - MiX @ np.linalg.solve(model.X.T @ MiX, MiX.T)
        r = model.y - model.X @ self.beta
        crit = critical_value(self.level, self.df)
        out = {}
        for t, term in enumerate(model.terms):
            D = term.covariance(model.term_values(self._values, t))
            DZ = D @ term.Z.T
            est = DZ @ M_inv @ r
            se = np.sqrt(np.maximum(np.diag(D - DZ @ P @ DZ.T), 0.0))
            out[term.label] = pd.DataFrame(
                {"estimate": est, "se": se, "pi_lower": est - crit * se,
                 "pi_upper": est + crit * se}, index=pd.Index(term.levels, name="level"))
        return out

    def profile_ci(self, level: float | None = None) -> Any:
        """Profile-likelihood CIs of the variance components (metafor ``confint.rma.mv``); see
        :func:`metaverdict.models.mv_profile.profile_ci`."""
        from metaverdict.models.mv_profile import profile_ci
        return profile_ci(self, self.level if level is None else level)

    def influence(self, cluster: Any = None) -> pd.DataFrame:
        """Cook's distances, hat values and DFBETAS (metafor ``cooks.distance``,
        ``hatvalues``, ``dfbetas`` for rma.mv); see
        :func:`metaverdict.models.mv_influence.influence`."""
        from metaverdict.models.mv_influence import influence
        return influence(self, cluster)

    def summary(self) -> str:
        pct = int(round(self.level * 100))
        lines = [f"Multivariate meta-analysis (k = {self.k}; {self.method}; "
                 f"{'t' if self.test == 't' else 'z'} test)", ""]
        comp = self.components
        if len(comp):
            lines.append(format_table(["", "term", "value", "fixed"],
                                      [[str(n), str(r.term), fmt(float(r.value)),
                                        "yes" if r.fixed else "no"]
                                       for n, r in comp.iterrows()]))
            lines.append("")
        lines.append(f"Q({self.q_df}) = {fmt(self.q)}, p = {fmt_p(self.q_pvalue)}")
        if self.qm is not None and self.qm_df is not None:
            lines.append(f"Test of coefficients {[i + 1 for i in self.btt]}: "
                         f"{'F' if self.test == 't' else 'QM'} = {fmt(self.qm)}, "
                         f"p = {fmt_p(self.qm_pvalue)}")
        stat = "t" if self.test == "t" else "z"
        lines += ["", coefficient_table(self._coefficients, self.terms, stat, pct)]
        if self.test == "t":
            lines.append(f"t tests on the {self.dfs} df: " + ", ".join(
                f"{t} {fmt(float(d), 0)}" for t, d in zip(self.terms, self.ddf)))
        if not self.converged:
            lines.append("WARNING: the variance components did not converge")
        return "\n".join(lines)


def _unique_sigma_names(names: list[str]) -> list[str]:
    n_sigma = sum(n == "sigma2" for n in names)
    if n_sigma <= 1:
        return names
    out, i = [], 0
    for n in names:
        if n == "sigma2":
            i += 1
            out.append(f"sigma2.{i}")
        else:
            out.append(n)
    return out


def _positions(btt: Any, terms: tuple[str, ...]) -> list[int]:
    items = [btt] if isinstance(btt, (int, str, np.integer)) else list(btt)
    out = []
    for b in items:
        if isinstance(b, str):
            if b not in terms:
                raise InputError(f"field 'btt': no coefficient {b!r} (coefficients: "
                                 f"{list(terms)})")
            out.append(terms.index(b))
        else:
            j = int(b)
            if not 0 <= j < len(terms):
                raise InputError(f"field 'btt': position {j} outside 0..{len(terms) - 1}")
            out.append(j)
    if not out:
        raise InputError("field 'btt': name at least one coefficient")
    return out


# ----------------------------------------------------------------------------- fitting

def multivariate(yi: Any, V: Any, *, random: Any = None, struct: Any = "CS",
                 data: pd.DataFrame | None = None, mods: Any = None,
                 R: dict[str, Any] | None = None, W: Any = None,
                 method: Literal["REML", "ML"] = "REML", test: Literal["z", "t"] = "z",
                 dfs: Literal["residual", "contain"] | float | Sequence[float] = "residual",
                 level: float = 0.95, btt: Any = None, labels: Any = None,
                 sigma2: Any = None, tau2: Any = None, rho: Any = None, gamma2: Any = None,
                 phi: Any = None) -> MultivariateResult:
    """Fit a multilevel/multivariate meta-analytic model (metafor ``rma.mv``); see the
    module docstring.

    Parameters
    ----------
    yi : array-like or str
        Effect sizes (or a column of ``data``).
    V : array-like or str
        Sampling variances (vector, or a column) or their k x k covariance matrix (e.g. from
        :func:`metaverdict.models.vcalc.vcalc`).
    random : str or list of str, optional
        Random-effects terms: ``"~ 1 | study"``, ``"~ 1 | district/school"``,
        ``"~ outcome | trial"``; None: no random effects (M = V).
    struct : str or list of str
        Structure of each ``~ inner | outer`` term: CS (default), HCS, UN, AR, HAR, CAR, DIAG
        or ID.
    data : DataFrame, optional
        Holds the variables of ``random`` (and ``yi``, ``V``, moderators when named).
    mods : str, DataFrame or array, optional
        Moderators as in :func:`metaverdict.meta_analysis` (a formula may drop the
        intercept: ``"C(outcome) - 1"``).
    R : dict, optional
        Known correlation matrices of ``~ 1 | g`` terms, by ``g`` (a DataFrame labelled by
        the levels of g, or an array in their sorted order); scaled to correlations.
    W : array-like, shape (k, k) or (k,), optional
        Weight matrix for the coefficients (metafor ``W=``).
    method : {"REML", "ML"}
    test : {"z", "t"}
    dfs : {"residual", "contain"}, float or sequence of float
        Denominator df of the t tests: k - p for every coefficient, given numbers (one for
        all or one per coefficient, metafor 5's numeric ``dfs``; implies ``test="t"``), or
        metafor's containment df (implies ``test="t"``; see :func:`containment_df`): a coefficient
        constant within the levels of a random factor gets that factor's number of levels
        minus p (e.g. a study-level moderator in a three-level model: the number of studies
        minus p). Each coefficient's t test and CI use its own df; the omnibus test and the
        hypotheses of :meth:`MultivariateResult.anova` and
        :meth:`MultivariateResult.wald_test` use the smallest df of the coefficients
        involved, predictions and BLUP intervals the smallest of all (as metafor's
        ``predict`` and ``ranef``). metafor 3.8-1's ``anova(res, btt=)`` alone takes the
        smallest df of all coefficients, unlike the omnibus test of its own fit;
        :meth:`~MultivariateResult.wald_test` follows the fit's rule.
    level : float
        Confidence level.
    btt : sequence of int or str, optional
        Coefficients of the omnibus test (default: all but the intercept).
    labels : sequence, optional
        Study labels for messages (default: ``data``'s index or row numbers).
    sigma2, tau2, rho, gamma2, phi : float or sequence, optional
        Hold variance components or correlations at given values instead of estimating them
        (metafor's arguments of the same names): ``sigma2`` the variances of the ``~ 1 | g``
        terms in order, ``tau2``/``rho`` the variances/correlations of the first
        ``~ inner | outer`` term, ``gamma2``/``phi`` those of the second. A scalar holds every
        component of that name; a sequence gives one value per component, None or NaN where
        it is estimated (e.g. ``sigma2=[None, 0.03]``). Fixed components count no parameter
        in the information criteria and get no profile CI.

    Returns
    -------
    MultivariateResult

    Raises
    ------
    InputError
        Unknown columns, missing values, V not k x k symmetric positive definite, bad
        structures, known matrices that lack levels, a rank-deficient design, fixed values
        outside a component's range or for components the model does not have.
    """
    method = cast(Literal["REML", "ML"], choice(method, ("REML", "ML"), "method"))
    test = cast(Literal["z", "t"], choice(test, ("z", "t"), "test"))
    given_df: np.ndarray | None = None
    dfs_kind = "given"
    if isinstance(dfs, str):
        dfs_kind = choice(dfs, ("residual", "contain"), "dfs")
    else:
        try:
            given_df = np.atleast_1d(np.asarray(dfs, dtype=float)).ravel()
        except (TypeError, ValueError):
            raise InputError(f"field 'dfs': 'residual', 'contain' or numbers expected, got "
                             f"{dfs!r}") from None
        if not np.all(np.isfinite(given_df) & (given_df > 0)):
            raise InputError(f"field 'dfs': degrees of freedom must be positive numbers, got "
                             f"{dfs!r}")
    if dfs_kind != "residual":
        test = "t"
    level = check_level(level)

    def col(v: Any) -> Any:
        return data[v].to_numpy() if isinstance(v, str) and data is not None else v

    if (isinstance(yi, str) or isinstance(V, str)) and data is None:
        raise InputError("field 'data': column names need data=")
    y = np.asarray(col(yi), dtype=float).ravel()
    k = len(y)
    if labels is None:
        labels = list(data.index) if data is not None else list(range(1, k + 1))
    labels = list(labels)
    y = as_float_array(y, "yi", labels)
    check_bounds(y, "yi", labels)
    Vin = np.asarray(col(V), dtype=float)
    if Vin.ndim == 1:
        if len(Vin) != k:
            raise InputError(f"field 'V': {len(Vin)} variances for {k} effect sizes")
        v = as_float_array(Vin, "V", labels)
        check_bounds(v, "V", labels, lower=0, lower_strict=True)
        Vm = np.diag(v)
    else:
        Vm = _check_v(Vin, k)
    if data is not None and len(data) != k:
        raise InputError(f"field 'data': {len(data)} rows for {k} effect sizes")
    if mods is None:
        X, names = np.ones((k, 1)), ["intrcpt"]
    else:
        if not complete_moderators(mods, data, k).all():
            design_matrix(mods, data, k, labels)
        X, names = design_matrix(mods, data, k, labels)
    if random is not None and data is None:
        raise InputError("field 'data': random effects need data= holding their variables")
    terms = parse_random(random, struct, data, R, labels) if data is not None else []
    Wm = None
    if W is not None:
        Wm = np.asarray(W, dtype=float)
        Wm = np.diag(Wm) if Wm.ndim == 1 else Wm
        if Wm.shape != (k, k) or not np.isfinite(Wm).all():
            raise InputError(f"field 'W': expected a {k} x {k} finite matrix (or k weights)")
    fixed = _fixed_components(terms, {"sigma2": sigma2, "tau2": tau2, "rho": rho,
                                      "gamma2": gamma2, "phi": phi})
    model = Model(y, Vm, X, tuple(terms), reml=method == "REML", W=Wm, fixed=fixed)
    if given_df is not None and given_df.size not in (1, len(names)):
        raise InputError(f"field 'dfs': {given_df.size} values for the {len(names)} "
                         f"coefficients {names}")
    return fit_multivariate(model, names, method=method, test=test, level=level, btt=btt,
                            labels=labels, dfs=dfs_kind, ddf=given_df)


def _fixed_components(terms: list[RandomTerm], given: dict[str, Any]) -> np.ndarray | None:
    """One value per parameter (NaN: estimated) from metafor-style ``sigma2=`` ... ``phi=``
    arguments; None when nothing is held."""
    if all(v is None for v in given.values()):
        return None
    positions: dict[str, list[int]] = {name: [] for name in given}
    kinds: list[str] = []
    for term in terms:
        var, cor = term.prefix
        for kind in term.kinds:
            positions[var if kind == "var" else cor].append(len(kinds))
            kinds.append(kind)
    out = np.full(len(kinds), np.nan)
    for name, value in given.items():
        if value is None:
            continue
        where = positions[name]
        if not where:
            raise InputError(f"field '{name}': the model has no {name} component (its "
                             f"random terms have {sorted(n for n, p in positions.items() if p)})")
        try:
            vals = np.atleast_1d(np.asarray([np.nan if v is None else v for v in np.atleast_1d(
                np.asarray(value, dtype=object)).ravel()], dtype=float))
        except (TypeError, ValueError):
            raise InputError(f"field '{name}': numbers (None or NaN where estimated) "
                             f"expected, got {value!r}") from None
        if vals.size == 1:
            vals = np.repeat(vals, len(where))
        if vals.size != len(where):
            raise InputError(f"field '{name}': {vals.size} values for the model's "
                             f"{len(where)} {name} components")
        for pos, v in zip(where, vals):
            lo, hi = PARAMETER_RANGE[kinds[pos]]
            if not np.isnan(v) and not (np.isfinite(v) and lo <= v <= hi):
                raise InputError(f"field '{name}': {v:g} is outside [{lo:g}, {hi:g}]")
            out[pos] = v
    offset = 0
    for term in terms:
        cors = out[offset + term.n_variances:offset + len(term.kinds)]
        if cors.size and not np.isnan(cors).any() and not term.admissible(
                np.concatenate([np.ones(term.n_variances), cors])):
            raise InputError(f"field '{term.prefix[1]}': the correlations {cors.tolist()} held "
                             f"for '{term.label}' make its correlation matrix not positive "
                             "semi-definite")
        offset += len(term.kinds)
    return None if np.isnan(out).all() else out


def fit_components(model: Model, start: np.ndarray | None = None
                   ) -> tuple[np.ndarray, bool, int]:
    """Maximum (restricted) likelihood values of the variance components (those held fixed
    stay at their values): plain random intercepts by projected Fisher scoring (exact
    zeros), other models by :func:`~metaverdict.models.mv_likelihood.maximise`."""
    if not model.terms:
        return np.zeros(0), True, 0
    start = model.with_fixed(start_values(model) if start is None else start)
    held = model.held
    if held.all():
        if not np.isfinite(evaluate(model, start, gradient=False).ll):
            raise InputError("the variance components held fixed give a marginal covariance "
                             "that is not positive definite")
        return start, True, 0
    if all(not t.structured and t.R is None for t in model.terms):
        codes = np.column_stack([t.Z.argmax(axis=1) for t in model.terms])
        lik = _Likelihood(model.y, model.V, model.X, codes, reml=model.reml)
        s2, _, ok, it = _fit_components(lik, start, held if held.any() else None)
        return s2, ok, it
    opt = maximise(model, start, np.flatnonzero(~held) if held.any() else None)
    return opt.values, opt.converged, opt.iterations


def fit_multivariate(model: Model, names: list[str], *, method: str, test: str, level: float,
                     btt: Any = None, labels: list[Any] | None = None,
                     start: np.ndarray | None = None, dfs: str = "residual",
                     ddf: np.ndarray | None = None) -> MultivariateResult:
    """Fit validated arrays (the engine behind :func:`multivariate`)."""
    k, p = model.X.shape
    if p >= k:
        raise InputError(f"{p} coefficients need more than {k} studies")
    try:
        values, converged, iters = fit_components(model, start)
        beta, vb = coefficients(model, values)
    except np.linalg.LinAlgError as exc:
        raise ConvergenceError(
            f"the marginal covariance of the {k} estimates is numerically singular at the "
            f"variance components reached ({exc}); sampling variances that span many orders "
            "of magnitude, or a random term without spread, can cause this: rescale the "
            "effects or simplify the random-effects structure") from None
    if test == "t":
        ddf = (containment_df(model) if dfs == "contain"
               else np.broadcast_to(ddf, (p,)).astype(float) if ddf is not None
               else np.full(p, float(k - p)))
    else:
        ddf = np.full(p, np.nan)
    df = float(ddf.min())
    se = np.sqrt(np.diag(vb))
    stat = beta / se
    pval = 2 * (special.stdtr(ddf, -np.abs(stat)) if test == "t" else special.ndtr(-np.abs(stat)))
    crit = np.array([critical_value(level, d) for d in ddf])
    q, q_p = _residual_q(model.y, model.V, model.X)
    if btt is None:
        idx = [j for j, n in enumerate(names) if n != "intrcpt"] if "intrcpt" in names \
            else list(range(p))
    else:
        idx = _positions(btt, tuple(names))
    qm = qm_df = qm_p = None
    if idx:
        w = wald(beta, vb, np.eye(p)[idx], test, ddf, [names[i] for i in idx])
        qm, qm_p = w.statistic, w.pvalue
        qm_df = (w.df_num, w.df_denom)
    groups = _group_values(model, values)
    return MultivariateResult(
        method=method, test=test, level=level, k=k, estimate=float(beta[0]), se=float(se[0]),
        statistic=float(stat[0]), pvalue=float(pval[0]), ci_lower=float(beta[0] - crit[0] * se[0]),
        ci_upper=float(beta[0] + crit[0] * se[0]), terms=tuple(names), vcov=read_only(vb),
        **groups, s_names=[t.label for t in model.terms if not t.structured],
        q=q, q_df=k - p, q_pvalue=q_p, df=df, dfs=dfs, ddf=read_only(ddf),
        fit_statistics=fit_statistics(model, values, beta), converged=converged,
        iterations=iters, qm=qm, qm_df=qm_df, qm_pvalue=qm_p, btt=tuple(idx),
        _coefficients=coefficient_values(beta, se, stat, pval, beta - crit * se,
                                         beta + crit * se),
        _values=read_only(values), _model=model, labels=labels)


def coefficients(model: Model, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:math:`\\hat\\beta` and its covariance at the variance components ``values`` (GLS, or
    the weighted estimator with the user's W)."""
    M = model.marginal(values)
    if not np.all(np.isfinite(M)):
        raise InputError("the variance components (those held fixed: "
                         f"{model.fixed.tolist() if model.fixed is not None else []}) make "
                         "the marginal covariance overflow: hold them at smaller values")
    X, y = model.X, model.y
    W = np.linalg.inv(M) if model.W is None else model.W
    xwx_inv = np.linalg.inv(X.T @ W @ X)
    beta = xwx_inv @ (X.T @ W @ y)
    vb = xwx_inv if model.W is None else xwx_inv @ X.T @ W @ M @ W @ X @ xwx_inv
    return beta, vb


def _group_values(model: Model, values: np.ndarray) -> dict[str, np.ndarray]:
    out: dict[str, list[float]] = {"sigma2": [], "tau2": [], "rho": [], "gamma2": [], "phi": []}
    for t, term in enumerate(model.terms):
        vals = model.term_values(values, t)
        var, cor = term.prefix
        out[var] += list(vals[:term.n_variances])
        if cor:
            out[cor] += list(vals[term.n_variances:])
    return {key: read_only(np.array(v, dtype=float)) for key, v in out.items()}


def fit_statistics(model: Model, values: np.ndarray, beta: np.ndarray) -> FitStatistics:
    """metafor's ``fit.stats`` for rma.mv (see :func:`metaverdict.models.multilevel`): the
    likelihoods at the final coefficients; parameters p + number of components."""
    k, p = model.X.shape
    ll_ml = evaluate(model, values, reml=False, gradient=False, beta=beta).ll
    ll_reml = evaluate(model, values, reml=True, gradient=False, beta=beta).ll
    sat = -0.5 * (k * LOG_2PI + np.linalg.slogdet(model.V)[1])
    parms = p + model.n_free
    return FitStatistics(ll_ml, -2 * (ll_ml - sat), *information_criteria(ll_ml, k, parms),
                         ll_reml, -2 * ll_reml, *information_criteria(ll_reml, k - p, parms))

"""Mixed model for repeated measures (MMRM): one trial's participant data, visits correlated
within participant, at parity with R's ``mmrm`` 0.3.16.

The model is y_i ~ N(X_i beta, Sigma_i) independently over participants, Sigma_i the rows and
columns of one visits x visits covariance Sigma(theta) for the visits participant i attended
(missing visits are simply absent: the likelihood uses every observed value, valid under missing
at random). ``theta`` is estimated by REML (default) or ML with SciPy's trust-region Newton
method on the exact gradient and Hessian (:mod:`metaverdict.trials._likelihood`), then
polished by Newton steps to ``|gradient| < 1e-10`` where rounding allows; beta is the GLS
estimate given theta.

Degrees of freedom and coefficient covariance, all at the same theta:

====================  ==================================  =========================================
``df=``               default ``vcov=``                    df
====================  ==================================  =========================================
kenward-roger         kenward-roger (adjusted Phi_A)       Kenward & Roger (1997); one-dimensional
                                                           contrasts: 2 / (a' W a), a_h =
                                                           l' Phi P_h Phi l / l' Phi l
kenward-roger-linear  kenward-roger-linear (no R_hj)       as kenward-roger
satterthwaite         asymptotic Phi = (X' V^-1 X)^-1      2 (l' Phi l)^2 / (g' W g),
                                                           g_h = l' dPhi/dtheta_h l
residual              empirical (CR0 sandwich)             n_obs - p
between-within        asymptotic                           between-participant terms
                                                           n_subjects - p_between - 1, within
                                                           terms and intercept
                                                           n_obs - n_subjects - p_within
====================  ==================================  =========================================

W is the inverse of the observed Hessian of -l in theta. Multi-dimensional F tests follow mmrm:
Kenward-Roger's scaled F* = lambda F on (c, m) df; Satterthwaite's eigen-decomposition
(Fai & Cornelius 1996) of L Phi L'.

References
----------
Kenward MG, Roger JH (1997). Small sample inference for fixed effects from restricted maximum
likelihood. Biometrics 53:983-997.
Christensen RHB (2018). Satterthwaite's method for degrees of freedom in linear mixed models.
Sabanes Bove D, et al. (2023). mmrm: Mixed models for repeated measures. R package 0.3.16.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import optimize, special

from metaverdict._results import ResultMixin, format_table
from metaverdict.errors import ConvergenceError, InputError
from metaverdict.trials._likelihood import Evaluation, Pattern, patterns_of
from metaverdict.trials.covariance import NAMES, CovarianceModel, Structure, structure_of

Array = NDArray[np.float64]


class DfMethod(StrEnum):
    """Degrees-of-freedom methods."""

    KENWARD_ROGER = "kenward-roger"
    KENWARD_ROGER_LINEAR = "kenward-roger-linear"
    SATTERTHWAITE = "satterthwaite"
    RESIDUAL = "residual"
    BETWEEN_WITHIN = "between-within"


class Vcov(StrEnum):
    """Coefficient covariance estimators."""

    ASYMPTOTIC = "asymptotic"
    EMPIRICAL = "empirical"
    KENWARD_ROGER = "kenward-roger"
    KENWARD_ROGER_LINEAR = "kenward-roger-linear"


DEFAULT_VCOV = {
    DfMethod.KENWARD_ROGER: Vcov.KENWARD_ROGER,
    DfMethod.KENWARD_ROGER_LINEAR: Vcov.KENWARD_ROGER_LINEAR,
    DfMethod.SATTERTHWAITE: Vcov.ASYMPTOTIC,
    DfMethod.RESIDUAL: Vcov.EMPIRICAL,
    DfMethod.BETWEEN_WITHIN: Vcov.ASYMPTOTIC,
}

GRADIENT_TOL = 1e-10


def _enum(kind: type[StrEnum], value: Any, what: str) -> Any:
    text = str(value).strip().lower().replace("_", "-").replace(" ", "-")
    try:
        return kind(text)
    except ValueError:
        raise InputError(f"{what}: unknown value {value!r}; choose one of "
                         f"{', '.join(k.value for k in kind)}") from None


# -- data -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ModelData:
    """The validated model frame: response, design, participants and visits.

    Attributes
    ----------
    frame : DataFrame
        The rows used (missing responses dropped), with categorical factors.
    x : ndarray, shape (n_obs, p)
    y : ndarray, shape (n_obs,)
    coef_names : tuple of str
        R-style names (``(Intercept)``, ``armneedling``, ``arm:visit`` ...).
    visits : tuple
        The positions of the covariance matrix (visit levels, or ``sp_exp`` coordinates).
    subject_codes, visit_codes : ndarray of int
    n_dropped : int
        Rows without a response (missing visits recorded as rows).
    """

    frame: pd.DataFrame
    x: Array
    y: Array
    coef_names: tuple[str, ...]
    visits: tuple[Any, ...]
    subject_codes: NDArray[np.intp]
    visit_codes: NDArray[np.intp]
    n_dropped: int
    spec: Any = field(repr=False)
    response: str
    subject: str
    visit: str
    arm: str | None


_LEVEL = re.compile(r"^(.*)\[T\.(.*)\]$")


def _r_name(name: str) -> str:
    if name == "Intercept":
        return "(Intercept)"
    parts = []
    for part in name.split(":"):
        m = _LEVEL.match(part)
        parts.append(f"{m.group(1)}{m.group(2)}" if m else part)
    return ":".join(parts)


def _split_formula(formula: str) -> tuple[str, str]:
    if "~" not in formula:
        raise InputError(f"formula: expected 'response ~ terms', got {formula!r}")
    lhs, rhs = (s.strip() for s in formula.split("~", 1))
    if not lhs or not rhs:
        raise InputError(f"formula: expected 'response ~ terms', got {formula!r}")
    return lhs, rhs


def model_data(data: pd.DataFrame, formula: str, subject: str, visit: str,
               arm: str | None = None, coordinates: str | None = None,
               levels: dict[str, list[Any]] | None = None) -> ModelData:
    """Validate long-format participant data and build the design.

    Parameters
    ----------
    data : DataFrame
        One row per participant and visit.
    formula : str
        ``"response ~ terms"`` (formulaic syntax; treatment contrasts, reference = first level).
    subject, visit : str
        Participant identifier and visit columns.
    arm : str, optional
        The treatment-arm column (needed for LS means by arm).
    coordinates : str, optional
        Numeric column giving each visit's time (``sp_exp``).
    levels : dict, optional
        Level order per factor (first = reference); default: categorical order, else sorted.

    Raises
    ------
    InputError
        A missing column, a missing participant/visit/covariate value (naming the row), a
        non-numeric response, or a participant with the same visit twice.
    """
    if not isinstance(data, pd.DataFrame):
        raise InputError("data: expected a pandas DataFrame in long format "
                         "(one row per participant and visit)")
    response, rhs = _split_formula(formula)
    import formulaic  # slow to import; only a fit needs it (keeps `import metaverdict` fast)

    terms = formulaic.Formula(rhs)
    variables = sorted({v for t in terms for f in t.factors for v in _vars(str(f))})
    needed = [response, subject, visit, *variables]
    if arm:
        needed.append(arm)
    if coordinates:
        needed.append(coordinates)
    missing = [c for c in dict.fromkeys(needed) if c not in data.columns]
    if missing:
        raise InputError(f"data: missing column(s) {', '.join(map(repr, missing))}; "
                         f"columns are {', '.join(map(str, data.columns))}")
    frame = data.loc[:, list(dict.fromkeys(needed))].copy()
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="row")
    y_raw = pd.to_numeric(frame[response], errors="coerce")
    bad = frame[response].notna() & y_raw.isna()
    if bad.any():
        row = int(bad.idxmax())
        raise InputError(f"row {row}, column {response!r}: not a number "
                         f"({frame.at[row, response]!r})")
    frame[response] = y_raw
    for col in dict.fromkeys([subject, visit, *variables, *( [arm] if arm else [])]):
        na = frame[col].isna()
        if na.any():
            raise InputError(f"row {int(na.idxmax())}, column {col!r}: missing value "
                             "(only the response may be missing)")
    keep = frame[response].notna()
    n_dropped = int((~keep).sum())
    frame = frame[keep]
    if frame[response].map(np.isfinite).eq(False).any():
        row = int(frame.index[~np.isfinite(frame[response].to_numpy(float))][0])
        raise InputError(f"row {row}, column {response!r}: not finite")
    dup = frame.duplicated([subject, visit])
    if dup.any():
        row = int(dup.idxmax())
        raise InputError(f"row {row}: participant {frame.at[row, subject]!r} has visit "
                         f"{frame.at[row, visit]!r} twice")
    levels = dict(levels or {})
    for col in frame.columns:
        if col in (response, coordinates) or col == subject:
            continue
        if col in levels or col == visit or col == arm or not pd.api.types.is_numeric_dtype(
                frame[col]) or isinstance(frame[col].dtype, pd.CategoricalDtype):
            order = levels.get(col)
            if order is None:
                order = (list(frame[col].cat.categories)
                         if isinstance(frame[col].dtype, pd.CategoricalDtype)
                         else sorted(frame[col].unique().tolist()))
            unknown = ~frame[col].isin(order)
            if unknown.any():
                row = int(unknown.idxmax())
                raise InputError(f"row {row}, column {col!r}: level {frame.at[row, col]!r} "
                                 f"not among {order}")
            used = [lv for lv in order if (frame[col] == lv).any()]
            frame[col] = pd.Categorical(frame[col], categories=used)
    mm = formulaic.model_matrix(rhs, frame, na_action="raise")
    x = np.asarray(mm, dtype=float)
    names = tuple(_r_name(str(c)) for c in mm.columns)
    if coordinates:
        coord = pd.to_numeric(frame[coordinates], errors="coerce")
        if coord.isna().any():
            row = int(coord.isna().idxmax())
            raise InputError(f"row {row}, column {coordinates!r}: not a number")
        uniq = np.unique(coord.to_numpy(float))
        visits: tuple[Any, ...] = tuple(float(v) for v in uniq)
        vcodes = np.searchsorted(uniq, coord.to_numpy(float)).astype(np.intp)
    else:
        visits = tuple(frame[visit].cat.categories)
        vcodes = frame[visit].cat.codes.to_numpy().astype(np.intp)
    scodes = pd.factorize(frame[subject])[0].astype(np.intp)
    return ModelData(frame, x, frame[response].to_numpy(float), names, visits, scodes, vcodes,
                     n_dropped, mm.model_spec, response, subject, visit, arm)


def _vars(factor: str) -> list[str]:
    """Column names inside one formula factor (``C(arm)`` -> ``arm``; ``x`` -> ``x``)."""
    inner = re.findall(r"[A-Za-z_][A-Za-z0-9_.]*", factor)
    return [v for v in inner if v not in {"C", "np", "log", "exp", "center", "scale", "poly",
                                          "Treatment", "contr", "I", "Q"}]


# -- fit ------------------------------------------------------------------------------------

def _fit_theta(model: CovarianceModel, patterns: list[Pattern], data: ModelData,
               reml: bool) -> tuple[Evaluation, int, str]:
    """Maximise the (restricted) likelihood over theta: trust-region Newton, then polish."""
    beta_ols, *_ = np.linalg.lstsq(data.x, data.y, rcond=None)
    resid = data.y - data.x @ beta_ols
    m = len(data.visits)
    wide = np.full((int(data.subject_codes.max()) + 1, m), np.nan)
    wide[data.subject_codes, data.visit_codes] = resid
    sigma0 = pd.DataFrame(wide).cov(min_periods=2).to_numpy()
    var = np.nanvar(wide, axis=0)
    sigma0 = np.where(np.isfinite(sigma0), sigma0, 0.0)
    sigma0[np.diag_indices(m)] = np.where(np.isfinite(var) & (var > 0), var, np.nanvar(resid))
    cache: dict[bytes, Evaluation] = {}

    def at(theta: Array) -> Evaluation:
        key = np.asarray(theta, float).tobytes()
        if key not in cache:
            cache.clear()
            cache[key] = Evaluation(model, patterns, theta, reml)
        return cache[key]

    def fun(theta: Array) -> tuple[float, Array]:
        try:
            ev = at(theta)
        except ConvergenceError:
            return np.inf, np.zeros_like(theta)
        return ev.objective, ev.gradient

    start = model.start(sigma0)
    try:
        at(start)
    except ConvergenceError:
        start = model.start(np.diag(np.diag(sigma0)))
    res = optimize.minimize(fun, start, jac=True, hess=lambda t: at(t).hessian,
                            method="trust-exact", options={"gtol": 1e-8, "maxiter": 500})
    ev = at(res.x)
    steps = 0
    while steps < 20 and np.abs(ev.gradient).max() > GRADIENT_TOL:
        try:
            step = np.linalg.solve(ev.hessian, ev.gradient)
            nxt = Evaluation(model, patterns, ev.theta - step, reml)
        except (np.linalg.LinAlgError, ConvergenceError):
            break
        if not np.abs(nxt.gradient).max() < np.abs(ev.gradient).max():
            break
        ev, steps = nxt, steps + 1
    if not np.all(np.isfinite(ev.gradient)) or np.abs(ev.gradient).max() > 1e-4 * max(
            1.0, abs(ev.objective)):
        raise ConvergenceError(f"the MMRM fit did not converge ({res.message}; "
                               f"max |gradient| = {np.abs(ev.gradient).max():.2g})")
    try:
        np.linalg.cholesky(ev.hessian)
    except np.linalg.LinAlgError:
        raise ConvergenceError("the MMRM fit stopped at a point whose Hessian is not positive "
                               "definite (not a maximum); try another covariance structure"
                               ) from None
    return ev, int(res.nit) + steps, str(res.message)


def mmrm(data: pd.DataFrame, formula: str, subject: str, visit: str,
         covariance: str = "us", method: str = "REML", df: str = "kenward-roger",
         vcov: str | None = None, arm: str | None = None, coordinates: str | None = None,
         levels: dict[str, list[Any]] | None = None) -> MMRMResult:
    """Fit a mixed model for repeated measures.

    Parameters
    ----------
    data : DataFrame
        Long format: one row per participant and visit; rows with a missing response are
        missing visits (dropped and counted).
    formula : str
        Mean model, ``"pain ~ baseline + arm * day"``; factors use treatment contrasts with the
        first level (``levels=`` or categorical order, else sorted) as reference.
    subject, visit : str
        Participant and visit columns. The visit is a factor; the covariance is over its levels.
    covariance : {"us", "toep", "toeph", "ar1", "ar1h", "cs", "csh", "sp_exp"}
        Within-participant covariance structure (:mod:`metaverdict.trials.covariance`).
    method : {"REML", "ML"}
    df : {"kenward-roger", "kenward-roger-linear", "satterthwaite", "residual", "between-within"}
        Degrees of freedom (Kenward-Roger needs REML).
    vcov : {"asymptotic", "empirical", "kenward-roger", "kenward-roger-linear"}, optional
        Coefficient covariance; default as mmrm: KR-adjusted for KR, empirical for residual,
        asymptotic otherwise.
    arm : str, optional
        Treatment-arm column, for :meth:`MMRMResult.lsmeans` and ``arm_differences``.
    coordinates : str, optional
        Numeric time of each visit, required by ``sp_exp``.
    levels : dict, optional
        Level order of factors, e.g. ``{"arm": ["sham", "needling"]}``.

    Returns
    -------
    MMRMResult

    Raises
    ------
    InputError
        Bad data or arguments (the message names the row and column).
    ConvergenceError
        No maximum of the likelihood was found.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from metaverdict.trials import mmrm
    >>> rng = np.random.default_rng(1)                         # simulated data
    >>> d = pd.DataFrame({"id": np.repeat(np.arange(40), 3), "day": np.tile([1, 2, 7], 40),
    ...                   "arm": np.repeat(np.where(np.arange(40) % 2, "sham", "dn"), 3)})
    >>> d["pain"] = rng.normal(5, 2, 120) + (d["arm"] == "dn") * (d["day"] < 3)
    >>> fit = mmrm(d, "pain ~ arm * day", subject="id", visit="day", arm="arm",
    ...            levels={"arm": ["sham", "dn"]})
    >>> fit.coef_names[:2]
    ('(Intercept)', 'armdn')
    """
    structure = structure_of(covariance)
    reml = {"REML": True, "ML": False}.get(str(method).upper())
    if reml is None:
        raise InputError(f"method: unknown value {method!r}; choose REML or ML")
    df_method = _enum(DfMethod, df, "df")
    vcov_kind = DEFAULT_VCOV[df_method] if vcov is None else _enum(Vcov, vcov, "vcov")
    if not reml and (df_method in (DfMethod.KENWARD_ROGER, DfMethod.KENWARD_ROGER_LINEAR)
                     or vcov_kind in (Vcov.KENWARD_ROGER, Vcov.KENWARD_ROGER_LINEAR)):
        raise InputError("df: Kenward-Roger needs method='REML'")
    if structure is Structure.SP_EXP and not coordinates:
        raise InputError("coordinates: the spatial exponential structure needs the numeric "
                         "time of each visit (coordinates='column')")
    md = model_data(data, formula, subject, visit, arm,
                    coordinates if structure is Structure.SP_EXP else None, levels)
    if md.x.shape[0] <= md.x.shape[1]:
        raise InputError(f"data: {md.x.shape[0]} observations for {md.x.shape[1]} "
                         "coefficients; the model is not estimable")
    rank = np.linalg.matrix_rank(md.x)
    if rank < md.x.shape[1]:
        raise InputError(f"formula: the design has rank {rank} < {md.x.shape[1]} columns "
                         f"({', '.join(md.coef_names)}); drop aliased terms")
    coords = md.visits if structure is Structure.SP_EXP else None
    model = CovarianceModel(structure, len(md.visits), coords)
    patterns = patterns_of(md.y, md.x, md.subject_codes, md.visit_codes)
    ev, iterations, message = _fit_theta(model, patterns, md, reml)
    return MMRMResult(data=md, model=model, reml=reml, df_method=df_method, vcov_kind=vcov_kind,
                      evaluation=ev, iterations=iterations, optimizer_message=message)


# -- result ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Contrast:
    """Inference on one linear combination l' beta."""

    estimate: float
    se: float
    df: float
    statistic: float
    pvalue: float


@dataclass(frozen=True)
class FTest:
    """Inference on several linear combinations L beta = 0."""

    num_df: int
    denom_df: float
    f_stat: float
    pvalue: float


@dataclass(frozen=True, eq=False)
class MMRMResult(ResultMixin):
    """A fitted MMRM (see :func:`mmrm`).

    Attributes
    ----------
    data : ModelData
    model : CovarianceModel
    reml : bool
    df_method, vcov_kind : DfMethod, Vcov
    evaluation : Evaluation
        Likelihood pieces at the solution.
    iterations : int
    optimizer_message : str
    """

    data: ModelData = field(repr=False)
    model: CovarianceModel = field(repr=False)
    reml: bool
    df_method: DfMethod
    vcov_kind: Vcov
    evaluation: Evaluation = field(repr=False)
    iterations: int
    optimizer_message: str = field(repr=False)

    # -- scalar summaries -----------------------------------------------------------------

    @property
    def coef_names(self) -> tuple[str, ...]:
        return self.data.coef_names

    @property
    def n_obs(self) -> int:
        return int(self.data.y.size)

    @property
    def n_subjects(self) -> int:
        return int(self.data.subject_codes.max()) + 1

    @property
    def n_theta(self) -> int:
        return self.model.n_theta

    @property
    def n_beta(self) -> int:
        return len(self.coef_names)

    @property
    def theta(self) -> Array:
        return _frozen(self.evaluation.theta)

    @property
    def beta(self) -> Array:
        return _frozen(self.evaluation.beta)

    @property
    def neg_log_lik(self) -> float:
        return float(self.evaluation.objective)

    @property
    def loglik(self) -> float:
        return -self.neg_log_lik

    @property
    def deviance(self) -> float:
        return 2.0 * self.neg_log_lik

    @property
    def aic(self) -> float:
        """deviance + 2 n_theta (mmrm counts only the covariance parameters)."""
        return self.deviance + 2.0 * self.n_theta

    @property
    def aicc(self) -> float:
        """deviance + 2 n_theta m / (m - n_theta - 1), m = max(n_theta + 2, n_obs - n_beta)."""
        m = max(self.n_theta + 2, self.n_obs - self.n_beta)
        return self.deviance + 2.0 * self.n_theta * m / (m - self.n_theta - 1)

    @property
    def bic(self) -> float:
        """deviance + log(n_subjects) n_theta."""
        return self.deviance + np.log(self.n_subjects) * self.n_theta

    @property
    def covariance(self) -> pd.DataFrame:
        """Estimated within-participant covariance, visits x visits."""
        v = list(self.data.visits)
        return pd.DataFrame(self.evaluation.cov.sigma.copy(), index=v, columns=v)

    @property
    def correlation(self) -> pd.DataFrame:
        s = self.evaluation.cov.sigma
        sd = np.sqrt(np.diag(s))
        v = list(self.data.visits)
        return pd.DataFrame(s / np.outer(sd, sd), index=v, columns=v)

    @cached_property
    def theta_vcov(self) -> Array:
        """Inverse of the observed Hessian of -l in theta (W)."""
        return _frozen(np.linalg.inv(self.evaluation.hessian))

    @cached_property
    def beta_vcov_asymptotic(self) -> Array:
        return _frozen(self.evaluation.phi)

    def beta_vcov(self, vcov: str | Vcov | None = None) -> Array:
        """Coefficient covariance: the fit's own or the one named (``asymptotic`` ...)."""
        kind = self.vcov_kind if vcov is None else _enum(Vcov, vcov, "vcov")
        return self._vcov(kind)

    def _vcov(self, kind: Vcov) -> Array:
        cache = self._vcovs
        if kind not in cache:
            ev = self.evaluation
            if kind is Vcov.ASYMPTOTIC:
                cache[kind] = ev.phi
            elif kind is Vcov.EMPIRICAL:
                cache[kind] = ev.empirical_vcov()
            else:
                if not self.reml:
                    raise InputError("vcov: Kenward-Roger needs method='REML'")
                cache[kind] = ev.kenward_roger_vcov(self.theta_vcov,
                                                    linear=kind is Vcov.KENWARD_ROGER_LINEAR)
        return _frozen(cache[kind])

    @cached_property
    def _vcovs(self) -> dict[Vcov, Array]:
        return {}

    # -- inference ------------------------------------------------------------------------

    def _method(self, df: str | DfMethod | None, vcov: str | Vcov | None
                ) -> tuple[DfMethod, Vcov]:
        if df is None:
            return self.df_method, self.vcov_kind if vcov is None else _enum(Vcov, vcov, "vcov")
        method = _enum(DfMethod, df, "df")
        kind = DEFAULT_VCOV[method] if vcov is None else _enum(Vcov, vcov, "vcov")
        if not self.reml and method in (DfMethod.KENWARD_ROGER, DfMethod.KENWARD_ROGER_LINEAR):
            raise InputError("df: Kenward-Roger needs method='REML'")
        return method, kind

    def contrast(self, weights: Any, df: str | None = None, vcov: str | None = None
                 ) -> Contrast:
        """Estimate, SE, df, t and two-sided p of ``l' beta`` (``weights`` = l, length n_beta)."""
        method, kind = self._method(df, vcov)
        vec = self._vector(weights)
        est = float(vec @ self.evaluation.beta)
        se = float(np.sqrt(vec @ self._vcov(kind) @ vec))
        d = self._df_1d(vec, method)
        t = est / se
        return Contrast(est, se, d, t, float(2.0 * special.stdtr(d, -abs(t))))

    def _vector(self, weights: Any) -> Array:
        vec = np.asarray(weights, dtype=float).ravel()
        if vec.size != self.n_beta or not np.all(np.isfinite(vec)):
            raise InputError(f"contrast: expected {self.n_beta} finite numbers "
                             f"({', '.join(self.coef_names)}), got {vec.size}")
        return vec

    def _sensitivity(self, vec: Array) -> Array:
        """g_h = l' dPhi/dtheta_h l = -l' Phi P_h Phi l."""
        pl = self.evaluation.phi @ vec
        return -np.einsum("p,hpq,q->h", pl, self.evaluation.p_matrices, pl)

    def _df_1d(self, vec: Array, method: DfMethod) -> float:
        if method is DfMethod.RESIDUAL:
            return float(self.n_obs - self.n_beta)
        if method is DfMethod.BETWEEN_WITHIN:
            used = np.flatnonzero(vec != 0)
            return float(min(self._bw_df[i] for i in used)) if used.size else np.nan
        var = float(vec @ self.evaluation.phi @ vec)
        g = self._sensitivity(vec)
        return float(2.0 * var ** 2 / (g @ self.theta_vcov @ g))

    @cached_property
    def _bw_df(self) -> Array:
        """Between-within df per coefficient (mmrm's rule: a column constant within every
        participant is between-participant; the intercept counts as within)."""
        x, s = self.data.x, self.data.subject_codes
        names = self.coef_names
        between = np.zeros(len(names), bool)
        for j, name in enumerate(names):
            if name == "(Intercept)":
                continue
            col = pd.DataFrame({"s": s, "x": x[:, j]})
            between[j] = len(col.drop_duplicates()) <= self.n_subjects
        has_intercept = "(Intercept)" in names
        n_between = int(between.sum())
        n_within = len(names) - n_between - int(has_intercept)
        dfb = self.n_subjects - n_between - int(has_intercept)
        dfw = self.n_obs - self.n_subjects - n_within
        return np.where(between, float(dfb), float(dfw))

    def f_test(self, rows: Any, df: str | None = None, vcov: str | None = None) -> FTest:
        """F test of L beta = 0 (``rows``: coefficient names or an L matrix)."""
        method, kind = self._method(df, vcov)
        lmat = self._matrix(rows)
        c = lmat.shape[0]
        lb = lmat @ self.evaluation.beta
        if method in (DfMethod.KENWARD_ROGER, DfMethod.KENWARD_ROGER_LINEAR):
            m, lam = self._kr_df(lmat)
            f = lam * float(lb @ np.linalg.solve(lmat @ self._vcov(kind) @ lmat.T, lb)) / c
            return FTest(c, m, f, float(special.fdtrc(c, m, f)))
        f = float(lb @ np.linalg.solve(lmat @ self._vcov(kind) @ lmat.T, lb)) / c
        if method is DfMethod.SATTERTHWAITE:
            denom = self._satterthwaite_md(lmat)
        elif method is DfMethod.RESIDUAL:
            denom = float(self.n_obs - self.n_beta)
        else:
            used = np.flatnonzero(np.abs(lmat).sum(axis=0) > 0)
            denom = float(min(self._bw_df[i] for i in used))
        return FTest(c, denom, f, float(special.fdtrc(c, denom, f)))

    def _matrix(self, rows: Any) -> Array:
        if isinstance(rows, (list, tuple)) and rows and all(isinstance(r, str) for r in rows):
            unknown = [r for r in rows if r not in self.coef_names]
            if unknown:
                raise InputError(f"contrast: unknown coefficient(s) {unknown}; "
                                 f"choose from {list(self.coef_names)}")
            lmat = np.zeros((len(rows), self.n_beta))
            for i, r in enumerate(rows):
                lmat[i, self.coef_names.index(r)] = 1.0
            return lmat
        lmat = np.atleast_2d(np.asarray(rows, dtype=float))
        if lmat.shape[1] != self.n_beta or not np.all(np.isfinite(lmat)):
            raise InputError(f"contrast: expected rows of {self.n_beta} finite numbers")
        return lmat

    def _kr_df(self, lmat: Array) -> tuple[float, float]:
        """Kenward-Roger (1997) denominator df m and scale lambda for L beta."""
        phi, w = self.evaluation.phi, self.theta_vcov
        c = lmat.shape[0]
        mmat = lmat.T @ np.linalg.solve(lmat @ phi @ lmat.T, lmat)
        f = np.einsum("ab,bc,hcd,de->hae", mmat, phi, self.evaluation.p_matrices, phi)
        tr = np.einsum("haa->h", f)
        a1 = float(tr @ w @ tr)
        a2 = float(np.einsum("hj,hab,jba->", w, f, f))
        b = (a1 + 6.0 * a2) / (2.0 * c)
        g = ((c + 1.0) * a1 - (c + 4.0) * a2) / ((c + 2.0) * a2)
        denom = 3.0 * c + 2.0 * (1.0 - g)
        c1, c2, c3 = g / denom, (c - g) / denom, (c + 2.0 - g) / denom
        e_star = 1.0 / (1.0 - a2 / c)
        v_star = 2.0 / c * (1.0 + c1 * b) / ((1.0 - c2 * b) ** 2 * (1.0 - c3 * b))
        rho = v_star / (2.0 * e_star ** 2)
        m = 4.0 + (c + 2.0) / (c * rho - 1.0)
        return m, m / (e_star * (m - 2.0))

    def _satterthwaite_md(self, lmat: Array) -> float:
        """Fai-Cornelius: eigen-decompose L Phi L', one Satterthwaite df per component."""
        vals, vecs = np.linalg.eigh(lmat @ self.evaluation.phi @ lmat.T)
        order = np.argsort(vals)[::-1]
        vals, vecs = vals[order], vecs[:, order]
        keep = vals > max(np.sqrt(np.finfo(float).eps) * vals[0], 0.0)
        rows = (vecs.T @ lmat)[keep]
        nus = np.array([self._df_1d(r, DfMethod.SATTERTHWAITE) for r in rows])
        if nus.size == 1:
            return float(nus[0])
        if np.all(np.abs(np.diff(nus)) < np.sqrt(np.finfo(float).eps)):
            return float(nus.mean())
        if np.any(nus <= 2):
            return 2.0
        e = float((nus / (nus - 2.0)).sum())
        return 2.0 * e / (e - nus.size)

    # -- tables ---------------------------------------------------------------------------

    def coefficient_table(self, df: str | None = None, vcov: str | None = None,
                          level: float = 0.95) -> pd.DataFrame:
        """estimate, se, df, statistic, pvalue, ci_lower, ci_upper per coefficient."""
        rows = [self.contrast(e, df, vcov) for e in np.eye(self.n_beta)]
        return _table(rows, pd.Index(self.coef_names, name="term"), level)

    @property
    def coefficients(self) -> pd.DataFrame:
        """The coefficient table with the fit's own df method and covariance."""
        return self.coefficient_table()

    def _grid_rows(self) -> tuple[pd.DataFrame, Array]:
        """emmeans' reference grid: arm x visit, other factors averaged with equal weights,
        numeric covariates at their mean over the rows used."""
        md = self.data
        if md.arm is None:
            raise InputError("arm: LS means need the treatment-arm column (mmrm(..., arm=...))")
        frame = md.frame
        factors = [c for c in frame.columns
                   if isinstance(frame[c].dtype, pd.CategoricalDtype) and c != md.subject]
        grid = pd.MultiIndex.from_product([frame[c].cat.categories for c in factors],
                                          names=factors).to_frame(index=False)
        for c in factors:
            grid[c] = pd.Categorical(grid[c], categories=frame[c].cat.categories)
        for c in frame.columns:
            if c not in factors and c not in (md.response, md.subject):
                grid[c] = float(frame[c].astype(float).mean())
        x = np.asarray(md.spec.get_model_matrix(grid), dtype=float)
        keys = grid[[md.arm, md.visit]].astype(object)
        rows = pd.DataFrame(x).groupby([keys[md.arm], keys[md.visit]], sort=False).mean()
        order = pd.MultiIndex.from_product([frame[md.visit].cat.categories,
                                            frame[md.arm].cat.categories])
        rows = rows.reindex(order.swaplevel()).dropna()
        index = rows.index.set_names([md.arm, md.visit]).to_frame(index=False)
        return index, rows.to_numpy(float)

    def lsmeans(self, df: str | None = None, vcov: str | None = None,
                level: float = 0.95) -> pd.DataFrame:
        """Least-squares means per arm and visit (emmeans' ``~ arm | visit``)."""
        index, rows = self._grid_rows()
        res = [self.contrast(r, df, vcov) for r in rows]
        out = _table(res, pd.RangeIndex(len(res)), level)
        return pd.concat([index, out.reset_index(drop=True)], axis=1)

    def _difference_rows(self) -> tuple[list[tuple[str, Any]], Array]:
        """Contrast rows (each arm minus the reference arm, per visit) and their labels."""
        index, rows = self._grid_rows()
        md = self.data
        arms = list(md.frame[md.arm].cat.categories)
        out, labels = [], []
        for v in md.frame[md.visit].cat.categories:
            at = index[md.visit] == v
            ref = rows[(at & (index[md.arm] == arms[0])).to_numpy()]
            for a in arms[1:]:
                this = rows[(at & (index[md.arm] == a)).to_numpy()]
                if len(ref) and len(this):
                    out.append(this[0] - ref[0])
                    labels.append((f"{a} - {arms[0]}", v))
        return labels, np.array(out).reshape(len(out), self.n_beta)

    def arm_differences(self, df: str | None = None, vcov: str | None = None,
                        level: float = 0.95) -> pd.DataFrame:
        """Each arm minus the reference arm (first level), per visit."""
        labels, rows = self._difference_rows()
        out = _table([self.contrast(r, df, vcov) for r in rows], pd.RangeIndex(len(rows)), level)
        lab = pd.DataFrame(labels, columns=["contrast", self.data.visit])
        return pd.concat([lab, out.reset_index(drop=True)], axis=1)

    def difference_covariance(self, vcov: str | None = None) -> pd.DataFrame:
        """Covariance of the arm differences across visits, L V L' (rows as
        :meth:`arm_differences`); its diagonal is their squared SEs."""
        labels, rows = self._difference_rows()
        _, kind = self._method(None, vcov)
        names = [f"{c} @ {v}" for c, v in labels]
        return pd.DataFrame(rows @ self._vcov(kind) @ rows.T, index=names, columns=names)

    def interaction_test(self, df: str | None = None, vcov: str | None = None) -> FTest:
        """F test that every arm x visit interaction coefficient is 0."""
        md = self.data
        if md.arm is None:
            raise InputError("arm: the interaction test needs the treatment-arm column")
        names = [n for n in self.coef_names if ":" in n
                 and {p.startswith(md.arm) for p in n.split(":")} == {True, False}
                 and any(p.startswith(md.visit) for p in n.split(":"))
                 and n.count(":") == 1]
        if not names:
            raise InputError("formula: no arm x visit interaction terms to test")
        return self.f_test(names, df, vcov)

    def summary(self) -> str:
        lines = [f"MMRM ({'REML' if self.reml else 'ML'}), covariance "
                 f"{NAMES[self.model.structure]} ({self.model.structure.value}), "
                 f"df {self.df_method.value}, vcov {self.vcov_kind.value}",
                 f"{self.n_obs} observations, {self.n_subjects} participants, "
                 f"{len(self.data.visits)} visits ({self.data.n_dropped} missing visits "
                 "dropped)",
                 f"logLik {self.loglik:.4f}  AIC {self.aic:.4f}  BIC {self.bic:.4f}", ""]
        tab = self.coefficients
        cols = ["estimate", "se", "df", "statistic", "pvalue", "ci_lower", "ci_upper"]
        body = [[name, *[tab.at[name, c] for c in cols]] for name in tab.index]
        lines.append(format_table(["term", *cols], body))
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        from metaverdict._results import to_builtin

        return to_builtin({
            "method": "REML" if self.reml else "ML", "covariance": self.model.structure.value,
            "df_method": self.df_method.value, "vcov": self.vcov_kind.value,
            "n_obs": self.n_obs, "n_subjects": self.n_subjects,
            "visits": [str(v) for v in self.data.visits], "theta": self.theta,
            "covariance_matrix": self.evaluation.cov.sigma, "coef_names": list(self.coef_names),
            "coefficients": self.coefficients.reset_index(), "loglik": self.loglik,
            "aic": self.aic, "bic": self.bic, "iterations": self.iterations,
        })


def _frozen(a: Array) -> Array:
    out = np.array(a, dtype=float, copy=True)
    out.setflags(write=False)
    return out


def _table(rows: list[Contrast], index: pd.Index, level: float) -> pd.DataFrame:
    if not 0.0 < level < 1.0:
        raise InputError(f"level: must be between 0 and 1, got {level!r}")
    est = np.array([r.estimate for r in rows])
    se = np.array([r.se for r in rows])
    dfs = np.array([r.df for r in rows])
    crit = special.stdtrit(dfs, 0.5 + level / 2.0) if rows else np.array([])
    return pd.DataFrame({"estimate": est, "se": se, "df": dfs,
                         "statistic": [r.statistic for r in rows],
                         "pvalue": [r.pvalue for r in rows],
                         "ci_lower": est - crit * se, "ci_upper": est + crit * se}, index=index)

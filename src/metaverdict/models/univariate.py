"""``meta_analysis``: common-effect, random-effects and mixed-effects (meta-regression) models,
the counterpart of metafor's ``rma.uni``. A single fit is a batch of one through the kernels of
:mod:`.random_effects` and :mod:`.inference`."""
from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import special

from metaverdict._results import read_only
from metaverdict._validation import (
    as_float_array,
    check_bounds,
    check_level,
    check_same_length,
    choice,
)
from metaverdict.errors import ConvergenceError, InputError
from metaverdict.models.confint import TAU2_FIXED, tau2_is_fixed
from metaverdict.models.design import complete_moderators, design_matrix
from metaverdict.models.inference import (
    T_TESTS,
    UNIVARIATE_TESTS,
    InferenceTest,
    Pooled,
    critical_value,
    fit_statistics,
    pool,
)
from metaverdict.models.intervals import coefficient_values, prediction_frame
from metaverdict.models.projection import Design
from metaverdict.models.random_effects import (
    COMMON_EFFECT,
    METHODS,
    Method,
    SolverControl,
    Tau2Fit,
    estimate_tau2,
    fixed_tau2,
    single_fit_control,
)
from metaverdict.models.results import METHOD_NAMES, MetaAnalysisResult

#: the generalised Q estimators: their weights (default 1/vi) also estimate the coefficients
_GENQ = (Method.GENQ, Method.GENQM)


def meta_analysis(yi: Any, vi: Any = None, *, sei: Any = None, data: pd.DataFrame | None = None,
                  method: str = "REML", test: str = "z", level: float = 0.95,
                  mods: Any = None, weights: Any = None, labels: Any = None,
                  missing: Literal["raise", "omit"] = "raise",
                  control: SolverControl | None = None,
                  tau2: float | None = None) -> MetaAnalysisResult:
    """Fit a common-effect, random-effects or mixed-effects meta-analytic model.

    Parameters
    ----------
    yi : array-like, str or EffectSizes
        Effect sizes (or a column of ``data``, or the result of
        :func:`metaverdict.effect_sizes`, which also supplies ``vi`` and labels).
    vi, sei : array-like or str
        Sampling variances, or standard errors (``vi = sei**2``); one of them is required.
    data : DataFrame, optional
        Source of columns named in ``yi``, ``vi``, ``sei`` and ``mods``; its index labels the
        studies in error messages.
    method : str
        ``"EE"`` (alias ``"FE"``, ``"CE"``) for a common-effect model, or a tau² estimator:
        ``"DL"``, ``"HE"``, ``"HS"``, ``"HSk"``, ``"SJ"``, ``"ML"``, ``"REML"`` (default),
        ``"EB"``, ``"PM"``, ``"PMM"``, ``"GENQ"``, ``"GENQM"`` (its median-unbiased
        version), ``"DLIT"`` (iterated DerSimonian-Laird), ``"SJIT"`` (iterated
        Sidik-Jonkman); see :mod:`metaverdict.models.random_effects`.
    test : {"z", "knha", "adhoc"}
        Wald z tests, or the Hartung-Knapp(-Sidik-Jonkman) adjustment with t tests on k - p df
        (aliases ``"hksj"``, ``"hartung-knapp"``; any case); ``"adhoc"``: Hartung-Knapp with
        the variance factor truncated at 1, :math:`\\max(1, s^2_w)` (metafor
        ``test="adhoc"``).
    level : float
        Confidence level for intervals, in (0, 1).
    mods : str, DataFrame or array, optional
        Moderators (meta-regression): a formula over columns of ``data``
        (``"ablat + C(alloc)"``) or moderator columns; an intercept is added.
    weights : array-like or str, optional
        User weights for estimating the coefficients (metafor ``weights=``); ``method="GENQ"``
        also uses them for tau² (default ``1/vi``).
    labels : sequence, optional
        Study labels used in messages and tables (default: ``data``'s index).
    missing : {"raise", "omit"}
        What to do with studies whose ``yi``, ``vi`` or a moderator is missing: raise
        (default) or leave them out with a warning naming them, as metafor's ``na.omit`` does
        (their labels are then absent from ``labels``; ``I(x - x.mean())`` centres on the
        studies kept).
    control : SolverControl, optional
        Convergence settings for iterative estimators.
    tau2 : float, optional
        A fixed value of tau² (>= 0; metafor ``tau2=``): nothing is estimated, the model uses
        this value. ``tau2_se`` is then the standard error formula of ``method`` evaluated at
        the fixed value (as metafor 3.8 reports ``se.tau2``), the fit statistics count no
        tau² parameter, and no CI for tau² exists. Ignored by common-effect models.

    Returns
    -------
    MetaAnalysisResult

    Raises
    ------
    InputError
        Non-finite or non-positive variances, mismatched lengths, unknown method or test, a
        bad moderator design; the message names the study and field.

    Examples
    --------
    >>> import metaverdict as mv
    >>> res = mv.meta_analysis([0.1, 0.3, 0.5], [0.01, 0.02, 0.015], method="DL")
    >>> round(res.estimate, 4)
    0.2922
    """
    method = choice(method, METHODS, "method")
    test = choice(test, UNIVARIATE_TESTS, "test")
    level = check_level(level)
    y, v, labels, data = _inputs(yi, vi, sei, data, labels)
    a = (None if weights is None
         else as_float_array(column(weights, data, "weights"), "weights", labels))
    if missing == "omit":
        keep = np.isfinite(y) & np.isfinite(v)
        if mods is not None:
            keep = keep & _moderators_present(mods, data, len(y), labels)
        y, v = y[keep], v[keep]
        a = None if a is None else a[keep]
        labels = None if labels is None else [lab for lab, kp in zip(labels, keep) if kp]
        data = None if data is None else data[keep]
        if mods is not None and not isinstance(mods, str):
            mods = pd.DataFrame(np.asarray(mods) if isinstance(mods, list) else mods)[keep]
    check_bounds(y, "yi", labels)
    check_bounds(v, "vi", labels, lower=0, lower_strict=True)
    if a is not None:
        check_same_length({"yi": y, "weights": a})
        check_bounds(a, "weights", labels, lower=0, lower_strict=True)
    if len(y) == 0:
        raise InputError("no studies to pool (yi is empty)")
    X, names = (None, ["intrcpt"]) if mods is None else design_matrix(mods, data, len(y), labels)
    if test in T_TESTS and len(y) == 1:
        warnings.warn("Setting argument test='z' since k = 1 (as metafor does): the "
                      "Hartung-Knapp adjustment needs at least 2 studies", UserWarning,
                      stacklevel=2)
    if tau2 is not None and method not in COMMON_EFFECT:
        t = float(as_float_array([tau2], "tau2")[0])
        check_bounds(np.array([t]), "tau2", None, lower=0)
        tau2 = t
    else:
        tau2 = None
    return fit(y, v, method=method, test=test, level=level, X=X, names=names, weights=a,
               labels=labels, control=control, tau2=tau2)


def fit(y: np.ndarray, v: np.ndarray, *, method: str, test: str, level: float,
        X: np.ndarray | None = None, names: list[str] | None = None,
        weights: np.ndarray | None = None,
        labels: list[Any] | None = None, control: SolverControl | None = None,
        skip_r2: bool = False, tau2: float | None = None) -> MetaAnalysisResult:
    """Fit validated arrays (the engine behind :func:`meta_analysis`; diagnostics refit with it).
    ``skip_r2`` leaves ``r2`` empty (saves the intercept-only refit, e.g. in permutation tests);
    ``tau2``: a fixed tau² (see :func:`meta_analysis`).
    A single study with ``test="knha"`` is fitted with a z test (se = sqrt(vi)), as metafor."""
    names = names or ["intrcpt"]
    control = single_fit_control(control)
    if test in T_TESTS and len(y) == 1:
        test = InferenceTest.Z          # metafor: "Setting argument test='z' since k=1"
    if X is not None and X.shape[1] == 1 and np.all(X == 1):
        X = None
    design = Design(None if X is None else X[None])
    yb, vb = y[None], v[None]
    wb = None if weights is None else weights[None]
    tau2_fixed = tau2 is not None and method not in COMMON_EFFECT
    gw = wb if method in _GENQ else None
    t2 = (fixed_tau2(method, yb, vb, np.array([tau2]), design, gw) if tau2_fixed
          else estimate_tau2(method, yb, vb, design, gw, control))
    if method in _GENQ and weights is None:
        wb = 1 / vb                              # GENQ weights also estimate the coefficients
    po = pool(method, test, level, yb, vb, t2, design, wb)
    k, p = len(y), design.p
    beta = po.beta[0]
    tau2 = float(t2.tau2[0])
    qm = qm_df = qm_p = r2 = None
    if X is not None:
        qm, qm_df, qm_p = _omnibus(beta, po.vb[0], names, test, k, p)
        r2 = None if skip_r2 else _pseudo_r2(method, y, v, tau2, X, weights, control)
    res = MetaAnalysisResult(
        method=method, test=test, level=level, k=k,
        estimate=float(beta[0]), se=float(po.se[0, 0]), statistic=float(po.statistic[0, 0]),
        pvalue=float(po.pvalue[0, 0]), ci_lower=float(po.ci_lower[0, 0]),
        ci_upper=float(po.ci_upper[0, 0]), tau2=tau2, tau2_se=float(t2.se[0]),
        i2=float(po.i2[0]), h2=float(po.h2[0]), q=float(po.q[0]), q_df=k - p,
        q_pvalue=float(po.q_pvalue[0]), pi_lower=float(po.pi_lower[0]),
        pi_upper=float(po.pi_upper[0]), df=po.df, s2w=float(po.s2w[0]), terms=tuple(names),
        vcov=read_only(po.vb[0]), weights=read_only(po.weights[0]),
        fit_statistics=fit_statistics(method, yb, vb, tau2, beta, design, po.projection,
                                      tau2_fixed),
        converged=bool(t2.converged[0]), iterations=int(t2.iterations[0]),
        qm=qm, qm_df=qm_df, qm_pvalue=qm_p, r2=r2,
        _coefficients=coefficient_values(beta, po.se[0], po.statistic[0], po.pvalue[0],
                                         po.ci_lower[0], po.ci_upper[0]),
        yi=read_only(y), vi=read_only(v), labels=None if labels is None else list(labels),
        design=read_only(X), user_weights=read_only(weights), typical_vi=float(po.vt[0]))
    res.derived(TAU2_FIXED, lambda: tau2_fixed)
    if (not tau2_fixed and method in (Method.DLIT, Method.SJIT)
            and not bool(t2.converged[0])):
        raise ConvergenceError(f"the {METHOD_NAMES.get(method, method)} estimator (method="
                               f"{str(method)!r}) did not settle in {int(t2.iterations[0])} steps "
                               "(metafor stops here too); use another method")
    return res


def fixed_value(res: MetaAnalysisResult) -> float | None:
    """The fixed tau² of ``res`` (``meta_analysis(..., tau2=)``) that its refits (permutation
    tests, leave-one-out, cumulative) keep, or None when tau² was estimated."""
    return res.tau2 if tau2_is_fixed(res) else None


def fit_batch(method: str, test: str, level: float, y: np.ndarray, v: np.ndarray,
              X: np.ndarray | None = None, weights: np.ndarray | None = None,
              control: SolverControl | None = None,
              tau2: np.ndarray | None = None) -> tuple[Tau2Fit, Pooled]:
    """tau² and the pooled coefficients for a batch of analyses (``y``, ``v``: (m, n); ``X``:
    (m, n, p) or None), the way :func:`fit` computes them: GENQ uses ``1/v`` as weights unless
    others are given, one study with ``test="knha"``/``"adhoc"`` gets a z test, and ``tau2``
    (m,) fixes tau² (:func:`~metaverdict.models.random_effects.fixed_tau2`). Floating-point
    warnings of the pooling are silenced (refits of subsets may be degenerate)."""
    control = single_fit_control(control)
    if test in T_TESTS and y.shape[-1] == 1:
        test = InferenceTest.Z
    design = Design(X)
    gw = weights if method in _GENQ else None
    t2 = (estimate_tau2(method, y, v, design, gw, control) if tau2 is None
          else fixed_tau2(method, y, v, tau2, design, gw))
    if method in _GENQ and weights is None:
        weights = 1 / v
    with np.errstate(divide="ignore", invalid="ignore"):
        return t2, pool(method, test, level, y, v, t2, design, weights)


def _omnibus(beta: np.ndarray, vb: np.ndarray, names: list[str], test: str, k: int,
             p: int) -> tuple[float, tuple[int, float], float]:
    """Wald test that all coefficients but the intercept are zero (metafor QM)."""
    idx = [j for j, n in enumerate(names) if n != "intrcpt"]
    b = beta[idx]
    qm = _wald(b, vb[np.ix_(idx, idx)])
    m = len(idx)
    if test in T_TESTS:
        qm /= m
        return qm, (m, float(k - p)), float(special.fdtrc(m, k - p, qm))
    return qm, (m, float("nan")), float(special.chdtrc(m, qm))


def _wald(b: np.ndarray, vb: np.ndarray) -> float:
    """``b' vb^{-1} b``, solved on the correlation scale (coefficients in very different units
    stay well-conditioned). A zero ``vb`` (Hartung-Knapp with a zero residual Q: every estimate
    on the fitted surface) gives inf, or 0 where ``b`` is 0, as the coefficient tests do."""
    d = np.sqrt(np.abs(np.diagonal(vb)))
    if np.all(d > 0) and np.all(np.isfinite(vb)):
        try:
            z = b / d
            sol = np.linalg.solve(vb / np.outer(d, d), z)
            if np.all(np.isfinite(sol)):
                return float(z @ sol)
        except np.linalg.LinAlgError:
            pass
    return 0.0 if np.all(b == 0) else float("inf")


def _pseudo_r2(method: str, y: np.ndarray, v: np.ndarray, tau2: float, X: np.ndarray,
               weights: np.ndarray | None, control: SolverControl) -> float:
    r"""Pseudo-R² in percent (metafor ``R2``), truncated at 0.

    Random/mixed-effects models: the proportional reduction in tau² relative to the
    intercept-only model fitted with the same estimator (Raudenbush 1994),
    :math:`100\,(\hat\tau^2_{RE} - \hat\tau^2_{ME})/\hat\tau^2_{RE}` (0 when
    :math:`\hat\tau^2_{RE} = 0`). Common-effect models: the adjusted R² of the weighted
    least-squares regression (weights ``1/vi`` or the user's),
    :math:`100\,[1 - (Q_E/(k-p)) / (Q_0/(k-1))]` with :math:`Q_E`, :math:`Q_0` the weighted
    residual sums of squares of the model and of the intercept-only model.
    """
    k, p = X.shape
    if method in COMMON_EFFECT:
        if np.var(y) == 0:
            return 0.0
        w = 1 / v if weights is None else weights
        q_model = float(Design(X[None]).project(w[None], y[None]).rss[0])
        q_null = float(Design().project(w[None], y[None]).rss[0])
        if q_null <= 0:         # (rounded) identical effects: nothing to account for
            return 0.0
        r2: float = max(0.0, 100 * (1 - (q_model / (k - p)) / (q_null / (k - 1))))
        return r2
    wb = None if (weights is None or method not in _GENQ) else weights[None]
    tau2_re = float(estimate_tau2(method, y[None], v[None], Design(), wb, control).tau2[0])
    if tau2_re == 0:
        return 0.0
    return max(0.0, 100 * (tau2_re - tau2) / tau2_re)


def _moderators_present(mods: Any, data: pd.DataFrame | None, k: int,
                        labels: list[Any] | None) -> np.ndarray:
    """Mask of studies with every moderator present; warns naming those left out."""
    keep = complete_moderators(mods, data, k)
    if not keep.all():
        gone = [labels[i] if labels is not None else f"row {i + 1}"
                for i in np.flatnonzero(~keep)]
        warnings.warn(f"{len(gone)} studies with a missing moderator left out (mods={mods!r}): "
                      f"{gone}", UserWarning, stacklevel=3)
    return keep


def predict(res: MetaAnalysisResult, newmods: Any = None,
            level: float | None = None) -> pd.DataFrame:
    r"""Fitted values with confidence and prediction intervals (metafor ``predict.rma``).

    For moderator rows :math:`x` (with the intercept), :math:`\hat\mu = x'\hat\beta`,
    :math:`SE = \sqrt{x' V_\beta x}`, CI :math:`\hat\mu \pm c\,SE` and prediction interval
    :math:`\hat\mu \pm c\sqrt{SE^2 + \hat\tau^2}`, with c the normal quantile, or the t
    quantile on k - p df for ``test="knha"``. Common-effect models have no prediction
    interval (NaN).

    Parameters
    ----------
    res : MetaAnalysisResult
    newmods : array-like, optional
        Moderator values, one row per prediction, without the intercept column (columns in
        the order of ``res.coefficients`` after ``intrcpt``). Default: the fitted values at
        the observed moderators (a meta-regression), or the pooled estimate (intercept only).
    level : float, optional
        Confidence level (default: the fit's).

    Returns
    -------
    DataFrame
        Columns ``pred``, ``se``, ``ci_lower``, ``ci_upper``, ``pi_lower``, ``pi_upper``.

    Examples
    --------
    >>> import metaverdict as mv
    >>> res = mv.meta_analysis([0.1, 0.3, 0.5, 0.2, 0.6], [0.01, 0.02, 0.015, 0.01, 0.03])
    >>> mv.predict(res).round(4)
         pred      se  ci_lower  ci_upper  pi_lower  pi_upper
    0  0.3153  0.0901    0.1386    0.4919   -0.0404    0.6709
    """
    level = res.level if level is None else check_level(level)
    p = res.p
    if newmods is None:
        X = np.ones((1, 1)) if res.design is None else np.asarray(res.design, dtype=float)
    else:
        new = np.asarray(newmods, dtype=float)
        new = new.reshape(-1, p - 1) if new.ndim < 2 else new
        if new.shape[1] != p - 1:
            raise InputError(f"field 'newmods': {new.shape[1]} moderator columns given, the model "
                             f"has {p - 1} ({list(res.terms[1:])})")
        if not np.isfinite(new).all():
            raise InputError("field 'newmods': values must be finite numbers")
        X = np.column_stack([np.ones(len(new)), new])
    return prediction_frame(X, res.beta, res.vcov, critical_value(level, res.df),
                            None if res.is_common_effect else res.tau2)


def column(value: Any, data: pd.DataFrame | None, field: str) -> Any:
    """``value`` itself, or the column of ``data`` it names (InputError naming ``field`` when
    there is no such column or no data)."""
    if isinstance(value, str):
        if data is None:
            raise InputError(f"field {field!r}: {value!r} names a column but no data= was given")
        if value not in data.columns:
            raise InputError(f"field {field!r}: no column {value!r} in data "
                             f"(columns: {list(data.columns)})")
        return data[value].to_numpy()
    return value


def _omit_dropped(es: Any, labels: Any, data: pd.DataFrame | None
                  ) -> tuple[Any, Any, Any, pd.DataFrame | None]:
    """The studies of an EffectSizes result without those it lists as ``dropped`` (missing
    input or ``drop00``: metafor's NA, omitted from the fit with a warning, as metafor's
    ``na.action = "na.omit"``)."""
    dropped = getattr(es, "dropped", ())
    if not dropped:
        return es.yi, es.vi, labels, data
    keep = np.ones(len(es.yi), dtype=bool)
    keep[[d.row - 1 for d in dropped]] = False
    warnings.warn(f"{len(dropped)} stud{'y' if len(dropped) == 1 else 'ies'} with missing "
                  "input omitted from the fit: " + ", ".join(str(d) for d in dropped),
                  UserWarning, stacklevel=4)
    if labels is not None and not isinstance(labels, str) and len(labels) == len(keep):
        labels = [lab for lab, kept in zip(labels, keep) if kept]
    if data is not None and len(data) == len(keep):
        data = data.iloc[np.flatnonzero(keep)]
    return np.asarray(es.yi)[keep], np.asarray(es.vi)[keep], labels, data


def _inputs(yi: Any, vi: Any, sei: Any, data: pd.DataFrame | None, labels: Any
            ) -> tuple[np.ndarray, np.ndarray, list[Any] | None, pd.DataFrame | None]:
    if hasattr(yi, "yi") and hasattr(yi, "vi"):          # an EffectSizes result
        labels = yi.labels if labels is None else labels
        yi, vi, labels, data = _omit_dropped(yi, labels, data)
    if labels is None and data is not None:
        labels = list(data.index)
    y = as_float_array(column(yi, data, "yi"), "yi", labels)
    if vi is None and sei is None:
        raise InputError("field 'vi': give the sampling variances vi= (or standard errors sei=)")
    if vi is not None:
        v = as_float_array(column(vi, data, "vi"), "vi", labels)
    else:
        s = as_float_array(column(sei, data, "sei"), "sei", labels)
        check_bounds(s[np.isfinite(s)], "sei", None, lower=0, lower_strict=True)
        v = s * s
    check_same_length({"yi": y, "vi": v})
    if labels is not None:
        labels = list(labels)
        if len(labels) != len(y):
            raise InputError(f"field 'labels': {len(labels)} labels for {len(y)} studies")
    return y, v, labels, data

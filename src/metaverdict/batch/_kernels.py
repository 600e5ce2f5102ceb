"""The Numba kernel behind :mod:`metaverdict.batch.compiled` (imported only when Numba is).

Layout. A range of analyses is processed in blocks of :data:`~metaverdict.batch._schema.LANES`
analyses laid out as structure of arrays: study ``i`` of lane ``l`` is element
``i * LANES + l`` of the block's effect, variance and weight arrays, and every per-analysis
quantity (a sum, the estimate, a flag) is row ``f * LANES + l`` of one lane array (``f`` a
:class:`Lane` field). The steps that are the same for every analysis (loading and checking,
the common-effect sums, the closed-form estimators, the sums at the estimate, the
log-likelihoods, the likelihood grid, the p-values and the output) are loops over the lanes
inside the loop over studies, which the compiler runs in SIMD registers; branches that differ
between analyses are selects. The ML/REML Newton steps are taken by every lane of a block at
once (:func:`_newton_lanes`: a lane that has converged stays where it is) while more than
:data:`LANE_ROUNDS_ABOVE` lanes are iterating; the last lanes, whose number of steps differs
most, finish per lane, :data:`SLOTS` lanes side by side (:func:`_newton_slots`, also
:func:`_bracket_slots`), so that the CPU overlaps their dependency chains; both take the same
steps from the same sums, to the bit. Rare detours (the bracketing search after ``max_iter``
Newton steps, a restart after the likelihood grid) take one lane at a time.

Formulas. Every formula is one of :mod:`metaverdict.models.formulas`, compiled here with
``numba.njit`` (the single-fit engine calls the same functions on arrays). The sums are
those of the intercept-only projection with weights :math:`w_i = 1/(v_i+\\tau^2)`,
:math:`s_m = \\sum w_i^m`, :math:`u_i = w_i (y_i - \\hat\\mu)`: :math:`y'Py = \\sum u_i
(y_i-\\hat\\mu)`, :math:`y'P^2y = \\sum u_i^2`, :math:`y'P^3y = \\sum w_i (u_i - \\bar u)^2`
(:math:`\\bar u = \\sum w_i u_i / s_1`), :math:`\\operatorname{tr}P = \\sum_i w_i d_i / s_1`,
:math:`\\operatorname{tr}P^2 = \\sum_i w_i^2 (d_i^2 + e_i)/s_1^2` with :math:`d_i = s_1 -
w_i`, :math:`e_i = s_2 - w_i^2`, all sums of non-negative terms: for the study ``m`` with the
largest weight, :math:`d_m` and :math:`e_m` are the sums over the other studies and
:math:`u_m = -\\sum_{i\\ne m} u_i` (the residuals of :math:`P` sum to zero), so nothing is
subtracted from the dominant term even for variance ratios of 1e24. Effects are centred on
their mean first, as in the reference engine. The log-likelihood's
:math:`\\sum\\log(v_i+\\tau^2)` is the log of a running product, taken when the product leaves
[1e-150, 1e150] (checked every 8 studies) and at the end, so ordinary data cost one logarithm
per evaluation; a block with a factor outside [1e-15, 1e15] takes one logarithm per study.
The likelihood grid of the global check (32 points per analysis) takes its sums from
polynomials in tau² instead (:func:`_grid`: Horner's scheme, two divisions per point instead
of k, and a division-free logarithm that screens the points before the exact one decides),
wherever they stay inside float64's range.

Special functions. ``exp`` and ``log`` (:func:`_exp`, :func:`_log`) and the normal and χ²
tails (:func:`_erfc_lanes`, :func:`_chi2_sf_lanes`) are written out in arithmetic (bits of a
double through an LLVM bitcast, polynomials, a Chebyshev interpolant of SciPy's ``erfcx``),
because a call into the math library keeps a loop out of the SIMD registers; they are within
2-3 ulp of the library's (``exp``, ``log``) and within 1e-13 relative of SciPy's (the tails;
the tests check all of them). A rougher logarithm without a division (:func:`_log_rough`,
within 6.8e-8) only screens the likelihood grid; ``a * b + c`` is fused where written so
(:func:`_fma`, LLVM's ``fma``: one rounding), never by the compiler on its own.

The kernel is compiled with NumPy's error model (a division by zero gives inf/NaN, which the
engine reports per analysis, never an exception) and without ``fastmath``: the order of every
sum is the reference engine's up to the lane layout, so results agree with single fits to
rounding. It releases the GIL, so :mod:`metaverdict.batch.compiled` runs ranges of analyses
on several threads.
"""
from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from enum import IntEnum
from pathlib import Path
from typing import Any, TypeVar, cast

import numba
import numpy as np
from llvmlite import ir  # type: ignore[import-untyped]
from numba import literal_unroll
from numba.core import types
from numba.extending import intrinsic
from scipy import special

from metaverdict.batch._schema import CLOSED_FORM_MAX_DF, LANES, GlobalSearch, Row
from metaverdict.batch._schema import KernelMethod as Method
from metaverdict.models import formulas

_F = TypeVar("_F", bound=Callable[..., Any])


class Lane(IntEnum):
    """Per-analysis quantities of a block: row ``f`` of the lane array holds field ``f`` of
    every lane (see the module docstring)."""

    bad = 0      # 1 where an effect is not finite or a variance not a finite number > 0
    centre = 1   # mean effect (the effects of the block are centred on it)
    vmin = 2     # smallest variance and (as a float) the first study that has it
    m = 3
    vmax = 4
    sum_v = 5
    sum_v2 = 6
    ss = 7       # sum of squared centred effects
    t = 8        # tau² at which the sums below are taken
    s1 = 9
    s2 = 10
    swy = 11
    mu = 12
    wm = 13      # the largest weight, 1/(vmin + t)
    trp = 14
    trp2 = 15
    rss = 16
    ypy2 = 17
    r1 = 18      # sums over the studies other than m (pass 2)
    r2 = 19
    su = 20
    su2 = 21
    logv = 22    # sum of log(v + t) and the running product behind it
    prod = 23
    fe_s1 = 24   # the sums of the common-effect projection (t = 0) and Q
    fe_trp = 25
    fe_trp2 = 26
    q = 27
    fe_logv = 28
    score0 = 29  # the ML/REML equation at t = 0
    tau2 = 30    # the estimate, its standard error, iterations, convergence (0/1)
    tau2_se = 31
    its = 32
    conv = 33
    check = 34   # the likelihood checks: checked (0/1), top of the grid, best value and point
    top = 35
    best = 36
    best_j = 37
    ll_hat = 38  # the log-likelihood at the estimate and at 0
    ll0 = 39
    g_s1 = 40    # the sums of one grid point
    g_swd = 41
    g_swd2 = 42
    g_prod = 43
    g_logs = 44
    o_se = 45    # outputs and the scratch of the p-values
    o_stat = 46
    o_s2w = 47
    o_i2 = 48
    o_h2 = 49
    o_p = 50
    o_qp = 51
    o_x = 52
    o_term = 53
    o_e = 54
    o_beta = 55
    o_q = 56
    start = 57   # the bracketing search: its lower end, and what it found there
    b_root = 58
    b_its = 59
    b_conv = 60
    b_moved = 61  # 1 where the equation was > 0 at the lower end
    keep = 62    # tau2 before a restart, and the log-likelihood after it
    ll2 = 63
    swu = 64     # the sums behind y'P³y (pass 2 with ``cubic``), over the studies other than m
    swu2 = 65
    active = 66  # the Newton steps in lanes (:func:`_newton_lanes`): 1 while iterating,
    step = 67    # the step, 1 where it reaches the boundary 0, 1 where it needs halving
    bnd = 68
    halve = 69
    o_lo = 70    # the CI and prediction bounds, and whether the output is finite (1/0)
    o_hi = 71
    o_plo = 72
    o_phi = 73
    o_ok = 74


N_LANE_FIELDS = len(Lane)
#: The lane field that each output row (:class:`~metaverdict.batch._schema.Row`, in order)
#: is written from.
ROW_FIELDS = np.array([{Row.estimate: Lane.o_beta, Row.se: Lane.o_se,
                        Row.statistic: Lane.o_stat, Row.pvalue: Lane.o_p,
                        Row.ci_lower: Lane.o_lo, Row.ci_upper: Lane.o_hi,
                        Row.tau2: Lane.tau2, Row.tau2_se: Lane.tau2_se, Row.i2: Lane.o_i2,
                        Row.h2: Lane.o_h2, Row.q: Lane.o_q, Row.q_pvalue: Lane.o_qp,
                        Row.pi_lower: Lane.o_plo, Row.pi_upper: Lane.o_phi,
                        Row.converged: Lane.conv, Row.iterations: Lane.its,
                        Row.s2w: Lane.o_s2w}[row] for row in Row], dtype=np.int64)
#: (row, offset of its lane field) for every output row, for :func:`_write`.
_ROW_OFFSETS = tuple((int(r), int(f) * LANES) for r, f in enumerate(ROW_FIELDS))
_EPS = float(np.finfo(float).eps)
_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)
_SQRT_HALF = math.sqrt(0.5)


def _source_salt() -> int:
    """A number that changes with the sources the kernel is compiled from (this module, the
    formulas, the schema): part of the key of Numba's on-disk cache, which otherwise watches
    only this file and would keep a kernel compiled from older formulas."""
    digest = hashlib.sha256()
    for path in (Path(__file__), Path(formulas.__file__),
                 Path(__file__).with_name("_schema.py")):
        try:
            digest.update(path.read_bytes())
        except OSError:             # a frozen or zipped install: the version must do
            digest.update(str(path).encode())
    return int(digest.hexdigest()[:15], 16)


def _jit(fn: _F) -> _F:
    """``fn`` compiled for the kernel: ``numba.njit`` with NumPy's error model (inf/NaN, no
    exceptions) and without Numba's reference counting (``_nrt=False``: these functions
    allocate nothing, so the counting calls that Numba's pruning left around their array
    arguments, about 200 per block, are not needed), typed as keeping the signature."""
    options: dict[str, Any] = {"error_model": "numpy", "_nrt": False}   # _nrt: not in the stubs
    return cast(_F, numba.njit(**options)(fn))


def _leaf(fn: _F) -> _F:
    """:func:`_jit` for a small function that the lane loops call, or that takes lane fields
    as arguments: inlined by Numba itself, so that its loops see their offsets as constants
    and run in SIMD registers (LLVM would keep a call, and the loop scalar)."""
    return cast(_F, numba.njit(error_model="numpy", inline="always")(fn))


# the shared formulas, compiled and inlined where they are called (by Numba, so that the lane
# loops around them run in SIMD registers whatever LLVM's inliner decides)
dl_tau2 = _leaf(formulas.dl_tau2)
dl_tau2_se = _leaf(formulas.dl_tau2_se)
he_tau2 = _leaf(formulas.he_tau2)
he_tau2_se = _leaf(formulas.he_tau2_se)
intercept_unit_traces = _leaf(formulas.intercept_unit_traces)
ml_equation = _leaf(formulas.ml_equation)
reml_equation = _leaf(formulas.reml_equation)
q_equation = _leaf(formulas.q_equation)
equation_slope = _leaf(formulas.equation_slope)
fisher_step = _leaf(formulas.fisher_step)
newton_step = _leaf(formulas.newton_step)
step_converged = _leaf(formulas.step_converged)
regula_falsi = _leaf(formulas.regula_falsi)
ml_tau2_se = _leaf(formulas.ml_tau2_se)
reml_tau2_se = _leaf(formulas.reml_tau2_se)
pm_tau2_se = _leaf(formulas.pm_tau2_se)
ml_loglik = _leaf(formulas.ml_loglik)
reml_loglik = _leaf(formulas.reml_loglik)
likelihood_grid_top = _leaf(formulas.likelihood_grid_top)
knha_s2w = _leaf(formulas.knha_s2w)
confidence_bounds = _leaf(formulas.confidence_bounds)
prediction_bounds = _leaf(formulas.prediction_bounds)
typical_variance = _leaf(formulas.typical_variance)
i2_h2 = _leaf(formulas.i2_h2)
common_effect_i2_h2 = _leaf(formulas.common_effect_i2_h2)


def _bitcast_as_float(typingctx: Any, bits: Any) -> Any:
    """The float64 whose bits are the int64 ``bits`` (an LLVM bitcast: free, and vectorised)."""
    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


def _bitcast_as_int(typingctx: Any, x: Any) -> Any:
    """The bits of the float64 ``x`` as an int64."""
    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen


_as_float = cast(Callable[[int], float], intrinsic(_bitcast_as_float))
_as_int = cast(Callable[[float], int], intrinsic(_bitcast_as_int))


def _fused_multiply_add(typingctx: Any, a: Any, b: Any, c: Any) -> Any:
    """:math:`ab + c` rounded once (LLVM's ``fma``, which the loop vectoriser keeps in SIMD
    registers; the compiler never contracts ``a * b + c`` by itself without fastmath)."""
    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        d = ir.DoubleType()
        fn = builder.module.declare_intrinsic("llvm.fma", [d], ir.FunctionType(d, [d, d, d]))
        return builder.call(fn, args)
    return types.float64(types.float64, types.float64, types.float64), codegen


_fma = cast(Callable[[float, float, float], float], intrinsic(_fused_multiply_add))


_MAGIC = 6755399441055744.0        # 1.5 * 2**52: adding it puts an integer in the low bits
_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01     # ln 2 split in two (Cody & Waite)
_LN2_LO = 1.90821492927058770002e-10
_SQRT2 = 1.4142135623730951
_MIN_NORMAL = 2.2250738585072014e-308
_E = tuple(1.0 / math.factorial(j) for j in range(13))          # Taylor series of exp
_A = tuple(1.0 / (2 * j + 1) for j in range(11))                 # ... of atanh(s)/s in s²


@_leaf
def _pow2(n: float) -> float:
    """:math:`2^n` for an integer-valued ``n`` in [-1022, 1023], from its bits."""
    return _as_float((_as_int(n + 1023.0 + _MAGIC) - _as_int(_MAGIC)) << 52)


@_leaf
def _exp(x: float) -> float:
    r""":math:`e^x` without a call into the math library, so that a loop over lanes runs in SIMD
    registers: :math:`x = n \ln 2 + r`, :math:`|r| \le \ln 2/2` (Cody-Waite), the Taylor
    polynomial of degree 12 for :math:`e^r` (error below 2e-16) and :math:`2^n` built from its
    bits (in two factors, so that subnormal results are rounded once). Within 2 ulp of the
    correctly rounded value; inf and NaN as ``math.exp``."""
    xc = x if x > -746.0 else -746.0
    xc = xc if xc < 710.0 else 710.0
    n = math.floor(xc * _LOG2E + 0.5)
    r = (xc - n * _LN2_HI) - n * _LN2_LO
    r2 = r * r
    r4 = r2 * r2
    # Estrin's scheme: a short dependency chain, so that the SIMD units stay busy
    p = (((_E[0] + _E[1] * r) + (_E[2] + _E[3] * r) * r2)
         + ((_E[4] + _E[5] * r) + (_E[6] + _E[7] * r) * r2) * r4
         + (((_E[8] + _E[9] * r) + (_E[10] + _E[11] * r) * r2) + _E[12] * r4) * (r4 * r4))
    half = math.floor(n * 0.5)
    out = p * _pow2(half) * _pow2(n - half)
    return x if x != x else out


@_leaf
def _log_split(x: float) -> tuple[float, float]:
    """``e`` and ``f`` with :math:`x = 2^e (1 + f)`, :math:`1 + f \\in [\\sqrt{1/2}, \\sqrt 2)`,
    from the bits of a positive normal finite ``x``."""
    bits = _as_int(x)
    m = _as_float((bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000)
    e = _as_float((bits >> 52) + _as_int(_MAGIC)) - _MAGIC - 1023.0
    big = m > _SQRT2
    m = m * 0.5 if big else m
    e = e + 1.0 if big else e
    return e, m - 1.0


@_leaf
def _log(x: float) -> float:
    r""":math:`\log x` without a call into the math library (see :func:`_exp`):
    :math:`x = 2^e m` with :math:`m \in [\sqrt{1/2}, \sqrt 2)` from the bits,
    :math:`\log m = 2\operatorname{atanh}(s)`, :math:`s = (m-1)/(m+1)`, summed to
    :math:`s^{21}` (:math:`|s| \le 0.172`: error below 1e-17). Within 2 ulp; 0, negative,
    subnormal, infinite and NaN arguments as ``math.log``."""
    sub = (x > 0) & (x < _MIN_NORMAL)
    xs = x * 18014398509481984.0 if sub else x           # 2**54
    xs = xs if (xs > 0) & (xs < math.inf) else 1.0
    e, f = _log_split(xs)
    e = e - 54.0 if sub else e
    t = f / (2.0 + f)
    z = t * t
    z2 = z * z
    z4 = z2 * z2
    p = (((_A[0] + _A[1] * z) + (_A[2] + _A[3] * z) * z2)
         + ((_A[4] + _A[5] * z) + (_A[6] + _A[7] * z) * z2) * z4
         + ((_A[8] + _A[9] * z) + _A[10] * z2) * (z4 * z4))
    out = e * _LN2_HI + (2.0 * t * p + e * _LN2_LO)
    out = -math.inf if x == 0 else out
    out = math.inf if x == math.inf else out
    return math.nan if (x < 0) | (x != x) else out


def _log_rough_coefficients(degree: int = 8) -> tuple[tuple[float, ...], float]:
    """A polynomial of ``degree`` in ``f`` for :math:`\\log(1 + f)` on the range of
    :func:`_log_split` (least squares on Chebyshev points) and a bound on its error: twice
    the largest error on 200,001 points of the range (the error curve is smooth, with
    ``degree + 1`` extrema) plus 1e-15 for the rounding of its evaluation."""
    lo, hi = math.sqrt(0.5) - 1.0, math.sqrt(2.0) - 1.0
    x = np.cos(np.pi * (np.arange(200) + 0.5) / 200)
    f = lo + (hi - lo) * (x + 1) / 2
    c = np.polynomial.polynomial.polyfit(f, np.log1p(f), degree)
    dense = np.linspace(lo, hi, 200_001)
    err = np.abs(np.polynomial.polynomial.polyval(dense, c) - np.log1p(dense)).max()
    return tuple(float(a) for a in c), 2.0 * float(err) + 1e-15


_R, _LOG_ROUGH_ERR = _log_rough_coefficients()


@_leaf
def _log_rough(x: float) -> float:
    """:math:`\\log x` to within :data:`_LOG_ROUGH_ERR` (about 7e-8) for a positive normal finite
    ``x``: a polynomial of degree 8 without a division, a third of the cost of :func:`_log`
    (for screening: see :func:`_grid`)."""
    e, f = _log_split(x)
    f2 = f * f
    f4 = f2 * f2
    p = (((_R[0] + _R[1] * f) + (_R[2] + _R[3] * f) * f2)
         + ((_R[4] + _R[5] * f) + (_R[6] + _R[7] * f) * f2) * f4 + _R[8] * (f4 * f4))
    return e * _LN2_HI + (p + e * _LN2_LO)


def _erfcx_coefficients(n: int = 24, c: float = 2.0) -> np.ndarray:
    """Chebyshev coefficients of :math:`g(t) = (x + c)\\,\\operatorname{erfcx}(x)` in
    :math:`t = (x - c)/(x + c) \\in [-1, 1)` for :math:`x \\ge 0`, interpolating SciPy's
    ``erfcx`` at ``n`` Chebyshev points (the function is smooth in ``t`` and tends to
    :math:`1/\\sqrt\\pi` as :math:`x \\to \\infty`, so the relative error stays near 1e-14)."""
    j = np.arange(n)
    t = np.cos(np.pi * (j + 0.5) / n)
    x = c * (1 + t) / (1 - t)
    f = special.erfcx(x) * (x + c)
    coef = np.array([2.0 / n * np.sum(f * np.cos(np.pi * m * (j + 0.5) / n)) for m in range(n)])
    coef[0] /= 2
    out: np.ndarray = coef
    return out


#: :func:`_erfcx_coefficients` (compile-time constants of the kernel).
ERFCX_COEF = _erfcx_coefficients()
_ERFCX_N = len(ERFCX_COEF)
_ERFCX_C = 2.0


@_leaf
def _erfcx(x: float) -> float:
    r""":math:`\operatorname{erfcx}(x) = e^{x^2}\operatorname{erfc}(x)` for x >= 0 (inf: 0) from
    the Chebyshev interpolant of :data:`ERFCX_COEF` (Clenshaw's recurrence, unrolled: no
    loop or call, so that a loop over lanes runs in SIMD registers)."""
    xc = min(x, 1e300)
    inv = 1.0 / (xc + _ERFCX_C)                # one division for both
    t = (xc - _ERFCX_C) * inv
    t2 = 2 * t
    b1 = 0.0
    b2 = 0.0
    for m in range(_ERFCX_N - 1, 0, -1):      # c - b2 is off the chain of fused steps
        b1, b2 = _fma(t2, b1, ERFCX_COEF[m] - b2), b1
    out: float = (t * b1 - b2 + ERFCX_COEF[0]) * inv
    return out


@_leaf
def _erfc_lanes(L: np.ndarray, src: int, dst: int) -> None:
    r""":math:`\operatorname{erfc}(x) = e^{-x^2}\operatorname{erfcx}(x)` of lane field ``src``
    (x >= 0, inf or NaN) into ``dst``; the exponential into :attr:`Lane.o_e`."""
    xs, e, out = src * LANES, Lane.o_e * LANES, dst * LANES
    for ln in range(LANES):              # two loops: each vectorises on its own
        x = L[xs + ln]
        L[e + ln] = _exp(-x * x)
    for ln in range(LANES):
        L[out + ln] = L[e + ln] * _erfcx(L[xs + ln])


@_leaf
def _chi2_sf_lanes(L: np.ndarray, src: int, dst: int, df: int) -> None:
    """P(χ²_df > x) of lane field ``src`` (x >= 0, inf or NaN) into ``dst`` for an integer
    1 <= ``df`` <= :data:`CLOSED_FORM_MAX_DF`, in closed form (Abramowitz & Stegun 26.4.4-5):
    for even df the Poisson sum :math:`e^{-x/2}\\sum_{j<df/2}(x/2)^j/j!`, for odd df
    :math:`\\operatorname{erfc}(\\sqrt{x/2}) + e^{-x/2}\\sqrt{2x/\\pi}\\sum_{j<(df-1)/2}
    x^j/(3\\cdot 5\\cdots(2j+1))`, both terms of the odd case sharing :math:`e^{-x/2}`; equal to
    ``scipy.special.chdtrc`` within 1e-13 relative."""
    xs, out, r, e, term = (src * LANES, dst * LANES, Lane.o_x * LANES, Lane.o_e * LANES,
                           Lane.o_term * LANES)
    if df % 2 == 0:
        for ln in range(LANES):
            L[e + ln] = _exp(-L[xs + ln] / 2)
        for ln in range(LANES):
            L[term + ln] = L[e + ln]
            L[out + ln] = L[e + ln]
        for j in range(1, df // 2):
            c = 0.5 / j                               # a product, not a division, per lane
            for ln in range(LANES):
                L[term + ln] *= L[xs + ln] * c
                L[out + ln] += L[term + ln]
    else:
        for ln in range(LANES):
            L[r + ln] = math.sqrt(L[xs + ln] / 2)
        _erfc_lanes(L, Lane.o_x, dst)             # leaves exp(-x/2) in Lane.o_e
        if df > 1:                                # sqrt(2x/pi) = sqrt(x/2) * 2/sqrt(pi)
            for ln in range(LANES):
                L[term + ln] = L[e + ln] * L[r + ln] * _TWO_OVER_SQRT_PI
                L[out + ln] += L[term + ln]
        for j in range(1, (df - 1) // 2):
            c = 1.0 / (2 * j + 1)
            for ln in range(LANES):
                L[term + ln] *= L[xs + ln] * c
                L[out + ln] += L[term + ln]
    for ln in range(LANES):                      # the tail at infinity (0 * inf above)
        L[out + ln] = 0.0 if L[xs + ln] == math.inf else L[out + ln]


# ----------------------------------------------------------------------------- block passes
@_jit
def _load(y: np.ndarray, v: np.ndarray, k: int, a0: int, nb: int, Y: np.ndarray,
          V: np.ndarray, L: np.ndarray) -> bool:
    """Copy analyses ``a0 .. a0+nb-1`` of the flattened ``(n, k)`` arrays ``y``, ``v`` into the
    lanes (the lanes past ``nb`` repeat the last analysis), check the values, centre the
    effects and fill the lane statistics. A lane with an invalid value is flagged
    (:attr:`Lane.bad`) and fitted on harmless stand-in data (effects 0, variances 1).
    Returns whether any lane is invalid."""
    bad, c, vmin, m, vmax = (Lane.bad * LANES, Lane.centre * LANES, Lane.vmin * LANES,
                             Lane.m * LANES, Lane.vmax * LANES)
    sv, sv2, ss = Lane.sum_v * LANES, Lane.sum_v2 * LANES, Lane.ss * LANES
    last = a0 + nb - 1
    for i in range(k):
        for ln in range(LANES):
            src = min(a0 + ln, last) * k + i
            Y[i * LANES + ln] = y[src]
            V[i * LANES + ln] = v[src]
    for ln in range(LANES):
        L[bad + ln] = 0.0
        L[c + ln] = 0.0
        L[vmin + ln] = math.inf
        L[m + ln] = 0.0
        L[vmax + ln] = 0.0
        L[sv + ln] = 0.0
        L[sv2 + ln] = 0.0
        L[ss + ln] = 0.0
    for i in range(k):
        for ln in range(LANES):
            yi = Y[i * LANES + ln]
            vi = V[i * LANES + ln]
            ok = math.isfinite(yi) & math.isfinite(vi) & (vi > 0)
            L[bad + ln] = L[bad + ln] if ok else 1.0
            L[c + ln] += yi
            smaller = vi < L[vmin + ln]
            L[m + ln] = float(i) if smaller else L[m + ln]
            L[vmin + ln] = vi if smaller else L[vmin + ln]
            L[vmax + ln] = max(L[vmax + ln], vi)
            L[sv + ln] += vi
            L[sv2 + ln] += vi * vi
    any_bad = False
    for ln in range(LANES):
        any_bad |= L[bad + ln] > 0
    if any_bad:                  # stand-in data (rare: the call then raises an InputError)
        for ln in range(LANES):
            if L[bad + ln] > 0:
                for i in range(k):
                    Y[i * LANES + ln] = 0.0
                    V[i * LANES + ln] = 1.0
                L[c + ln] = 0.0
                L[vmin + ln] = 1.0
                L[m + ln] = 0.0
                L[vmax + ln] = 1.0
                L[sv + ln] = float(k)
                L[sv2 + ln] = float(k)
    for ln in range(LANES):
        L[c + ln] /= k
    for i in range(k):
        for ln in range(LANES):
            d = Y[i * LANES + ln] - L[c + ln]
            Y[i * LANES + ln] = d
            L[ss + ln] += d * d
    return any_bad


@_jit
def _pass1(Y: np.ndarray, V: np.ndarray, W: np.ndarray, L: np.ndarray, k: int) -> None:
    """Weights at :attr:`Lane.t`: ``W``, :math:`s_1, s_2`, :math:`\\sum w y`, the weighted
    mean and the largest weight of every lane."""
    t, s1, s2, swy = Lane.t * LANES, Lane.s1 * LANES, Lane.s2 * LANES, Lane.swy * LANES
    for ln in range(LANES):
        L[s1 + ln] = 0.0
        L[s2 + ln] = 0.0
        L[swy + ln] = 0.0
    for i in range(k):
        for ln in range(LANES):
            w = 1.0 / (V[i * LANES + ln] + L[t + ln])
            W[i * LANES + ln] = w
            L[s1 + ln] += w
            L[s2 + ln] += w * w
            L[swy + ln] += w * Y[i * LANES + ln]
    mu, wm, vmin = Lane.mu * LANES, Lane.wm * LANES, Lane.vmin * LANES
    for ln in range(LANES):
        L[mu + ln] = L[swy + ln] / L[s1 + ln]
        L[wm + ln] = 1.0 / (L[vmin + ln] + L[t + ln])


@_jit
def _pass2(Y: np.ndarray, W: np.ndarray, L: np.ndarray, k: int, full: bool,
           cubic: bool = False) -> None:
    """The projection sums after :func:`_pass1` (see the module docstring): y'Py and y'P²y,
    with ``full`` also tr P and tr P², with ``cubic`` (and ``full``) instead of y'Py the
    sums behind y'P³y (:attr:`Lane.swu`, :attr:`Lane.swu2`; as in :func:`_slot_sums`, which
    the iterations of single lanes use; :attr:`Lane.rss` is then not a result)."""
    s1, s2, mu, wm, m = (Lane.s1 * LANES, Lane.s2 * LANES, Lane.mu * LANES, Lane.wm * LANES,
                         Lane.m * LANES)
    r1, r2, trp, trp2 = Lane.r1 * LANES, Lane.r2 * LANES, Lane.trp * LANES, Lane.trp2 * LANES
    rss, su, su2 = Lane.rss * LANES, Lane.su * LANES, Lane.su2 * LANES
    for ln in range(LANES):
        L[r1 + ln] = 0.0
        L[r2 + ln] = 0.0
        L[trp + ln] = 0.0
        L[trp2 + ln] = 0.0
        L[rss + ln] = 0.0
        L[su + ln] = 0.0
        L[su2 + ln] = 0.0
    swu, swu2 = Lane.swu * LANES, Lane.swu2 * LANES
    if full and cubic:
        for ln in range(LANES):
            L[swu + ln] = 0.0
            L[swu2 + ln] = 0.0
        for i in range(k):
            fi = float(i)
            for ln in range(LANES):
                o = fi != L[m + ln]
                w = W[i * LANES + ln]
                d = L[s1 + ln] - w
                r = Y[i * LANES + ln] - L[mu + ln]
                u = w * r
                L[r1 + ln] += w if o else 0.0
                L[r2 + ln] += w * w if o else 0.0
                L[trp + ln] += w * d if o else 0.0
                L[trp2 + ln] += w * w * (d * d + (L[s2 + ln] - w * w)) if o else 0.0
                L[su + ln] += u if o else 0.0
                L[su2 + ln] += u * u if o else 0.0
                L[swu + ln] += w * u if o else 0.0
                L[swu2 + ln] += w * u * u if o else 0.0
    elif full:
        for i in range(k):
            fi = float(i)
            for ln in range(LANES):
                o = fi != L[m + ln]                  # the studies other than m
                w = W[i * LANES + ln]
                d = L[s1 + ln] - w                   # >= s1/2: no cancellation (w <= wm)
                r = Y[i * LANES + ln] - L[mu + ln]
                u = w * r
                L[r1 + ln] += w if o else 0.0
                L[r2 + ln] += w * w if o else 0.0
                L[trp + ln] += w * d if o else 0.0
                L[trp2 + ln] += w * w * (d * d + (L[s2 + ln] - w * w)) if o else 0.0
                L[rss + ln] += u * r if o else 0.0
                L[su + ln] += u if o else 0.0
                L[su2 + ln] += u * u if o else 0.0
    else:
        for i in range(k):
            fi = float(i)
            for ln in range(LANES):
                o = fi != L[m + ln]
                w = W[i * LANES + ln]
                r = Y[i * LANES + ln] - L[mu + ln]
                u = w * r
                L[rss + ln] += u * r if o else 0.0
                L[su + ln] += u if o else 0.0
                L[su2 + ln] += u * u if o else 0.0
    ypy2 = Lane.ypy2 * LANES
    for ln in range(LANES):
        w_m = L[wm + ln]
        um = -L[su + ln]
        L[rss + ln] += um * um / w_m
        L[ypy2 + ln] = L[su2 + ln] + um * um
    if full:
        for ln in range(LANES):
            w_m = L[wm + ln]
            sw = L[s1 + ln]
            o1 = L[r1 + ln]
            L[trp + ln] = (L[trp + ln] + w_m * o1) / sw
            L[trp2 + ln] = (L[trp2 + ln] + w_m * w_m * (o1 * o1 + L[r2 + ln])) / (sw * sw)


@_jit
def _log_terms(V: np.ndarray, L: np.ndarray, k: int) -> None:
    """:math:`\\sum_i \\log(v_i + t)` at :attr:`Lane.t` into :attr:`Lane.logv`, as logs of
    running products (see the module docstring)."""
    t, vmin, vmax, logv, prod = (Lane.t * LANES, Lane.vmin * LANES, Lane.vmax * LANES,
                                 Lane.logv * LANES, Lane.prod * LANES)
    extreme = False
    for ln in range(LANES):
        extreme |= (L[vmin + ln] + L[t + ln] < 1e-15) | (L[vmax + ln] + L[t + ln] > 1e15)
        L[logv + ln] = 0.0
        L[prod + ln] = 1.0
    if extreme:
        for i in range(k):
            for ln in range(LANES):
                L[logv + ln] += _log(V[i * LANES + ln] + L[t + ln])
        return
    for i in range(k):
        for ln in range(LANES):
            L[prod + ln] *= V[i * LANES + ln] + L[t + ln]
        if i % 8 == 7:
            _flush(L, Lane.logv, Lane.prod, False)
    _flush(L, Lane.logv, Lane.prod, True)


@_leaf
def _flush(L: np.ndarray, logs: int, prods: int, last: bool) -> None:
    """Move running products (lane field ``prods``) into sums of their logs (``logs``): all of
    them (``last``) or those that have left [1e-150, 1e150] (rarely any)."""
    logv, prod = logs * LANES, prods * LANES
    if not last:
        out = False
        for ln in range(LANES):
            out |= not (1e-150 < L[prod + ln] < 1e150)
        if not out:
            return
    for ln in range(LANES):
        p = L[prod + ln]
        move = last | (not (1e-150 < p < 1e150))
        lg = _log(p)
        L[logv + ln] += lg if move else 0.0
        L[prod + ln] = 1.0 if move else p


@_leaf
def _copy(L: np.ndarray, into: int, source: int) -> None:
    """Lane field ``into`` = lane field ``source``."""
    dst, src = into * LANES, source * LANES
    for ln in range(LANES):
        L[dst + ln] = L[src + ln]


@_leaf
def _fill(L: np.ndarray, into: int, value: float) -> None:
    """Lane field ``into`` = ``value``."""
    dst = into * LANES
    for ln in range(LANES):
        L[dst + ln] = value


@_leaf
def _logliks(L: np.ndarray, k: int, method: int, logv: int, s1: int, rss: int,
             into: int) -> None:
    """The ML or REML log-likelihood of every lane from the lane fields ``logv`` (the sum of
    log(v + t)), ``s1`` and ``rss`` (y'Py) into lane field ``into``."""
    lv, sw, q, out = logv * LANES, s1 * LANES, rss * LANES, into * LANES
    if method == Method.ML:
        for ln in range(LANES):
            L[out + ln] = ml_loglik(float(k), L[lv + ln], L[q + ln])
        return
    log_k = math.log(k)
    for ln in range(LANES):
        L[out + ln] = reml_loglik(k - 1.0, log_k, L[lv + ln] + _log(L[sw + ln]), L[q + ln])


# ----------------------------------------------------------------------------- slots
class Slot(IntEnum):
    """Per-slot quantities of :func:`_newton_slots`: row ``f`` of the slot array holds field
    ``f`` of each of the :data:`SLOTS` slots."""

    lane = 0       # the lane a slot iterates for (-1: idle), its tau², step count
    t = 1
    its = 2
    s1 = 3         # the sums of one lane (as _pass1 and _pass2, and y'P³y)
    s2 = 4
    swy = 5
    mu = 6
    wm = 7
    r1 = 8
    r2 = 9
    trp = 10
    trp2 = 11
    rss = 12
    su = 13
    su2 = 14
    swu = 15
    swu2 = 16
    phase = 17     # the bracketing search: phase (0: at the lower end, 1: growing the
    lo = 18        # upper end, 2: Illinois steps), bracket, values at its ends, the end that
    hi = 19        # moved last, the previous iterate, steps taken while growing
    flo = 20
    fhi = 21
    last = 22
    cur = 23
    grow = 24


#: Iterations run side by side (independent chains that the CPU overlaps).
SLOTS = 4
N_SLOT_FIELDS = len(Slot)


@_jit
def _slot_sums(Y: np.ndarray, V: np.ndarray, Ws: np.ndarray, S: np.ndarray, L: np.ndarray,
               k: int, full: bool) -> None:
    """The sums of :func:`_pass1` and :func:`_pass2` (with ``full`` also those of y'P³y) for
    the lane of every slot at its :attr:`Slot.t`, the slots interleaved study by study
    (without ``full`` only those of y'Py and y'P²y)."""
    for f in range(Slot.s1, Slot.swu2 + 1):
        for g in range(SLOTS):
            S[f * SLOTS + g] = 0.0
    for i in range(k):
        for g in range(SLOTS):
            ln = int(S[Slot.lane * SLOTS + g])
            w = 1.0 / (V[i * LANES + ln] + S[Slot.t * SLOTS + g])
            Ws[i * SLOTS + g] = w
            S[Slot.s1 * SLOTS + g] += w
            S[Slot.s2 * SLOTS + g] += w * w
            S[Slot.swy * SLOTS + g] += w * Y[i * LANES + ln]
    for g in range(SLOTS):
        ln = int(S[Slot.lane * SLOTS + g])
        S[Slot.mu * SLOTS + g] = S[Slot.swy * SLOTS + g] / S[Slot.s1 * SLOTS + g]
        S[Slot.wm * SLOTS + g] = 1.0 / (L[Lane.vmin * LANES + ln] + S[Slot.t * SLOTS + g])
    for j in range(k - 1):                  # the studies other than m
        for g in range(SLOTS):
            ln = int(S[Slot.lane * SLOTS + g])
            m = int(L[Lane.m * LANES + ln])
            i = j + (j >= m)
            w = Ws[i * SLOTS + g]
            r = Y[i * LANES + ln] - S[Slot.mu * SLOTS + g]
            u = w * r
            S[Slot.rss * SLOTS + g] += u * r
            S[Slot.su * SLOTS + g] += u
            S[Slot.su2 * SLOTS + g] += u * u
            if full:
                d = S[Slot.s1 * SLOTS + g] - w
                S[Slot.r1 * SLOTS + g] += w
                S[Slot.r2 * SLOTS + g] += w * w
                S[Slot.trp * SLOTS + g] += w * d
                S[Slot.trp2 * SLOTS + g] += w * w * (d * d + (S[Slot.s2 * SLOTS + g] - w * w))
                S[Slot.swu * SLOTS + g] += w * u
                S[Slot.swu2 * SLOTS + g] += w * u * u


@_jit
def _slot_step(S: np.ndarray, g: int, method: int) -> tuple[float, float]:
    """The ML or REML estimating equation of slot ``g`` (positive below the root) and the step
    from there, from the sums of :func:`_slot_sums`: a Newton step where the equation
    decreases (the likelihood is concave there), a Fisher-scoring step elsewhere."""
    s1 = S[Slot.s1 * SLOTS + g]
    wm = S[Slot.wm * SLOTS + g]
    r1 = S[Slot.r1 * SLOTS + g]
    um = -S[Slot.su * SLOTS + g]
    trp = (S[Slot.trp * SLOTS + g] + wm * r1) / s1
    trp2 = (S[Slot.trp2 * SLOTS + g] + wm * wm * (r1 * r1 + S[Slot.r2 * SLOTS + g])) / (s1 * s1)
    return _score_step(method, s1, S[Slot.s2 * SLOTS + g], wm, r1, um,
                       S[Slot.swu * SLOTS + g], S[Slot.swu2 * SLOTS + g],
                       S[Slot.su2 * SLOTS + g] + um * um, trp, trp2)


@_leaf
def _score_step(method: int, s1: float, s2: float, wm: float, r1: float, um: float,
                swu: float, swu2: float, ypy2: float, trp: float, trp2: float
                ) -> tuple[float, float]:
    """The ML or REML estimating equation and the step from there (see :func:`_slot_step`)
    from the sums of one lane at one tau²: :math:`s_1, s_2`, the largest weight ``wm``,
    :math:`\\sum_{i \\ne m} w_i` (``r1``), :math:`u_m` (``um``), :math:`\\sum_{i \\ne m}
    w_i u_i` and :math:`w_i u_i^2` (``swu``, ``swu2``), y'P²y, tr P and tr P²."""
    ubar = (wm * um + swu) / s1
    dm = (um * r1 - swu) / s1
    ypy3 = max(swu2 - 2 * ubar * swu + ubar * ubar * r1, 0.0) + wm * dm * dm
    if method == Method.ML:
        f = ml_equation(ypy2, s1)
        info = s2
    else:
        f = reml_equation(ypy2, trp)
        info = trp2
    slope = equation_slope(info, ypy3)
    return f, (newton_step(f, slope) if slope < 0 else fisher_step(f, info))


@_jit
def _take(S: np.ndarray, L: np.ndarray, g: int, queue: np.ndarray, nxt: int,
          n_queue: int) -> None:
    """Slot ``g`` takes lane ``queue[nxt]`` (from its :attr:`Lane.tau2`), or goes idle."""
    if nxt < n_queue:
        ln = queue[nxt]
        S[Slot.lane * SLOTS + g] = ln
        S[Slot.t * SLOTS + g] = L[Lane.tau2 * LANES + ln]
        S[Slot.its * SLOTS + g] = 0.0
    else:
        S[Slot.lane * SLOTS + g] = 0.0
        S[Slot.t * SLOTS + g] = 0.0
        S[Slot.its * SLOTS + g] = -1.0


@_jit
def _take_newton(S: np.ndarray, L: np.ndarray, g: int, queue: np.ndarray, nxt: int,
                 n_queue: int) -> None:
    """:func:`_take` for :func:`_newton_slots`: the slot goes on from the lane's
    :attr:`Lane.its` steps."""
    _take(S, L, g, queue, nxt, n_queue)
    if nxt < n_queue:
        S[Slot.its * SLOTS + g] = L[Lane.its * LANES + queue[nxt]]


#: Newton steps run in SIMD lanes (all lanes of a block together) while more than this many
#: lanes are still iterating; the last ones finish in slots (:func:`_newton_slots`).
LANE_ROUNDS_ABOVE = 6


@_jit
def _newton_lanes(Y: np.ndarray, V: np.ndarray, W: np.ndarray, Ws: np.ndarray, S: np.ndarray,
                  L: np.ndarray, queue: np.ndarray, n_queue: int, k: int, method: int,
                  tol: float, max_iter: int) -> None:
    """The ML/REML iterations of :func:`_newton_slots` for the lanes ``queue[:n_queue]`` from
    :attr:`Lane.tau2`, the same steps with the same sums (so the same iterates, to the bit),
    but taken by every lane of the block at once in SIMD registers (:func:`_pass1`,
    :func:`_pass2` with ``cubic``, :func:`_score_step`) while more than
    :data:`LANE_ROUNDS_ABOVE` lanes are iterating and no lane can reach ``max_iter``; the
    lanes left then continue in slots from where they are."""
    t, its, act, stp = Lane.t * LANES, Lane.its * LANES, Lane.active * LANES, Lane.step * LANES
    tau2, conv, score0 = Lane.tau2 * LANES, Lane.conv * LANES, Lane.score0 * LANES
    bnd, halve = Lane.bnd * LANES, Lane.halve * LANES
    s1, s2, wm, r1, su = (Lane.s1 * LANES, Lane.s2 * LANES, Lane.wm * LANES, Lane.r1 * LANES,
                          Lane.su * LANES)
    swu, swu2, ypy2 = Lane.swu * LANES, Lane.swu2 * LANES, Lane.ypy2 * LANES
    trp, trp2 = Lane.trp * LANES, Lane.trp2 * LANES
    _copy(L, Lane.t, Lane.tau2)
    _fill(L, Lane.active, 0.0)
    for q in range(n_queue):
        L[act + queue[q]] = 1.0
        L[its + queue[q]] = 0.0
    n_active = n_queue
    rounds = 0
    while n_active > LANE_ROUNDS_ABOVE and rounds < max_iter - 1:
        rounds += 1
        _pass1(Y, V, W, L, k)
        _pass2(Y, W, L, k, True, True)
        n_halve = 0
        for ln in range(LANES):
            step = _score_step(method, L[s1 + ln], L[s2 + ln], L[wm + ln], L[r1 + ln],
                               -L[su + ln], L[swu + ln], L[swu2 + ln], L[ypy2 + ln],
                               L[trp + ln], L[trp2 + ln])[1]
            x = L[t + ln]
            below = x + step < 0
            at0 = below & (L[score0 + ln] <= 0)
            h = below & (not at0) & (L[act + ln] > 0)
            L[stp + ln] = -x if at0 else step
            L[bnd + ln] = 1.0 if at0 else 0.0
            L[halve + ln] = 1.0 if h else 0.0
            n_halve += h
        if n_halve:                               # halving steps that would go below 0 (rare)
            for ln in range(LANES):
                if L[halve + ln] > 0:
                    step = L[stp + ln]
                    for _ in range(60):
                        if L[t + ln] + step >= 0:
                            break
                        step /= 2
                    L[stp + ln] = step
        n_active = 0
        for ln in range(LANES):
            x = L[t + ln]
            a = L[act + ln] > 0
            x_new = max(x + L[stp + ln], 0.0)
            n_its = L[its + ln] + 1.0
            done = a & ((L[bnd + ln] > 0) | step_converged(x, x_new, tol, 1.0))
            L[tau2 + ln] = x_new if done else L[tau2 + ln]
            L[conv + ln] = 1.0 if done else L[conv + ln]
            L[its + ln] = n_its if a else L[its + ln]
            still = a & (not done)
            L[t + ln] = x_new if still else x
            L[act + ln] = 1.0 if still else 0.0
            n_active += still
    n_left = 0
    for ln in range(LANES):
        if L[act + ln] > 0:
            L[tau2 + ln] = L[t + ln]
            queue[n_left] = ln
            n_left += 1
    if n_left:
        _newton_slots(Y, V, Ws, S, L, queue, n_left, k, method, tol, max_iter)


@_jit
def _newton_slots(Y: np.ndarray, V: np.ndarray, Ws: np.ndarray, S: np.ndarray, L: np.ndarray,
                  queue: np.ndarray, n_queue: int, k: int, method: int, tol: float,
                  max_iter: int) -> None:
    """ML/REML for the lanes ``queue[:n_queue]`` from :attr:`Lane.tau2` after
    :attr:`Lane.its` steps, :data:`SLOTS` at a
    time (each slot iterates for one lane and takes the next lane of the queue when done):
    steps of :func:`_slot_step` (at the boundary 0 when the equation is <= 0 there, else
    halving steps that would go below it), then the bracketing search from 0 for the lanes
    that have not settled after ``max_iter`` steps. Sets :attr:`Lane.tau2`,
    :attr:`Lane.its` and :attr:`Lane.conv`; ``queue`` is reused for those lanes."""
    nxt = 0
    n_late = 0
    for g in range(SLOTS):
        _take_newton(S, L, g, queue, nxt, n_queue)
        nxt += 1
    busy = min(SLOTS, n_queue)
    while busy > 0:
        _slot_sums(Y, V, Ws, S, L, k, True)
        for g in range(SLOTS):
            its = S[Slot.its * SLOTS + g]
            if its < 0:
                continue
            ln = int(S[Slot.lane * SLOTS + g])
            t = S[Slot.t * SLOTS + g]
            step = _slot_step(S, g, method)[1]
            boundary = False
            if t + step < 0:
                if L[Lane.score0 * LANES + ln] <= 0:
                    boundary = True
                    step = -t
                else:
                    for _ in range(60):
                        if t + step >= 0:
                            break
                        step /= 2
            t_new = max(t + step, 0.0)
            its += 1.0
            if boundary or step_converged(t, t_new, tol, 1.0):
                L[Lane.tau2 * LANES + ln] = t_new
                L[Lane.conv * LANES + ln] = 1.0
                L[Lane.its * LANES + ln] = its
            elif its >= max_iter:               # not settled: searched below
                queue[n_late] = ln              # (slots read the queue ahead of n_late)
                n_late += 1
            else:
                S[Slot.t * SLOTS + g] = t_new
                S[Slot.its * SLOTS + g] = its
                continue
            busy -= nxt >= n_queue
            _take_newton(S, L, g, queue, nxt, n_queue)
            nxt += 1
    if n_late:                                  # the safeguarded search (rare)
        for q in range(n_late):
            L[Lane.start * LANES + queue[q]] = 0.0
        _bracket_slots(Y, V, Ws, S, L, queue, n_late, k, method, tol, max_iter)
        for q in range(n_late):
            ln = queue[q]
            L[Lane.tau2 * LANES + ln] = L[Lane.b_root * LANES + ln]
            L[Lane.conv * LANES + ln] = L[Lane.b_conv * LANES + ln]
            L[Lane.its * LANES + ln] = max_iter + L[Lane.b_its * LANES + ln]


@_jit
def _bracket_slots(Y: np.ndarray, V: np.ndarray, Ws: np.ndarray, S: np.ndarray,
                   L: np.ndarray, queue: np.ndarray, n_queue: int, k: int, method: int,
                   tol: float, max_iter: int) -> None:
    """The safeguarded root search (Illinois regula falsi) of the reference engine's
    :func:`~metaverdict.models.random_effects.solve_decreasing` for the lanes
    ``queue[:n_queue]``, each from its :attr:`Lane.start`, :data:`SLOTS` lanes side by side
    (see :func:`_newton_slots`): the equation at the lower end (the root where it is <= 0
    there), an upper end grown until the equation is negative, then Illinois steps. The
    equation is Paule-Mandel's y'Py = k - 1 or the ML/REML one (:func:`_slot_step`). Sets
    :attr:`Lane.b_root`, :attr:`Lane.b_its`, :attr:`Lane.b_conv` and :attr:`Lane.b_moved`."""
    n_iter = max(max_iter, 200)
    pm = method == Method.PM
    nxt = 0
    for g in range(SLOTS):
        _take_bracket(S, L, g, queue, nxt, n_queue)
        nxt += 1
    busy = min(SLOTS, n_queue)
    while busy > 0:
        _slot_sums(Y, V, Ws, S, L, k, not pm)
        for g in range(SLOTS):
            if S[Slot.its * SLOTS + g] < 0:
                continue
            ln = int(S[Slot.lane * SLOTS + g])
            if pm:
                um = -S[Slot.su * SLOTS + g]
                rss = S[Slot.rss * SLOTS + g] + um * um / S[Slot.wm * SLOTS + g]
                ypy2 = S[Slot.su2 * SLOTS + g] + um * um
                f = q_equation(rss, k - 1.0)
                step = newton_step(f, -ypy2) if ypy2 > 0 else f
            else:
                f, step = _slot_step(S, g, method)
            phase = S[Slot.phase * SLOTS + g]
            point = S[Slot.t * SLOTS + g]
            done = False
            ok = True
            its = 0.0
            if phase == 0:                          # at the lower end
                done = not f > 0
                if not done:
                    hi = point + (step if math.isfinite(step) and step > 0 else 1.0) + 1e-8
                    S[Slot.lo * SLOTS + g] = point
                    S[Slot.flo * SLOTS + g] = f
                    S[Slot.hi * SLOTS + g] = hi
                    S[Slot.grow * SLOTS + g] = 0.0
                    S[Slot.phase * SLOTS + g] = 1.0
                    S[Slot.t * SLOTS + g] = hi
                L[Lane.b_moved * LANES + ln] = 0.0 if done else 1.0
            elif phase == 1:                        # growing the upper end
                grow = S[Slot.grow * SLOTS + g]
                if f > 0 and grow < 200:
                    S[Slot.lo * SLOTS + g] = point
                    S[Slot.flo * SLOTS + g] = f
                    S[Slot.hi * SLOTS + g] = point * 4
                    S[Slot.grow * SLOTS + g] = grow + 1
                    S[Slot.t * SLOTS + g] = point * 4
                else:
                    S[Slot.fhi * SLOTS + g] = f
                    S[Slot.cur * SLOTS + g] = S[Slot.lo * SLOTS + g]
                    S[Slot.last * SLOTS + g] = 0.0
                    S[Slot.its * SLOTS + g] = 0.0
                    S[Slot.phase * SLOTS + g] = 2.0
                    S[Slot.t * SLOTS + g] = _illinois_point(S, g)
            else:                                   # an Illinois step to ``point``
                lo, hi = S[Slot.lo * SLOTS + g], S[Slot.hi * SLOTS + g]
                flo, fhi = S[Slot.flo * SLOTS + g], S[Slot.fhi * SLOTS + g]
                last = S[Slot.last * SLOTS + g]
                if f > 0:           # Illinois: halve the value kept at an end that stays twice
                    if last == 1:
                        fhi /= 2
                    lo, flo, last = point, f, 1.0
                else:
                    if last == -1:
                        flo /= 2
                    hi, fhi, last = point, f, -1.0
                its = S[Slot.its * SLOTS + g] + 1.0
                if (step_converged(S[Slot.cur * SLOTS + g], point, tol, 1.0) or f == 0
                        or hi - lo <= tol * (1 + lo)):
                    done = True
                elif its >= n_iter:
                    done, ok = True, False
                else:
                    S[Slot.lo * SLOTS + g], S[Slot.hi * SLOTS + g] = lo, hi
                    S[Slot.flo * SLOTS + g], S[Slot.fhi * SLOTS + g] = flo, fhi
                    S[Slot.last * SLOTS + g] = last
                    S[Slot.cur * SLOTS + g] = point
                    S[Slot.its * SLOTS + g] = its
                    S[Slot.t * SLOTS + g] = _illinois_point(S, g)
            if done:
                L[Lane.b_root * LANES + ln] = point
                L[Lane.b_conv * LANES + ln] = 1.0 if ok else 0.0
                L[Lane.b_its * LANES + ln] = its
                busy -= nxt >= n_queue
                _take_bracket(S, L, g, queue, nxt, n_queue)
                nxt += 1


@_jit
def _take_bracket(S: np.ndarray, L: np.ndarray, g: int, queue: np.ndarray, nxt: int,
                  n_queue: int) -> None:
    """:func:`_take` for :func:`_bracket_slots`: the slot starts at the lane's
    :attr:`Lane.start`, in phase 0."""
    _take(S, L, g, queue, nxt, n_queue)
    if nxt < n_queue:
        S[Slot.t * SLOTS + g] = L[Lane.start * LANES + queue[nxt]]
    S[Slot.phase * SLOTS + g] = 0.0


@_jit
def _illinois_point(S: np.ndarray, g: int) -> float:
    """The next point of slot ``g``'s Illinois step: regula falsi inside the bracket, the
    midpoint where that fails."""
    lo, hi = S[Slot.lo * SLOTS + g], S[Slot.hi * SLOTS + g]
    flo, fhi = S[Slot.flo * SLOTS + g], S[Slot.fhi * SLOTS + g]
    t = regula_falsi(lo, hi, flo, fhi)
    return t if (lo < t < hi) and fhi != flo else (lo + hi) / 2


# ----------------------------------------------------------------------------- the grid
#: The bound on the logs of the polynomials of :func:`_grid` and their coefficients.
_POLY_LOG_BOUND = 650.0
#: The largest k for which the grid takes the polynomials: building them costs O(k²), so
#: beyond about 32 studies the study-by-study grid is faster (measured: REML fits of k = 20,
#: 30 faster with the polynomials, k = 40, 60, 100 slower).
_POLY_MAX_K = 32
_POLYS = 3          # P, N_1 and N_2 (:func:`_grid_polynomials`)


@_jit
def _grid(Y: np.ndarray, V: np.ndarray, L: np.ndarray, G: np.ndarray, k: int, method: int,
          grid: np.ndarray) -> None:
    r"""The log-likelihood at every grid point ``top * grid[j]`` of every lane:
    :attr:`Lane.best` and :attr:`Lane.best_j` become the first point that beats the best
    value so far by more than 1e-10 relative (if any).

    Where the products below stay far inside float64's range and k is small enough that it
    pays (:func:`_polynomial_grid_fits`),
    the sums come from polynomials in :math:`t` (:func:`_grid_polynomials`, scratch ``G``):
    with :math:`P(t) = \prod_i (v_i + t)`, :math:`N_m(t) = \sum_i d_i^m \prod_{l\ne i}(v_l+t)`
    (``d`` the centred effects), :math:`\sum w = P'/P`, :math:`\sum w d^m = N_m/P`, so that
    :math:`\sum\log(v_i+t) = \log P`, the REML term :math:`\sum\log(v_i+t) + \log\sum w =
    \log P'` and :math:`y'Py = \sum w d^2 - (\sum w d)^2/\sum w = (N_2 - N_1 (N_1/P'))/P`
    (no product of two of them, which could leave float64's range): per grid point 4k fused
    multiply-adds (Horner's scheme, all coefficients of P, P' and N_2 positive) and two
    divisions instead of k. Elsewhere the sums are taken study by
    study, the weighted residual sum of squares in one pass as
    :math:`\sum w d^2 - (\sum w d)^2/\sum w`, the sum of log(v + t) as in :func:`_log_terms`.
    The two ways agree to rounding (about 1e-15 relative, against the 1e-10 of the test)."""
    top, best, best_j = Lane.top * LANES, Lane.best * LANES, Lane.best_j * LANES
    s1, swd, swd2 = Lane.g_s1 * LANES, Lane.g_swd * LANES, Lane.g_swd2 * LANES
    prod, logs = Lane.g_prod * LANES, Lane.g_logs * LANES
    g = grid.shape[0]
    log_k = math.log(k)
    ml = method == Method.ML
    poly = _polynomial_grid_fits(L, k, grid[g - 1])
    if poly:
        _grid_polynomials(Y, V, G, k)
    else:
        extreme = False
        vmin, vmax = Lane.vmin * LANES, Lane.vmax * LANES
        for ln in range(LANES):
            extreme |= ((L[vmin + ln] + L[top + ln] * grid[0] < 1e-15)
                        | (L[vmax + ln] + L[top + ln] * grid[g - 1] > 1e15))
    for j in range(g):
        f = grid[j]
        if poly:
            _horner(L, G, k, f)
            # a screen: with a logarithm within _LOG_ROUGH_ERR, an upper bound of every
            # lane's log-likelihood; if none beats the best so far, the point changes
            # nothing (the usual case), else the exact values decide, as without the screen
            maybe = False
            for ln in range(LANES):
                p, dp, n1 = L[s1 + ln], L[swd + ln], L[swd2 + ln]
                rss = _fma(-n1, n1 / dp, L[prod + ln]) / p     # no product of two values
                L[logs + ln] = rss
                lr = _log_rough(p if ml else dp)
                up = (ml_loglik(float(k), lr, rss) if ml
                      else reml_loglik(k - 1.0, log_k, lr, rss))
                up += 0.5 * _LOG_ROUGH_ERR + 1e-14 * (1.0 + abs(up))
                b = L[best + ln]
                maybe |= up > b + 1e-10 * (1 + abs(b))
            if not maybe:
                continue
            for ln in range(LANES):
                rss = L[logs + ln]
                lg = _log(L[s1 + ln] if ml else L[swd + ln])
                L[logs + ln] = (ml_loglik(float(k), lg, rss) if ml
                                else reml_loglik(k - 1.0, log_k, lg, rss))
        else:
            for field in (Lane.g_s1, Lane.g_swd, Lane.g_swd2, Lane.g_logs):
                _fill(L, field, 0.0)
            _fill(L, Lane.g_prod, 1.0)
            for i in range(k):
                for ln in range(LANES):
                    d = Y[i * LANES + ln]
                    vt = V[i * LANES + ln] + L[top + ln] * f
                    w = 1.0 / vt
                    L[s1 + ln] += w
                    L[swd + ln] += w * d
                    L[swd2 + ln] += w * d * d
                    L[prod + ln] *= vt
                if extreme:
                    for ln in range(LANES):
                        L[logs + ln] += _log(L[prod + ln])
                        L[prod + ln] = 1.0
                elif i % 8 == 7:
                    _flush(L, Lane.g_logs, Lane.g_prod, False)
            for ln in range(LANES):
                sw = L[s1 + ln]
                rss = L[swd2 + ln] - L[swd + ln] * L[swd + ln] / sw
                lg = L[logs + ln] + _log(L[prod + ln] * (1.0 if ml else sw))
                L[logs + ln] = (ml_loglik(float(k), lg, rss) if ml
                                else reml_loglik(k - 1.0, log_k, lg, rss))
        for ln in range(LANES):
            llj = L[logs + ln]
            b = L[best + ln]
            better = llj > b + 1e-10 * (1 + abs(b))
            L[best + ln] = llj if better else b
            L[best_j + ln] = float(j) if better else L[best_j + ln]


@_jit
def _horner(L: np.ndarray, G: np.ndarray, k: int, f: float) -> None:
    """:math:`P`, :math:`P'`, :math:`N_1` and :math:`N_2` of :func:`_grid_polynomials` at
    :math:`t` = ``top * f`` of every lane, into the lane fields ``g_s1``, ``g_swd``,
    ``g_swd2`` and ``g_prod``: Horner's scheme with fused multiply-adds, two degrees per pass
    over the lanes (the values stay in registers between the two)."""
    top, p_, dp_ = Lane.top * LANES, Lane.g_s1 * LANES, Lane.g_swd * LANES
    n1_, n2_ = Lane.g_swd2 * LANES, Lane.g_prod * LANES
    for ln in range(LANES):
        L[p_ + ln] = 1.0                     # P is monic
        L[dp_ + ln] = 0.0
        L[n1_ + ln] = 0.0
        L[n2_ + ln] = 0.0
    d = k - 1
    while d >= 0:
        two = d >= 1
        lo = d - 1 if two else d
        # the rows of degrees lo .. d as one slice: its indices are known to be >= 0 and
        # its rows to lie at fixed offsets (no wraparound test, no run-time aliasing test,
        # either of which would keep the loop out of the SIMD registers)
        c = G[_POLYS * lo * LANES:_POLYS * (d + 1) * LANES]
        hi = _POLYS * (d - lo) * LANES
        for ln in range(LANES):
            t = L[top + ln] * f
            p, dp, n1, n2 = L[p_ + ln], L[dp_ + ln], L[n1_ + ln], L[n2_ + ln]
            dp = _fma(dp, t, p)
            p = _fma(p, t, c[hi + ln])
            n1 = _fma(n1, t, c[hi + LANES + ln])
            n2 = _fma(n2, t, c[hi + 2 * LANES + ln])
            if two:
                dp = _fma(dp, t, p)
                p = _fma(p, t, c[ln])
                n1 = _fma(n1, t, c[LANES + ln])
                n2 = _fma(n2, t, c[2 * LANES + ln])
            L[p_ + ln], L[dp_ + ln], L[n1_ + ln], L[n2_ + ln] = p, dp, n1, n2
        d = lo - 1


@_jit
def _polynomial_grid_fits(L: np.ndarray, k: int, top_fraction: float) -> bool:
    r"""Whether every lane's grid can take the polynomials of :func:`_grid`: k is at most
    :data:`_POLY_MAX_K`, and their coefficients (at most :math:`2^k \max(1, v_{max})^k`) and
    values on the grid (:math:`P \in [\prod v_i, (v_{max} + t)^k]`, :math:`P' = P\sum w` with
    :math:`k/(v_{max} + t) \le \sum w \le k/v_{min}`, :math:`|N_m| \le P \sum|d_i|^m w_i`)
    within :math:`e^{\pm 650}`, far from float64's overflow (709.8) and subnormals (-708.4)."""
    vmin, vmax, top, ss = Lane.vmin * LANES, Lane.vmax * LANES, Lane.top * LANES, Lane.ss * LANES
    ok = k <= _POLY_MAX_K
    for ln in range(LANES):
        big = _log(2.0 * (L[vmax + ln] + L[top + ln] * top_fraction) + 1.0)
        small = _log(L[vmin + ln])
        hi = k * big + max(_log(L[ss + ln]), 0.0) + _log(float(k)) - min(small, 0.0)
        lo = k * small - big
        ok &= (hi < _POLY_LOG_BOUND) & (lo > -_POLY_LOG_BOUND)
    return ok


@_jit
def _grid_polynomials(Y: np.ndarray, V: np.ndarray, G: np.ndarray, k: int) -> None:
    r"""The coefficients of :math:`P(t) = \prod_i (v_i + t)`, :math:`N_1(t) = \sum_i d_i
    \prod_{l \ne i}(v_l + t)` and :math:`N_2` (with :math:`d_i^2`) of every lane: row
    ``3 j + m`` of ``G`` holds the coefficients of degree ``j`` of polynomial ``m`` (P, N_1,
    N_2), built study by study as :math:`N \leftarrow N\,(t + v_i) + d_i^m P`, then
    :math:`P \leftarrow P\,(t + v_i)`."""
    row = _POLYS * LANES
    for j in range((k + 1) * row):
        G[j] = 0.0
    for ln in range(LANES):
        G[ln] = 1.0
    for i in range(k):
        for j in range(i + 1, -1, -1):
            # degrees j - 1 and j as one slice (see _horner); degree 0 has no lower one
            lower = j >= 1
            c = G[(j - 1 if lower else 0) * row:(j + 1) * row]
            at = row if lower else 0
            for ln in range(LANES):
                vi = V[i * LANES + ln]
                d = Y[i * LANES + ln]
                pj = c[at + ln]
                lp = c[ln] if lower else 0.0
                l1 = c[LANES + ln] if lower else 0.0
                l2 = c[2 * LANES + ln] if lower else 0.0
                c[at + LANES + ln] = _fma(vi, c[at + LANES + ln], _fma(d, pj, l1))
                c[at + 2 * LANES + ln] = _fma(vi, c[at + 2 * LANES + ln], _fma(d * d, pj, l2))
                c[at + ln] = _fma(vi, pj, lp)


# ----------------------------------------------------------------------------- one block
@_jit
def _final_sums(Y: np.ndarray, V: np.ndarray, W: np.ndarray, L: np.ndarray, k: int,
                full: bool, rss: bool, logs: bool) -> None:
    """The sums at :attr:`Lane.tau2`: the weights, with ``rss`` (or ``full``) y'Py, with
    ``full`` the traces, with ``logs`` the sum of log(v + tau²)."""
    _copy(L, Lane.t, Lane.tau2)
    _pass1(Y, V, W, L, k)
    if full or rss:
        _pass2(Y, W, L, k, full)
    if logs:
        _log_terms(V, L, k)


@_jit
def _restart(Y: np.ndarray, V: np.ndarray, W: np.ndarray, Ws: np.ndarray, S: np.ndarray,
             L: np.ndarray, queue: np.ndarray, n_queue: int, k: int, method: int, tol: float,
             max_iter: int) -> None:
    """The search from :attr:`Lane.start` for the lanes ``queue[:n_queue]`` (after the grid
    showed a higher likelihood): its root replaces :attr:`Lane.tau2` where the equation is
    positive at the start and the likelihood is higher at the root than at
    :attr:`Lane.ll_hat` (the iterations are then added to :attr:`Lane.its`)."""
    _bracket_slots(Y, V, Ws, S, L, queue, n_queue, k, method, tol, max_iter)
    _copy(L, Lane.keep, Lane.tau2)
    for q in range(n_queue):
        ln = queue[q]
        L[Lane.tau2 * LANES + ln] = L[Lane.b_root * LANES + ln]
    _final_sums(Y, V, W, L, k, False, True, True)
    _logliks(L, k, method, Lane.logv, Lane.s1, Lane.rss, Lane.ll2)
    for q in range(n_queue):
        ln = queue[q]
        use = (L[Lane.b_moved * LANES + ln] > 0) & (L[Lane.ll2 * LANES + ln]
                                                     > L[Lane.ll_hat * LANES + ln])
        L[Lane.tau2 * LANES + ln] = (L[Lane.b_root * LANES + ln] if use
                                     else L[Lane.keep * LANES + ln])
        L[Lane.its * LANES + ln] += L[Lane.b_its * LANES + ln] if use else 0.0


@_jit
def _likelihood_checks(Y: np.ndarray, V: np.ndarray, W: np.ndarray, Ws: np.ndarray,
                       S: np.ndarray, queue: np.ndarray, L: np.ndarray, G: np.ndarray,
                       k: int, method: int,
                       tol: float, max_iter: int, global_mode: int, grid: np.ndarray) -> None:
    """After :func:`_final_sums` with logs: metafor's comparison with tau² = 0, then (unless
    ``GlobalSearch.OFF``) the likelihood grid for a higher maximum and a restart below the
    best grid point, as the reference engine's ``_other_maxima``; with
    ``GlobalSearch.SCREENED`` only for lanes whose root is 0 or whose equation is <= 0 at 0.
    Leaves the sums of :func:`_final_sums` at the final estimate (without the logs)."""
    tau2, check, score0 = Lane.tau2 * LANES, Lane.check * LANES, Lane.score0 * LANES
    n_check = 0
    for ln in range(LANES):
        c = ((global_mode != GlobalSearch.SCREENED) | (L[tau2 + ln] == 0)
             | (L[score0 + ln] <= 0))
        L[check + ln] = 1.0 if c else 0.0
        n_check += c
    if n_check == 0:
        return
    _logliks(L, k, method, Lane.logv, Lane.s1, Lane.rss, Lane.ll_hat)
    _logliks(L, k, method, Lane.fe_logv, Lane.fe_s1, Lane.q, Lane.ll0)
    ll_hat, ll0 = Lane.ll_hat * LANES, Lane.ll0 * LANES
    zeroed = 0
    for ln in range(LANES):
        t = L[tau2 + ln]
        ll = L[ll_hat + ln]
        zero = (L[check + ln] > 0) & (t > 0) & (L[ll0 + ln] - ll > 1e-12 * (1 + abs(ll)))
        L[tau2 + ln] = 0.0 if zero else t
        L[ll_hat + ln] = L[ll0 + ln] if zero else ll
        zeroed += zero
    changed = zeroed > 0
    if global_mode != GlobalSearch.OFF:
        top, best_j, ss, vmax = (Lane.top * LANES, Lane.best_j * LANES, Lane.ss * LANES,
                                 Lane.vmax * LANES)
        for ln in range(LANES):
            L[top + ln] = likelihood_grid_top(L[ss + ln], k - 1.0, L[vmax + ln])
        _copy(L, Lane.best, Lane.ll_hat)
        _fill(L, Lane.best_j, -1.0)
        _grid(Y, V, L, G, k, method, grid)
        n_redo = 0
        for ln in range(LANES):
            j = L[best_j + ln]
            if L[check + ln] > 0 and j >= 0:     # restart below the best grid point (rare)
                L[Lane.start * LANES + ln] = L[top + ln] * grid[int(j) - 1] if j >= 1 else 0.0
                queue[n_redo] = ln
                n_redo += 1
        if n_redo:
            _restart(Y, V, W, Ws, S, L, queue, n_redo, k, method, tol, max_iter)
            changed = True
    if changed:
        _final_sums(Y, V, W, L, k, method == Method.REML, True, False)


@_jit
def _fit_block(y: np.ndarray, v: np.ndarray, k: int, a0: int, nb: int, Y: np.ndarray,
               V: np.ndarray, W: np.ndarray, Ws: np.ndarray, S: np.ndarray,
               queue: np.ndarray, L: np.ndarray, G: np.ndarray, method: int, knha: bool,
               tol: float, max_iter: int, global_mode: int, grid: np.ndarray) -> int:
    """Load analyses ``a0 .. a0+nb-1`` (see :func:`_load`) and estimate tau², its standard
    error, convergence and iterations of every lane, leaving the sums at the estimate
    (:func:`_final_sums`) and the common-effect Q and tr P for :func:`_write`. Returns the
    number of invalid analyses."""
    n_bad = 0
    if _load(y, v, k, a0, nb, Y, V, L):
        for ln in range(nb):
            n_bad += L[Lane.bad * LANES + ln] > 0
    _fill(L, Lane.tau2, 0.0)
    _fill(L, Lane.tau2_se, math.nan)
    _fill(L, Lane.its, 0.0)
    _fill(L, Lane.conv, 1.0)
    # the common-effect projection (weights 1/v): Q, tr P, tr P^2, and the equation at 0
    likelihood = (method == Method.ML or method == Method.REML) and k > 1
    _final_sums(Y, V, W, L, k, k > 1, True, likelihood)
    _copy(L, Lane.fe_s1, Lane.s1)
    _copy(L, Lane.fe_trp, Lane.trp)
    _copy(L, Lane.fe_trp2, Lane.trp2)
    _copy(L, Lane.q, Lane.rss)
    _copy(L, Lane.fe_logv, Lane.logv)
    if method == Method.EE or k == 1:
        return n_bad
    df = k - 1.0
    tau2, tau2_se = Lane.tau2 * LANES, Lane.tau2_se * LANES
    fe_trp, fe_trp2, q = Lane.fe_trp * LANES, Lane.fe_trp2 * LANES, Lane.q * LANES
    sv, sv2, ss = Lane.sum_v * LANES, Lane.sum_v2 * LANES, Lane.ss * LANES
    its = Lane.its * LANES
    if method == Method.DL:
        for ln in range(LANES):
            t2 = max(dl_tau2(L[q + ln], df, L[fe_trp + ln]), 0.0)
            L[tau2 + ln] = t2
            L[tau2_se + ln] = dl_tau2_se(t2, df, L[fe_trp + ln], L[fe_trp2 + ln])
    elif method == Method.HE:
        for ln in range(LANES):
            trpv, sspv = intercept_unit_traces(L[sv + ln], L[sv2 + ln], float(k))
            t2 = max(he_tau2(L[ss + ln], trpv, df), 0.0)
            L[tau2 + ln] = t2
            L[tau2_se + ln] = he_tau2_se(t2, df, trpv, sspv)
    elif method == Method.PM:
        for ln in range(nb):
            queue[ln] = ln
        _fill(L, Lane.start, 0.0)
        _bracket_slots(Y, V, Ws, S, L, queue, nb, k, method, tol, max_iter)
        _copy(L, Lane.tau2, Lane.b_root)
        _copy(L, Lane.conv, Lane.b_conv)
        _copy(L, Lane.its, Lane.b_its)
    else:                                               # ML, REML from the HE estimate
        score0, ypy2, s1 = Lane.score0 * LANES, Lane.ypy2 * LANES, Lane.s1 * LANES
        ml = method == Method.ML
        for ln in range(LANES):
            trpv, _ = intercept_unit_traces(L[sv + ln], L[sv2 + ln], float(k))
            L[tau2 + ln] = max(he_tau2(L[ss + ln], trpv, df), 0.0)
            L[score0 + ln] = (ml_equation(L[ypy2 + ln], L[s1 + ln]) if ml
                              else reml_equation(L[ypy2 + ln], L[fe_trp + ln]))
        n_queue = 0
        for ln in range(LANES):
            if L[tau2 + ln] == 0 and L[score0 + ln] <= 0:   # the first step ends at 0
                L[its + ln] = 1.0
            elif ln < nb:
                queue[n_queue] = ln
                n_queue += 1
        _newton_lanes(Y, V, W, Ws, S, L, queue, n_queue, k, method, tol, max_iter)
    if method == Method.DL or method == Method.HE:
        _final_sums(Y, V, W, L, k, False, knha, False)
        return n_bad
    _final_sums(Y, V, W, L, k, method == Method.REML, knha or likelihood, likelihood)
    if likelihood:
        _likelihood_checks(Y, V, W, Ws, S, queue, L, G, k, method, tol, max_iter, global_mode,
                           grid)
    for ln in range(LANES):                             # standard errors at the estimate
        if method == Method.REML:
            L[tau2_se + ln] = reml_tau2_se(L[Lane.trp2 * LANES + ln])
        elif method == Method.ML:
            L[tau2_se + ln] = ml_tau2_se(L[Lane.s2 * LANES + ln])
        else:
            L[tau2_se + ln] = pm_tau2_se(float(k), df, L[Lane.s1 * LANES + ln])
    return n_bad


@_jit
def _write(L: np.ndarray, k: int, method: int, knha: bool, crit: float, a0: int, nb: int,
           out: np.ndarray, finite_mask: int, finite: np.ndarray) -> None:
    """Pool at :attr:`Lane.tau2` from the sums there and write every output row of lanes
    ``0 .. nb-1`` into columns ``a0 ..`` of ``out`` (:class:`~metaverdict.batch._schema.Row`
    rows; each row from its lane field, :data:`ROW_FIELDS`), and into ``finite`` whether
    the statistic is a number and the rows in the bit mask ``finite_mask`` are finite."""
    df = k - 1.0
    common = method == Method.EE
    tau2, o_se, o_stat, o_s2w, o_i2, o_h2 = (Lane.tau2 * LANES, Lane.o_se * LANES,
                                             Lane.o_stat * LANES, Lane.o_s2w * LANES,
                                             Lane.o_i2 * LANES, Lane.o_h2 * LANES)
    o_beta, o_q, o_x = Lane.o_beta * LANES, Lane.o_q * LANES, Lane.o_x * LANES
    o_lo, o_hi, o_plo, o_phi = (Lane.o_lo * LANES, Lane.o_hi * LANES, Lane.o_plo * LANES,
                                Lane.o_phi * LANES)
    for ln in range(LANES):
        t2 = L[tau2 + ln]
        beta = L[Lane.centre * LANES + ln] + L[Lane.mu * LANES + ln]
        rss = L[Lane.rss * LANES + ln]
        s2w = (0.0 if rss <= _EPS else knha_s2w(rss, df) if k > 1 else math.nan) if knha else 1.0
        se = math.sqrt(s2w / L[Lane.s1 * LANES + ln])
        stat = (beta / se if se > 0 else math.inf if beta > 0 else -math.inf if beta < 0
                else 0.0)
        qa = max(L[Lane.q * LANES + ln], 0.0) if k > 1 else 0.0
        if common:
            i2, h2 = common_effect_i2_h2(qa, df)
            i2 = max(i2, 0.0) if qa > 0 else 0.0
        else:
            i2, h2 = i2_h2(t2, typical_variance(df, L[Lane.fe_trp * LANES + ln]))
        lo, hi = confidence_bounds(beta, se, crit)
        pi_lo, pi_hi = prediction_bounds(beta, se, t2, crit)
        L[o_beta + ln] = beta
        L[o_se + ln] = se
        L[o_stat + ln] = stat
        L[o_s2w + ln] = s2w
        L[o_i2 + ln] = i2 if k > 1 else 0.0
        L[o_h2 + ln] = h2 if k > 1 else 1.0
        L[o_q + ln] = qa
        L[o_x + ln] = abs(stat) * _SQRT_HALF
        L[o_lo + ln] = lo
        L[o_hi + ln] = hi
        L[o_plo + ln] = pi_lo
        L[o_phi + ln] = pi_hi
    if knha:
        _fill(L, Lane.o_p, math.nan)                  # the caller adds the t p-values
    else:
        _erfc_lanes(L, Lane.o_x, Lane.o_p)
    if k == 1:
        _fill(L, Lane.o_qp, 1.0)
    elif k - 1 <= CLOSED_FORM_MAX_DF:
        _chi2_sf_lanes(L, Lane.o_q, Lane.o_qp, k - 1)
    else:
        _fill(L, Lane.o_qp, math.nan)                 # the caller adds SciPy's
    ok = Lane.o_ok * LANES
    for ln in range(LANES):
        L[ok + ln] = 0.0 if math.isnan(L[o_stat + ln]) else 1.0
    n_rows = ROW_FIELDS.shape[0] - (0 if knha else 1)          # z tests have no s2w row
    # one copy of the loops per row (literal_unroll): the lane fields' offsets are constants,
    # so the compiler needs no run-time test of whether they overlap
    for row_field in literal_unroll(_ROW_OFFSETS):
        r, src = row_field
        if r < n_rows:
            if (finite_mask >> r) & 1:
                for ln in range(LANES):
                    L[ok + ln] = L[ok + ln] if abs(L[src + ln]) < math.inf else 0.0
            for ln in range(nb):
                out[r, a0 + ln] = L[src + ln]
    for ln in range(nb):
        finite[a0 + ln] = L[ok + ln] > 0


_IN = numba.types.Array(numba.float64, 1, "C", readonly=True)
#: The signature of the entry point (read-only inputs: writable arrays convert to these
#: types, and the output may be any strided view), so that one compiled version serves
#: every call.
SIGNATURE = numba.int64(_IN, _IN, numba.int64, numba.int64, numba.int64, numba.int64,
                        numba.boolean, numba.float64, numba.float64, numba.int64, numba.int64,
                        numba.types.Array(numba.float64, 1, "A", readonly=True),
                        numba.types.Array(numba.float64, 2, "A"),
                        numba.types.Array(numba.int64, 1, "A", readonly=True),
                        numba.types.Array(numba.boolean, 1, "A"))


def _make_fit_range(salt: int) -> Callable[..., int]:
    """The compiled entry point; ``salt`` (see :func:`_source_salt`) is part of its cache key."""

    @numba.njit(SIGNATURE, cache=True, nogil=True, error_model="numpy")
    def fit_range(y: np.ndarray, v: np.ndarray, k: int, a0: int, a1: int, method: int,
                  knha: bool, crit: float, tol: float, max_iter: int, global_mode: int,
                  grid: np.ndarray, out: np.ndarray, finite_rows: np.ndarray,
                  finite: np.ndarray) -> int:
        """Fit analyses ``a0 .. a1-1`` of the ``(n, k)`` arrays ``y``, ``v`` (flattened) into
        columns of ``out`` and ``finite`` (see :func:`_write`); returns the number of
        analyses with an invalid value (not fitted)."""
        Y = np.empty(k * LANES)
        V = np.empty(k * LANES)
        W = np.empty(k * LANES)
        Ws = np.empty(k * SLOTS)
        S = np.empty(N_SLOT_FIELDS * SLOTS)
        queue = np.empty(LANES, dtype=np.int64)
        L = np.empty(N_LANE_FIELDS * LANES)
        G = np.empty(_POLYS * (k + 1) * LANES)
        n_bad = 0 * salt
        finite_mask = 0
        for r in range(finite_rows.shape[0]):
            finite_mask |= 1 << finite_rows[r]
        for b0 in range(a0, a1, LANES):
            nb = min(LANES, a1 - b0)
            n_bad += _fit_block(y, v, k, b0, nb, Y, V, W, Ws, S, queue, L, G, method, knha,
                                tol, max_iter, global_mode, grid)
            _write(L, k, method, knha, crit, b0, nb, out, finite_mask, finite)
        return n_bad

    out: Callable[..., int] = fit_range
    return out


fit_range = _make_fit_range(_source_salt())


@numba.njit(cache=True, nogil=True)
def run_starts_range(values: np.ndarray, a0: int, a1: int, out: np.ndarray) -> int:
    """The positions ``i`` in ``[a0, a1)``, ``i >= 1``, where ``values[i] != values[i-1]``,
    written to ``out[a0:]``; returns how many, or -1 if the values decrease there."""
    count = 0
    for i in range(max(a0, 1), a1):
        x = values[i]
        p = values[i - 1]
        if x < p:
            return -1
        if x != p:
            out[a0 + count] = i
            count += 1
    return count


@numba.njit(cache=True, nogil=True)
def equal_runs(values: np.ndarray, k: int, a0: int, a1: int, first: np.ndarray) -> int:
    """1 if runs ``a0 .. a1-1`` of ``k`` values each are constant and each greater than the
    run before it (sorted keys of analyses with k studies each), else 0; the value of each
    run into ``first``."""
    bad = False
    for a in range(a0, a1):
        base = values[a * k]
        first[a] = base
        if a > 0:
            bad |= not base > values[a * k - 1]
        differ = 0
        run = values[a * k:(a + 1) * k]
        for i in range(1, k):                   # no early exit: the loop runs in SIMD
            differ += run[i] != base
        bad |= differ > 0
    return 0 if bad else 1

"""Within-participant covariance structures of an MMRM, with exact first and second derivatives.

Every structure maps an unconstrained parameter vector ``theta`` to an ``m x m`` covariance
matrix ``Sigma`` over the visits (or, for the spatial structure, over the distinct coordinates),
using the parameterisation of R's ``mmrm`` 0.3.16, so that ``theta``, its covariance and the
Kenward-Roger terms (which depend on the parameterisation) are comparable with it:

============  ======================================================================  =========
name          theta                                                                   n_theta
============  ======================================================================  =========
``us``        log d_1..d_m, then l21, l31, l32, ... (row-wise strictly lower part of   m(m+1)/2
              a unit lower-triangular L~); Sigma = L L', L = diag(d) L~
``toep``      log sigma, then f(rho_1..rho_{m-1}) (rho_k = correlation at lag k)      m
``toeph``     log sigma_1..sigma_m, then f(rho_1..rho_{m-1})                          2m - 1
``ar1``       log sigma, f(rho); correlation rho^|i - j| (visit index)                2
``ar1h``      log sigma_1..sigma_m, f(rho)                                            m + 1
``cs``        log sigma, logit((rho + a) / (1 + a)), a = 1 / (m - 1)                  2
``csh``       log sigma_1..sigma_m, logit((rho + a) / (1 + a))                        m + 1
``sp_exp``    log sigma^2, logit(rho); correlation rho^d_ij, d = coordinate distance  2
============  ======================================================================  =========

with f(rho) = rho / sqrt(1 - rho^2), i.e. rho = x / sqrt(1 + x^2).

Apart from ``us`` every structure is Sigma = S R S with S = diag(standard deviations) and R a
correlation matrix; the derivatives follow from dSigma_ab / d log s_c = Sigma_ab([a=c] + [b=c])
and dSigma_ab / d phi = s_a s_b dR_ab / d phi. For ``us``, dSigma = dL L' + L dL'.

References
----------
Sabanes Bove D, et al. (2023). mmrm: Mixed models for repeated measures. R package 0.3.16,
vignette "Covariance structures". https://openpharma.github.io/mmrm/
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from metaverdict.errors import InputError

Array = NDArray[np.float64]


class Structure(StrEnum):
    """The covariance structures (their ``mmrm`` names)."""

    US = "us"
    TOEP = "toep"
    TOEPH = "toeph"
    AR1 = "ar1"
    AR1H = "ar1h"
    CS = "cs"
    CSH = "csh"
    SP_EXP = "sp_exp"


NAMES = {
    Structure.US: "unstructured",
    Structure.TOEP: "Toeplitz",
    Structure.TOEPH: "heterogeneous Toeplitz",
    Structure.AR1: "autoregressive order one",
    Structure.AR1H: "heterogeneous autoregressive order one",
    Structure.CS: "compound symmetry",
    Structure.CSH: "heterogeneous compound symmetry",
    Structure.SP_EXP: "spatial exponential",
}


@dataclass(frozen=True)
class CovarianceValue:
    """Sigma(theta) and its derivatives.

    Attributes
    ----------
    sigma : ndarray, shape (m, m)
    d1 : ndarray, shape (n_theta, m, m)
        dSigma / dtheta_h.
    d2 : ndarray, shape (n_theta, n_theta, m, m)
        d^2 Sigma / dtheta_h dtheta_j.
    """

    sigma: Array
    d1: Array
    d2: Array


def _unit_rho(x: Array) -> tuple[Array, Array, Array]:
    """rho = x / sqrt(1 + x^2) and its first two derivatives."""
    s = 1.0 + x * x
    return x / np.sqrt(s), s ** -1.5, -3.0 * x * s ** -2.5


def _expit(x: Array) -> tuple[Array, Array, Array]:
    """p = 1 / (1 + exp(-x)) and its first two derivatives."""
    p = 1.0 / (1.0 + np.exp(-x))
    d = p * (1.0 - p)
    return p, d, d * (1.0 - 2.0 * p)


def _power(rho: float, dist: Array, d1: float, d2: float) -> tuple[Array, Array, Array]:
    """R = rho^dist entry-wise (rho^0 = 1) and dR, d^2R from drho = d1 and d^2rho = d2."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(dist == 0, 1.0, rho ** dist)
        r1 = np.where(dist == 0, 0.0, dist * rho ** (dist - 1.0))
        r2 = np.where((dist == 0) | (dist == 1), 0.0, dist * (dist - 1.0) * rho ** (dist - 2.0))
    return r, r1 * d1, r2 * d1 * d1 + r1 * d2


@dataclass(frozen=True)
class CovarianceModel:
    """A covariance structure over ``m`` visits (or coordinates).

    Parameters
    ----------
    structure : Structure or str
    m : int
        Number of visits (``sp_exp``: distinct coordinates).
    coordinates : array, optional
        ``sp_exp`` only: the coordinate of each of the ``m`` positions.
    """

    structure: Structure
    m: int
    coordinates: tuple[float, ...] | None = None

    @property
    def n_theta(self) -> int:
        m = self.m
        return {
            Structure.US: m * (m + 1) // 2, Structure.TOEP: m, Structure.TOEPH: 2 * m - 1,
            Structure.AR1: 2, Structure.AR1H: m + 1, Structure.CS: 2, Structure.CSH: m + 1,
            Structure.SP_EXP: 2,
        }[self.structure]

    @property
    def heterogeneous(self) -> bool:
        return self.structure in (Structure.TOEPH, Structure.AR1H, Structure.CSH)

    def parameterization(self) -> str:
        """The meaning of ``theta`` in words (as the module table)."""
        return {
            Structure.US: "log(d_1..d_m), then the row-wise strictly lower entries of the unit "
                          "lower-triangular L~; Sigma = D L~ L~' D, D = diag(d)",
            Structure.SP_EXP: "log(sigma^2), logit(rho); correlation rho^distance",
        }.get(self.structure, "log standard deviation(s), then correlation parameter(s) "
                              "(see metaverdict.trials.covariance)")

    # -- evaluation ---------------------------------------------------------------------------

    def __call__(self, theta: Array) -> CovarianceValue:
        """Sigma, dSigma/dtheta and d^2Sigma/dtheta^2 at ``theta``."""
        theta = np.asarray(theta, dtype=float)
        if theta.shape != (self.n_theta,):
            raise InputError(f"theta: expected {self.n_theta} parameters for "
                             f"{self.structure.value} with {self.m} visits, got {theta.shape}")
        if self.structure is Structure.US:
            return self._unstructured(theta)
        n_sd = self.m if self.heterogeneous else 1
        corr, c1, c2 = self._correlation(theta[n_sd:])
        return _scaled(theta[:n_sd], corr, c1, c2, log_variance=self.structure is Structure.SP_EXP)

    def sigma(self, theta: Array) -> Array:
        """Sigma(theta) only."""
        return self(theta).sigma

    def _correlation(self, phi: Array) -> tuple[Array, Array, Array]:
        """R(phi) (m x m), dR (n_phi, m, m), d^2R (n_phi, n_phi, m, m)."""
        m, s = self.m, self.structure
        lag = np.abs(np.subtract.outer(np.arange(m), np.arange(m))).astype(float)
        n = phi.size
        r = np.eye(m)
        r1 = np.zeros((n, m, m))
        r2 = np.zeros((n, n, m, m))
        if s in (Structure.TOEP, Structure.TOEPH):
            rho, d1, d2 = _unit_rho(phi)
            for k in range(1, m):
                band = lag == k
                r[band] = rho[k - 1]
                r1[k - 1][band] = d1[k - 1]
                r2[k - 1, k - 1][band] = d2[k - 1]
        elif s in (Structure.AR1, Structure.AR1H, Structure.SP_EXP):
            if s is Structure.SP_EXP:
                coords = np.asarray(self.coordinates, dtype=float)
                dist = np.abs(np.subtract.outer(coords, coords))
                p, d1, d2 = _expit(phi[0])
            else:
                dist = lag
                p, d1, d2 = _unit_rho(phi[0])
            r, r1[0], r2[0, 0] = _power(float(p), dist, float(d1), float(d2))
        else:  # cs, csh
            a = 1.0 / (m - 1) if m > 1 else 0.0
            p, d1, d2 = _expit(phi[0])
            off = lag > 0
            r[off] = (1.0 + a) * p - a
            r1[0][off] = (1.0 + a) * d1
            r2[0, 0][off] = (1.0 + a) * d2
        return r, r1, r2

    def _unstructured(self, theta: Array) -> CovarianceValue:
        m = self.m
        d = np.exp(theta[:m])
        rows, cols = _lower_indices(m)
        lt = np.eye(m)
        lt[rows, cols] = theta[m:]
        low = d[:, None] * lt
        n = self.n_theta
        dl = np.zeros((n, m, m))
        d2l = np.zeros((n, n, m, m))
        for a in range(m):                       # log d_a scales row a of L
            dl[a, a, :] = low[a, :]
            d2l[a, a, a, :] = low[a, :]
        for q, (a, b) in enumerate(zip(rows, cols)):
            h = m + q                            # l_ab enters L as d_a * l_ab
            dl[h, a, b] = d[a]
            d2l[a, h, a, b] = d2l[h, a, a, b] = d[a]
        sigma = low @ low.T
        d1 = dl @ low.T
        d1 = d1 + np.swapaxes(d1, -1, -2)
        cross = np.einsum("hab,jcb->hjac", dl, dl)
        second = d2l @ low.T
        d2 = second + np.swapaxes(second, -1, -2) + cross + np.swapaxes(cross, 0, 1)
        return CovarianceValue(sigma, d1, d2)

    # -- starting values ----------------------------------------------------------------------

    def start(self, sigma0: Array) -> Array:
        """A parameter vector whose Sigma approximates ``sigma0`` (an m x m covariance).

        Uses the Cholesky factor for ``us`` (diagonal when ``sigma0`` is not positive definite)
        and the standard deviations with zero correlation (``sp_exp``: rho = 0.5) otherwise.
        """
        sd = np.sqrt(np.maximum(np.diag(sigma0), np.finfo(float).tiny))
        s = self.structure
        if s is Structure.US:
            try:
                low = np.linalg.cholesky(sigma0)
            except np.linalg.LinAlgError:
                low = np.diag(sd)
            d = np.diag(low)
            rows, cols = _lower_indices(self.m)
            return np.concatenate([np.log(d), (low / d[:, None])[rows, cols]])
        if s is Structure.SP_EXP:
            return np.array([np.log(np.mean(sd ** 2)), 0.0])
        logsd = np.log(sd) if self.heterogeneous else np.array([np.log(np.sqrt(np.mean(sd ** 2)))])
        n_phi = self.n_theta - logsd.size
        phi = np.zeros(n_phi)
        if s in (Structure.CS, Structure.CSH) and self.m > 1:   # rho = 0
            phi[:] = np.log(1.0 / (self.m - 1))                   # logit(a / (1 + a)) = log a
        return np.concatenate([logsd, phi])


def _lower_indices(m: int) -> tuple[list[int], list[int]]:
    """Row-wise strictly lower entries (2,1), (3,1), (3,2), ... as 0-based index lists."""
    rows = [a for a in range(m) for _ in range(a)]
    cols = [b for a in range(m) for b in range(a)]
    return rows, cols


def _scaled(log_s: Array, corr: Array, c1: Array, c2: Array,
            log_variance: bool) -> CovarianceValue:
    """Sigma = S R S from log standard deviations (or one log variance) and R's derivatives."""
    m = corr.shape[0]
    n_sd, n_phi = log_s.size, c1.shape[0]
    scale = 0.5 if log_variance else 1.0
    s = np.broadcast_to(np.exp(scale * log_s), (m,)) if n_sd == 1 else np.exp(log_s)
    outer = np.outer(s, s)
    sigma = outer * corr
    # indicator (n_sd, m, m): how often sd parameter c enters entry (a, b)
    if n_sd == 1:
        ind = np.full((1, m, m), 2.0 * scale)
    else:
        eye = np.eye(m)
        ind = eye[:, :, None] + eye[:, None, :]
    n = n_sd + n_phi
    d1 = np.empty((n, m, m))
    d2 = np.zeros((n, n, m, m))
    d1[:n_sd] = ind * sigma
    d1[n_sd:] = outer * c1
    d2[:n_sd, :n_sd] = ind[:, None] * ind[None, :] * sigma
    mixed = ind[:, None] * (outer * c1)[None, :]
    d2[:n_sd, n_sd:] = mixed
    d2[n_sd:, :n_sd] = np.swapaxes(mixed, 0, 1)
    d2[n_sd:, n_sd:] = outer * c2
    return CovarianceValue(sigma, d1, d2)


def structure_of(name: str | Structure) -> Structure:
    """Parse a structure name (``us``, ``toep``, ...), with a clear error otherwise."""
    try:
        return Structure(str(name).strip().lower())
    except ValueError:
        raise InputError(f"covariance: unknown structure {name!r}; choose one of "
                         f"{', '.join(s.value for s in Structure)}") from None


__all__: list[str] = ["Structure", "NAMES", "CovarianceModel", "CovarianceValue",
                      "structure_of"]

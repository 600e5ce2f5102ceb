"""GPU benchmark: 10^8 REML fits (k = 10) through the array-API path, checked against the CPU.

Simulated data (seeded; every output says so): effects ``y ~ N(0.2, v + 0.05)`` with sampling
variances ``v ~ U(0.01, 0.1)``, generated on the host chunk by chunk. Each chunk is fitted with
``mv.batch.fit_arrays(..., method="REML", backend=<torch|cupy>, device=<cuda>)`` (the single-fit
engine's array kernels on the GPU; transfers included in the time), and the first ``--check``
analyses are refitted with the default CPU kernel to report the largest difference. One line
is printed, for bench/RESULTS.md:

    python bench/gpu.py                                   # torch on cuda, N = 10^8
    python bench/gpu.py --backend cupy
    python bench/gpu.py --backend numpy --n 20000 --chunk 5000 --check 500   # a CPU dry run

A missing library or device is reported in one line (exit status 2), never a traceback.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import time

import numpy as np


def _backend(name: str) -> object | None:
    if name == "numpy":
        return "numpy"
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _device_ok(backend: object, name: str, device: str) -> str | None:
    """None when the device can be used, else why not."""
    if name == "torch":
        import torch
        if device.startswith("cuda") and not torch.cuda.is_available():
            return "torch is installed but no CUDA device is available"
    if name == "cupy":
        try:
            backend.cuda.runtime.getDeviceCount()                 # type: ignore[attr-defined]
        except Exception as exc:                                  # noqa: BLE001 (report, do not crash)
            return f"cupy cannot reach a GPU ({exc})"
    return None


def _chunk(rng: np.random.Generator, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    v = rng.uniform(0.01, 0.1, size=(n, k))
    y = rng.normal(0.2, np.sqrt(v + 0.05))
    return y, v


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=float, default=1e8, help="number of analyses")
    ap.add_argument("--k", type=int, default=10, help="studies per analysis")
    ap.add_argument("--chunk", type=float, default=1e7, help="analyses per host chunk")
    ap.add_argument("--backend", default="torch", choices=("torch", "cupy", "numpy"))
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--check", type=int, default=10_000, help="analyses checked on the CPU")
    ap.add_argument("--seed", type=int, default=20261201)
    args = ap.parse_args(argv)
    n, chunk = int(args.n), int(args.chunk)
    backend = _backend(args.backend)
    if backend is None:
        print(f"gpu benchmark: {args.backend} is not installed; nothing timed")
        return 2
    why = None if args.backend == "numpy" else _device_ok(backend, args.backend, args.device)
    if why:
        print(f"gpu benchmark: {why}; nothing timed")
        return 2
    import metaverdict as mv
    device = None if args.backend == "numpy" else args.device
    rng = np.random.default_rng(args.seed)
    fit_s, done, first = 0.0, 0, None
    while done < n:
        m = min(chunk, n - done)
        y, v = _chunk(rng, m, args.k)
        t0 = time.perf_counter()
        res = mv.batch.fit_arrays(y, v, method="REML", backend=backend, device=device)
        fit_s += time.perf_counter() - t0
        if first is None:
            c = min(args.check, m)
            first = (y[:c], v[:c], res.iloc[:c])
        done += m
    y0, v0, got = first
    cpu = mv.batch.fit_arrays(y0, v0, method="REML")
    d_est = float(np.max(np.abs(got["estimate"].to_numpy() - cpu["estimate"].to_numpy())))
    d_tau = float(np.max(np.abs(got["tau2"].to_numpy() - cpu["tau2"].to_numpy())))
    print(f"simulated data | REML k={args.k} N={n:.3g} on {args.backend}/{device or 'cpu'}: "
          f"{fit_s:.2f} s ({fit_s / n * 1e9:.0f} ns/fit, host transfers included) | max |diff| "
          f"vs CPU kernel on {len(y0)} analyses: estimate {d_est:.1e}, tau2 {d_tau:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

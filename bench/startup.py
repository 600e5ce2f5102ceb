"""Start-up benchmark: ``import metaverdict`` and ``metaverdict --help``.

Runs each in fresh interpreters (median of ``--repeat`` runs) and prints the wall time, plus
the heaviest modules ``python -X importtime`` reports for ``import metaverdict``. Targets
(issue 13): ``import metaverdict`` < 0.5 s, ``metaverdict --help`` < 0.3 s on the 2-core
development machine.

    python bench/startup.py [--repeat 7]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def _wall(cmd: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _heaviest(n: int = 8) -> list[tuple[int, str]]:
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import metaverdict"],
                         check=True, capture_output=True, text=True).stderr
    rows = []
    for line in out.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].rstrip()))
    return sorted(rows, reverse=True)[:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    base = _wall([sys.executable, "-c", "pass"], args.repeat)
    imp = _wall([sys.executable, "-c", "import metaverdict"], args.repeat)
    cli = _wall([sys.executable, "-m", "metaverdict.cli", "--help"], args.repeat)
    print(f"python -c pass           {base * 1000:7.1f} ms (interpreter start)")
    print(f"import metaverdict       {imp * 1000:7.1f} ms (target < 500 ms)")
    print(f"metaverdict --help       {cli * 1000:7.1f} ms (target < 300 ms)")
    print("heaviest imports of 'import metaverdict' (cumulative microseconds):")
    for us, name in _heaviest():
        print(f"  {us:9d}  {name.strip()}")


if __name__ == "__main__":
    main()

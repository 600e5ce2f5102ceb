"""A bounded load test on loopback: the read pages hold at least 200 requests/s with SQLite.

One uvicorn process serves a fresh SQLite store; after one warm-up request per page (the
answers, figures and pages are computed once per store state), 8 client threads with
keep-alive connections cycle through the read pages for at most 3,000 requests or 20
seconds, whichever comes first. Only 127.0.0.1 is contacted. The figure is printed (run
with ``-s``) and written to ``/tmp/metaverdict-load.txt``.
"""
from __future__ import annotations

import http.client
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from web_fixtures import HEEL_QUESTION, live_server, seeded_store

pytestmark = pytest.mark.slow
PAGES = ("/", "/treatments/dry-needling", "/treatments/platelet-rich-plasma-injection",
         "/treatments/corticosteroid-injection", HEEL_QUESTION, "/studies",
         "/studies/cushman2021", "/claims")
THREADS = 8
MAX_REQUESTS = 3000
MAX_SECONDS = 20.0
REQUIRED_RATE = 200.0


def _get(conn: http.client.HTTPConnection, path: str) -> int:
    conn.request("GET", path)
    resp = conn.getresponse()
    resp.read()
    return resp.status


def test_read_pages_hold_200_requests_per_second(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'evidence.sqlite'}"
    seeded_store(url).close()
    with live_server(url) as base:
        host = urlsplit(base)
        assert host.hostname == "127.0.0.1"
        warm = http.client.HTTPConnection(host.hostname, host.port, timeout=120)
        for p in PAGES:
            assert _get(warm, p) == 200, p
        warm.close()
        lock = threading.Lock()
        sent = 0
        statuses: dict[int, int] = {}
        deadline = time.monotonic() + MAX_SECONDS

        def worker(k: int) -> None:
            nonlocal sent
            conn = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
            i = k
            while time.monotonic() < deadline:
                with lock:
                    if sent >= MAX_REQUESTS:
                        break
                    sent += 1
                status = _get(conn, PAGES[i % len(PAGES)])
                i += 1
                with lock:
                    statuses[status] = statuses.get(status, 0) + 1
            conn.close()

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(THREADS)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - t0
    done = sum(statuses.values())
    rate = done / elapsed
    line = (f"read pages: {done} requests in {elapsed:.2f} s = {rate:.0f} requests/s "
            f"({THREADS} loopback clients, SQLite, one uvicorn process; statuses {statuses})")
    print(line)
    Path("/tmp/metaverdict-load.txt").write_text(line + "\n")
    assert statuses.keys() == {200}, statuses
    assert rate >= REQUIRED_RATE, line

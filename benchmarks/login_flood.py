"""Benchmark: a signed-in curator's queue page during a flood of wrong-password sign-ins.

Builds the demo store, starts ``scanner serve`` in its own process (uvicorn), signs a
curator in, then times the queue page (client wall time over real HTTP) twice in the same
run: alone, and while ``--flood`` concurrent wrong-password ``POST /api/session`` requests
(httpx async client) hammer the server. Prints median and p95 of both, their ratio, and the
status codes the flood got (a 500 is a failure). ``--no-throttle`` raises the sign-in
throttle's limit out of reach, to measure Argon2 outside the write lock on its own.
Usage::

    .venv/bin/python benchmarks/login_flood.py [--flood 150] [--requests 40] [--no-throttle]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
args_timeout = 60.0     # seconds a request may take before it counts as a timeout
sys.path.insert(0, str(REPO))

from tests.review_helpers import PASSWORD, build_demo  # noqa: E402


def _stats(times: list[float]) -> tuple[float, float]:
    p95 = statistics.quantiles(times, n=20)[-1] if len(times) >= 2 else times[0]
    return statistics.median(times), p95


async def _time_queue(client: httpx.AsyncClient, n: int | None, stop: asyncio.Event | None,
                      codes: collections.Counter[int | str]) -> list[float]:
    times: list[float] = []
    while (n is not None and len(times) < n) or (stop is not None and not stop.is_set()):
        t0 = time.perf_counter()
        try:
            r = await client.get("/")
            codes[r.status_code] += 1
        except httpx.HTTPError as exc:      # a timeout counts, with the time it took
            codes[type(exc).__name__] += 1
        times.append(time.perf_counter() - t0)
    return times


async def _flood(base: str, n: int, username: str, codes: collections.Counter[int | str]) -> float:
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(base_url=base, timeout=args_timeout, limits=limits) as client:
        async def one(i: int) -> None:
            try:
                r = await client.post("/api/session", json={
                    "username": username, "password": f"wrong password {i}"})
                codes[r.status_code] += 1
            except httpx.HTTPError as exc:
                codes[type(exc).__name__] += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return time.perf_counter() - t0


async def measure(base: str, cookie: str, args: argparse.Namespace) -> None:
    headers = {"Cookie": cookie}
    async with httpx.AsyncClient(base_url=base, timeout=args_timeout, headers=headers) as client:
        page_codes: collections.Counter[int | str] = collections.Counter()
        await _time_queue(client, 5, None, page_codes)                   # warm up
        alone = await _time_queue(client, args.requests, None, page_codes)
        flood_codes: collections.Counter[int | str] = collections.Counter()
        stop = asyncio.Event()
        flood_task = asyncio.create_task(_flood(base, args.flood, args.username, flood_codes))
        flood_task.add_done_callback(lambda _t: stop.set())
        during = await _time_queue(client, None, stop, page_codes)
        flood_s = await flood_task
    m0, p0 = _stats(alone)
    m1, p1 = _stats(during)
    print(f"\nqueue page of a signed-in curator (client wall time, s); flood: {args.flood} "
          f"concurrent wrong passwords for {args.username!r}, throttle "
          f"{'off' if args.no_throttle else 'on'}")
    print(f"{'':<16}{'n':>5}{'median':>10}{'p95':>10}")
    print(f"{'alone':<16}{len(alone):>5}{m0:>10.3f}{p0:>10.3f}")
    print(f"{'during flood':<16}{len(during):>5}{m1:>10.3f}{p1:>10.3f}")
    print(f"ratio during/alone: median {m1 / m0:.1f}x, p95 {p1 / p0:.1f}x")
    print(f"flood took {flood_s:.1f} s; sign-in answers: {dict(flood_codes)}; "
          f"queue page answers: {dict(page_codes)}")
    bad = [c for c in (*flood_codes, *page_codes) if isinstance(c, str) or c >= 500]
    if bad:
        print(f"FAIL: {bad}")
        sys.exit(1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flood", type=int, default=150, help="concurrent wrong passwords")
    ap.add_argument("--requests", type=int, default=40, help="queue pages timed alone")
    ap.add_argument("--username", default="alice", help="account the flood targets")
    ap.add_argument("--no-throttle", action="store_true",
                    help="lift the sign-in throttle (measures verification alone)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        build_demo(directory)
        config = directory / "config.toml"
        if args.no_throttle:
            config.write_text(config.read_text() + "[review]\nlogin_attempts = 1000000\n")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SCANNER_", "NCBI_"))}
        env["SCANNER_EUTILS_URL"] = "http://127.0.0.1:9/"
        proc = subprocess.Popen([sys.executable, "-m", "scanner", "--config", str(config),
                                 "serve", "--port", str(port)], cwd=REPO, env=env)
        base = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(base_url=base, timeout=30) as client:
                deadline = time.monotonic() + 60
                while True:
                    try:
                        page = client.get("/login")
                        break
                    except httpx.HTTPError:
                        if time.monotonic() > deadline:
                            raise
                        time.sleep(0.2)
                token = re.search(r'name="login_token" value="([^"]+)"', page.text)
                assert token
                # Secure cookies: httpx does not send them to http://, so by hand.
                r = client.post("/login", data={"username": "alice", "password": PASSWORD,
                                                "login_token": token.group(1), "next": "/"},
                                headers={"Cookie": "scanner_login="
                                         + page.cookies["scanner_login"]})
                assert r.status_code == 303, r.text
                cookie = f"scanner_session={r.cookies['scanner_session']}"
            asyncio.run(measure(base, cookie, args))
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()

"""End to end in a real browser: Debian's chromium driven by Playwright, against
``scanner serve`` running as its own process over a demo database.

Screenshots of the main pages are saved under ``artifacts/screenshots/``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from scanner.store import drafts as store
from scanner.store.db import open_database
from tests.conftest import IN_CI, REPO
from tests.review_helpers import PASSWORD, build_demo

CHROMIUM = os.environ.get("SCANNER_TEST_CHROMIUM", "/usr/bin/chromium")
SHOTS = REPO / "artifacts" / "screenshots"

pytestmark = pytest.mark.slow


def _browser_available() -> None:
    if not Path(CHROMIUM).is_file():
        reason = f"chromium not found at {CHROMIUM} (scripts/test installs Debian's chromium)"
        if IN_CI:
            pytest.fail(reason + " (required in CI)")
        pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(config: Path) -> Iterator[str]:
    """``scanner serve --config config`` as its own process on a free port, waited for;
    yields the base URL and stops the server after."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCANNER_", "NCBI_"))}
    env["SCANNER_EUTILS_URL"] = "http://127.0.0.1:9/"     # never called by the app
    proc = subprocess.Popen(
        [sys.executable, "-m", "scanner", "--config", str(config), "serve", "--port", str(port)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/login", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail(f"scanner serve did not start: {proc.communicate()[0]}")
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's chromium, headless, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM,
                              args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    _browser_available()
    directory = tmp_path_factory.mktemp("browser")
    url = build_demo(directory)
    with serving(directory / "config.toml") as base:
        yield {"base": base, "db_url": url}


@pytest.fixture(scope="module")
def browser(server: dict[str, Any]) -> Iterator[Any]:
    with chromium() as b:
        yield b


def signed_in(browser: Any, base: str, user: str) -> Any:
    context = browser.new_context(base_url=base, viewport={"width": 1400, "height": 1000},
                                  accept_downloads=True)
    page = context.new_page()
    page.goto("/")
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")
    return page


def pending(db_url: str) -> list[Any]:
    db = open_database(db_url)
    with db.read() as conn:
        rows, _ = store.queue(conn, store.QueueFilter(per_page=500))
    db.dispose()
    return rows


def draft(db_url: str, pmid: str) -> Any:
    db = open_database(db_url)
    with db.read() as conn:
        row = store.get(conn, pmid)
    db.dispose()
    return row


def test_sign_in_edit_save_and_approve(browser: Any, server: dict[str, Any]) -> None:
    page = signed_in(browser, server["base"], "alice")
    page.screenshot(path=str(SHOTS / "queue.png"), full_page=True)
    first = pending(server["db_url"])[0]
    page.get_by_role("link", name=first.title).click()
    page.wait_for_url(f"**/papers/{first.pmid}")
    page.screenshot(path=str(SHOTS / "draft.png"), full_page=True)
    summary = page.get_by_label("Plain-language summary")
    summary.fill("A curator's summary, edited in the browser.")
    page.get_by_role("button", name="Save").click()
    assert page.get_by_text("Saved.").is_visible()
    assert draft(server["db_url"], first.pmid).fields["summary"] == (
        "A curator's summary, edited in the browser.")
    page.get_by_role("button", name="Approve").click()
    page.wait_for_url(f"**/papers/{first.pmid}?saved=approved")
    assert page.get_by_text("Approved", exact=False).first.is_visible()
    page.screenshot(path=str(SHOTS / "approved.png"), full_page=True)
    row = draft(server["db_url"], first.pmid)
    assert row.state == "approved" and row.decided_by == "alice"
    page.context.close()


def test_reject_with_a_reason(browser: Any, server: dict[str, Any]) -> None:
    page = signed_in(browser, server["base"], "bob")
    target = pending(server["db_url"])[-1]
    page.goto(f"/papers/{target.pmid}")
    page.get_by_label("Reason for rejection").fill("Animal model only; out of scope.")
    page.get_by_role("button", name="Reject").click()
    assert page.get_by_text("Rejected by bob: Animal model only; out of scope.").is_visible()
    assert draft(server["db_url"], target.pmid).state == "rejected"
    page.context.close()


def test_a_stale_save_is_refused_with_a_message(browser: Any, server: dict[str, Any]) -> None:
    alice = signed_in(browser, server["base"], "alice")
    bob = signed_in(browser, server["base"], "bob")
    target = pending(server["db_url"])[1]
    for page in (alice, bob):
        page.goto(f"/papers/{target.pmid}")
    alice.get_by_label("Plain-language summary").fill("Alice got there first.")
    alice.get_by_role("button", name="Save").click()
    assert alice.get_by_text("Saved.").is_visible()
    bob.get_by_label("Plain-language summary").fill("Bob's later edit.")
    bob.get_by_role("button", name="Save").click()
    assert bob.get_by_text("this draft changed since you opened it", exact=False).is_visible()
    assert bob.get_by_label("Plain-language summary").input_value() == "Alice got there first."
    assert bob.get_by_text("Bob's later edit.").is_visible()      # shown, not saved
    bob.screenshot(path=str(SHOTS / "stale-save.png"), full_page=True)
    assert draft(server["db_url"], target.pmid).fields["summary"] == "Alice got there first."
    alice.context.close()
    bob.context.close()


class _Attacker(BaseHTTPRequestHandler):
    target = ""

    def do_GET(self) -> None:
        body = (f'<form id="f" method="post" action="{self.target}">'
                '<input name="version" value="1"><input name="summary" value="pwned">'
                '</form><script>document.getElementById("f").submit()</script>').encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_requests_without_the_csrf_token_change_nothing(browser: Any,
                                                        server: dict[str, Any]) -> None:
    page = signed_in(browser, server["base"], "alice")
    target = pending(server["db_url"])[2]
    page.goto(f"/papers/{target.pmid}")
    before = draft(server["db_url"], target.pmid)
    # Same origin, the session cookie sent, but no token: refused.
    status = page.evaluate(
        """async ([url, version]) => (await fetch(url, {method: 'POST',
               body: new URLSearchParams({version: version, summary: 'forged'})})).status""",
        [f"/papers/{target.pmid}/save", str(before.version)])
    assert status == 403
    # A page on another origin that posts a form to the app: refused too.
    _Attacker.target = f"{server['base']}/papers/{target.pmid}/save"
    evil = HTTPServer(("127.0.0.1", 0), _Attacker)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    try:
        attack = page.context.new_page()
        attack.goto(f"http://localhost:{evil.server_port}/")
        attack.wait_for_load_state("networkidle")
        attack.screenshot(path=str(SHOTS / "csrf-refused.png"))
    finally:
        evil.shutdown()
    after = draft(server["db_url"], target.pmid)
    assert (after.version, after.fields) == (before.version, before.fields)
    page.context.close()


def test_export_download_contains_exactly_the_approved_entries(
        browser: Any, server: dict[str, Any]) -> None:
    page = signed_in(browser, server["base"], "alice")
    for row in pending(server["db_url"])[3:5]:
        page.goto(f"/papers/{row.pmid}")
        page.get_by_role("button", name="Approve").click()
        page.wait_for_url(f"**/papers/{row.pmid}?saved=approved")
    db = open_database(server["db_url"])
    with db.read() as conn:
        approved = sorted(r.pmid for r in store.published(conn))
    db.dispose()
    page.goto("/export")
    page.screenshot(path=str(SHOTS / "export.png"))
    with page.expect_download() as info:
        page.get_by_role("link", name="Download json").click()
    path = info.value.path()
    entries = json.loads(Path(path).read_text(encoding="utf-8"))
    assert sorted(e["pmid"] for e in entries) == approved and len(approved) >= 2
    page.goto("/dashboard")
    page.screenshot(path=str(SHOTS / "dashboard.png"), full_page=True)
    page.goto("/audit")
    page.screenshot(path=str(SHOTS / "audit.png"), full_page=True)
    page.context.close()

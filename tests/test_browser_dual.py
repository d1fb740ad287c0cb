"""Dual review in a real browser (Debian's chromium via Playwright) against ``scanner
serve`` under a dual-review policy: two curators decide blind, the adjudicator settles."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from scanner.store import drafts as store
from scanner.store import users
from scanner.store.db import open_database
from tests.conftest import make_settings
from tests.review_helpers import PASSWORD, build_demo
from tests.test_browser import SHOTS, _browser_available, chromium, serving, signed_in
from tests.test_dual_review import DUAL, dual_policies

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    _browser_available()
    directory = tmp_path_factory.mktemp("browser-dual")
    url = build_demo(directory)
    db = open_database(url)
    with db.write() as conn:
        users.add_user(conn, "carol", PASSWORD, "adjudicator")
    db.dispose()
    policies = dual_policies(directory)
    make_settings(directory, "http://127.0.0.1:9/", db_url=url,
                  extra=f'[policy]\ndir = "{policies}"\nactive = "{DUAL}"\n')
    with serving(directory / "config.toml") as base:
        yield {"base": base, "db_url": url}


@pytest.fixture(scope="module")
def browser(server: dict[str, Any]) -> Iterator[Any]:
    with chromium() as b:
        yield b


def _draft(db_url: str, pmid: str) -> Any:
    db = open_database(db_url)
    with db.read() as conn:
        row = store.get(conn, pmid)
        events = store.events(conn, pmid)
    db.dispose()
    return row, events


def _decide(page: Any, pem: str, note: str, summary: str | None = None) -> None:
    page.get_by_label("PEM status label").select_option(pem)
    if summary is not None:
        page.get_by_label("Plain-language summary").fill(summary)
    page.get_by_label("Evidence you mark (a quote from the paper)").fill("QUOTE-" + note.split()[0])
    page.get_by_label("Approve the entry").check()
    page.get_by_label("Note (required to reject)").fill(note)


def test_two_curators_decide_blind_and_the_adjudicator_settles(
        browser: Any, server: dict[str, Any]) -> None:
    base, url = server["base"], server["db_url"]
    alice = signed_in(browser, base, "alice")
    target = alice.locator("table.queue tbody a").first
    title = target.inner_text()
    target.click()
    alice.wait_for_url("**/papers/*")
    pmid = alice.url.rsplit("/", 1)[-1]
    assert alice.get_by_role("button", name="Save").count() == 0       # no shared edits
    _decide(alice, "required", "ALICE-NOTE Canadian criteria", "ALICE-SUMMARY her text")
    alice.screenshot(path=str(SHOTS / "dual-decision-form.png"), full_page=True)
    alice.get_by_role("button", name="Record my decision").click()
    alice.wait_for_url(f"**/papers/{pmid}?saved=waiting")
    assert alice.get_by_text("Your decision is recorded").is_visible()
    alice.goto("/")
    assert alice.get_by_role("link", name=title).count() == 0         # out of her queue

    bob = signed_in(browser, base, "bob")
    assert bob.get_by_role("link", name=title).count() == 1           # in his
    bob.goto(f"/papers/{pmid}")
    content = bob.content()
    assert "ALICE" not in content                                       # blind
    assert bob.get_by_role("button", name="Record my decision").is_visible()
    bob.screenshot(path=str(SHOTS / "dual-second-curator.png"), full_page=True)
    _decide(bob, "not_required", "BOB-NOTE no PEM criterion")
    bob.get_by_role("button", name="Record my decision").click()
    bob.wait_for_url(f"**/papers/{pmid}?saved=disagreed")
    assert bob.get_by_text("goes to an adjudicator").is_visible()
    assert bob.get_by_text("ALICE-NOTE Canadian criteria").is_visible()  # both decided now
    assert _draft(url, pmid)[0].state == "pending"

    carol = signed_in(browser, base, "carol")
    carol.goto("/?state=adjudicate")
    carol.get_by_role("link", name=title).click()
    carol.wait_for_url(f"**/papers/{pmid}")
    assert carol.get_by_text("ALICE-NOTE Canadian criteria").is_visible()
    assert carol.get_by_text("BOB-NOTE no PEM criterion").is_visible()
    carol.screenshot(path=str(SHOTS / "dual-adjudication.png"), full_page=True)
    _decide(carol, "required", "methods name the CCC", "ALICE-SUMMARY her text")
    carol.get_by_role("button", name="Adjudicate").click()
    carol.wait_for_url(f"**/papers/{pmid}?saved=adjudicated")
    assert carol.get_by_text("Approved by carol (adjudicating alice & bob)").is_visible()
    audit = carol.locator("table.audit").inner_text()
    assert all(name in audit for name in ("alice", "bob", "carol"))
    carol.screenshot(path=str(SHOTS / "dual-adjudicated.png"), full_page=True)
    row, events = _draft(url, pmid)
    assert row.state == "approved" and row.published["labels"]["pem"] == "required"
    assert row.published["fields"]["summary"] == "ALICE-SUMMARY her text"
    assert {"alice", "bob", "carol"} <= {e.actor for e in events}
    carol.goto("/dashboard")
    assert carol.get_by_text("Dual review: agreement").is_visible()
    carol.screenshot(path=str(SHOTS / "dual-dashboard.png"), full_page=True)
    for page in (alice, bob, carol):
        page.context.close()

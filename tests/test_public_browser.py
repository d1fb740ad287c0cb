"""The public evidence pages in a real browser (Debian's chromium, Playwright), against
``scanner serve`` in its own process, with an automated accessibility check (axe-core).

axe-core comes from npm at test time, into a cache outside the repository
(``SCANNER_TEST_AXE`` names an ``axe.min.js`` to use instead); without it the
accessibility test is skipped locally and fails in CI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from scanner.store import drafts as store
from scanner.store.db import open_database
from scanner.store.models import Record
from tests.conftest import IN_CI, REPO
from tests.test_browser import SHOTS, browser, draft, pending, server, signed_in

__all__ = ["browser", "server"]     # the fixtures, shared with tests/test_browser.py
pytestmark = pytest.mark.slow
AXE_VERSION = "4.10.3"
AXE_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "scanner-tests"
BADGES = ("PEM required", "PEM not required", "PEM mixed", "PEM unclear",
          "PEM not applicable")


def axe_script() -> Path:
    given = os.environ.get("SCANNER_TEST_AXE")
    if given:
        return Path(given)
    target = AXE_CACHE / f"axe-core-{AXE_VERSION}"
    script = target / "node_modules" / "axe-core" / "axe.min.js"
    if script.is_file():
        return script
    npm = shutil.which("npm")
    reason = ""
    if npm is None:
        reason = "npm not found"
    else:
        target.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix",
                               str(target), f"axe-core@{AXE_VERSION}"],
                              capture_output=True, text=True, timeout=300)
        if done.returncode != 0 or not script.is_file():
            reason = f"npm install axe-core failed: {done.stderr.strip()[-300:]}"
    if reason:
        if IN_CI:
            pytest.fail(f"axe-core is needed for the accessibility check: {reason}")
        pytest.skip(f"axe-core unavailable: {reason}")
    return script


def _config(server: dict[str, Any]) -> Path:
    return Path(server["db_url"].removeprefix("sqlite:///")).parent / "config.toml"


def _publish(server: dict[str, Any], out: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCANNER_", "NCBI_"))}
    env["SCANNER_EUTILS_URL"] = "http://127.0.0.1:9/"
    done = subprocess.run([sys.executable, "-m", "scanner", "--config", str(_config(server)),
                           "publish", "--output", str(out)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def _axe(page: Any, script: Path) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(script))
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: {type: 'tag',
                  values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}});
        return r.violations.map(v => ({id: v.id, impact: v.impact,
                                       nodes: v.nodes.map(n => n.target.join(' '))}));
    }""")
    return list(result)


def test_approve_publish_and_read_the_public_page(browser: Any, server: dict[str, Any],
                                                  tmp_path: Path) -> None:
    base = server["base"]
    target = next(r for r in pending(server["db_url"]) if r.pem_label == "required")
    other = next(r for r in pending(server["db_url"])
                 if r.pmid != target.pmid and r.relevance_label == "mecfs")
    curator = signed_in(browser, base, "alice")
    curator.goto(f"/papers/{target.pmid}")
    curator.get_by_role("button", name="Approve").click()
    curator.wait_for_url(f"**/papers/{target.pmid}?saved=approved")
    assert draft(server["db_url"], target.pmid).state == "approved"
    out = tmp_path / "site"
    _publish(server, out)
    assert (out / "evidence" / target.pmid / "index.html").is_file()
    assert not (out / "evidence" / other.pmid).exists()

    visitor = browser.new_context(base_url=base, java_script_enabled=False).new_page()
    visitor.goto(f"/evidence/{target.pmid}")
    assert visitor.locator(".header-tags .badge").inner_text() == "PEM required"
    quote = draft(server["db_url"], target.pmid).published["badge"]["evidence"][0]["text"]
    assert quote in visitor.locator(".evidence blockquote").first.inner_text()
    bibtex = visitor.locator("pre.bibtex").inner_text()
    assert bibtex.startswith("@") and f"note = {{PubMed: {target.pmid}}}" in bibtex
    visitor.screenshot(path=str(SHOTS / "public-entry.png"), full_page=True)
    # the same page from the static site, opened from disk
    visitor.goto((out / "evidence" / target.pmid / "index.html").as_uri())
    assert visitor.locator(".header-tags .badge").inner_text() == "PEM required"
    # no approved entry, no public page
    response = visitor.goto(f"{base}/evidence/{other.pmid}")
    assert response is not None and response.status == 404
    # the index lists it, and its filter form works without script
    visitor.goto(f"{base}/evidence/")
    visitor.get_by_label("PEM badge").select_option("required")
    visitor.get_by_role("button", name="Filter").click()
    assert "pem=required" in visitor.url
    assert visitor.get_by_role("link", name=target.title).is_visible()
    # printing hides the navigation and the contribute form
    visitor.goto(f"{base}/evidence/{target.pmid}")
    visitor.emulate_media(media="print")
    assert not visitor.locator("header.site nav").is_visible()
    assert not visitor.locator("section.contribute").is_visible()
    assert visitor.locator(".evidence blockquote").first.is_visible()
    visitor.context.close()
    curator.context.close()


def test_public_pages_pass_the_accessibility_check(browser: Any, server: dict[str, Any],
                                                   tmp_path: Path) -> None:
    script = axe_script()
    approved = [r for r in pending(server["db_url"]) if r.relevance_label == "mecfs"][:2]
    curator = signed_in(browser, server["base"], "bob")
    for row in approved:
        curator.goto(f"/papers/{row.pmid}")
        curator.get_by_role("button", name="Approve").click()
        curator.wait_for_url(f"**/papers/{row.pmid}?saved=approved")
    curator.context.close()
    # bypass_csp: only so that axe itself can be injected; the pages are checked as served
    page = browser.new_context(base_url=server["base"], bypass_csp=True).new_page()
    found = {}
    for path in ("/evidence/", f"/evidence/{approved[0].pmid}", "/evidence/about",
                 "/evidence/ask?q=natural+killer+cells"):
        page.goto(path, timeout=300_000)    # ask: the first question loads MiniLM
        found[path] = _axe(page, script)
    out = tmp_path / "site"
    _publish(server, out)
    for rel in ("index.html", f"evidence/{approved[0].pmid}/index.html"):
        page.goto((out / rel).as_uri())
        found[rel] = _axe(page, script)
    page.context.close()
    assert {k: v for k, v in found.items() if v} == {}


def test_withdrawn_and_retracted_entries(browser: Any, server: dict[str, Any]) -> None:
    rows = [r for r in pending(server["db_url"]) if r.relevance_label == "mecfs"]
    withdrawn, retracted = rows[0], rows[1]
    curator = signed_in(browser, server["base"], "alice")
    for row in (withdrawn, retracted):
        curator.goto(f"/papers/{row.pmid}")
        curator.get_by_role("button", name="Approve").click()
        curator.wait_for_url(f"**/papers/{row.pmid}?saved=approved")
    curator.goto(f"/papers/{withdrawn.pmid}")
    curator.get_by_label("Reason for rejection").fill("Not an ME/CFS cohort after all.")
    curator.get_by_role("button", name="Reject").click()
    assert draft(server["db_url"], withdrawn.pmid).state == "rejected"
    curator.context.close()
    db = open_database(server["db_url"])
    with db.write() as conn:     # what the weekly sweep does when PubMed marks a retraction
        conn.execute(update(Record).where(Record.pmid == retracted.pmid)
                     .values(is_retracted=True))
        store.requeue(conn, retracted.pmid, "retracted upstream: check the retraction notice",
                      actor="recheck")
    db.dispose()
    page = browser.new_context(base_url=server["base"]).new_page()
    response = page.goto(f"/evidence/{withdrawn.pmid}")
    assert response is not None and response.status == 404
    assert page.get_by_text("withdrawn by the curators", exact=False).is_visible()
    page.goto(f"/evidence/{retracted.pmid}")
    assert page.get_by_text("Retracted: this paper has been retracted",
                            exact=False).is_visible()
    assert page.get_by_text("Under review again: the paper was retracted",
                            exact=False).is_visible()
    assert any(page.get_by_text(b, exact=True).count() for b in BADGES)
    page.screenshot(path=str(SHOTS / "public-retracted.png"), full_page=True)
    page.context.close()

"""In chromium (Playwright) against ``scanner serve``: a curator uploads the paper's PDF on
the draft page and the PEM field shows the evidence read from it; a scan without a text
layer and a file over the size limit are refused on the page, nothing stored."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from scanner.store import drafts as store
from scanner.store.db import open_database
from scanner.store.models import Classification, CuratorFullText
from tests.pdf_helpers import METHODS_QUOTE, PAPER_PAGES, make_pdf
from tests.review_helpers import build_demo
from tests.test_browser import SHOTS, _browser_available, chromium, serving, signed_in

pytestmark = pytest.mark.slow

UNCLEAR = "99000005"    # an ME/CFS cohort whose abstract names no case definition
REFUSED = "99000028"
MAX_MB = 0.05


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    _browser_available()
    directory = tmp_path_factory.mktemp("browser-upload")
    url = build_demo(directory, extra=f"[review]\nupload_max_mb = {MAX_MB}\n")
    with serving(directory / "config.toml") as base:
        yield {"base": base, "db_url": url, "dir": directory}


@pytest.fixture(scope="module")
def browser(server: dict[str, Any]) -> Iterator[Any]:
    with chromium() as b:
        yield b


def stored(db_url: str, pmid: str) -> tuple[int, dict[str, Any], int]:
    """(curator texts stored, the draft's classification result, the draft's version)."""
    db = open_database(db_url)
    with db.read() as conn:
        draft = store.get(conn, pmid)
        n = conn.execute(select(func.count()).select_from(CuratorFullText)
                         .where(CuratorFullText.pmid == pmid)).scalar_one()
        result = conn.execute(select(Classification.result)
                              .where(Classification.id == draft.classification_id)).scalar_one()
    db.dispose()
    return int(n), dict(result), int(draft.version)


def test_upload_a_pdf_and_the_pem_field_shows_its_evidence(
        browser: Any, server: dict[str, Any]) -> None:
    pdf = server["dir"] / "paper.pdf"
    pdf.write_bytes(make_pdf(PAPER_PAGES, javascript=True))
    page = signed_in(browser, server["base"], "alice")
    page.goto(f"/papers/{UNCLEAR}")
    pem = page.get_by_label("PEM badge and evidence")
    assert METHODS_QUOTE not in pem.input_value()
    page.get_by_label("Full text (PDF)").set_input_files(str(pdf))
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url(f"**/papers/{UNCLEAR}?saved=fulltext")
    assert page.get_by_text("Full text stored and read.").is_visible()

    n, result, _ = stored(server["db_url"], UNCLEAR)
    evidence = [d["evidence"] for d in result["pem"]["definitions"]
                if d["evidence"]["source"] == "fulltext"]
    assert n == 1 and evidence and result["pem"]["label"] == "required"
    quote = evidence[0]["text"]
    assert quote in METHODS_QUOTE
    value = page.get_by_label("PEM badge and evidence").input_value()
    assert "PEM required" in value and quote in value
    mark = page.locator("p.passage mark.ev-pem").first
    assert mark.is_visible() and mark.inner_text() == quote
    assert page.get_by_role("heading", name="Full text (supplied by alice)").is_visible()
    page.screenshot(path=str(SHOTS / "fulltext-upload.png"), full_page=True)
    page.context.close()


def test_a_scan_and_a_file_over_the_limit_are_refused_on_the_page(
        browser: Any, server: dict[str, Any]) -> None:
    scan = server["dir"] / "scan.pdf"
    scan.write_bytes(make_pdf([(), ()]))
    big = server["dir"] / "big.txt"
    big.write_bytes(b"methods " * 8_000)            # 64 kB, over the 50 kB limit
    before = stored(server["db_url"], REFUSED)
    page = signed_in(browser, server["base"], "bob")
    for path, words in ((scan, "no text layer"), (big, "too large")):
        page.goto(f"/papers/{REFUSED}")
        page.get_by_label("Full text (PDF)").set_input_files(str(path))
        page.get_by_role("button", name="Upload").click()
        alert = page.get_by_role("alert")
        alert.wait_for()
        assert "Full text not stored" in alert.inner_text()
        assert words in alert.inner_text() and "nothing was stored" in alert.inner_text()
    page.screenshot(path=str(SHOTS / "fulltext-refused.png"), full_page=True)
    assert stored(server["db_url"], REFUSED) == before
    page.context.close()

"""Curators supply the full text PMC lacks: upload (PDF or text) or paste, through HTTP to the
real app on SQLite and PostgreSQL; stored with its sha256, read by the policy's full-text
reader, evidence offsets indexing the stored text, reproduced by ``scanner rerun --verify``;
bad uploads refused with a clear message and nothing stored."""

from __future__ import annotations

import hashlib
import html
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zstandard
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient
from sqlalchemy import func, inspect, select

from classifiers.policy import load_policy
from scanner.cli import cli
from scanner.review.app import create_app
from scanner.review.fulltext_upload import (
    UnsupportedUploadError,
    UploadError,
    UploadTooLargeError,
    extract,
    pasted,
)
from scanner.store import drafts as store
from scanner.store.db import Database, open_database
from scanner.store.models import Classification, CuratorFullText, DraftEvent
from tests.conftest import REPO, make_settings, postgres_schema
from tests.pdf_helpers import METHODS_QUOTE, PAPER_PAGES, make_pdf
from tests.review_helpers import build_demo, csrf, form_fields, sign_in, version_of

MAX_MB = 0.05          # the app under test takes uploads up to 50 kB
UNCLEAR = "99000005"   # an ME/CFS cohort whose abstract names no case definition
QUALITATIVE = "99000028"  # another unclear ME/CFS study, used for the pasted text
REFUSED = "99000001"   # bad uploads are tried on this one: nothing may change
APPROVED = "99000006"  # approved (PEM not required, Fukuda) before its full text comes
API = "99000013"


# -- extraction, without a database ----------------------------------------------------------
def test_a_pdf_text_layer_is_extracted_and_a_script_in_it_is_only_data() -> None:
    data = make_pdf(PAPER_PAGES, javascript=True)
    got = extract(data, "paper.pdf", max_bytes=10**6, max_pages=50)
    assert got.kind == "pdf" and got.pages == 2 and got.size == len(data)
    assert got.sha256 == hashlib.sha256(data).hexdigest()
    assert METHODS_QUOTE in got.text and "Methods\nParticipants\n" in got.text
    assert "app.alert" not in got.text
    assert got.text_sha256 == hashlib.sha256(got.text.encode()).hexdigest()


def test_the_page_cap_limits_what_is_read() -> None:
    got = extract(make_pdf([PAPER_PAGES[0], ("Second page only " * 20,)]), "p.pdf",
                  max_bytes=10**6, max_pages=1)
    assert got.pages == 1 and "Second page only" not in got.text


def test_bad_files_are_refused_with_a_reason() -> None:
    def refused(data: bytes, name: str | None, kind: type[Exception], words: str) -> None:
        with pytest.raises(kind, match=words) as info:
            extract(data, name, max_bytes=10_000, max_pages=50)
        assert "nothing was stored" in str(info.value)

    refused(make_pdf([(), ()]), "scan.pdf", UploadError, "no text layer.*OCR")
    refused(b"GIF89a" + b"\x00" * 50, "paper.pdf", UnsupportedUploadError, "not a PDF.*%PDF-")
    refused(b"\x89PNG\r\n\x1a\n\x00\x00", "figure.png", UnsupportedUploadError, "binary")
    refused("Méthodes".encode("latin-1"), "m.txt", UnsupportedUploadError, "not UTF-8")
    refused(b"x" * 10_001, "big.txt", UploadTooLargeError, "too large")
    refused(b"%PDF-1.4\nnot really a pdf\n", "broken.pdf", UploadError, "could not be read")
    refused(b"  \n", "blank.txt", UploadError, "empty")
    with pytest.raises(UploadError, match="empty"):
        pasted(" \n ", max_bytes=10_000)


def test_an_encrypted_pdf_is_refused() -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(PAPER_PAGES))))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(UploadError, match="password"):
        extract(out.getvalue(), "locked.pdf", max_bytes=10**6, max_pages=50)


def test_plain_text_is_kept_as_given_but_for_line_ends() -> None:
    got = extract("\ufeffMethods\r\nAll patients met the CCC.\r\n".encode(), "m.txt",
                  max_bytes=10**6, max_pages=5)
    assert got.kind == "text" and got.text == "Methods\nAll patients met the CCC.\n"


# -- the app, on SQLite and PostgreSQL ------------------------------------------------------
def build(directory: Path, url: str, policy: str) -> str:
    """The demo pipeline's store under ``policy``: records, classifications, drafts, accounts."""
    # no PMC texts: the uploads stand for full texts PubMed Central does not have
    return build_demo(directory, url, extra=f'[policy]\nactive = "{policy}"\n', pmc=False)


#: engine and policy: v0.1 reads a full text whole, v0.2 through the passage reader
SETUPS = ["sqlite-v0.1", "sqlite-v0.2", "postgresql-v0.2"]


@pytest.fixture(scope="module", params=SETUPS)
def demo(request: pytest.FixtureRequest,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(database URL, policy) of a demo store per engine and policy."""
    engine, policy = request.param.split("-")
    directory = tmp_path_factory.mktemp(f"upload-{request.param}")
    if engine == "sqlite":
        yield build(directory, f"sqlite:///{directory / 'demo.sqlite'}", policy), policy
        return
    with postgres_schema() as url:
        yield build(directory, url, policy), policy


@pytest.fixture(scope="module")
def app(demo: tuple[str, str], tmp_path_factory: pytest.TempPathFactory,
        ) -> Iterator[tuple[TestClient, Database, Path]]:
    url, policy = demo
    directory = tmp_path_factory.mktemp("app")
    settings = make_settings(directory, "http://127.0.0.1:9/", db_url=url, extra=(
        f'[review]\nupload_max_mb = {MAX_MB}\n[policy]\nactive = "{policy}"\n'))
    db = open_database(url)
    client = TestClient(create_app(settings, db, load_policy(REPO / "policies", policy)),
                        base_url="https://testserver", follow_redirects=False)
    with client:
        assert sign_in(client, "alice").status_code == 303
        yield client, db, directory / "config.toml"
    db.dispose()


def invoke(cfg: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(cfg), *args],
                              env={"SCANNER_EUTILS_URL": "http://127.0.0.1:9/",
                                   "SCANNER_DATABASE_URL": None})


def upload(client: TestClient, pmid: str, *, data: bytes | None = None,
           name: str = "paper.pdf", text_: str | None = None,
           headers: dict[str, str] | None = None, token: str | None = "page") -> Any:
    form = {} if token is None else {
        "csrf_token": csrf(client, f"/papers/{pmid}") if token == "page" else token}
    if text_ is not None:
        form["text"] = text_
    files = {"file": (name, data, "application/pdf")} if data is not None else None
    return client.post(f"/papers/{pmid}/fulltext", data=form, files=files,
                       headers=headers or {})


def pem_field(client: TestClient, pmid: str) -> str:
    page = client.get(f"/papers/{pmid}").text
    match = re.search(r'<textarea id="f-pem" name="pem" rows="\d+">(.*?)</textarea>', page,
                      re.S)
    assert match, page[:300]
    return html.unescape(match.group(1))


def state(db: Database, pmid: str) -> dict[str, Any]:
    with db.read() as conn:
        draft = store.get(conn, pmid)
        result = conn.execute(select(Classification.result)
                              .where(Classification.id == draft.classification_id)
                              ).scalar_one()
        texts = conn.execute(select(func.count()).select_from(CuratorFullText)
                             .where(CuratorFullText.pmid == pmid)).scalar_one()
        events = conn.execute(select(DraftEvent.action, DraftEvent.actor, DraftEvent.detail)
                              .where(DraftEvent.pmid == pmid)
                              .order_by(DraftEvent.id)).all()
    return {"draft": draft, "result": result, "texts": texts, "events": events}


def test_the_draft_page_has_the_upload_field_and_button(
        app: tuple[TestClient, Database, Path]) -> None:
    client, _, _ = app
    page = client.get(f"/papers/{UNCLEAR}").text
    assert '<label for="ft-file">Full text (PDF)</label>' in page
    assert re.search(r'<input id="ft-file" name="file" type="file"', page)
    assert '<button type="submit">Upload</button>' in page
    assert 'enctype="multipart/form-data"' in page and "<textarea id=\"ft-text\"" in page


def test_an_uploaded_pdf_decides_the_pem_label_with_evidence_in_the_stored_text(
        app: tuple[TestClient, Database, Path], tmp_path: Path) -> None:
    client, db, cfg = app
    before = state(db, UNCLEAR)
    assert before["result"]["pem"]["label"] == "unclear" and before["texts"] == 0
    assert METHODS_QUOTE not in pem_field(client, UNCLEAR)
    pdf = make_pdf(PAPER_PAGES)

    r = upload(client, UNCLEAR, data=pdf)
    assert r.status_code == 303 and r.headers["location"] == f"/papers/{UNCLEAR}?saved=fulltext"

    after = state(db, UNCLEAR)
    pem = after["result"]["pem"]
    assert pem["label"] == "required"
    evidence = [d["evidence"] for d in pem["definitions"] if d["evidence"]["source"] == "fulltext"]
    assert evidence and after["draft"].pem_label == "required"
    # the stored text: sha256 checks out, and every evidence offset indexes it exactly
    with db.read() as conn:
        row = conn.execute(select(CuratorFullText.__table__)
                           .where(CuratorFullText.pmid == UNCLEAR)).one()
    stored = zstandard.ZstdDecompressor().decompress(row.content_z).decode("utf-8")
    assert hashlib.sha256(stored.encode()).hexdigest() == row.sha256
    assert row.upload_sha256 == hashlib.sha256(pdf).hexdigest()
    assert (row.kind, row.pages, row.upload_size, row.supplied_by) == ("pdf", 2, len(pdf),
                                                                       "alice")
    for ev in evidence:
        assert stored[ev["start"]:ev["end"]] == ev["text"]
        assert ev["text"] in METHODS_QUOTE
    # the PEM field shows the evidence; the passage is highlighted in the source column
    field = pem_field(client, UNCLEAR)
    assert "PEM required" in field and evidence[0]["text"] in field
    page = client.get(f"/papers/{UNCLEAR}?saved=fulltext").text
    assert "Full text stored and read." in page and "Full text (supplied by alice)" in page
    passage = re.search(r'<p class="text passage">(.*?)</p>', page, re.S)
    assert passage and f'<mark class="ev-pem">{evidence[0]["text"]}</mark>' in passage.group(1)
    assert f"characters {evidence[0]['start']}–{evidence[0]['end']}" in page
    assert row.sha256[:16] in page
    # audited: who, the upload's sha256, size and kind, the label before and after
    action, actor, detail = after["events"][-1]
    detail = json.loads(detail) if isinstance(detail, str) else detail
    assert (action, actor) == ("fulltext", "alice")
    assert detail["fulltext"]["sha256"] == row.upload_sha256
    assert detail["fulltext"]["text_sha256"] == row.sha256
    assert (detail["fulltext"]["size"], detail["fulltext"]["kind"]) == (len(pdf), "pdf")
    assert detail["pem"] == {"old": "unclear", "new": "required"}
    assert after["draft"].version == before["draft"].version + 1

    # a rerun reads the stored text (no file anywhere): the label decided from it is
    # reproduced exactly (the abstract alone gives "unclear", so it must have read it)
    verified = invoke(cfg, "rerun", "--verify")
    assert verified.exit_code == 0, verified.output
    assert "0 differences" in verified.output
    # ... and it is what `scanner classify --fulltext DIR` gives for DIR/{pmid}.txt
    (tmp_path / "ft").mkdir()
    (tmp_path / "ft" / f"{UNCLEAR}.txt").write_bytes(stored.encode("utf-8"))
    out = tmp_path / "out.jsonl"
    classified = invoke(cfg, "classify", "--input", str(REPO / "data/demo/pubmed_demo.xml"),
                        "--fulltext", str(tmp_path / "ft"), "--output", str(out))
    assert classified.exit_code == 0, classified.output
    line = next(json.loads(x) for x in out.read_text().splitlines()
                if json.loads(x)["pmid"] == UNCLEAR)
    assert line["pem"] == pem


def test_pasted_methods_keep_a_curators_edited_pem_text_and_show_the_reading_beside(
        app: tuple[TestClient, Database, Path]) -> None:
    client, db, _ = app
    version = version_of(client, QUALITATIVE)
    mine = "My own PEM note, written before the full text came."
    saved = client.post(f"/papers/{QUALITATIVE}/save", data={
        "csrf_token": csrf(client, f"/papers/{QUALITATIVE}"), "version": version,
        "pem": mine})
    assert saved.status_code == 303
    methods = ("Methods\nParticipants were adults recruited from a patient registry. "
               "All patients met the International Consensus Criteria, which require "
               "post-exertional neuroimmune exhaustion.\n<script>alert(1)</script>\n")
    r = upload(client, QUALITATIVE, text_=methods)
    assert r.status_code == 303
    after = state(db, QUALITATIVE)
    assert after["result"]["pem"]["label"] == "required"
    assert after["draft"].fields["pem"] == mine            # the curator's text survives
    assert pem_field(client, QUALITATIVE) == mine
    page = client.get(f"/papers/{QUALITATIVE}").text
    reading = re.search(r'<div class="reading" role="note">(.*?)</div>', page, re.S)
    assert reading and "International Consensus Criteria" in reading.group(1)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    detail = after["events"][-1].detail
    detail = json.loads(detail) if isinstance(detail, str) else detail
    assert detail["kept"] == ["pem"] and detail["fulltext"]["kind"] == "pasted"
    assert "pem" not in detail["changes"]
    with db.read() as conn:
        row = conn.execute(select(CuratorFullText.__table__)
                           .where(CuratorFullText.pmid == QUALITATIVE)).one()
    stored = zstandard.ZstdDecompressor().decompress(row.content_z).decode("utf-8")
    assert stored == methods
    for d in after["result"]["pem"]["definitions"]:
        ev = d["evidence"]
        if ev["source"] == "fulltext":
            assert stored[ev["start"]:ev["end"]] == ev["text"]


def test_bad_uploads_are_refused_with_a_message_and_nothing_is_stored(
        app: tuple[TestClient, Database, Path]) -> None:
    client, db, _ = app
    before = state(db, REFUSED)
    token = csrf(client, f"/papers/{REFUSED}")
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"data": b"%PDF-1.4\n" + b"0" * 200_000}, 413, "too large"),        # refused unread
        ({"data": b"a" * 60_000, "name": "big.txt"}, 413, "too large"),        # over 50 kB
        ({"data": b"GIF89a\x00\x01", "name": "paper.pdf"}, 415, "not a PDF"),
        ({"data": make_pdf([(), ()])}, 422, "no text layer"),
        ({"data": b"\x00\x01\x02binary", "name": "x.bin"}, 415, "only a PDF or plain"),
        ({"text_": "   "}, 422, "choose a PDF or text file"),
    ]
    for kwargs, status, words in cases:
        r = upload(client, REFUSED, token=token, **kwargs)
        assert r.status_code == status, (kwargs.get("name"), r.text[:300])
        assert words in html.unescape(r.text) and "nothing was stored" in r.text
        assert 'role="alert">Full text not stored:' in r.text
    pdf = make_pdf(PAPER_PAGES)
    forged = [({"token": None}, {}), ({"token": "x" * 43}, {}),
              ({}, {"Origin": "https://evil.example"}), ({}, {"Sec-Fetch-Site": "cross-site"})]
    for kwargs, headers in forged:
        r = upload(client, REFUSED, data=pdf, headers=headers,
                   **({"token": token} | kwargs))
        assert r.status_code == 403 and "refused" in r.text, (kwargs, headers)
    after = state(db, REFUSED)
    assert after["texts"] == 0
    assert after["draft"].version == before["draft"].version
    assert after["result"] == before["result"] and after["events"] == before["events"]


def test_the_api_supplies_a_full_text_with_csrf_and_if_match(
        app: tuple[TestClient, Database, Path], demo: tuple[str, str]) -> None:
    client, db, _ = app
    token = csrf(client, f"/papers/{API}")
    etag = client.get(f"/api/drafts/{API}").headers["etag"]
    files = {"file": ("methods.txt", b"Methods\nAll patients met the Canadian Consensus "
                                     b"Criteria, which require post-exertional malaise.\n",
                      "text/plain")}
    assert client.post(f"/api/drafts/{API}/fulltext", files=files).status_code == 403
    stale = client.post(f"/api/drafts/{API}/fulltext", files=files,
                        headers={"X-CSRF-Token": token, "If-Match": f'"{API}-0"'})
    assert stale.status_code == 412
    assert state(db, API)["texts"] == 0
    r = client.post(f"/api/drafts/{API}/fulltext", files=files,
                    headers={"X-CSRF-Token": token, "If-Match": etag})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["fulltext"]["kind"] == "text"
    # v0.1 reads any full text whole; v0.2 only where the abstract leaves PEM unclear (this
    # abstract names its definitions), so the text is stored but changes nothing
    assert bool(body["fulltext"]["evidence"]) == (demo[1] == "v0.1")
    assert body["classification"]["pem"]["label"] == body["fulltext"]["pem_after"]
    assert r.headers["etag"] != etag and state(db, API)["texts"] == 1
    bad = client.post(f"/api/drafts/{API}/fulltext", headers={"X-CSRF-Token": token},
                      files={"file": ("scan.pdf", make_pdf([()]), "application/pdf")})
    assert bad.status_code == 422 and "no text layer" in bad.json()["detail"]
    assert state(db, API)["texts"] == 1
    spec = client.get("/api/openapi.json").json()
    op = spec["paths"]["/api/drafts/{pmid}/fulltext"]["post"]
    assert "multipart/form-data" in op["requestBody"]["content"]


def test_an_approved_entry_keeps_its_text_and_returns_to_the_queue_if_labels_change(
        app: tuple[TestClient, Database, Path], demo: tuple[str, str]) -> None:
    client, db, _ = app
    assert client.post(f"/papers/{APPROVED}/approve", data={
        "csrf_token": csrf(client, f"/papers/{APPROVED}"),
        "version": version_of(client, APPROVED), **form_fields(client, APPROVED),
    }).status_code == 303
    approved = state(db, APPROVED)["draft"]
    assert approved.state == "approved" and approved.pem_label == "not_required"
    r = upload(client, APPROVED, text_="Methods\nAll patients met the Canadian Consensus "
                                       "Criteria, which require post-exertional malaise.\n")
    assert r.status_code == 303
    after = state(db, APPROVED)
    draft = after["draft"]
    assert draft.fields == approved.fields and draft.published == approved.published
    assert after["texts"] == 1 and after["events"][-1].action == "fulltext"
    if demo[1] == "v0.1":   # read whole: the CCC joins the abstract's Fukuda -> mixed
        assert draft.pem_label == "mixed" and draft.state == "pending"
        assert "after alice supplied the full text" in (draft.requeue_reason or "")
    else:                   # v0.2 reads full texts only for an unclear abstract
        assert draft.pem_label == "not_required" and draft.state == "approved"
        assert after["result"]["pem"]["definitions"][0]["evidence"]["source"] == "abstract"


def test_the_migration_matches_the_model(demo: tuple[str, str]) -> None:
    db = open_database(demo[0])
    with db.read() as conn:
        columns = {c["name"] for c in inspect(conn).get_columns("curator_fulltexts")}
        indexes = {i["name"] for i in inspect(conn).get_indexes("curator_fulltexts")}
    db.dispose()
    assert columns == set(CuratorFullText.__table__.columns.keys())
    assert "ix_curator_fulltexts_pmid_supplied" in indexes


def test_a_scan_classifies_a_paper_with_its_curator_text(tmp_path: Path) -> None:
    """The scan applies the same rule as the upload and reruns: a paper with a curator text
    (here stored before its record arrives) is classified with it, through the real scan."""
    from classifiers.document import from_plain
    from scanner.review.fulltext_upload import extract
    from scanner.store import curator_texts
    from scanner.store.runs import utcnow

    url = f"sqlite:///{tmp_path / 'scan.sqlite'}"
    got = extract(make_pdf(PAPER_PAGES), "paper.pdf", max_bytes=10**6, max_pages=50)
    db = open_database(url)
    with db.write() as conn:
        curator_texts.add(conn, UNCLEAR, text=got.text, text_sha256=got.text_sha256,
                          kind=got.kind, upload_sha256=got.sha256, upload_size=got.size,
                          pages=got.pages, filename=got.filename, supplied_by="alice",
                          now=utcnow())
    db.dispose()
    build_demo(tmp_path, url)
    result = state(open_database(url), UNCLEAR)["result"]
    ev = [d["evidence"] for d in result["pem"]["definitions"]
          if d["evidence"]["source"] == "fulltext"]
    assert result["pem"]["label"] == "required" and ev
    assert all(got.text[e["start"]:e["end"]] == e["text"] for e in ev)
    assert from_plain(got.text).text == got.text

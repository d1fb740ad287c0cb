"""Issue 12 through the review app: hostile text, limits, edge inputs, throttled sign-in,
idle sessions, API sign-out, ETags of another draft. Each test failed before the fix."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import select

from scanner.store import drafts as store
from scanner.store.db import Database
from scanner.store.models import Draft, DraftEvent, WebSession
from tests.review_helpers import (
    PASSWORD,
    build_demo,
    copy_demo,
    csrf,
    form_fields,
    make_client,
    sign_in,
    version_of,
)

SURROGATE_JSON = b'{"fields": {"summary": "ok \\ud800 x"}}'


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("demo")
    build_demo(directory)
    return directory / "demo.sqlite"


@pytest.fixture
def app(demo_file: Path, tmp_path: Path) -> Iterator[tuple[TestClient, Database]]:
    client, db = make_client(tmp_path, copy_demo(demo_file, tmp_path))
    with client:
        yield client, db
    db.dispose()


def api_session(client: TestClient, username: str = "alice") -> str:
    r = client.post("/api/session", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return str(r.json()["csrf_token"])


def first_pending(db: Database) -> str:
    with db.read() as conn:
        return str(conn.execute(select(Draft.pmid).where(Draft.state == "pending")
                                .order_by(Draft.pmid).limit(1)).scalar_one())


def draft_state(db: Database, pmid: str) -> tuple[int, str, int]:
    """(version, state, number of events): what a refused request must leave as it was."""
    with db.read() as conn:
        draft = store.get(conn, pmid)
        n = conn.execute(select(sa.func.count()).select_from(DraftEvent)
                         .where(DraftEvent.pmid == pmid)).scalar_one()
    return draft.version, draft.state, n


# -- item 1: non-encodable text ---------------------------------------------------------------
def test_lone_surrogates_and_nul_are_refused_everywhere_and_nothing_is_committed(
        db_url: str, tmp_path: Path) -> None:
    url = db_url
    build_demo(tmp_path, url)
    client, db = make_client(tmp_path, url)
    with client:
        token = api_session(client)
        pmid = first_pending(db)
        before = draft_state(db, pmid)
        etag = client.get(f"/api/drafts/{pmid}").headers["etag"]
        headers = {"X-CSRF-Token": token, "If-Match": etag,
                   "Content-Type": "application/json"}
        for method, path, body in (
                ("PATCH", f"/api/drafts/{pmid}", SURROGATE_JSON),
                ("POST", f"/api/drafts/{pmid}/approve", SURROGATE_JSON),
                ("POST", f"/api/drafts/{pmid}/reject", b'{"reason": "bad \\udfff"}'),
                ("PATCH", f"/api/drafts/{pmid}", b'{"fields": {"summary": "nul \\u0000"}}')):
            r = client.request(method, path, content=body, headers=headers)
            assert r.status_code == 422, (path, r.status_code, r.text)
            assert "surrogate" in r.json()["detail"] or "U+0000" in r.json()["detail"]
        r = client.post("/api/session", content=b'{"username": "alice", "password": "\\ud800"}',
                        headers={"Content-Type": "application/json"})
        assert r.status_code == 422 and "surrogate" in r.json()["detail"]
        # The HTML form: an invalid UTF-8 byte sequence (a surrogate's encoding) and NUL.
        version = version_of(client, pmid) if sign_in(client, "alice").status_code == 303 \
            else 0
        for raw in (b"summary=ok+%ED%A0%80+x", b"summary=ok%00"):
            r = client.post(f"/papers/{pmid}/save", content=raw + (
                f"&version={version}&csrf_token={csrf(client)}").encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded"})
            assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
            assert "The request was refused" in r.text
        assert draft_state(db, pmid) == before
        # Every page and export still works for everyone.
        for path in (f"/papers/{pmid}", f"/api/drafts/{pmid}", f"/api/drafts/{pmid}/events",
                     "/api/events", "/export/csv", "/api/export?format=csv"):
            assert client.get(path).status_code == 200, path
    db.dispose()


# -- item 6: body and field limits ---------------------------------------------------------
def test_bodies_and_fields_are_capped_and_multipart_is_refused(
        app: tuple[TestClient, Database]) -> None:
    client, db = app
    big = b'{"username": "a", "password": "' + b"x" * 2_000_000 + b'"}'
    r = client.post("/api/session", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "over the limit" in r.json()["detail"]
    token = api_session(client)
    pmid = first_pending(db)
    before = draft_state(db, pmid)
    etag = client.get(f"/api/drafts/{pmid}").headers["etag"]
    r = client.patch(f"/api/drafts/{pmid}", json={"fields": {"summary": "y" * 20_001}},
                     headers={"X-CSRF-Token": token, "If-Match": etag})
    assert r.status_code == 422 and "too long" in r.json()["detail"]
    assert sign_in(client, "alice").status_code == 303
    fields = form_fields(client, pmid)
    r = client.post(f"/papers/{pmid}/save", data={
        "csrf_token": csrf(client), "version": str(version_of(client, pmid)), **fields},
        files={"summary": ("evil.txt", b"file text", "text/plain")})
    assert r.status_code == 422 and "multipart" in r.text
    assert draft_state(db, pmid) == before
    with db.read() as conn:
        assert "UploadFile" not in json.dumps(store.get(conn, pmid).fields)


# -- item 7: edge inputs answer 4xx, in HTML on pages -------------------------------------------
def test_edge_inputs_answer_4xx_in_html_on_pages(app: tuple[TestClient, Database]) -> None:
    client, db = app
    assert sign_in(client, "alice").status_code == 303
    r = client.get("/", params={"q": "a" * 50_010})
    assert r.status_code == 422 and "too long" in r.text
    assert r.headers["content-type"].startswith("text/html")
    r = client.get("/", params={"q": "fatigue\x00"})      # PostgreSQL refuses NUL
    assert r.status_code == 422 and "U+0000" in r.text
    assert client.get("/", params={"q": "100%00 sure"}).status_code == 200
    r = client.get("/", params={"page": "x"})
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    assert "page" in r.text
    assert client.get("/api/drafts", params={"page": "x"}).status_code == 422
    pmid = first_pending(db)
    before = draft_state(db, pmid)
    r = client.post(f"/papers/{pmid}/save", data={
        "csrf_token": csrf(client), "version": "99999999999999999999999", "summary": "x"})
    assert r.status_code == 400 and "version" in r.text
    token = api_session(client)
    r = client.patch(f"/api/drafts/{pmid}", json={"fields": {"summary": "x"}}, headers={
        "X-CSRF-Token": token, "If-Match": f'"{pmid}-99999999999999999999999"'})
    assert r.status_code == 400 and "ETag" in r.json()["detail"]
    assert draft_state(db, pmid) == before


# -- item 11: ETags name their draft -----------------------------------------------------------
def test_an_etag_of_another_draft_is_refused(app: tuple[TestClient, Database]) -> None:
    client, db = app
    token = api_session(client)
    with db.read() as conn:
        a, b = conn.execute(select(Draft.pmid).where(Draft.state == "pending")
                            .order_by(Draft.pmid).limit(2)).scalars().all()
    etag_a = client.get(f"/api/drafts/{a}").headers["etag"]
    before = draft_state(db, b)
    r = client.patch(f"/api/drafts/{b}", json={"fields": {"summary": "x"}},
                     headers={"X-CSRF-Token": token, "If-Match": etag_a})
    assert r.status_code == 400 and f"not {b!r}" in r.json()["detail"]
    assert draft_state(db, b) == before


# -- item 3: sign-in throttle ------------------------------------------------------------------
def test_wrong_passwords_are_throttled_per_account_with_a_log_line(
        app: tuple[TestClient, Database], caplog: pytest.LogCaptureFixture) -> None:
    client, _ = app
    for _ in range(10):
        r = client.post("/api/session", json={"username": "bob", "password": "wrong!!!"})
        assert r.status_code == 401
    r = client.post("/api/session", json={"username": "bob", "password": PASSWORD})
    assert r.status_code == 429 and "too many failed sign-ins" in r.json()["detail"]
    assert 0 < int(r.headers["retry-after"]) <= 15 * 60
    page = sign_in(client, "bob")
    assert page.status_code == 429 and "Too many failed sign-ins" in page.text
    assert int(page.headers["retry-after"]) > 0
    assert any("login_throttled" in m and "user:bob" in m for m in caplog.messages)
    # Another account from the same address is not locked out by bob's attempts.
    assert sign_in(client, "alice").status_code == 303


def test_the_address_is_throttled_across_accounts(app: tuple[TestClient, Database]) -> None:
    client, _ = app
    for i in range(50):
        r = client.post("/api/session", json={"username": f"nobody{i}", "password": "x"})
        assert r.status_code == 401
    r = client.post("/api/session", json={"username": "alice", "password": PASSWORD})
    assert r.status_code == 429 and "this address" in r.json()["detail"]


# -- item 11: idle timeout and API sign-out ----------------------------------------------------
def test_an_idle_session_is_signed_out(app: tuple[TestClient, Database]) -> None:
    client, db = app
    api_session(client)
    assert client.get("/api/drafts").status_code == 200
    with db.write() as conn:    # the session was last used more than idle_minutes ago
        conn.execute(sa.update(WebSession).values(
            expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    assert client.get("/api/drafts").status_code == 401
    # A fresh session's deadline is the idle timeout, not the 12-hour lifetime.
    api_session(client)
    with db.read() as conn:
        s = conn.execute(select(WebSession.created_at, WebSession.expires_at)
                         .order_by(WebSession.created_at.desc()).limit(1)).one()
    assert s.expires_at - s.created_at == dt.timedelta(minutes=60)


def test_api_sign_out_ends_the_session(app: tuple[TestClient, Database]) -> None:
    client, _ = app
    token = api_session(client)
    assert client.delete("/api/session").status_code == 403     # no CSRF token
    r = client.delete("/api/session", headers={"X-CSRF-Token": token})
    assert r.status_code == 204
    assert client.get("/api/drafts").status_code == 401


def test_api_docs_page_is_gone_and_the_openapi_document_stays(
        app: tuple[TestClient, Database]) -> None:
    client, _ = app
    assert client.get("/api/docs").status_code == 404
    spec = client.get("/api/openapi.json").json()
    assert "delete" in spec["paths"]["/api/session"]


# -- items 9 and 10: the store fails or vanishes under the app -----------------------------
def test_a_failed_save_shows_the_curators_text_back(app: tuple[TestClient, Database],
                                                    tmp_path: Path) -> None:
    client, db = app
    assert sign_in(client, "alice").status_code == 303
    pmid = first_pending(db)
    token, version = csrf(client), version_of(client, pmid)
    before = draft_state(db, pmid)
    path = db.url.database
    ro = Database(f"sqlite:///file:{path}?mode=ro&uri=true")
    client.app.state.db = ro                         # type: ignore[attr-defined]
    client.app.state.review.db = ro                  # type: ignore[attr-defined]
    text = "A careful summary the curator must not lose."
    r = client.post(f"/papers/{pmid}/save", data={"csrf_token": token, "version": version,
                                                  "summary": text})
    assert r.status_code == 503 and "Nothing was saved" in r.text
    assert text in r.text and "readonly" in r.text
    ro.dispose()
    assert draft_state(db, pmid) == before


def test_a_store_deleted_under_the_app_is_refused_not_written(
        app: tuple[TestClient, Database]) -> None:
    client, db = app
    assert sign_in(client, "alice").status_code == 303
    pmid = first_pending(db)
    token, version = csrf(client), version_of(client, pmid)
    path = Path(db.url.database or "")
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    r = client.post(f"/papers/{pmid}/save", data={"csrf_token": token, "version": version,
                                                  "summary": "into the void"})
    assert r.status_code == 503 and "is gone" in r.text
    assert "Saved." not in r.text and not path.exists()


# -- item 11: exports -------------------------------------------------------------------------
def test_bibtex_tex_commands_and_csv_formulas_are_neutralised(
        app: tuple[TestClient, Database]) -> None:
    client, db = app
    assert sign_in(client, "alice").status_code == 303
    pmid = first_pending(db)
    fields = form_fields(client, pmid)
    fields["bibtex"] = ("@article{evil,\n  title = {Caf\\'e \\input{/etc/passwd} "
                        "\\immediate\\write18{touch /tmp/pwned} ^^5cinput},\n  year = {2026}\n}")
    fields["summary"] = " =HYPERLINK(\"http://x\")"
    r = client.post(f"/papers/{pmid}/approve", data={
        "csrf_token": csrf(client), "version": version_of(client, pmid), **fields})
    assert r.status_code == 303, r.text[:300]
    bib = client.get("/export/bibtex").text
    assert "\\input" not in bib and "\\write18" not in bib and "\\immediate" not in bib
    assert "^^" not in bib and "\\textbackslash{}input" in bib and "Caf\\'e" in bib
    csv_text = client.get("/export/csv").text
    assert "' =HYPERLINK" in csv_text

"""The review app in-process: every route, permission, CSRF, stale saves, audit, API."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from scanner.store import drafts as store
from scanner.store.db import Database
from scanner.store.models import Draft, DraftEvent, LabelCorrection
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


@pytest.fixture
def alice(app: tuple[TestClient, Database]) -> TestClient:
    client, _ = app
    assert sign_in(client, "alice").status_code == 303
    return client


def pending_pmids(db: Database) -> list[str]:
    with db.read() as conn:
        rows, _ = store.queue(conn, store.QueueFilter(per_page=500))
    return [r.pmid for r in rows]


def a_pmid(db: Database, **where: str) -> str:
    with db.read() as conn:
        stmt = select(Draft.pmid).order_by(Draft.pmid)
        for key, value in where.items():
            stmt = stmt.where(getattr(Draft, key) == value)
        return str(conn.execute(stmt.limit(1)).scalar_one())


# -- signing in ----------------------------------------------------------------------------
def test_sign_in_form_has_the_accessible_names(app: tuple[TestClient, Database]) -> None:
    client, _ = app
    page = client.get("/login").text
    assert re.search(r'<label for="username">Username</label>', page)
    assert re.search(r'<label for="password">Password</label>', page)
    assert '<button type="submit">Sign in</button>' in page


def test_signed_out_pages_redirect_and_the_api_answers_401(
        app: tuple[TestClient, Database]) -> None:
    client, db = app
    pmid = pending_pmids(db)[0]
    for path in ("/", f"/papers/{pmid}", "/dashboard", "/audit", "/export", "/export/json"):
        r = client.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    assert client.get("/api/drafts").status_code == 401


def test_wrong_password_is_refused_and_the_session_cookie_is_locked_down(
        app: tuple[TestClient, Database]) -> None:
    client, _ = app
    bad = sign_in(client, "alice", "wrong password!")
    assert bad.status_code == 401 and "Wrong username or password." in bad.text
    assert sign_in(client, "nobody", PASSWORD).status_code == 401
    ok = sign_in(client, "alice")
    assert ok.status_code == 303
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" in cookie


def test_sign_in_without_the_form_token_is_refused(app: tuple[TestClient, Database]) -> None:
    client, _ = app
    r = client.post("/login", data={"username": "alice", "password": PASSWORD, "next": "/"})
    assert r.status_code == 403 and "scanner_session" not in r.headers.get("set-cookie", "")


def test_passwords_are_stored_as_argon2id(app: tuple[TestClient, Database]) -> None:
    _, db = app
    with db.read() as conn:
        hashes = conn.execute(sa.text("select password_hash from users")).scalars().all()
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)
    assert not any(PASSWORD in h for h in hashes)


def test_sign_out_ends_the_session(alice: TestClient) -> None:
    token = csrf(alice)
    cookie = alice.cookies.get("scanner_session")
    assert cookie and alice.post("/logout", data={"csrf_token": token}).status_code == 303
    replay = TestClient(alice.app, base_url="https://testserver", follow_redirects=False,
                        cookies={"scanner_session": cookie})
    assert replay.get("/").status_code == 303


# -- the queue -----------------------------------------------------------------------------
def test_queue_lists_each_draft_as_a_link_with_its_title_most_decisive_first(
        alice: TestClient, app: tuple[TestClient, Database]) -> None:
    _, db = app
    page = alice.get("/")
    assert page.status_code == 200
    with db.read() as conn:
        rows = conn.execute(select(Draft.pmid, Draft.title, Draft.priority)
                            .where(Draft.state == "pending")).all()
    assert len(rows) >= 20
    links = re.findall(r'<a href="/papers/(\d+)">([^<]+)</a>', page.text)
    import html
    assert {p: html.unescape(t) for p, t in links} == {r.pmid: r.title for r in rows}
    priorities = {r.pmid: r.priority for r in rows}
    shown = [priorities[p] for p, _ in links]
    assert shown == sorted(shown, reverse=True)


def test_queue_filters_search_and_paging(alice: TestClient,
                                         app: tuple[TestClient, Database]) -> None:
    _, db = app
    with db.read() as conn:
        required = set(conn.execute(select(Draft.pmid).where(
            Draft.pem_label == "required")).scalars())
        title = conn.execute(select(Draft.title).order_by(Draft.pmid).limit(1)).scalar_one()
        total = conn.execute(select(func.count()).select_from(Draft)
                             .where(Draft.state == "pending")).scalar_one()
    got = set(re.findall(r'href="/papers/(\d+)"', alice.get("/?pem=required").text))
    assert got == required and required
    word = max(title.split(), key=len).strip(".,:;()")
    hits = re.findall(r'href="/papers/(\d+)"', alice.get(f"/?q={word}").text)
    assert hits and all(word.lower() in t.lower() for t in re.findall(
        r'href="/papers/\d+">([^<]+)<', alice.get(f"/?q={word}").text))
    api = alice.get("/api/drafts", params={"page": 2}).json()
    assert api["total"] == total and api["page"] == 2
    assert alice.get("/?year_from=abc").status_code == 400


# -- a draft page --------------------------------------------------------------------------
def test_draft_page_shows_source_evidence_outputs_and_the_buttons(
        alice: TestClient, app: tuple[TestClient, Database]) -> None:
    _, db = app
    with db.read() as conn:
        row = conn.execute(select(Draft.pmid, Draft.classification_id)
                           .where(Draft.pem_label == "required").limit(1)).one()
        result = conn.execute(sa.text("select result from classifications where id = :i"),
                              {"i": row.classification_id}).scalar_one()
    result = json.loads(result) if isinstance(result, str) else result
    page = alice.get(f"/papers/{row.pmid}").text
    evidence = result["pem"]["definitions"][0]["evidence"]["text"]
    marked = "".join(re.findall(r'<mark class="[^"]*ev-pem[^"]*">([^<]*)</mark>', page))
    import html
    assert html.unescape(evidence) in html.unescape(marked)
    for name in ("Approve", "Reject", "Save"):
        assert f">{name}</button>" in page
    assert len(re.findall(r"<textarea id=\"f-", page)) == 6
    assert "v0.1" in page and "relevance model sha256" in page
    assert "PEM required" in page


def test_unknown_paper_is_404(alice: TestClient) -> None:
    r = alice.get("/papers/1")
    assert r.status_code == 404 and "no draft for PMID 1" in r.text


# -- saving, approving, rejecting ---------------------------------------------------------
def test_save_stores_the_edit_recomputes_flags_and_audits_it(
        alice: TestClient, app: tuple[TestClient, Database]) -> None:
    _, db = app
    pmid = a_pmid(db, design="observational")
    fields = form_fields(alice, pmid)
    version = version_of(alice, pmid)
    fields["summary"] = "Exercise causes the fatigue in these patients."
    r = alice.post(f"/papers/{pmid}/save", data={
        "csrf_token": csrf(alice), "version": version, **fields})
    assert r.status_code == 303
    page = alice.get(r.headers["location"]).text
    assert "Saved." in page and "Exercise causes the fatigue" in page
    with db.read() as conn:
        draft = store.get(conn, pmid)
        events = store.events(conn, pmid)
    assert draft.version == version + 1 and draft.fields["summary"] == fields["summary"]
    assert any(f["kind"] == "causal_claim_non_randomised" for f in draft.flags)
    assert events[0].actor == "alice" and events[0].action == "edited"
    assert events[0].detail["changes"]["summary"]["new"] == fields["summary"]


def test_a_stale_save_is_refused_and_the_newer_text_survives(
        app: tuple[TestClient, Database], demo_file: Path, tmp_path: Path) -> None:
    client_a, db = app
    client_b = TestClient(client_a.app, base_url="https://testserver", follow_redirects=False)
    sign_in(client_a, "alice")
    sign_in(client_b, "bob")
    pmid = pending_pmids(db)[0]
    version = version_of(client_a, pmid)
    fields_b = form_fields(client_b, pmid)
    token_b = csrf(client_b)
    fields_a = {**form_fields(client_a, pmid), "summary": "Alice's summary."}
    assert client_a.post(f"/papers/{pmid}/save", data={
        "csrf_token": csrf(client_a), "version": version, **fields_a}).status_code == 303
    fields_b["summary"] = "Bob's summary."
    r = client_b.post(f"/papers/{pmid}/save", data={
        "csrf_token": token_b, "version": version, **fields_b})
    assert r.status_code == 409
    assert "changed since you opened it" in r.text and "alice (edited)" in r.text
    assert "Alice&#39;s summary." in r.text and "Bob&#39;s summary." in r.text
    with db.read() as conn:
        assert store.get(conn, pmid).fields["summary"] == "Alice's summary."
    # Approving on the stale version is refused too.
    r = client_b.post(f"/papers/{pmid}/approve", data={
        "csrf_token": token_b, "version": version, **fields_b})
    assert r.status_code == 409
    with db.read() as conn:
        assert store.get(conn, pmid).state == "pending"


def test_requests_without_a_valid_csrf_token_or_from_another_origin_change_nothing(
        alice: TestClient, app: tuple[TestClient, Database]) -> None:
    _, db = app
    pmid = pending_pmids(db)[0]
    version = version_of(alice, pmid)
    fields = {**form_fields(alice, pmid), "summary": "forged"}
    token = csrf(alice)
    attempts = [
        ({"version": version, **fields}, {}),
        ({"csrf_token": "x" * 43, "version": version, **fields}, {}),
        ({"csrf_token": token, "version": version, **fields},
         {"Origin": "https://evil.example"}),
        ({"csrf_token": token, "version": version, **fields}, {"Sec-Fetch-Site": "cross-site"}),
    ]
    for data, headers in attempts:
        for action in ("save", "approve"):
            r = alice.post(f"/papers/{pmid}/{action}", data=data, headers=headers)
            assert r.status_code == 403, (action, headers)
    with db.read() as conn:
        draft = store.get(conn, pmid)
        n_events = len(store.events(conn, pmid))
    assert draft.version == version and draft.state == "pending"
    assert draft.fields["summary"] != "forged" and n_events == 1


def test_approve_publishes_a_snapshot_and_the_page_says_approved(
        alice: TestClient, app: tuple[TestClient, Database]) -> None:
    _, db = app
    pmid = pending_pmids(db)[0]
    fields = {**form_fields(alice, pmid), "relevance": "Edited while approving."}
    r = alice.post(f"/papers/{pmid}/approve", data={
        "csrf_token": csrf(alice), "version": version_of(alice, pmid), **fields})
    assert r.status_code == 303
    page = alice.get(f"/papers/{pmid}").text
    assert "Approved by alice" in page
    with db.read() as conn:
        draft = store.get(conn, pmid)
        actions = [e.action for e in store.events(conn, pmid)]
    assert draft.state == "approved" and draft.published["fields"]["relevance"] == (
        "Edited while approving.")
    assert draft.published["stamps"]["policy_version"] == "v0.1"
    assert actions[:2] == ["approved", "edited"]
    assert pmid not in pending_pmids(db)


def test_reject_needs_a_reason_and_withdraws_a_publication(
        alice: TestClient, app: tuple[TestClient, Database]) -> None:
    _, db = app
    pmid = pending_pmids(db)[0]
    fields = form_fields(alice, pmid)
    no_reason = alice.post(f"/papers/{pmid}/reject", data={
        "csrf_token": csrf(alice), "version": version_of(alice, pmid), **fields, "reason": " "})
    assert no_reason.status_code == 422 and "Give a reason" in no_reason.text
    alice.post(f"/papers/{pmid}/approve", data={
        "csrf_token": csrf(alice), "version": version_of(alice, pmid), **fields})
    r = alice.post(f"/papers/{pmid}/reject", data={
        "csrf_token": csrf(alice), "version": version_of(alice, pmid), **fields,
        "reason": "Not about ME/CFS patients."})
    assert r.status_code == 303
    with db.read() as conn:
        draft = store.get(conn, pmid)
        event = store.events(conn, pmid)[0]
    assert draft.state == "rejected" and draft.published is None
    assert draft.reject_reason == "Not about ME/CFS patients."
    assert event.action == "rejected" and event.detail["withdrawn"] is True
    assert "Rejected by alice: Not about ME/CFS patients." in alice.get(f"/papers/{pmid}").text


def test_export_contains_exactly_the_approved_entries(
        alice: TestClient, app: tuple[TestClient, Database]) -> None:
    _, db = app
    chosen = pending_pmids(db)[:3]
    for pmid in chosen:
        alice.post(f"/papers/{pmid}/approve", data={
            "csrf_token": csrf(alice), "version": version_of(alice, pmid),
            **form_fields(alice, pmid)})
    data = alice.get("/export/json")
    assert data.status_code == 200 and "attachment" in data.headers["content-disposition"]
    assert sorted(e["pmid"] for e in data.json()) == sorted(chosen)
    assert all(e["stamps"]["policy_version"] == "v0.1" for e in data.json())
    for fmt in ("csv", "bibtex", "ris", "markdown"):
        body = alice.get(f"/export/{fmt}").text
        assert all(p in body for p in chosen), fmt
        others = set(pending_pmids(db))
        assert not any(p in body for p in others), fmt
    assert alice.get("/export/docx").status_code == 400


def test_a_label_correction_is_stored_as_a_training_example(
        alice: TestClient, app: tuple[TestClient, Database]) -> None:
    _, db = app
    pmid = a_pmid(db, pem_label="unclear")
    r = alice.post(f"/papers/{pmid}/correct", data={
        "csrf_token": csrf(alice), "version": version_of(alice, pmid), "label": "pem",
        "value": "required", "note": "methods say CCC"})
    assert r.status_code == 303
    bad = alice.post(f"/papers/{pmid}/correct", data={
        "csrf_token": csrf(alice), "version": version_of(alice, pmid), "label": "pem",
        "value": "maybe"})
    assert bad.status_code == 400 and "not a pem label" in bad.text
    defs = alice.post(f"/papers/{pmid}/correct", data={
        "csrf_token": csrf(alice), "version": version_of(alice, pmid),
        "label": "definitions", "value": "ccc_2003, icc_2011"})
    assert defs.status_code == 303
    with db.read() as conn:
        rows = conn.execute(select(LabelCorrection.__table__)
                            .order_by(LabelCorrection.id)).all()
    assert [(r.field, r.new_value["value"], r.curator) for r in rows] == [
        ("pem", "required", "alice"), ("definitions", ["ccc_2003", "icc_2011"], "alice")]
    assert rows[0].old_value["value"] == "unclear" and rows[0].note == "methods say CCC"


# -- audit, dashboard, admin ---------------------------------------------------------------
def test_audit_rows_cannot_be_rewritten(app: tuple[TestClient, Database]) -> None:
    _, db = app
    for statement in ("update draft_events set actor = 'mallory'", "delete from draft_events"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), db.write() as conn:
            conn.execute(sa.text(statement))
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(DraftEvent)).scalar_one() > 0


def test_audit_page_and_dashboard(alice: TestClient, app: tuple[TestClient, Database]) -> None:
    _, db = app
    pmid = pending_pmids(db)[0]
    alice.post(f"/papers/{pmid}/approve", data={
        "csrf_token": csrf(alice), "version": version_of(alice, pmid),
        **form_fields(alice, pmid)})
    audit = alice.get("/audit").text
    assert re.search(rf'<a href="/papers/{pmid}">{pmid}</a></td><td>alice</td><td>approved',
                     audit)
    dash = alice.get("/dashboard").text
    assert dash.count("<svg") == 4
    for title in ("Papers per year by PEM status", "Queue size over time", "Routing mix",
                  "Curator agreement with the classifier"):
        assert title in dash
    assert "approved of auto_include" in dash or "approved of review" in dash


def test_only_admins_manage_users(alice: TestClient, app: tuple[TestClient, Database]) -> None:
    client, _ = app
    assert alice.get("/admin/users").status_code == 403
    assert alice.post("/admin/users", data={"csrf_token": csrf(alice), "username": "eve",
                                            "password": "longenough1"}).status_code == 403
    client.cookies.clear()
    sign_in(client, "root")
    r = client.post("/admin/users", data={"csrf_token": csrf(client), "username": "carol",
                                          "password": "longenough1", "role": "curator"})
    assert r.status_code == 303 and "carol" in client.get("/admin/users").text
    client.cookies.clear()
    assert sign_in(client, "carol", "longenough1").status_code == 303


def test_security_headers(alice: TestClient) -> None:
    r = alice.get("/")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY" and r.headers["cache-control"] == "no-store"
    css = alice.get("/static/app.css")
    assert css.status_code == 200 and "mark.ev-pem" in css.text


# -- the JSON API --------------------------------------------------------------------------
def api_session(client: TestClient, user: str = "alice") -> str:
    r = client.post("/api/session", json={"username": user, "password": PASSWORD})
    assert r.status_code == 200
    return str(r.json()["csrf_token"])


def test_api_edit_needs_csrf_and_if_match_and_refuses_stale_etags(
        app: tuple[TestClient, Database]) -> None:
    client, db = app
    token = api_session(client)
    pmid = pending_pmids(db)[0]
    got = client.get(f"/api/drafts/{pmid}")
    etag = got.headers["etag"]
    assert got.json()["classification"]["pmid"] == pmid
    body = {"fields": {"summary": "API summary."}}
    assert client.patch(f"/api/drafts/{pmid}", json=body,
                        headers={"If-Match": etag}).status_code == 403
    assert client.patch(f"/api/drafts/{pmid}", json=body,
                        headers={"X-CSRF-Token": token}).status_code == 428
    ok = client.patch(f"/api/drafts/{pmid}", json=body,
                      headers={"X-CSRF-Token": token, "If-Match": etag})
    assert ok.status_code == 200 and ok.json()["fields"]["summary"] == "API summary."
    assert ok.headers["etag"] != etag
    stale = client.patch(f"/api/drafts/{pmid}", json={"fields": {"summary": "Other."}},
                         headers={"X-CSRF-Token": token, "If-Match": etag})
    assert stale.status_code == 412
    assert stale.json()["changes"]["summary"]["new"] == "API summary."
    approved = client.post(f"/api/drafts/{pmid}/approve", json={},
                           headers={"X-CSRF-Token": token, "If-Match": ok.headers["etag"]})
    assert approved.status_code == 200 and approved.json()["state"] == "approved"
    export = client.get("/api/export", params={"format": "json"}).json()
    assert [e["pmid"] for e in export] == [pmid]
    events = client.get(f"/api/drafts/{pmid}/events").json()
    assert [e["action"] for e in events] == ["approved", "edited", "created"]


def test_openapi_describes_the_api(app: tuple[TestClient, Database]) -> None:
    client, _ = app
    spec = client.get("/api/openapi.json").json()
    for path in ("/api/drafts", "/api/drafts/{pmid}", "/api/drafts/{pmid}/approve",
                 "/api/drafts/{pmid}/reject", "/api/drafts/{pmid}/corrections",
                 "/api/export", "/api/session", "/api/events"):
        assert path in spec["paths"], path
    assert "/papers/{pmid}" not in spec["paths"]


def test_api_reject_correct_and_permissions(app: tuple[TestClient, Database]) -> None:
    client, db = app
    pmid = pending_pmids(db)[0]
    for method, path in (("get", "/api/drafts"), ("get", f"/api/drafts/{pmid}"),
                         ("get", "/api/events"), ("get", "/api/export"),
                         ("post", f"/api/drafts/{pmid}/reject")):
        kwargs = {"json": {}} if method == "post" else {}
        assert getattr(client, method)(path, **kwargs).status_code == 401, path
    token = api_session(client, "bob")
    headers = {"X-CSRF-Token": token, "If-Match": client.get(f"/api/drafts/{pmid}")
               .headers["etag"]}
    no_reason = client.post(f"/api/drafts/{pmid}/reject", json={}, headers=headers)
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["detail"]
    rejected = client.post(f"/api/drafts/{pmid}/reject", json={"reason": "Duplicate."},
                           headers=headers)
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
    with db.read() as conn:
        current = store.get(conn, pmid).relevance_label
    other = "adjacent" if current != "adjacent" else "mecfs"
    corrected = client.post(f"/api/drafts/{pmid}/corrections",
                            json={"label": "relevance", "value": other},
                            headers={"X-CSRF-Token": token})
    assert corrected.status_code == 200
    same = client.post(f"/api/drafts/{pmid}/corrections",
                       json={"label": "relevance", "value": other},
                       headers={"X-CSRF-Token": token})
    assert same.status_code == 400 and "already" in same.json()["detail"]
    with db.read() as conn:
        rows = store.corrections(conn, pmid)
    assert [(r.curator, r.old_value, r.new_value) for r in rows] == [
        ("bob", {"value": current}, {"value": other})]
    assert client.post("/api/session", json={"username": "bob", "password": "nope"}
                       ).status_code == 401
    assert client.get("/api/events").json()[0]["actor"] in ("bob",)


def test_draft_page_shows_the_full_text_passage_with_the_span(
        alice: TestClient, app: tuple[TestClient, Database]) -> None:
    """A paper classified from its stored full text: the passage, span highlighted."""
    import zstandard

    from classifiers.document import from_jats
    from scanner.store.models import Classification, FullTextRow
    from scanner.store.runs import utcnow
    from tests.conftest import REPO

    _, db = app
    raw = (REPO / "tests" / "fixtures" / "fulltext" / "PMC9000002.xml").read_bytes()
    text = from_jats(raw).text
    quote = "met the Canadian Consensus Criteria"
    start = text.index(quote)
    pmid = a_pmid(db, pem_label="unclear")
    with db.write() as conn:
        cid = store.get(conn, pmid).classification_id
        result = conn.execute(select(Classification.result)
                              .where(Classification.id == cid)).scalar_one()
        result = json.loads(result) if isinstance(result, str) else dict(result)
        result["pem"]["definitions"] = [{"id": "ccc_2003", "pem": "required",
                                         "role": "inclusion", "evidence": {
                                             "text": quote, "source": "fulltext",
                                             "start": start, "end": start + len(quote)}}]
        conn.execute(sa.update(Classification).where(Classification.id == cid)
                     .values(result=result))
        conn.execute(sa.insert(FullTextRow).values(
            pmid=pmid, pmcid="PMC9000002", source="pmc", status="ok", format="jats",
            sha256="0" * 64, content_z=zstandard.ZstdCompressor().compress(raw), note=None,
            fetched_at=utcnow()))
    page = alice.get(f"/papers/{pmid}").text
    assert "Full text (PMC9000002)" in page
    passage = re.search(r'<p class="text passage">(.*?)</p>', page, re.S)
    assert passage and f'<mark class="ev-pem">{quote}</mark>' in passage.group(1)
    assert f"characters {start}–{start + len(quote)}" in page


def test_with_every_state_shown_the_drafts_waiting_for_review_come_first(
        alice: TestClient, app: tuple[TestClient, Database]) -> None:
    _, db = app
    first, second = pending_pmids(db)[:2]
    alice.post(f"/papers/{first}/approve", data={
        "csrf_token": csrf(alice), "version": version_of(alice, first),
        **form_fields(alice, first)})
    alice.post(f"/papers/{second}/reject", data={
        "csrf_token": csrf(alice), "version": version_of(alice, second),
        **form_fields(alice, second), "reason": "Out of scope."})
    shown = re.findall(r'href="/papers/(\d+)"', alice.get("/?state=all").text)
    with db.read() as conn:
        states = dict(conn.execute(select(Draft.pmid, Draft.state)).all())
    order = [states[p] for p in shown]
    assert len(shown) == len(states)
    assert order == sorted(order, key=lambda s: s != "pending")
    assert set(order[-2:]) == {"approved", "rejected"}

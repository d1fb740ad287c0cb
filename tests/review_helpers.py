"""Helpers for the review-app tests: a demo database built once, signed-in clients."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from classifiers.policy import load_policy
from scanner.ops.demo import scan_demo
from scanner.review.app import create_app
from scanner.store import users
from scanner.store.db import Database, open_database
from tests.conftest import REPO, make_settings

PASSWORD = "correct horse battery"
ACCOUNTS = {"alice": "curator", "bob": "curator", "root": "admin"}


def build_demo(directory: Path, db_url: str | None = None, extra: str = "") -> str:
    """Scan, classify and draft the demo records into a database; returns its URL.
    ``extra``: TOML merged into the config written to ``directory/config.toml``."""
    url = db_url or f"sqlite:///{directory / 'demo.sqlite'}"
    settings = make_settings(directory, "http://127.0.0.1:9/", db_url=url, extra=extra)
    db = scan_demo(settings, url, echo=lambda _line: None)
    with db.write() as conn:
        for name, role in ACCOUNTS.items():
            users.add_user(conn, name, PASSWORD, role)
    db.dispose()
    return url


def copy_demo(source: Path, tmp_path: Path) -> str:
    target = tmp_path / "review.sqlite"
    shutil.copyfile(source, target)
    return f"sqlite:///{target}"


def make_client(tmp_path: Path, url: str) -> tuple[TestClient, Database]:
    settings = make_settings(tmp_path, "http://127.0.0.1:9/", db_url=url)
    db = open_database(url)
    app = create_app(settings, db, load_policy(REPO / "policies", "v0.1"))
    # https, so that the Secure session cookie is sent back as a browser would.
    return TestClient(app, base_url="https://testserver", follow_redirects=False), db


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> Any:
    page = client.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', page.text)
    assert token, page.text
    return client.post("/login", data={"username": username, "password": password,
                                       "login_token": token.group(1), "next": "/"})


def csrf(client: TestClient, path: str = "/") -> str:
    page = client.get(path)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text[:500]
    return match.group(1)


def version_of(client: TestClient, pmid: str) -> int:
    page = client.get(f"/papers/{pmid}")
    match = re.search(r'name="version" value="(\d+)"', page.text)
    assert match, page.text[:500]
    return int(match.group(1))


def form_fields(client: TestClient, pmid: str) -> dict[str, str]:
    """The editable fields as the draft page shows them (HTML-unescaped)."""
    import html

    page = client.get(f"/papers/{pmid}").text
    return {name: html.unescape(text) for name, text in re.findall(
        r'<textarea id="f-(\w+)" name="\w+" rows="\d+">(.*?)</textarea>', page, re.S)}

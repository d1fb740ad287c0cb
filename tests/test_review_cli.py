"""`scanner users add`, `scanner export` and `scanner demo` serving the app, as processes."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from scanner.store import drafts as store
from scanner.store.db import open_database
from tests.conftest import REPO
from tests.review_helpers import build_demo


def run(cfg: Path, *args: str, env: dict[str, str] | None = None,
        stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SCANNER_", "NCBI_"))}
    base["SCANNER_EUTILS_URL"] = "http://127.0.0.1:9/"
    return subprocess.run([sys.executable, "-m", "scanner", "--config", str(cfg), *args],
                          cwd=REPO, env={**base, **(env or {})}, input=stdin,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    directory = tmp_path_factory.mktemp("cli")
    url = build_demo(directory)
    return directory / "config.toml", url


def test_users_add_from_the_environment_or_stdin(demo: tuple[Path, str]) -> None:
    cfg, url = demo
    ok = run(cfg, "users", "add", "dana", "--role", "admin",
             env={"SCANNER_PASSWORD": "a long password"})
    assert ok.returncode == 0 and "added admin dana" in ok.stdout
    piped = run(cfg, "users", "add", "erin", "--role", "curator", stdin="piped password\n")
    assert piped.returncode == 0, piped.stderr
    again = run(cfg, "users", "add", "erin", "--role", "curator", stdin="piped password\n")
    assert again.returncode != 0 and again.stderr.strip() == (
        "scanner: error: user 'erin' already exists")
    short = run(cfg, "users", "add", "fay", "--role", "curator", stdin="short\n")
    assert short.returncode != 0 and "password too short" in short.stderr
    listed = run(cfg, "users", "list").stdout
    assert "dana\tadmin\tactive" in listed and "erin\tcurator\tactive" in listed
    assert run(cfg, "users", "disable", "dana").returncode == 0
    assert "dana\tadmin\tdisabled" in run(cfg, "users", "list").stdout
    missing = run(cfg, "users", "disable", "nobody")
    assert missing.returncode != 0 and "no user 'nobody'" in missing.stderr
    from scanner.store import users
    db = open_database(url)
    with db.write() as conn:
        assert users.authenticate(conn, "erin", "piped password") is not None
        assert users.authenticate(conn, "erin", "wrong password") is None
        assert users.authenticate(conn, "dana", "a long password") is None    # disabled
    db.dispose()


def test_export_writes_approved_entries_only(demo: tuple[Path, str], tmp_path: Path) -> None:
    cfg, url = demo
    assert json.loads(run(cfg, "export", "--format", "json").stdout) == []
    db = open_database(url)
    with db.write() as conn:
        rows, _ = store.queue(conn, store.QueueFilter(per_page=2))
        for row in rows:
            draft = store.get(conn, row.pmid)
            store.decide(conn, row.pmid, decision="approved", expected_version=draft.version,
                         actor="alice", snapshot={
                             "pmid": row.pmid, "title": draft.title, "fields": draft.fields,
                             "badge": draft.generated["badge"],
                             "stamps": draft.generated["stamps"], "record": {}})
    db.dispose()
    approved = sorted(r.pmid for r in rows)
    data = json.loads(run(cfg, "export", "--format", "json").stdout)
    assert sorted(e["pmid"] for e in data) == approved
    out = tmp_path / "atlas.csv"
    done = run(cfg, "export", "--format", "csv", "--output", str(out))
    assert done.returncode == 0 and "exported 2 approved entries" in done.stderr
    assert sorted(r["pmid"] for r in csv.DictReader(io.StringIO(out.read_text()))) == approved
    bad = run(cfg, "export", "--format", "docx")
    assert bad.returncode == 64 and "docx" in bad.stderr  # a usage error


@pytest.mark.slow
def test_demo_ends_by_serving_the_app_with_a_demo_login(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCANNER_", "NCBI_"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "scanner", "demo", "--database",
         f"sqlite:///{tmp_path / 'demo.sqlite'}", "--port", str(port)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("review app: http://"):
                break
        text = "".join(lines)
        login = re.search(r"sign in as '(\w+)' with password '([^']+)'", text)
        assert login, text
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=10) as client:
            for _ in range(100):
                try:
                    page = client.get("/login")
                    break
                except httpx.ConnectError:
                    time.sleep(0.1)
            token = re.search(r'name="login_token" value="([^"]+)"', page.text)
            assert token
            # Secure cookies: a browser sends them to http://127.0.0.1, httpx does not.
            r = client.post("/login", data={"username": login.group(1),
                                            "password": login.group(2),
                                            "login_token": token.group(1), "next": "/"},
                            headers={"Cookie": f"scanner_login={page.cookies['scanner_login']}"})
            assert r.status_code == 303
            queue = client.get("/", headers={
                "Cookie": f"scanner_session={r.cookies['scanner_session']}"}).text
        assert len(re.findall(r'href="/papers/\d+"', queue)) == 30
    finally:
        proc.terminate()
        proc.wait(timeout=30)

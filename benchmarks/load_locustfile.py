"""Locust users for benchmarks/load.py: signed-in curators working the review app.

Each user signs in as its own curator (``curator01``..) and loops over the queue, a
draft page, a save of that draft (a unique marker in its summary), an approval and an
export. Every response's status goes to a ledger; each save is recorded with its marker
and whether it was accepted (303) or refused (409), so the driver can check the store
afterwards. Environment: ``LOAD_PMIDS`` (a file of PMIDs, one a line), ``LOAD_PASSWORD``,
``LOAD_LEDGER`` (where the ledger is written as JSON when the run stops).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
from pathlib import Path
from typing import Any

from locust import HttpUser, between, events, task

PMIDS = Path(os.environ["LOAD_PMIDS"]).read_text().split()
PASSWORD = os.environ["LOAD_PASSWORD"]
LEDGER: dict[str, Any] = {"saves": [], "approvals": [], "statuses": {}}
_names = (f"curator{i:02d}" for i in itertools.count(1))

VERSION = re.compile(r'name="version" value="(\d+)"')
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
LOGIN = re.compile(r'name="login_token" value="([^"]+)"')


def _count(name: str, status: int) -> None:
    key = f"{name} {status}"
    LEDGER["statuses"][key] = LEDGER["statuses"].get(key, 0) + 1


@events.quitting.add_listener
def _write_ledger(**_kw: Any) -> None:
    Path(os.environ["LOAD_LEDGER"]).write_text(json.dumps(LEDGER))


class Curator(HttpUser):
    wait_time = between(0.5, 2.0)  # a person reading between clicks

    def on_start(self) -> None:
        self.username = next(_names)
        self.rng = random.Random(self.username)
        self.serial = 0
        origin = {"Origin": self.host or ""}
        page = self.client.get("/login", name="sign-in page")
        token = LOGIN.search(page.text)
        assert token, page.text[:300]
        r = self.client.post("/login", name="sign in", allow_redirects=False, headers=origin,
                             data={"username": self.username, "password": PASSWORD,
                                   "login_token": token.group(1), "next": "/"})
        _count("sign in", r.status_code)
        assert r.status_code == 303, (r.status_code, r.text[:300])

    def _draft(self, pmid: str) -> tuple[int, str] | None:
        page = self.client.get(f"/papers/{pmid}", name="draft page")
        _count("draft page", page.status_code)
        version, csrf = VERSION.search(page.text), CSRF.search(page.text)
        if page.status_code != 200 or not version or not csrf:
            return None
        return int(version.group(1)), csrf.group(1)

    @task(3)
    def queue(self) -> None:
        page = self.rng.choice([1, 1, 2, 3])
        state = self.rng.choice(["", "&state=all"])
        r = self.client.get(f"/?page={page}{state}", name="queue")
        _count("queue", r.status_code)

    @task(5)
    def edit(self) -> None:
        pmid = self.rng.choice(PMIDS)
        seen = self._draft(pmid)
        if seen is None:
            return
        version, csrf = seen
        self.serial += 1
        marker = f"Load test summary by {self.username}, save {self.serial}."
        with self.client.post(f"/papers/{pmid}/save", name="save", allow_redirects=False,
                              headers={"Origin": self.host or ""}, catch_response=True,
                              data={"csrf_token": csrf, "version": str(version),
                                    "summary": marker}) as r:
            _count("save", r.status_code)
            if r.status_code in (303, 409):
                r.success()  # a refused stale save is a correct answer
            LEDGER["saves"].append({"user": self.username, "pmid": pmid, "marker": marker,
                                    "version": version, "status": r.status_code})

    @task(1)
    def approve(self) -> None:
        pmid = self.rng.choice(PMIDS)
        seen = self._draft(pmid)
        if seen is None:
            return
        version, csrf = seen
        with self.client.post(f"/papers/{pmid}/approve", name="approve",
                              allow_redirects=False, headers={"Origin": self.host or ""},
                              catch_response=True,
                              data={"csrf_token": csrf, "version": str(version)}) as r:
            _count("approve", r.status_code)
            if r.status_code in (303, 409):
                r.success()
            LEDGER["approvals"].append({"user": self.username, "pmid": pmid,
                                        "version": version, "status": r.status_code})

    @task(1)
    def export(self) -> None:
        r = self.client.get("/export/json", name="export")
        _count("export", r.status_code)

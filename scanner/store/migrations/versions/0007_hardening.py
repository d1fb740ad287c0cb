"""hardening: scrub API keys from stored errors

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

An E-utilities error that echoed the request's API key (NCBI answers an invalid key with
``{"api-key": "..."}``) was stored whole in ``scan_runs.error`` and in the daemon's job
history, where ``scanner status --json`` showed it later. This replaces every value
labelled as an API key (and the key in ``NCBI_API_KEY``, when set) by ``***``. Downgrade
leaves the scrubbed text as it is (the keys are gone on purpose).
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# A copy of scanner.logs.API_KEY_PATTERN as of this revision (migrations do not follow
# later code).
_PATTERN = re.compile(r"""(?i)(api[-_ ]?key["']?\s*[:=]\s*["']?)([^"'\s,;&}<>]+)""")


def _scrub(text: str) -> str:
    key = os.environ.get("NCBI_API_KEY", "").strip()
    if key:
        text = text.replace(key, "***")
    return _PATTERN.sub(r"\1***", text)


def _scrub_json(value: Any) -> Any:
    if isinstance(value, str):
        return _scrub(value)
    if isinstance(value, list):
        return [_scrub_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _scrub_json(v) for k, v in value.items()}
    return value


def upgrade() -> None:
    conn = op.get_bind()
    runs = sa.table("scan_runs", sa.column("id", sa.Integer), sa.column("error", sa.Text))
    for row in conn.execute(sa.select(runs.c.id, runs.c.error)
                            .where(runs.c.error.is_not(None))).all():
        clean = _scrub(row.error)
        if clean != row.error:
            conn.execute(sa.update(runs).where(runs.c.id == row.id).values(error=clean))
    json_type = sa.JSON().with_variant(JSONB(), "postgresql")
    state = sa.table("daemon_state", sa.column("name", sa.String),
                     sa.column("current", json_type), sa.column("last_run", json_type),
                     sa.column("recent", json_type))
    for row in conn.execute(sa.select(state)).all():
        changed = {}
        for column in ("current", "last_run", "recent"):
            value = getattr(row, column)
            if isinstance(value, str):      # a JSON column read as text
                value = json.loads(value)
            clean = _scrub_json(value)
            if clean != value:
                changed[column] = clean
        if changed:
            conn.execute(sa.update(state).where(state.c.name == row.name).values(**changed))


def downgrade() -> None:
    pass

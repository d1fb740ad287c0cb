"""The public "Contribute" form: a correction to an entry or a missing paper, for curators.

Nothing a visitor writes is ever shown publicly: contributions go to the curators'
contributions page only. Before anything is stored: a size limit, a honeypot field
(a hidden input people leave empty; bots fill it), a spam check for forum advertising
and a per-address rate limit (addresses are kept only as a keyed sha256).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from dataclasses import dataclass

from ..errors import ReviewError
from ..store import public
from ..store.db import Database
from ..store.runs import utcnow

MAX_BODY = 4000
MAX_CONTACT = 200
RATE_LIMIT = 5                  # contributions per address ...
RATE_WINDOW = dt.timedelta(hours=1)   # ... per this window

# Advertising as seen in patient forums: discount and promo codes, shop and casino
# spam, "click here" links. One strong cue, or two weak ones, is spam.
_STRONG = [re.compile(p, re.IGNORECASE) for p in (
    r"\b(?:discount|coupon|promo(?:tion(?:al)?)?|referral|voucher|rebate)\s+codes?\b",
    r"\bcodes?\s*[:#]?\s*[A-Z]{2,}[0-9]{2,}[A-Z0-9]*\b",
    r"\b\d{1,2}\s*%\s*(?:off|discount)\b",
    r"\b(?:casino|viagra|cialis|porn|escort|payday loans?|forex signals?|crypto ?currency "
    r"investment|bitcoin doubler)\b",
    r"\b(?:buy|order)\s+(?:now|online|cheap)\b",
    r"\bSEO\s+services?\b",
)]
_WEAK = [re.compile(p, re.IGNORECASE) for p in (
    r"\biherb\b", r"\bamazon\.\w+/", r"\bfree shipping\b", r"\bclick here\b",
    r"\bbest price\b", r"\bwhats?app\b", r"\btelegram\b", r"\bbit\.ly/|\btinyurl\.com/",
    r"\bsupplements? (?:shop|store)\b",
)]
_URL = re.compile(r"https?://|www\.", re.IGNORECASE)
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


class ContributionRefused(ReviewError):
    """A contribution that is not stored; the message says why."""

    http_status = 400


class RateLimited(ContributionRefused):
    http_status = 429


@dataclass(frozen=True)
class Outcome:
    stored: bool
    message: str
    contribution_id: int | None = None


def is_spam(text: str) -> bool:
    """Forum advertising: one strong cue, two weak cues, or more than two links."""
    if any(p.search(text) for p in _STRONG):
        return True
    weak = sum(1 for p in _WEAK if p.search(text))
    return weak >= 2 or len(_URL.findall(text)) > 2


def address_key(address: str, secret: bytes) -> str:
    return hmac.new(secret, address.encode(), hashlib.sha256).hexdigest()


def submit(db: Database, *, pmid: str | None, kind: str, body: str, contact: str,
           honeypot: str, address: str, secret: bytes,
           now: dt.datetime | None = None) -> Outcome:
    """Check and store one contribution; raise :class:`ContributionRefused` saying why not."""
    thanks = ("Thank you: your message went to the curators. It will not be shown on "
              "this site.")
    if honeypot.strip():
        return Outcome(False, thanks)       # a bot: say nothing useful, store nothing
    body = body.replace("\r\n", "\n").strip()
    contact = contact.strip()
    if kind not in public.CONTRIBUTION_KINDS:
        raise ContributionRefused("choose what your message is about")
    if not body:
        raise ContributionRefused("write a message first")
    if len(body) > MAX_BODY:
        raise ContributionRefused(f"the message is too long ({len(body)} characters; at most "
                                  f"{MAX_BODY})")
    if contact and (len(contact) > MAX_CONTACT or not _EMAIL.match(contact)):
        raise ContributionRefused("the email address does not look right (or leave it empty)")
    if is_spam(f"{body}\n{contact}"):
        raise ContributionRefused("this message looks like advertising and was not sent")
    now = now or utcnow()
    key = address_key(address, secret)
    with db.write() as conn:
        if public.recent_from(conn, key, now - RATE_WINDOW) >= RATE_LIMIT:
            raise RateLimited(f"too many messages from your address: at most {RATE_LIMIT} "
                              "an hour; try again later")
        new_id = public.add_contribution(conn, pmid=pmid, kind=kind, body=body,
                                         contact=contact or None, address_sha256=key, now=now)
    return Outcome(True, thanks, new_id)

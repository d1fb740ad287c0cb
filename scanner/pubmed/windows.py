"""Create-date windows for esearch: as few as esearch's 9,999 cap allows.

A scan asks for the whole range first; only a range whose ``Count`` is over the cap is
partitioned (:func:`partition`): halved by date with count-only searches until every
part fits, then adjacent parts merged again while their counts still fit, so sparse
decades cost one window and dense years as many as their records require.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

#: PubMed's dates follow US Eastern time.
PUBMED_TZ = ZoneInfo("America/New_York")


@dataclass(frozen=True, order=True)
class Window:
    start: dt.date
    end: dt.date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def split(self) -> tuple[Window, Window]:
        if self.days < 2:
            raise ValueError("a one-day window cannot be split")
        mid = self.start + dt.timedelta(days=self.days // 2 - 1)
        return Window(self.start, mid), Window(mid + dt.timedelta(days=1), self.end)

    @property
    def mindate(self) -> str:
        return self.start.strftime("%Y/%m/%d")

    @property
    def maxdate(self) -> str:
        return self.end.strftime("%Y/%m/%d")

    def __str__(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


def partition(window: Window, count: int, count_of: Callable[[Window], int],
              cap: int) -> list[Window]:
    """Consecutive windows covering ``window`` (``count`` records), each expected to hold
    at most ``cap``, oldest first.

    ``count_of`` asks for one window's count (a ``retmax=0`` esearch). A part over the cap
    is halved; only the first half is counted, the second is the rest of its parent's
    count. Adjacent parts are then merged while their counts together fit. The counts are
    a plan, not a promise (records arrive meanwhile): the caller searches each window and
    partitions again one that turns out over the cap. A one-day part over the cap is
    returned as it is, for the caller to refuse.
    """
    leaves: list[tuple[Window, int]] = []
    stack = [(window, count)]
    while stack:
        part, n = stack.pop()
        if n <= cap or part.days == 1:
            leaves.append((part, n))
            continue
        first, second = part.split()
        n_first = count_of(first)
        stack += [(second, max(n - n_first, 0)), (first, n_first)]
    merged: list[tuple[Window, int]] = []
    for part, n in leaves:
        if merged and merged[-1][1] + n <= cap:
            last, m = merged[-1]
            merged[-1] = (Window(last.start, part.end), m + n)
        else:
            merged.append((part, n))
    return [part for part, _ in merged]


def plan_windows(start: dt.date, end: dt.date, days: int) -> Iterator[Window]:
    """Consecutive windows of at most ``days`` days covering ``start..end``, oldest first."""
    cursor = start
    step = dt.timedelta(days=days - 1)
    while cursor <= end:
        stop = min(cursor + step, end)
        yield Window(cursor, stop)
        cursor = stop + dt.timedelta(days=1)


def pubmed_today() -> dt.date:
    """Today's date where PubMed assigns create dates."""
    return dt.datetime.now(PUBMED_TZ).date()

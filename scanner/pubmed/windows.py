"""Create-date windows for incremental esearch, split when a window is over the cap."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
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

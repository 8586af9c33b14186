"""Which night a moment belongs to, in the venue's time zone."""

from datetime import UTC, date, datetime

import pytest

from services.floor import business_date


@pytest.mark.parametrize(
    ("utc", "night"),
    [
        (datetime(2026, 11, 21, 21, 0, tzinfo=UTC), date(2026, 11, 21)),  # before opening: tonight
        (datetime(2026, 11, 21, 23, 30, tzinfo=UTC), date(2026, 11, 21)),  # under way
        (datetime(2026, 11, 22, 2, 59, tzinfo=UTC), date(2026, 11, 21)),  # still last night
        (datetime(2026, 11, 22, 3, 1, tzinfo=UTC), date(2026, 11, 22)),  # closed: the next night
        (datetime(2026, 7, 1, 1, 30, tzinfo=UTC), date(2026, 6, 30)),  # 02:30 BST
    ],
)
def test_business_date(utc: datetime, night: date) -> None:
    assert business_date(utc, "Europe/London", 3) == night

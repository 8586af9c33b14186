"""Guests on file: finding one while staff type a name or a phone number, so a
new booking reuses the guest instead of making a second record of them; and
the shape a phone number or an email address must have before it is saved.

The search is a suggestion list, not the door's search: a name matches from
the start of the name or of any word in it, a phone number from its first
digits (a number typed the national way, 07700..., also finds +44 7700...).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

import asyncpg

from services.errors import NotFound
from services.floor import utc_now
from services.store.db import Database

# Fewer letters or digits than this would match half the guest book.
LEAST_LETTERS = 2
LEAST_DIGITS = 3
# A phone number has at most 15 digits (E.164); fewer than 7 is not a number anyone can call.
PHONE_DIGITS = (7, 15)

# The most a field may hold; the database checks the same (migration 0009).
NAME_MOST = 120
PHONE_MOST = 40
EMAIL_MOST = 254
NOTES_MOST = 500
REASON_MOST = 300

_PHONE = re.compile(r"^\+?[0-9(][0-9 ()\-]*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")


@dataclass(frozen=True, slots=True)
class GuestMatch:
    """A guest on file, with what helps staff tell two of the same name apart."""

    id: int
    name: str
    phone: str | None
    email: str | None
    vip: bool
    past_bookings: int  # on nights that are over, cancelled and expired ones left out
    no_shows: int
    last_night: date | None

    def summary(self, *, short: bool = False) -> str:
        """'3 past bookings · 1 no-show · VIP'; short, '3 past · 1 no-show · VIP'."""
        past = self.past_bookings
        if short:
            parts = [f"{past} past"]
        else:
            parts = ["no past bookings" if past == 0 else f"{past} past booking{'s' if past != 1 else ''}"]
        if self.no_shows:
            parts.append(f"{self.no_shows} no-show{'s' if self.no_shows != 1 else ''}")
        if self.vip:
            parts.append("VIP")
        return " · ".join(parts)


def digits_of(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def searchable(text: str) -> bool:
    """Whether `text` is enough to look guests up by: two letters of a name, or three digits."""
    text = text.strip()
    if any(c.isalpha() for c in text):
        return sum(c.isalpha() for c in text) >= LEAST_LETTERS
    return len(digits_of(text)) >= LEAST_DIGITS


def has_control(text: str) -> bool:
    """Whether `text` holds a control character (Unicode category Cc: tabs, line breaks, escapes)."""
    return any(unicodedata.category(ch) == "Cc" for ch in text)


def text_problem(
    what: str, text: str, most: int, *, plural: bool = False, one_line: bool = True
) -> str | None:
    """Why `text` cannot be saved as `what` (too long, or a control character in a
    one-line field), as a sentence for staff; None if it can. The one check every
    operation makes of what staff type."""
    if len(text) > most:
        verb, these = ("are", "these are") if plural else ("is", "this is")
        return f"{what} {verb} at most {most} characters; {these} {len(text)}."
    if one_line and has_control(text):
        return f"{what} cannot hold a control character (a tab, a line break or the like)."
    return None


def phone_problem(text: str) -> str | None:
    """What is wrong with a phone number as typed, in a few words; None if it will do (or is empty)."""
    text = text.strip()
    if not text:
        return None
    if len(text) > PHONE_MOST:
        return f"at most {PHONE_MOST} characters"
    if not _PHONE.match(text):
        return "like +44 7700 900123"
    count = len(digits_of(text))
    if count < PHONE_DIGITS[0]:
        return "too few digits"
    if count > PHONE_DIGITS[1]:
        return "too many digits"
    return None


def email_problem(text: str) -> str | None:
    """What is wrong with an email address as typed; None if it will do (or is empty)."""
    text = text.strip()
    if not text:
        return None
    if len(text) > EMAIL_MOST:
        return f"at most {EMAIL_MOST} characters"
    if has_control(text):
        return "no control characters"
    if _EMAIL.match(text):
        return None
    return "like name@example.com"


def _literal(text: str) -> str:
    """Typed text matches itself: % and _ are not wildcards here."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_GUEST_COLUMNS = """
    g.id, g.name, g.phone, g.email, g.vip,
    count(b.id) filter (where n.ends_at <= $1 and b.status not in ('cancelled', 'expired'))
        as past_bookings,
    count(b.id) filter (where n.ends_at <= $1 and b.status = 'no_show') as no_shows,
    max(n.date) filter (where n.ends_at <= $1 and b.status not in ('cancelled', 'expired'))
        as last_night
"""
_GUEST_JOINS = """
    from backroom.guest g
    left join backroom.booking b on b.guest_id = g.id
    left join backroom.night n on n.id = b.night_id
"""

# $2 the name as typed (a literal for LIKE) or null; $3 the digits typed or null;
# $4 for a number typed the national way (leading 0), the digits after that 0.
_SEARCH = f"""
    with found as (
        select {_GUEST_COLUMNS},
               regexp_replace(coalesce(g.phone, ''), '[^0-9]', '', 'g') as phone_digits
        {_GUEST_JOINS}
        where ($2::text is not null and (g.name ilike $2 || '%' or g.name ilike '% ' || $2 || '%'))
           or ($3::text is not null and g.phone is not null
               and (regexp_replace(g.phone, '[^0-9]', '', 'g') like $3 || '%'
                    or ($4::text is not null
                        and regexp_replace(g.phone, '[^0-9]', '', 'g') ~ ('^[0-9]{{1,3}}' || $4)
                        and g.phone like '+%')))
        group by g.id
    )
    select id, name, phone, email, vip, past_bookings, no_shows, last_night,
           case when $2::text is not null and lower(name) = lower($5) then 0
                when $3::text is not null and phone_digits = $3 then 0
                when $2::text is not null and name ilike $2 || '%' then 1
                when $2::text is not null then 2
                when phone_digits like $3 || '%' then 3
                else 4 end as score
    from found
    order by score, past_bookings desc, vip desc, last_night desc nulls last, name, id
    limit $6
"""


def _match(row: asyncpg.Record) -> GuestMatch:
    return GuestMatch(
        id=row["id"],
        name=row["name"],
        phone=row["phone"],
        email=row["email"],
        vip=row["vip"],
        past_bookings=int(row["past_bookings"]),
        no_shows=int(row["no_shows"]),
        last_night=row["last_night"],
    )


class GuestService:
    """Reads guests on file. Changing a guest's details is part of amending a booking
    (`BookingService.amend`), where it is checked and audited with the booking."""

    def __init__(self, db: Database, clock: Callable[[], datetime] = utc_now) -> None:
        self._db = db
        self._clock = clock

    async def search(self, text: str, *, limit: int = 5) -> list[GuestMatch]:
        """Guests whose name or phone number starts with `text`, best first.

        An exact name or number first, then names that start with the text, then
        names with a later word that does, then phone numbers; among equals, the
        guest who has come most often, a VIP, the one seen most recently.
        """
        text = " ".join(text.split())
        if not searchable(text):
            return []
        if any(c.isalpha() for c in text):
            name, digits, national = _literal(text), None, None
        else:
            digits = digits_of(text)
            name = None
            national = digits[1:] if digits.startswith("0") and len(digits) > LEAST_DIGITS else None
        async with self._db.transaction(readonly=True) as conn:
            rows = await conn.fetch(_SEARCH, self._clock(), name, digits, national, text, limit)
        return [_match(r) for r in rows]

    async def get(self, guest_id: int) -> GuestMatch:
        async with self._db.transaction(readonly=True) as conn:
            row = await conn.fetchrow(
                f"select {_GUEST_COLUMNS} {_GUEST_JOINS} where g.id = $2 group by g.id",
                self._clock(),
                guest_id,
            )
        if row is None:
            raise NotFound("That guest is no longer on file.")
        return _match(row)

    async def of_booking(self, booking_id: int) -> GuestMatch:
        """The guest a booking is for, with their phone and email."""
        async with self._db.transaction(readonly=True) as conn:
            guest_id = await conn.fetchval("select guest_id from backroom.booking where id = $1", booking_id)
        if guest_id is None:
            raise NotFound(f"There is no booking {booking_id}.")
        return await self.get(guest_id)

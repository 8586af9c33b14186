"""The changes staff make to the floor's selected table, each from its key to its `Write`.

Book, hold, release, confirm, check in, move, edit, cancel, no-show, complete,
undo and seat a walk-in: each action asks its questions (a form or a dialog of
its own) and hands the change to `start_write`, which runs it in the "action"
worker. The floor screen says which table is selected, whether an action fits
it now (`_ready`) and who may act; this class is only the flows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from screens.booking_steps import (
    BookingServices,
    NightScreen,
    check_in_dialog,
    check_in_write,
    no_show_dialog,
    walk_in_write,
)
from screens.dialogs.ask import ChoiceDialog, ConfirmDialog, Dialog, ReasonDialog
from screens.dialogs.undo import ask_undo, choice_words
from screens.floor.actions import Intent, Write, undoable
from screens.floor.holds import HoldWatch
from screens.floor.refusals import ROLE_WORDS
from services.bookings import DEPOSIT_OUTCOMES
from services.errors import Alternative
from services.identity.permissions import WORDS, Operation
from services.models import Booking, Hold, Night, Table, TableState, TileStatus
from services.wording import table_numbers
from widgets.display import BOOKING_WORDS, local_time

if TYPE_CHECKING:
    # The forms are imported when one is opened: the floor starts without them.
    from screens.forms.booking import BookingRequest
    from screens.forms.edit import EditRequest
    from screens.forms.move import MoveRequest
    from screens.forms.walk_in import WalkInRequest


class TableFlows(NightScreen[BookingServices]):
    """The table actions of `FloorScreen`. The floor provides what they stand on: the
    night shown, the selected table, who may act, and the holds it keeps."""

    # Holds taken on this console, and those watched so that their end is said.
    _my_holds: set[int]
    _watched: dict[int, HoldWatch]

    def _ready(self, action: str) -> TableState | None:
        """The selected table, if `action` may go ahead now; else say why not and None."""
        raise NotImplementedError

    def held_by_me(self, state: TableState) -> bool:
        raise NotImplementedError

    @property
    def tonight(self) -> bool:
        raise NotImplementedError

    def may(self, operation: Operation) -> bool:
        raise NotImplementedError

    def why_not(self, names: Sequence[str]) -> str | None:
        raise NotImplementedError

    def _keep_hold(self, hold_id: int) -> None:
        raise NotImplementedError

    def _stop_keeping_hold(self) -> None:
        raise NotImplementedError

    # The actions -----------------------------------------------------------------

    def action_new_booking(self) -> None:
        from screens.forms.booking import BookingForm

        state = self._ready("new_booking")
        if state is None or self.snapshot is None:
            return
        night, timezone = self.snapshot.night, self.snapshot.timezone
        hold = state.hold if self.held_by_me(state) else None
        form = BookingForm(
            state.table,
            night,
            timezone,
            arrival=self._default_arrival(night),
            held=hold is not None,
            guests=self.services.bookings.guests,
            on_answer=partial(self._book, Intent(), night.id, (state.table.id,)),
        )
        if hold is not None:
            self._keep_hold(hold.id)
        self.app.push_screen(form, lambda _result: self._stop_keeping_hold())

    def _book(
        self,
        intent: Intent,
        night_id: int,
        table_ids: Sequence[int],
        request: BookingRequest,
        dialog: Dialog[Any],
    ) -> None:
        self.start_write(self._booking_write(intent, night_id, tuple(table_ids), request), dialog)

    def _booking_write(
        self,
        intent: Intent,
        night_id: int,
        table_ids: tuple[int, ...],
        request: BookingRequest,
        ends_at: datetime | None = None,
    ) -> Write:
        bookings, actor = self.services.bookings, self.services.actor

        async def call(op_id: str) -> Booking:
            return await bookings.create(
                actor,
                night_id=night_id,
                table_ids=list(table_ids),
                party_size=request.party_size,
                starts_at=request.starts_at,
                ends_at=ends_at,
                guest=request.guest,
                deposit=request.deposit,
                op_id=op_id,
            )

        def elsewhere(alternative: Alternative, fresh: Intent) -> Write:
            # The same guest and party, at the table and time chosen instead.
            return self._booking_write(
                fresh,
                night_id,
                alternative.table_ids,
                replace(request, starts_at=alternative.starts_at),
                alternative.ends_at,
            )

        def done(booking: Booking) -> str:
            return (
                f"Booked {booking.ref} · {booking.guest_name} · {self._where(booking)} "
                f"({BOOKING_WORDS[booking.status]})"
            )

        return Write(f"book table {self._numbers(table_ids)}", call, done, intent, retarget=elsewhere)

    def action_hold(self) -> None:
        state = self._ready("hold")
        if state is None or self.snapshot is None:
            return
        bookings, actor = self.services.bookings, self.services.actor
        night_id, table = self.snapshot.night.id, state.table

        async def call(op_id: str) -> Hold:
            hold = await bookings.hold(actor, night_id=night_id, table_id=table.id, op_id=op_id)
            self._my_holds.add(hold.id)
            return hold

        def done(hold: Hold) -> str:
            return (
                f"Table {table.number} is held for you until "
                f"{local_time(hold.expires_at, self.timezone, seconds=True)}"
            )

        self.start_write(Write(f"hold table {table.number}", call, done))

    def action_release(self) -> None:
        state = self._ready("release")
        if state is None or state.hold is None:
            return
        bookings, actor = self.services.bookings, self.services.actor
        hold_id, number = state.hold.id, state.table.number

        async def call(_op_id: str) -> None:
            await bookings.release_hold(actor, hold_id)
            self._my_holds.discard(hold_id)
            self._watched.pop(hold_id, None)

        self.start_write(
            Write(f"release table {number}", call, lambda _none: f"Released your hold on table {number}")
        )

    def action_confirm(self) -> None:
        booking = self._booking_for("confirm")
        if booking is None:
            return
        bookings, actor = self.services.bookings, self.services.actor

        async def call(op_id: str) -> Booking:
            return await bookings.confirm(actor, booking.id, booking.version, op_id=op_id)

        self.start_write(
            Write(f"confirm {booking.ref}", call, lambda b: f"Confirmed {b.ref} · {b.guest_name}")
        )

    def action_check_in(self) -> None:
        if self.snapshot is not None and not self.tonight:
            self.notify(self.why_not(["check_in"]) or "Check-in is for tonight only.", severity="warning")
            return
        booking = self._booking_for("check_in")
        if booking is None:
            return
        self.app.push_screen(check_in_dialog(booking, on_answer=partial(self._check_in, Intent(), booking)))

    def _check_in(self, intent: Intent, booking: Booking, arrived: int, dialog: Dialog[Any]) -> None:
        self.start_write(check_in_write(self.services, intent, booking, arrived), dialog)

    def action_cancel_booking(self) -> None:
        booking = self._booking_for("cancel_booking")
        if booking is None:
            return
        heading = f"Cancel {booking.ref} · {booking.guest_name}"

        def confirm(reason: str, deposit: str | None) -> None:
            said = f"\nThe deposit of {booking.deposit:,.0f} is {deposit}." if deposit else ""
            self.app.push_screen(
                ConfirmDialog(
                    heading + "?",
                    f"{self._summary(booking)}.\nReason: {reason}{said}\n"
                    f"This releases {self._where(booking, at=False)}.",
                    yes="cancel the booking",
                    on_answer=partial(self._cancel, Intent(), booking, reason, deposit),
                )
            )

        def reasoned(reason: str | None) -> None:
            if not reason:
                return
            if not booking.paid_deposit:
                confirm(reason, None)
                return
            # A paid deposit is kept or refunded, and the booking records which.
            self.app.push_screen(
                ChoiceDialog(
                    heading,
                    f"The guest paid a deposit of {booking.deposit:,.0f}. Is it:",
                    ["kept (the guest loses it)", "refunded to the guest"],
                ),
                lambda index: confirm(reason, DEPOSIT_OUTCOMES[index]) if index is not None else None,
            )

        self.app.push_screen(
            ReasonDialog(
                heading, "Why is it cancelled? (kept in the audit log)", placeholder="Guest called to cancel"
            ),
            reasoned,
        )

    def _cancel(
        self,
        intent: Intent,
        booking: Booking,
        reason: str,
        deposit: str | None,
        _yes: bool,
        dialog: Dialog[Any],
    ) -> None:
        bookings, actor = self.services.bookings, self.services.actor

        async def call(op_id: str) -> Booking:
            return await bookings.cancel(
                actor, booking.id, booking.version, reason, deposit=deposit, op_id=op_id
            )

        def done(b: Booking) -> str:
            kept = f" · deposit {b.deposit_outcome}" if b.deposit_outcome else ""
            return f"Cancelled {b.ref} · {b.guest_name}{kept}"

        self.start_write(Write(f"cancel {booking.ref}", call, done), dialog)

    def action_no_show(self) -> None:
        booking = self._booking_for("no_show")
        if booking is None:
            return
        self.app.push_screen(
            no_show_dialog(
                self.services,
                booking,
                summary=self._summary(booking),
                where=partial(self._where, at=False),
                start=self.start_write,
            )
        )

    def action_complete(self) -> None:
        booking = self._booking_for("complete")
        if booking is None:
            return
        bookings, actor = self.services.bookings, self.services.actor

        async def call(op_id: str) -> Booking:
            return await bookings.complete(actor, booking.id, booking.version, op_id=op_id)

        where = self._where(booking, at=False)
        write = Write(
            f"complete {booking.ref}", call, lambda b: f"Completed {b.ref} · {b.guest_name} · {where} is free"
        )
        self.app.push_screen(
            ConfirmDialog(
                f"Complete {booking.ref} · {booking.guest_name}?",
                f"{self._summary(booking)}.\nThe party has left; {where} is free again.",
                yes="complete",
                on_answer=lambda _yes, dialog: self.start_write(write, dialog),
            )
        )

    def action_undo(self) -> None:
        state = self._ready("undo")
        if state is None or self.snapshot is None:
            return
        found = undoable(
            state, tonight=self.tonight, now=self.services.clock(), night_ends=self.snapshot.night.ends_at
        )
        choices = [(operation, booking) for operation, booking in found if self.may(operation)]
        if not choices:
            role = ROLE_WORDS.get(self.services.actor.role or "", "This account")
            self.notify(f"{role} may not {WORDS[found[0][0]]}: ask a manager.", severity="warning", timeout=6)
            return
        if len(choices) == 1:
            self._undo(*choices[0])
            return

        def chosen(index: int | None) -> None:
            if index is not None:
                self._undo(*choices[index])

        self.app.push_screen(
            ChoiceDialog(
                f"Undo · table {state.table.number}",
                "What is to be undone?",
                [choice_words(operation, booking) for operation, booking in choices],
            ),
            chosen,
        )

    def _undo(self, operation: Operation, booking: Booking) -> None:
        ask_undo(
            self.services.bookings,
            self.services.actor,
            operation,
            booking,
            where=self._where(booking, at=False),
            push=lambda dialog: self.app.push_screen(dialog),
            start=self.start_write,
        )

    def action_move_booking(self) -> None:
        from screens.forms.move import MoveForm

        booking = self._booking_for("move_booking")
        if booking is None or self.snapshot is None:
            return
        snapshot = self.snapshot
        tables = {state.table.number: state.table for state in snapshot.tables.values()}
        self.app.push_screen(
            MoveForm(
                booking,
                tables,
                snapshot.night,
                snapshot.timezone,
                on_answer=partial(self._move, Intent(), booking),
            )
        )

    def _move(self, intent: Intent, booking: Booking, request: MoveRequest, dialog: Dialog[Any]) -> None:
        self.start_write(self._move_write(intent, booking, request.table_ids, request.starts_at), dialog)

    def _move_write(
        self,
        intent: Intent,
        booking: Booking,
        table_ids: tuple[int, ...] | None,
        starts_at: datetime | None,
        ends_at: datetime | None = None,
    ) -> Write:
        bookings, actor = self.services.bookings, self.services.actor

        async def call(op_id: str) -> Booking:
            return await bookings.move(
                actor,
                booking.id,
                booking.version,
                table_ids=list(table_ids) if table_ids is not None else None,
                starts_at=starts_at,
                ends_at=ends_at,
                op_id=op_id,
            )

        def elsewhere(alternative: Alternative, fresh: Intent) -> Write:
            return self._move_write(
                fresh, booking, alternative.table_ids, alternative.starts_at, alternative.ends_at
            )

        def a_change(alternative: Alternative) -> bool:
            # The booking's own place is free for itself: offering it would move nothing.
            return (
                tuple(sorted(alternative.table_ids)) != tuple(sorted(booking.table_ids))
                or alternative.starts_at != booking.starts_at
            )

        def done(b: Booking) -> str:
            from screens.forms.move import higher_spend

            moved = f"Moved {b.ref} · {b.guest_name} to {self._where(b)}"
            higher = higher_spend(
                self._by_number(), self._numbers_of(booking.table_ids), self._numbers_of(b.table_ids)
            )
            return f"{moved}. {higher}." if higher else moved

        return Write(
            f"move {booking.ref}",
            call,
            done,
            intent,
            retarget=elsewhere,
            usable=a_change,
            instead="move it there",
        )

    def _by_number(self) -> dict[int, Table]:
        tables = self.snapshot.tables if self.snapshot is not None else {}
        return {state.table.number: state.table for state in tables.values()}

    def _numbers_of(self, table_ids: Iterable[int]) -> list[int]:
        tables = self.snapshot.tables if self.snapshot is not None else {}
        return sorted(tables[i].table.number for i in table_ids if i in tables)

    def action_edit_booking(self) -> None:
        from screens.forms.edit import EditForm

        booking = self._booking_for("edit_booking")
        if booking is None or self.snapshot is None:
            return
        snapshot = self.snapshot
        tables = [snapshot.tables[i].table for i in booking.table_ids if i in snapshot.tables]
        self.app.push_screen(
            EditForm(
                booking,
                tables,
                snapshot.night,
                snapshot.timezone,
                guests=self.services.bookings.guests,
                on_answer=partial(self._edit, Intent(), booking),
            )
        )

    def _edit(self, intent: Intent, booking: Booking, request: EditRequest, dialog: Dialog[Any]) -> None:
        bookings, actor = self.services.bookings, self.services.actor

        async def call(op_id: str) -> Booking:
            return await bookings.amend(
                actor,
                booking.id,
                booking.version,
                party_size=request.party_size,
                starts_at=request.starts_at,
                notes=request.notes,
                guest=request.guest,
                op_id=op_id,
            )

        # No alternatives here: a party the tables cannot seat is a move, and the form says so.
        self.start_write(
            Write(
                f"change {booking.ref}",
                call,
                lambda b: f"Changed {b.ref} · {b.guest_name} · {self._summary(b)}",
                intent,
            ),
            dialog,
        )

    def action_walk_in(self) -> None:
        from screens.forms.walk_in import WalkInForm

        state = self._ready("walk_in")
        if state is None or self.snapshot is None:
            return
        table = state.table if self._walk_in_here(state) else None
        self.app.push_screen(
            WalkInForm(
                table,
                party=table.min_party if table is not None else 2,
                on_answer=partial(
                    self._walk_in, Intent(), self.snapshot.night.id, table.id if table is not None else None
                ),
            )
        )

    def _walk_in_here(self, state: TableState) -> bool:
        """A free table (or one this staff member holds) seats them; else the best free one."""
        return state.status is TileStatus.FREE or self.held_by_me(state)

    def _walk_in(
        self, intent: Intent, night_id: int, table_id: int | None, request: WalkInRequest, dialog: Dialog[Any]
    ) -> None:
        where = partial(self._where, at=False)
        self.start_write(
            walk_in_write(self.services, intent, night_id, table_id, request, where=where), dialog
        )

    def _booking_for(self, action: str) -> Booking | None:
        state = self._ready(action)
        return state.booking if state is not None else None

    # Words -------------------------------------------------------------------------

    @property
    def timezone(self) -> str:
        return self.snapshot.timezone if self.snapshot is not None else "UTC"

    def _numbers(self, table_ids: Iterable[int]) -> str:
        tables = self.snapshot.tables if self.snapshot is not None else {}
        return table_numbers(table_ids, {i: s.table.number for i, s in tables.items()})

    def _where(self, booking: Booking, *, at: bool = True) -> str:
        where = f"table {self._numbers(booking.table_ids)}"
        if at:
            where += f" at {local_time(booking.starts_at, self.timezone)}"
        return where

    def _summary(self, booking: Booking) -> str:
        return (
            f"Party of {booking.party_size} at {local_time(booking.starts_at, self.timezone)}"
            f" on {self._where(booking, at=False)}, {BOOKING_WORDS[booking.status]}"
        )

    def _default_arrival(self, night: Night) -> datetime:
        from screens.forms.base import default_arrival

        return default_arrival(night, self.services.clock())

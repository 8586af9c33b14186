"""One way for every screen to make a change: a `Write` runs in the screen's
"action" worker, its outcome comes back as a toast, a refusal as a clear
message or as alternatives to choose from, and a change that needs a fresh
authenticator code asks for it.

A refusal means nothing was written, so the next try is a new intent with a
new operation id. When the connection failed on the way (the service then
found out whether the change was made, or could not: `Interrupted`), or
anything else went wrong, the operation id is kept: trying again from the
same dialog cannot make the change twice.

A form that a refusal asks a question about (the alternatives, a code) stays
open under the question with its entries as typed: Esc on the question goes
back to it, and it closes once the change is made.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from textual import work
from textual.worker import Worker, WorkerState

from screens.dialogs.alternatives import AlternativesDialog
from screens.dialogs.ask import CodeDialog, Dialog
from screens.floor.actions import Intent, Write
from screens.live import LiveScreen
from services.errors import (
    BookingError,
    Interrupted,
    PartyDoesNotFit,
    StaleBooking,
    StepUpRequired,
    TableTaken,
)
from services.identity.accounts import SignInError
from services.store.db import Actor, DatabaseError, connection_lost

if TYPE_CHECKING:
    from services.bookings import BookingService
    from services.identity.sign_in import SignInBackend

OFFLINE = "Offline: changes are paused until the console is live again"
BUSY = "Still saving the last change; one moment."


class WritingServices(Protocol):
    """What the write runner needs from the console's services."""

    @property
    def bookings(self) -> BookingService: ...

    @property
    def actor(self) -> Actor: ...

    @property
    def identity(self) -> SignInBackend | None: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...


class WritingScreen(LiveScreen):
    """A main screen whose keys change bookings. Subclasses set `services` and may
    override `after_write` (what to read or select once a change is made) and
    `timezone` (for the times in the alternatives dialog)."""

    services: WritingServices
    _writing = False

    @property
    def writing(self) -> bool:
        return self._writing

    @property
    def timezone(self) -> str:
        return "UTC"

    def may_write(self) -> bool:
        """Whether a change may start now; if not, say why."""
        if not self.live:
            self.notify(OFFLINE, severity="error")
            return False
        if self._writing:
            self.notify(BUSY, severity="warning")
            return False
        return True

    async def after_write(self, result: object) -> None:
        """Called once a change is made (or refused: `result` is None); read what changed."""

    def start_write(
        self, write: Write, dialog: Dialog[Any] | None = None, *, beneath: Dialog[Any] | None = None
    ) -> None:
        """Run `write`; `dialog` asked for it. `beneath` is a form kept open under a
        refusal's question (alternatives, a code): it closes too once the change is made."""
        self._writing = True
        self._write(write, dialog, beneath)

    @work(exclusive=True, group="action", exit_on_error=False)
    async def _write(
        self, write: Write, dialog: Dialog[Any] | None, beneath: Dialog[Any] | None = None
    ) -> None:
        try:
            if not self.live:
                # The feed may have dropped while the dialog was open.
                self._failed(OFFLINE, dialog)
                return
            try:
                result = await write.call(write.intent.op_id)
            except Interrupted as err:
                # Not a refusal: keep the operation id, so another try cannot do it twice.
                self._failed(
                    f"Could not {write.what}: {err}",
                    dialog,
                    again=" Enter tries again." if dialog is not None else "",
                )
                return
            except (BookingError, SignInError) as err:
                # Refused (a code asked for first too): nothing was written, so another try
                # is a new intent.
                write.intent.renew()
                await self._refused(write, err, dialog, beneath)
                return
            except Exception as err:
                # The outcome is unknown (the answer may be lost, not the change): keep the
                # operation id, so trying again from the same dialog cannot do it twice.
                self._failed(
                    f"Could not {write.what}: {failure_words(err)}",
                    dialog,
                    again=" Enter tries again." if dialog is not None else "",
                )
                return
            if dialog is not None:
                dialog.finish()
            if beneath is not None:
                beneath.finish()
            self.notify(write.done(result))
            await self.after_write(result)
        finally:
            self._writing = False

    def _failed(self, text: str, dialog: Dialog[Any] | None, *, again: str = "") -> None:
        if dialog is not None and dialog.is_attached:
            dialog.failed(text + again)
        self.notify(text, severity="error", timeout=8)

    def _keep_beneath(
        self, err: BookingError | SignInError, dialog: Dialog[Any] | None, beneath: Dialog[Any] | None
    ) -> Dialog[Any] | None:
        """Before a refusal's question: the form that stays open under it, as typed (Esc on
        the question goes back to it), or None. A dialog that is only a question closes."""
        if dialog is None:
            return beneath
        if dialog is not beneath and dialog.keeps_open(err):
            dialog.failed(str(err))
            if beneath is not None:
                beneath.finish()
            return dialog
        dialog.finish()
        return beneath

    async def _refused(
        self,
        write: Write,
        err: BookingError | SignInError,
        dialog: Dialog[Any] | None,
        beneath: Dialog[Any] | None = None,
    ) -> None:
        retarget = write.retarget
        if isinstance(err, TableTaken | PartyDoesNotFit) and retarget is not None:
            alternatives = [alt for alt in err.alternatives if write.usable(alt)]
            if alternatives:
                form = self._keep_beneath(err, dialog, beneath)
                fresh = Intent()  # a new intent: booking there is a new decision
                self.app.push_screen(
                    AlternativesDialog(
                        f"Could not {write.what}",
                        str(err),
                        alternatives,
                        self.timezone,
                        verb=write.instead,
                        on_answer=lambda alt, chooser: self.start_write(
                            retarget(alt, fresh), chooser, beneath=form
                        ),
                    )
                )
                return
        if isinstance(err, StepUpRequired) and self.services.identity is not None:
            self._ask_for_code(write, str(err), self._keep_beneath(err, dialog, beneath))
            return
        title = (
            f"Changed by {err.info.changed_by}"
            if isinstance(err, StaleBooking)
            else f"Could not {write.what}"
        )
        self.notify(str(err), title=title, severity="error", timeout=8)
        if dialog is not None:
            if dialog.keeps_open(err):
                dialog.failed(str(err))
            else:
                dialog.finish()
                if beneath is not None:
                    # Back to the form under the question, which says what went wrong.
                    if beneath.keeps_open(err):
                        beneath.failed(str(err))
                    else:
                        beneath.finish()
        # Whatever refused it is likely news to this console.
        await self.after_write(None)

    def _ask_for_code(self, write: Write, reason: str, beneath: Dialog[Any] | None = None) -> None:
        """A change that needs a fresh authenticator code: ask for it, then make the change."""
        identity, actor = self.services.identity, self.services.actor
        assert identity is not None

        def with_code(code: str, dialog: Dialog[Any]) -> None:
            async def call(op_id: str) -> Any:
                await identity.verify_code(actor, code, "step_up")
                return await write.call(op_id)

            self.start_write(replace(write, call=call), dialog, beneath=beneath)

        self.app.push_screen(CodeDialog(f"A code is needed to {write.what}", reason, on_answer=with_code))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker.group == "action":
            # Refusals and lost connections are handled in the worker; this is anything else.
            self.notify(f"That change hit a problem: {event.worker.error}", severity="error", timeout=10)
            self.run_worker(self.after_write(None), group="after", exit_on_error=False)


UNANSWERED = (
    "the database did not answer, so we cannot tell whether this was saved. "
    "Try again: it will not be done twice."
)


def failure_words(err: Exception) -> str:
    """A failure that is not a refusal, in staff words: never the driver's own."""
    if isinstance(err, DatabaseError):
        return str(err)
    if connection_lost(err):
        return UNANSWERED
    return str(err) or type(err).__name__

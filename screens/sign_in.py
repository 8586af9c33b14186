"""Signing in: email, password and the code the staff member's authenticator shows now
(or one of their recovery codes), at the start of a shift, after signing out, or
when someone else takes over a locked console.

The check is the sign-in backend's (`services.identity.sign_in`): the console's own staff
accounts, or Supabase Auth (password, then a challenge and verification of the
staff member's TOTP factor). The screen says which one it signs in through, and
offers recovery codes only where they exist. A backend with a session of its
own (Supabase) is told to end it when the screen opens: whoever signed in
before has left.

Enter moves to the next field and, from the code, signs in. The check runs in a
worker; a refusal shows the backend's own sentence, which never says which of
the three was wrong (only how long to wait when there were too many tries, or
until when the account is locked). The screen closes with the `Session`; the
App decides what comes next.

The demo, and only the demo, hands in its accounts (`DemoAccounts`): the
screen then lists them, marked as the demo's, and one key each fills in the
email, password and the code valid at that moment, with the focus on the code
so that Enter signs in. Without them nothing of the demo is shown, and its keys
are not bound.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Protocol

from textual import work
from textual.binding import ActiveBinding, Binding
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Input, Static

from screens.cover import WORKING, CoverScreen, trouble
from screens.help import key_words
from services.identity.accounts import Session, SignInError
from services.identity.sign_in import HoldsSession, SignInBackend, describe
from widgets.demo_accounts import DemoAccountList, DemoRow
from widgets.field import Field, ok

log = logging.getLogger(__name__)

FIELDS = ("email", "password", "code")
MISSING = {"email": "your email", "password": "your password", "code": "the code"}


class DemoLogin(Protocol):
    """One of the demo's accounts, as the sign-in screen lists and fills it in."""

    @property
    def role(self) -> str: ...
    @property
    def email(self) -> str: ...
    @property
    def password(self) -> str: ...


class DemoAccounts(Protocol):
    """The demo's accounts, one per role; `backroom demo` is the only one to hand them in."""

    @property
    def accounts(self) -> Sequence[DemoLogin]: ...

    async def code_now(self, email: str) -> str | None:
        """A code that signs this account in now; None when there is none to give."""
        ...


# The role each demo key fills in, in the order the list shows them.
DEMO_ROLES = ("door", "manager", "admin", "support")


def reenrol_advice(session: Session) -> str:
    """What a staff member who signed in without their authenticator must do next."""
    how = (
        "with a recovery code. That code is used up now"
        if session.used_recovery_code
        else "but your authenticator is not set up"
    )
    return (
        f"Signed in as {session.actor.name} ({session.actor.role}) {how}.\n\n"
        "Ask an admin to re-enrol your authenticator:\n"
        f"    backroom staff reset-totp {session.email}\n"
        "Until then, each sign-in takes another of your recovery codes."
    )


class SignInScreen(CoverScreen[Session]):
    """Closes with the signed-in `Session`. `note` says why it is showing (who signed out)."""

    DEFAULT_CSS = """
    SignInScreen {
        & #sign-in-note, & #sign-in-via { color: $text-muted; }
        & #advice { display: none; }
        &.-advice Field, &.-advice #sign-in-note, &.-advice #sign-in-via,
        &.-advice DemoAccountList { display: none; }
        &.-advice #advice { display: block; }
    }
    """

    SUB_TITLE = "Sign in"

    BINDINGS = [
        # Priority, so the App moves the focus before it hands on the next key: keys that
        # arrive together with Enter (tmux, a password manager typing) land in the next
        # field. Input's own Enter would move the focus only after they had gone astray.
        Binding("enter", "next_field", "Next field", show=False, priority=True, id="sign_in.next"),
        # Only once signed in with a recovery code: the fields are gone, Enter goes on.
        Binding("enter", "go_on", "Go to the floor", show=False, id="sign_in.go_on"),
        # The demo's accounts (only when the demo hands them in): a function key, and Alt with
        # the role's initial where a terminal keeps the function key for itself (F10 opens a
        # menu in some). Not Alt with a digit: Textual reads Esc 1 as macOS's Option+1 (¡).
        # Priority, or the field in use would take Alt+D as the letter.
        *(
            Binding(
                f"f{7 + n},alt+{role[0]}",
                f"demo('{role}')",
                f"Fill in the demo {role} account",
                show=False,
                priority=True,
                id=f"sign_in.demo_{role}",
            )
            for n, role in enumerate(DEMO_ROLES)
        ),
    ]

    def __init__(
        self,
        identity: SignInBackend,
        *,
        note: str = "",
        demo: DemoAccounts | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__("Backroom Console · sign in", name=name, id=id, classes=classes)
        self.identity = identity
        self.via = describe(identity)
        self.note = note
        self.demo = demo
        self.working = False
        self.session: Session | None = None  # set while the re-enrol advice shows
        self._handed_over = False

    def compose_body(self) -> Iterable[Widget]:
        yield Static(
            Content(self.note or "Sign in with your staff account."), id="sign-in-note", classes="cover--text"
        )
        yield Static(Content(self.via.sentence()), id="sign-in-via", classes="cover--text")
        yield Static("", classes="cover--gap")
        yield Field("Email", placeholder="name@venue", max_length=254, input_width=34, id="email")
        yield Field("Password", password=True, max_length=200, input_width=34, id="password")
        code_note = (
            "six digits, or a recovery code"
            if self.via.recovery_codes
            else "six digits from your authenticator"
        )
        yield Field(
            "Code",
            placeholder="123456",
            max_length=24,
            input_width=12,
            id="code",
            check=lambda _text: ok(code_note),
        )
        if self.demo is not None:
            rows = [
                DemoRow(self._demo_keys(account.role), account.role, account.email)
                for account in self._demo_accounts()
            ]
            yield Static("", classes="cover--gap")
            yield DemoAccountList(rows, id="demo-accounts")
        yield Static("", id="advice", classes="cover--text")

    def hint(self) -> str:
        return "Enter  next field, then sign in · Ctrl+C  quit"

    def on_mount(self) -> None:
        self.field("email").focus()
        if isinstance(self.identity, HoldsSession):
            self._end_previous_session(self.identity)

    @work(group="sign_in.end_session", exit_on_error=False)
    async def _end_previous_session(self, backend: HoldsSession) -> None:
        # A sign-in typed meanwhile waits for this inside the backend.
        try:
            await backend.sign_out()
        except Exception as err:
            log.info("ending the previous session failed: %s", type(err).__name__)

    def field(self, name: str) -> Field:
        return self.query_one(f"#{name}", Field)

    def help_bindings(self) -> list[tuple[str, ActiveBinding]]:
        """The keys for the help screen: the sign-in's and the console's, not a field's own
        editing keys (which would push the demo's keys out of sight at 80x24)."""
        return [
            (key, active)
            for key, active in self.active_bindings.items()
            if not isinstance(active.node, Input)
        ]

    # The demo's accounts ------------------------------------------------------------

    def _demo_accounts(self) -> list[DemoLogin]:
        """The demo's accounts that have a key, in the keys' order."""
        if self.demo is None:
            return []
        by_role = {account.role: account for account in self.demo.accounts}
        return [by_role[role] for role in DEMO_ROLES if role in by_role]

    def _demo_keys(self, role: str) -> str:
        """Every key that fills in `role`'s account, as a keyboard names them ('F7 Alt+D')."""
        binding = next(b for b in self.BINDINGS if isinstance(b, Binding) and b.id == f"sign_in.demo_{role}")
        keys = self.app._keymap.get(binding.id or "", binding.key)
        return " ".join(key_words(key.strip()) for key in keys.split(","))

    def _may_fill_demo(self, role: str) -> bool:
        return (
            not self.working
            and self.session is None
            and not self._handed_over
            and any(account.role == role for account in self._demo_accounts())
        )

    def action_demo(self, role: str) -> None:
        if self._may_fill_demo(role):
            account = next(a for a in self._demo_accounts() if a.role == role)
            self._fill_demo(account)

    @work(exclusive=True, group="sign_in.demo", exit_on_error=False)
    async def _fill_demo(self, account: DemoLogin) -> None:
        assert self.demo is not None
        try:
            # Asked at the key press: a code that changed a moment ago is the new one.
            code = await self.demo.code_now(account.email)
        except Exception as err:
            self.say(trouble(err), error=True)
            return
        if self.working or self.session is not None or self._handed_over:
            return
        self.field("email").value = account.email
        self.field("password").value = account.password
        self.field("code").value = code or ""
        self.field("code").focus()
        self.field("code").input.action_end()
        if code is None:
            self.say(
                f"The demo has no code for {account.email}: `backroom demo --reset` starts the demo over.",
                error=True,
            )
        else:
            self.say(f"Demo {account.role} account filled in. Enter signs in.")

    # Typing ------------------------------------------------------------------

    def _field_in_use(self) -> str | None:
        here = self.focused.parent if self.focused is not None else None
        return here.id if isinstance(here, Field) and here.id in FIELDS else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next_field":
            # From the code field Enter is the Input's own: it signs in.
            return not self.working and self._field_in_use() in ("email", "password")
        if action == "go_on":
            return self.session is not None and not self._handed_over
        if action == "demo":
            return self._may_fill_demo(str(parameters[0]) if parameters else "")
        return True

    def action_next_field(self) -> None:
        name = self._field_in_use()
        if name in ("email", "password"):
            self.set_focus(self.field(FIELDS[FIELDS.index(name) + 1]).input)

    def action_go_on(self) -> None:
        if self.session is not None and not self._handed_over:
            self._close(self.session)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.working or self._handed_over or self.session is not None:
            return
        name = self._field_in_use() or "code"
        if name != "code":
            self.set_focus(self.field(FIELDS[FIELDS.index(name) + 1]).input)
            return
        values = {field: self.field(field).value.strip() for field in FIELDS}
        missing = [field for field in FIELDS if not values[field]]
        if missing:
            self.say(f"Type {MISSING[missing[0]]}.", error=True)
            self.set_focus(self.field(missing[0]).input)
            return
        self.working = True
        self.say(WORKING)
        self._sign_in(values["email"], self.field("password").value, values["code"])

    @work(exclusive=True, group="sign_in", exit_on_error=False)
    async def _sign_in(self, email: str, password: str, code: str) -> None:
        try:
            session = await self.identity.sign_in(email, password, code)
        except SignInError as err:
            # Refused (wrong, throttled, locked): the service's sentence, as it is.
            self._refused(str(err))
            return
        except Exception as err:
            self._refused(trouble(err))
            return
        finally:
            self.working = False
        if session.must_reenrol:
            self.session = session
            self.query_one("#advice", Static).update(Content(reenrol_advice(session)))
            self.add_class("-advice")
            self.set_focus(None)
            self.say("")
            self.query_one(".cover--hint", Static).update("Enter  go to the floor")
            return
        self._close(session)

    def _close(self, session: Session) -> None:
        # Once: another Enter before the screen is gone must not close what is under it.
        self._handed_over = True
        self.dismiss(session)

    def _refused(self, text: str) -> None:
        self.say(text, error=True)
        # Typed again from the password on: the message does not say which was wrong.
        self.field("password").clear()
        self.field("code").clear()
        self.field("password").focus()

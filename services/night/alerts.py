"""Alerts to every console: a manager sends a preset or a short free text; each
console lists the active ones and dismisses one for itself; a manager clears one
for everyone. Each is audited and announced on commit (kind 'alert')."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.errors import InvalidInput
from services.identity.permissions import Operation
from services.night.ops import NightOps
from services.store.db import Actor

PRESETS = {
    "at_capacity": "At capacity",
    "police": "Police at the door",
    "medical": "Medical help needed",
    "fire": "Fire: follow the evacuation plan",
    "vip": "VIP arriving",
    "free": "",
}
BODY_MOST = 120


@dataclass(frozen=True, slots=True)
class Alert:
    id: int
    preset: str
    body: str
    sent_by: str
    sent_at: datetime
    expires_at: datetime


class AlertService:
    def __init__(self, ops: NightOps) -> None:
        self._ops = ops
        self._db = ops.db

    async def send(
        self,
        actor: Actor,
        preset: str,
        body: str = "",
        *,
        night_id: int | None = None,
        minutes: int = 120,
        op_id: str | None = None,
    ) -> int:
        if preset not in PRESETS:
            raise InvalidInput(f"An alert is one of {', '.join(PRESETS)}.")
        if len(body.strip()) > BODY_MOST:
            raise InvalidInput(f"An alert is at most {BODY_MOST} characters.")
        answer = await self._ops.change(
            actor,
            Operation.ALERT_SEND,
            "alert_send",
            night_id,
            preset,
            body,
            minutes,
            entity="alert",
            op_id=op_id,
        )
        return int(answer["alert_id"])

    async def dismiss(
        self, actor: Actor, alert_id: int, console_id: str, *, op_id: str | None = None
    ) -> None:
        """Gone from this console only."""
        await self._ops.change(
            actor,
            Operation.ALERT_DISMISS,
            "alert_dismiss",
            alert_id,
            console_id,
            entity="alert",
            entity_id=alert_id,
            op_id=op_id,
        )

    async def clear(self, actor: Actor, alert_id: int, *, op_id: str | None = None) -> None:
        """Gone from every console."""
        await self._ops.change(
            actor,
            Operation.ALERT_CLEAR,
            "alert_clear",
            alert_id,
            entity="alert",
            entity_id=alert_id,
            op_id=op_id,
        )

    async def active(self, console_id: str) -> list[Alert]:
        """What this console shows: alerts not expired, cleared, or dismissed here; newest first."""
        async with self._db.transaction(readonly=True) as conn:
            rows = await conn.fetch(
                "select a.id, a.preset, a.body, coalesce(s.display_name, '') as sent_by, a.sent_at,"
                " a.expires_at from backroom.alert a left join backroom.staff s on s.id = a.sent_by"
                " where a.cleared_at is null and a.expires_at > clock_timestamp()"
                " and not exists (select from backroom.alert_dismissal d"
                "                 where d.alert_id = a.id and d.console_id = $1::uuid)"
                " order by a.sent_at desc, a.id desc",
                console_id,
            )
        return [Alert(**dict(r)) for r in rows]

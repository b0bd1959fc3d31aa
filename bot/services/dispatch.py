"""The dispatcher: claims due outbox rows, checks the rules at send time (fail closed), sends, records.

Order of checks for a seller message: consent and opt-out (blocked for good),
then the contact window in the recipient's zone and the daily cap (deferred to
the next opening). A reply to the seller's own message may use the policy's
reply grace after hours; nothing else may. Buyer deal alerts by email go at
once (buyers asked for them). Transient provider failures retry with backoff
and jitter; ambiguous ones become ``unknown`` and are reconciled against the
provider's own list before anything is resent.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from bot.pool import BROKEN_SENDER_CODES
from bot.rates import throttle_pause
from bot.refusals import Refusal
from bot.send_window import Decision
from bot.services import compliance, inbound, legal
from bot.services.deps import Deps
from bot.services.lanes import Lanes, lanes_for
from bot.services.outbox import KEYWORD_REPLIES, unsubscribe_token
from bot.services.pacing import ACCOUNT, Rates
from bot.services.senders import HELD_REASON, Senders
from bot.transports.base import Email, Outcome, SendResult, Sms, TransportError
from bot.windows import ContactPolicy, NeverOpenError, local_day_bounds, next_open
from storage import buyers, contacts, kpis, messages
from storage.database import Tx
from storage.enums import Channel
from storage.messages import Message, Origin, Status

log = structlog.get_logger(__name__)

BATCH = 100
MAX_ATTEMPTS = 8
BACKOFF_BASE_S = 5.0
BACKOFF_CAP_S = 15 * 60.0
RECOVER_EVERY_S = 5.0
RECONCILE_WINDOW = timedelta(minutes=10)
# A text whose pool number is broken waits for an operator's reassignment (which lets it go at
# once); this is only how often it looks again meanwhile.
HOLD_BROKEN = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the rules say about sending one message now."""

    send: bool
    status: Status | None = None  # BLOCKED for good, or QUEUED again (deferred)
    retry_at: datetime | None = None
    reason: str | None = None
    detail: Mapping[str, Any] | None = None  # more for the KPI trail (which list suppressed it, which rule held it)
    closes_at: datetime | None = None  # when sending: the window that allows it closes then
    allowed_by: Mapping[str, Any] | None = None  # recorded on the sent message


SEND = Verdict(send=True)
# Refusals of the legal window that stand whatever the hour: blocked, not deferred.
_BLOCKING = frozenset({"consent_required", "unknown_location", "policy_never_open"})
# Twilio's longest validity period (seconds): a message it still holds later than that expires.
MAX_VALIDITY_S = 36_000


def _verdict(decision: Decision) -> Verdict:
    """The dispatcher's reading of bot/send_window.py's decision."""
    if decision.allowed:
        return Verdict(True, closes_at=decision.closes_at, allowed_by=decision.allowed_by())
    detail = {"rule": decision.rule} if decision.rule else None
    if decision.reason in _BLOCKING or decision.opens_at is None:
        return Verdict(False, Status.BLOCKED, reason=decision.reason, detail=detail)
    return Verdict(False, Status.QUEUED, retry_at=decision.opens_at, reason=decision.reason, detail=detail)


def validity_period(closes_at: datetime | None, now: datetime) -> int:
    """Seconds Twilio may hold the message: never past the window that allowed it, at most 10 h."""
    if closes_at is None:
        return MAX_VALIDITY_S
    return max(0, min(MAX_VALIDITY_S, int((closes_at - now).total_seconds())))


def backoff(attempts: int, retry_after: float | None) -> float:
    """Exponential with full jitter, so a burst of refusals does not come back as one burst."""
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** max(0, attempts - 1))
    return max(retry_after or 0.0, random.uniform(ceiling / 2, ceiling))


async def _daily_cap(
    policy: ContactPolicy | None, now: datetime, sent_since: Callable[[datetime], Awaitable[int]]
) -> Verdict:
    """SEND, or a wait for the recipient's next local day once ``sent_since(today's start)`` has
    reached the policy's daily cap (no cap: SEND)."""
    if policy is None or not policy.max_messages_per_day:
        return SEND
    day_start, day_end = local_day_bounds(policy, now)
    if await sent_since(day_start) < policy.max_messages_per_day:
        return SEND
    return Verdict(False, Status.QUEUED, retry_at=_safe_next_open(policy, day_end), reason="daily_cap")

class Dispatcher:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        settings = deps.settings
        self.senders = Senders(
            deps.db, settings.sending_pool, fallback=settings.twilio_messaging_service_sid or "dry-run"
        )
        self.rates = Rates(deps.db, per_number=settings.sms_per_second, account=settings.account_per_second)
        self.lanes = Lanes(
            self._dispatch,
            capacity=lanes_for(settings.account_per_second, len(settings.sending_pool)),
            queued=lambda: self.rates.queued,
        )
        self._wake = asyncio.Event()
        self._stopping = False
        self._throttled = 0  # provider refusals for rate in a row: each backs off longer
        self.sent = 0

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        await self.senders.start(self.deps.clock.now())

    async def run(self, poll_s: float = 1.0) -> None:
        """Until stopped: keep the lanes full of due messages, then sleep until woken or the next poll."""
        last_recovery = -RECOVER_EVERY_S
        self.lanes.on_free = self.rates.on_queued = self.wake
        while not self._stopping:
            self._wake.clear()  # before the claim: a wake during it (a lane freed, new work) is kept
            try:
                if time.monotonic() - last_recovery >= RECOVER_EVERY_S:
                    await self.recover()
                    await self.reconcile()
                    last_recovery = time.monotonic()
                busy = await self.lanes.fill(self._claim)
            except Exception:
                log.exception("dispatch.loop_failed")
                busy = False
            if not busy:
                try:
                    await asyncio.wait_for(self._wake.wait(), poll_s)
                except TimeoutError:
                    pass

    async def _claim(self, limit: int) -> list[tuple[Message, bool]]:
        now = self.deps.clock.now()
        return await self.deps.db.transact(lambda tx: messages.claim_due_ranked(tx, now, limit))

    async def stop(self, task: asyncio.Task[None]) -> None:
        """Stop between sends: a send in flight finishes and is recorded, then the loop ends."""
        self._stopping = True
        self.wake()
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=30)
            await self.lanes.drain(within=30)
        except TimeoutError:
            task.cancel()

    async def recover(self) -> int:
        """After a crash: rows stuck in 'sending' become 'unknown', to be reconciled, never resent blindly."""
        now = self.deps.clock.now()
        older_than = now - timedelta(seconds=self.deps.settings.orphan_after_s)
        return await self.deps.db.transact(
            lambda tx: messages.mark_orphans_unknown(tx, now=now, older_than=older_than)
        )

    async def dispatch_due(self) -> int:
        now = self.deps.clock.now()
        claimed = await self.deps.db.transact(lambda tx: messages.claim_due(tx, now, BATCH))
        for index, message in enumerate(claimed):
            if self._stopping:
                # Claimed but not attempted: back to the queue for the next start, not 'unknown'.
                await self.deps.db.transact(lambda tx, rest=claimed[index:]: _requeue(tx, rest, now))
                break
            await self._dispatch(message)
        return len(claimed)

    async def _dispatch(self, message: Message, first: bool = True) -> None:
        """Check, send, record one claimed message; ``first``: not an import's backlog (it goes ahead
        of those waiting for the same number)."""
        deps = self.deps
        now = deps.clock.now()
        verdict = await self._check(message, now)
        sender = None
        if verdict.send and message.channel == Channel.SMS:
            sender, held = await self._sender(message, now)
            verdict = verdict if held.send else held
        if not verdict.send:
            await self._record_verdict(message, verdict, now)
            return
        if message.channel == Channel.SMS:
            assert deps.sms is not None and sender is not None
            await self.rates.acquire(sender if self.senders.pooled else ACCOUNT, first=first)
            if self._stopping:
                # Stopping while it waited for its turn: back to the queue, nothing was sent.
                await deps.db.transact(lambda tx: _requeue(tx, [message], deps.clock.now()))
                return
            validity = validity_period(verdict.closes_at, deps.clock.now())
            if validity < 1:  # the window closed while it waited for its turn: judge it again
                await deps.db.transact(lambda tx: _requeue(tx, [message], deps.clock.now()))
                return
            result = await deps.sms.send_sms(
                Sms(
                    message_id=message.id,
                    to=message.to_addr,
                    body=message.body,
                    status_callback=f"{deps.public_url}/webhooks/twilio/status",
                    sender=sender if self.senders.pooled else None,
                    validity_period=validity,
                )
            )
        else:
            assert deps.email is not None
            result = await deps.email.send_email(await self._email(message))
        await self._record(message, result, sender, verdict.allowed_by)

    async def _sender(self, message: Message, now: datetime) -> tuple[str | None, Verdict]:
        """The number this SMS goes from (a contact's sticky one); held while that number is broken."""
        contact = await contacts.get(self.deps.db, message.contact_id) if message.contact_id else None
        sender = await self.senders.sender_for(contact, phone=message.to_addr, now=now)
        if sender is None or not self.senders.usable(sender):
            return None, Verdict(False, Status.QUEUED, retry_at=now + HOLD_BROKEN, reason=HELD_REASON)
        return sender, SEND

    async def _email(self, message: Message) -> Email:
        deps = self.deps
        reply_to = None
        if message.contact_id:
            contact = await contacts.get(deps.db, message.contact_id)
            if contact is not None:
                # Replies come back to an address that names the conversation, not the person.
                reply_to = f"reply+{contact.reply_token}@{deps.email_domain}"
        unsubscribe = f"{deps.public_url}/unsubscribe/{unsubscribe_token(deps, message.to_addr)}"
        assert message.email_message_id is not None
        return Email(
            message_id=message.email_message_id,
            to=message.to_addr,
            subject=message.subject or "",
            text=message.body,
            html=message.html,
            reply_to=reply_to,
            headers={"List-Unsubscribe": f"<{unsubscribe}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
        )

    async def _check(self, message: Message, now: datetime) -> Verdict:
        db = self.deps.db
        if message.buyer_id is not None:
            buyer = await buyers.get(db, message.buyer_id)
            if buyer is None or buyer.opted_out:
                return Verdict(False, Status.BLOCKED, reason="opted_out")
            if hit := await compliance.suppressed(db, message.to_addr, buyer.email, buyer.phone):
                return _suppressed(hit)
            policy = await legal.buyer_policy(db, buyer)
            # Deal alerts by email go at once (buyers asked for them); SMS keeps the windows.
            verdict = (
                SEND if message.channel == Channel.EMAIL
                else _verdict(await legal.for_buyer(db, buyer, policy, channel=message.channel, now=now))
            )
            if verdict.send:
                buyer_id = buyer.id
                capped = await _daily_cap(policy, now, lambda since: messages.sent_to_buyer_since(db, buyer_id, since))
                return verdict if capped.send else capped
            return verdict
        if message.contact_id is None:
            hit = await compliance.suppressed(db, message.to_addr)
            return SEND if hit is None else _suppressed(hit)
        contact, hit = await compliance.contact_for_send(db, message.contact_id, message.to_addr)
        if contact is None:
            return Verdict(False, Status.BLOCKED, reason="contact_gone")
        if message.is_reply and message.template in KEYWORD_REPLIES:
            return SEND
        if contact.opted_out:
            return Verdict(False, Status.BLOCKED, reason="opted_out")
        if refusal := compliance.listed(hit) if hit else await compliance.consent_refusal(db, contact, now):
            return _blocked(refusal)
        if contact.needs_human and message.origin != Origin.OPERATOR:
            return Verdict(False, Status.CANCELLED, reason="handed_over")
        policy = await legal.contact_policy(db, contact)
        verdict = _verdict(
            await legal.for_contact(db, contact, policy, channel=message.channel, now=now, reply=message.is_reply)
        )
        if verdict.send and not message.is_reply:  # a reply is not counted against the daily cap, nor held by it
            contact_id = contact.id
            capped = await _daily_cap(policy, now, lambda since: messages.sent_to_contact_since(db, contact_id, since))
            return verdict if capped.send else capped
        return verdict

    async def _record_verdict(self, message: Message, verdict: Verdict, now: datetime) -> None:
        async def unit(tx: Tx) -> None:
            assert verdict.status is not None
            await messages.record_result(
                tx, message.id, status=verdict.status, at=now, error_reason=verdict.reason,
                next_attempt_at=verdict.retry_at,
            )
            name = _held_kpi(message, verdict)
            if name is not None:
                data: dict[str, Any] = {
                    "message_id": message.id, "channel": message.channel, "template": message.template,
                    "reason": verdict.reason, **(verdict.detail or {}),
                }
                if verdict.retry_at is not None:
                    data["deferred_until"] = verdict.retry_at.isoformat()
                await kpis.record(tx, name, now, contact_id=message.contact_id, deal_id=message.deal_id, data=data)

        await self.deps.db.transact(unit)
        log.info("dispatch.held", message_id=message.id, status=verdict.status, reason=verdict.reason)

    async def _record(
        self, message: Message, result: SendResult, sender: str | None = None,
        allowed_by: Mapping[str, Any] | None = None,
    ) -> None:
        now = self.deps.clock.now()
        if message.channel == Channel.SMS and await self._not_counted(message, result, sender, now):
            return
        self._throttled = 0

        async def unit(tx: Tx) -> None:
            status, retry_at = _status_for(message, result, now)
            await messages.record_result(
                tx, message.id, status=status, at=now, provider_id=result.provider_id,
                error_code=result.error_code, error_reason=result.reason, next_attempt_at=retry_at,
                sent_at=now if status is Status.SENT else None,
                from_addr=sender if message.channel == Channel.SMS else self.deps.settings.email_from,
                allowed_by=allowed_by if status is Status.SENT else None,
            )
            ids = {"contact_id": message.contact_id, "deal_id": message.deal_id}
            if status is Status.SENT:
                # A hot-lead alert goes to our own person: it is no seller or buyer send.
                name = "alert:sent" if message.origin == Origin.ALERT else f"{message.channel}:sent"
                await kpis.record(
                    tx, name, now, data={"message_id": message.id, "template": message.template,
                                         "buyer_id": message.buyer_id, "channel": message.channel}, **ids,
                )
            if message.contact_id and (result.opted_out or result.invalid_recipient):
                await self._provider_says(tx, message, result, now)
            if message.buyer_id and result.opted_out:
                await buyers.set_opted_out(tx, message.buyer_id, now)
                await compliance.buyer_opted_out(
                    tx, message.buyer_id, channel=message.channel, message_id=message.id, now=now
                )

        await self.deps.db.transact(unit)
        if result.outcome is Outcome.SENT:
            self.sent += 1
        log.info(
            "dispatch.sent" if result.outcome is Outcome.SENT else "dispatch.not_sent",
            message_id=message.id, channel=message.channel, outcome=result.outcome, code=result.error_code,
        )

    async def _not_counted(self, message: Message, result: SendResult, sender: str | None, now: datetime) -> bool:
        """Refusals that are not the message's: Twilio's own rate (the sender backs off with jitter)
        and a broken pool number (out of the pool, the text held for an operator). The message
        goes back to the queue and the try is not counted: nothing is lost, nothing doubled."""
        broken = self.senders.replaceable and result.error_code in BROKEN_SENDER_CODES and sender is not None
        if not (result.throttled or broken):
            return False
        if broken:
            assert sender is not None and result.error_code is not None
            await self.senders.broken(sender, result.error_code, now)
            retry_at, reason = now + HOLD_BROKEN, HELD_REASON
        else:
            self._throttled += 1
            pause = throttle_pause(self._throttled, result.retry_after)
            await self.rates.hold(sender if result.error_code == "14107" else None, pause)
            retry_at, reason = now + timedelta(seconds=pause), result.reason
        await self.deps.db.transact(lambda tx: messages.requeue_uncounted(
            tx, message.id, retry_at=retry_at, code=result.error_code, reason=reason, at=now))
        log.info("dispatch.not_counted", message_id=message.id, code=result.error_code, reason=reason)
        return True

    async def _provider_says(self, tx: Tx, message: Message, result: SendResult, now: datetime) -> None:
        assert message.contact_id is not None
        if result.opted_out:
            await inbound.provider_opt_out(
                tx, self.deps, message.contact_id, channel=message.channel, now=now, message_id=message.id
            )
        if result.invalid_recipient and message.channel == Channel.SMS:
            await contacts.mark_phone_invalid(tx, message.contact_id, now)

    async def reconcile(self) -> int:
        """Settle 'unknown' SMS by asking Twilio what it has; resend only what it truly lacks."""
        deps = self.deps
        now = deps.clock.now()
        settle_after = timedelta(seconds=deps.settings.reconcile_after_s)
        pending = await messages.unknown_due(deps.db, older_than=now - settle_after, limit=BATCH)
        settled = 0
        for message in pending:
            if message.channel != Channel.SMS or deps.sms is None:
                continue  # SMTP offers no way to ask: an ambiguous email waits for a person
            try:
                found = await deps.sms.recent_messages(message.to_addr, message.created_at - RECONCILE_WINDOW)
            except TransportError as exc:
                log.warning("dispatch.reconcile_unreadable", message_id=message.id, error=str(exc))
                continue
            match = next((p for p in found if p.body == message.body), None)
            if match is not None:
                status, provider_id, retry_at = Status.SENT, match.provider_id, None
            else:
                status, provider_id, retry_at = Status.QUEUED, None, now
            await deps.db.transact(
                lambda tx, m=message, s=status, p=provider_id, r=retry_at: _settle(tx, m, s, p, r, now)
            )
            settled += 1
        return settled


async def _settle(
    tx: Tx, message: Message, status: Status, provider_id: str | None, retry_at: datetime | None, now: datetime
) -> None:
    await messages.record_result(
        tx, message.id, status=status, at=now, provider_id=provider_id, next_attempt_at=retry_at,
        sent_at=now if status is Status.SENT else None,
        error_reason="reconciled: found at provider" if status is Status.SENT else "reconciled: absent, resending",
    )
    if status is Status.SENT:
        await kpis.record(tx, f"{message.channel}:sent", now, contact_id=message.contact_id, deal_id=message.deal_id,
                          data={"message_id": message.id, "reconciled": True})


async def _requeue(tx: Tx, rest: list[Message], now: datetime) -> None:
    for message in rest:
        await messages.record_result(tx, message.id, status=Status.QUEUED, at=now, next_attempt_at=now)


def _status_for(message: Message, result: SendResult, now: datetime) -> tuple[Status, datetime | None]:
    match result.outcome:
        case Outcome.SENT:
            return Status.SENT, None
        case Outcome.UNKNOWN:
            return Status.UNKNOWN, None
        case Outcome.RETRY if message.attempts < MAX_ATTEMPTS:
            return Status.QUEUED, now + timedelta(seconds=backoff(message.attempts, result.retry_after))
        case _:
            return Status.FAILED, None


def _suppressed(hit: Any) -> Verdict:
    return _blocked(compliance.listed(hit))


def _blocked(refusal: Refusal) -> Verdict:
    """A refusal of the list or the consent on file: blocked for good, its trail kept with the KPI."""
    return Verdict(False, Status.BLOCKED, reason=refusal.reason.value, detail=refusal.trail)


def _held_kpi(message: Message, verdict: Verdict) -> str | None:
    """The KPI a rule's refusal writes: every block, and every hold a rule caused (a held
    ladder step as ``ladder:step_deferred``); a conversation handed over, or a text held for its
    broken sending number, writes none."""
    if verdict.status is Status.BLOCKED:
        return "message:blocked_by_policy"
    if verdict.status is Status.QUEUED and verdict.reason in _WINDOW_HOLDS:
        return "ladder:step_deferred" if message.origin == Origin.LADDER else "message:blocked_by_policy"
    return None


_WINDOW_HOLDS = frozenset({"outside_contact_window", "cap_24h", "daily_cap"})


def _safe_next_open(policy: ContactPolicy, instant: datetime) -> datetime | None:
    try:
        return next_open(policy, instant)
    except NeverOpenError:
        return None

"""Email through an SMTP relay with aiosmtplib: one connection and one attempt per message.

A connection per message keeps no state to go stale (relays drop idle connections) and costs
little at our volume. SMTP's own reply classes decide the outcome: 4xx try later, 5xx never.
A connection lost or timed out, even after DATA, is RETRY: the message keeps its Message-ID on
every attempt, so a copy that did get through is recognisable (and deduplicated by most
mailbox providers) rather than a new email.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

import aiosmtplib

from bot.transports.base import Email, Outcome, SendResult, mask_recipient

log = logging.getLogger(__name__)

# RCPT replies that say the mailbox does not exist or cannot be named (not "mailbox full", 552).
_NO_SUCH_MAILBOX = frozenset({550, 551, 553})
_ADDRESS = re.compile(r"[^\s<>@]+@[^\s<>@]+")
_REASON_MAX = 200


class InvalidHeaderError(ValueError):
    """A header value could have broken out of its line (CR/LF) or is otherwise malformed."""

    def __init__(self, header: str) -> None:
        super().__init__(f"invalid {header} header")
        self.header = header


def build_message(email: Email, *, sender: str, now: datetime) -> EmailMessage:
    """The RFC 5322 message for `email`: multipart/alternative when there is HTML.

    Header values go through email.policy, which refuses CR/LF, so no value can add a header.
    The subject is a single line by nature: line breaks in it (a template's trailing newline)
    are folded into spaces rather than failing the message.
    """
    message = EmailMessage(policy=policy.SMTP)
    headers: list[tuple[str, str]] = [
        ("From", sender),
        ("To", email.to),
        ("Subject", " ".join(email.subject.split())),
        ("Date", format_datetime(now.astimezone(UTC))),
        ("Message-ID", email.message_id),
    ]
    if email.reply_to:
        headers.append(("Reply-To", email.reply_to))
    headers.extend(email.headers.items())
    for name, value in headers:
        try:
            message[name] = value
        except (ValueError, TypeError) as exc:
            raise InvalidHeaderError(name) from exc
    message.set_content(email.text)
    if email.html is not None:
        message.add_alternative(email.html, subtype="html")
    return message


def classify_smtp_reply(code: int, text: str, *, at_recipient: bool) -> SendResult:
    """What an SMTP error reply means: 4xx is transient, 5xx is final."""
    transient = 400 <= code < 500
    return SendResult(
        outcome=Outcome.RETRY if transient else Outcome.FAILED,
        error_code=str(code),
        reason=f"SMTP {code}: {_scrub(text)}",
        invalid_recipient=at_recipient and code in _NO_SUCH_MAILBOX,
    )


def _scrub(text: str) -> str:
    """The server's words, without the addresses it likes to quote back."""
    return _ADDRESS.sub(lambda m: mask_recipient(m.group()), " ".join(text.split()))[:_REASON_MAX]


class SmtpEmail:
    """EmailTransport over an SMTP relay."""

    name = "smtp"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str | None,
        password: str | None,
        starttls: bool | None,
        use_tls: bool = False,
        sender: str,
        timeout: float = 15.0,
    ) -> None:
        """`starttls`: True requires STARTTLS, False never upgrades, None upgrades if offered.
        `use_tls`: implicit TLS from the first byte (port 465); excludes STARTTLS."""
        if use_tls and starttls:
            raise ValueError("choose implicit TLS or STARTTLS, not both")
        if (username is None) != (password is None):
            raise ValueError("SMTP username and password go together")
        envelope_sender = parseaddr(sender)[1]
        if not envelope_sender:
            raise ValueError("sender must hold an email address")
        self._host = host
        self._port = port
        self._username = username
        self._password = password
        self._starttls = starttls
        self._use_tls = use_tls
        self._sender = sender
        self._envelope_sender = envelope_sender
        self._timeout = timeout

    async def start(self) -> None:
        """Nothing to open: each message gets its own connection."""

    async def close(self) -> None:
        """Nothing held between messages."""

    async def send_email(self, email: Email) -> SendResult:
        result = await self._attempt(email)
        log.info(
            "email %s to %s: %s%s",
            email.message_id,
            mask_recipient(email.to),
            result.outcome,
            f" ({result.reason})" if result.reason else "",
        )
        return result

    async def _attempt(self, email: Email) -> SendResult:
        try:
            message = build_message(email, sender=self._sender, now=datetime.now(UTC))
        except InvalidHeaderError as exc:
            return SendResult(
                Outcome.FAILED,
                error_code="invalid_header",
                reason=str(exc),
                invalid_recipient=exc.header == "To",
            )
        smtp = aiosmtplib.SMTP(
            hostname=self._host,
            port=self._port,
            username=self._username,
            password=self._password,
            use_tls=self._use_tls,
            start_tls=self._starttls,
            timeout=self._timeout,
        )
        try:
            async with smtp:
                await smtp.send_message(
                    message, sender=self._envelope_sender, recipients=[email.to]
                )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refused = exc.recipients[0]
            return classify_smtp_reply(refused.code, refused.message, at_recipient=True)
        except aiosmtplib.SMTPResponseException as exc:
            # MAIL, DATA, AUTH or greeting refused: the same reply classes apply.
            return classify_smtp_reply(exc.code, exc.message, at_recipient=False)
        except ValueError:
            # aiosmtplib refuses an address it cannot put in the envelope (e.g. non-ASCII
            # without SMTPUTF8): no attempt will ever do better.
            return SendResult(
                Outcome.FAILED,
                error_code="invalid_address",
                reason="recipient address cannot be sent over SMTP",
                invalid_recipient=True,
            )
        except (
            aiosmtplib.SMTPConnectError,
            aiosmtplib.SMTPServerDisconnected,
            aiosmtplib.SMTPTimeoutError,
            OSError,
        ) as exc:
            # Connect failures, disconnects and timeouts: the relay did not take the message.
            return SendResult(Outcome.RETRY, reason=f"SMTP connection: {type(exc).__name__}")
        except aiosmtplib.SMTPException as exc:
            # What is left is our settings against the relay's offer (STARTTLS or AUTH demanded
            # but not offered, SMTPUTF8 missing): no later attempt fares better.
            return SendResult(Outcome.FAILED, error_code="smtp_unsupported", reason=str(exc))
        return SendResult(Outcome.SENT, provider_id=email.message_id, provider_status="accepted")

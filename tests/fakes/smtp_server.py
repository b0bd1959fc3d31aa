"""A real SMTP server (aiosmtpd) on loopback that keeps what it receives, with replies on call.

    with FakeSmtp(username="bot", password="secret") as smtp:
        smtp.fail_next(Stage.RCPT, "451 4.3.0 try later")
        transport = SmtpEmail(host=smtp.host, port=smtp.port, ...)

The server runs in aiosmtpd's own thread and event loop, so it answers even while the test's
loop is busy; what it captured is read after the client's await returns.
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from enum import StrEnum
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


class Stage(StrEnum):
    MAIL = "MAIL"
    RCPT = "RCPT"
    DATA = "DATA"


@dataclass(frozen=True, slots=True)
class Delivery:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage  # parsed with email.policy.default
    raw: bytes
    authenticated_as: str | None


class _LoopbackController(Controller):
    """aiosmtpd's Controller, on a port the OS picks (the stock one dials the port it was given)."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class FakeSmtp:
    def __init__(self, *, username: str | None = None, password: str | None = None) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self._credentials = (username, password) if username is not None else None
        self._lock = threading.Lock()
        self._next: defaultdict[Stage, deque[str]] = defaultdict(deque)
        self._per_recipient: dict[str, str] = {}
        self.deliveries: list[Delivery] = []
        self.auth_attempts: list[tuple[str, bool]] = []  # (login, accepted)
        self._controller: _LoopbackController | None = None

    # --- control -------------------------------------------------------------------------------

    def fail_next(self, stage: Stage, reply: str) -> None:
        """The next command of `stage` gets `reply` (e.g. "451 4.3.0 try later")."""
        with self._lock:
            self._next[stage].append(reply)

    def reject(self, recipient: str, reply: str) -> None:
        """Every RCPT TO this address gets `reply` (e.g. "550 5.1.1 no such user")."""
        with self._lock:
            self._per_recipient[recipient.lower()] = reply

    @property
    def messages(self) -> list[EmailMessage]:
        return [d.message for d in self.deliveries]

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        kwargs: dict[str, Any] = {}
        if self._credentials is not None:
            # Plain AUTH on loopback only; AUTH is then demanded in handle_MAIL, because
            # aiosmtpd's own auth_required without TLS raises a warning the suite treats as error.
            kwargs = {"authenticator": self._authenticate, "auth_require_tls": False}
        self._controller = _LoopbackController(self, hostname=self.host, port=0, **kwargs)
        self._controller.start()
        self.port = self._controller.port

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> FakeSmtp:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- aiosmtpd hooks (run in the server's thread) -------------------------------------------

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert self._credentials is not None
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        accepted = (login, password) == self._credentials
        with self._lock:
            self.auth_attempts.append((login, accepted))
        return AuthResult(success=accepted, handled=False, auth_data=login if accepted else None)

    def _scripted(self, stage: Stage) -> str | None:
        with self._lock:
            queue = self._next[stage]
            return queue.popleft() if queue else None

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self._credentials is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        scripted = self._scripted(Stage.MAIL)
        if scripted is not None:
            return scripted
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        with self._lock:
            rejected = self._per_recipient.get(address.lower())
        scripted = rejected or self._scripted(Stage.RCPT)
        if scripted is not None:
            return scripted
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        scripted = self._scripted(Stage.DATA)
        if scripted is not None:
            return scripted
        raw = envelope.original_content or b""
        message = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(message, EmailMessage)
        delivery = Delivery(
            mail_from=str(envelope.mail_from),
            rcpt_tos=tuple(envelope.rcpt_tos),
            message=message,
            raw=raw,
            authenticated_as=session.auth_data if session.authenticated else None,
        )
        with self._lock:
            self.deliveries.append(delivery)
        return f"250 2.0.0 OK queued as {len(self.deliveries)}"

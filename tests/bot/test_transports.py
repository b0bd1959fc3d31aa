"""Transports against real servers on loopback: a Twilio-speaking HTTP server and aiosmtpd."""

# The credentials here are the fakes' own, made up for these tests.

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.transports.base import (
    INVALID_RECIPIENT_CODES,
    OPTED_OUT_CODES,
    TWILIO_ERRORS,
    Email,
    Outcome,
    Sms,
    TransportError,
    classify_twilio_error,
    mask_recipient,
)
from bot.transports.dryrun import DryRunEmail, DryRunSms
from bot.transports.smtp import SmtpEmail
from bot.transports.twilio import TwilioSms
from tests.fakes.smtp_server import FakeSmtp, Stage
from tests.fakes.twilio_api import Delay, Drop, Endpoint, FakeTwilio, Reject, ServerError

SID = "AC" + "1234abcd" * 4
TOKEN = "secret-token"
SERVICE = "MG" + "ab" * 16
FROM = "+14165550100"
TO = "+14165551234"
CALLBACK = "https://bot.example.com/webhooks/twilio/status"
SMS = Sms(
    message_id="msg-1", to=TO, body="Hi Ann, still thinking of selling?", status_callback=CALLBACK
)

MakeTwilio = Callable[..., Awaitable[TwilioSms]]


@pytest.fixture
async def fake_twilio() -> AsyncIterator[FakeTwilio]:
    async with FakeTwilio(account_sid=SID, auth_token=TOKEN) as fake:
        yield fake


@pytest.fixture
async def make_twilio(fake_twilio: FakeTwilio) -> AsyncIterator[MakeTwilio]:
    started: list[TwilioSms] = []

    async def make(**overrides: object) -> TwilioSms:
        options: dict[str, object] = {
            "account_sid": SID,
            "auth_token": TOKEN,
            "from_number": FROM,
            "messaging_service_sid": None,
            "api_base_url": fake_twilio.base_url,
            "timeout": 2.0,
        }
        transport = TwilioSms(**{**options, **overrides})  # type: ignore[arg-type]
        await transport.start()
        started.append(transport)
        return transport

    yield make
    for transport in started:
        await transport.close()


# --- Twilio: success -----------------------------------------------------------------------------


async def test_twilio_sends_from_a_number_to_the_configured_base_url(
    fake_twilio: FakeTwilio, make_twilio: MakeTwilio
) -> None:
    twilio = await make_twilio()

    result = await twilio.send_sms(SMS)

    assert result.outcome is Outcome.SENT
    assert result.provider_id is not None and re.fullmatch(r"SM[0-9a-f]{32}", result.provider_id)
    assert result.provider_status == "queued"
    [post] = fake_twilio.posts()
    assert post.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert post.authorized
    assert post.form == {"To": TO, "From": FROM, "Body": SMS.body, "StatusCallback": CALLBACK}
    assert [m["sid"] for m in fake_twilio.messages] == [result.provider_id]


async def test_twilio_sends_through_a_messaging_service(
    fake_twilio: FakeTwilio, make_twilio: MakeTwilio
) -> None:
    twilio = await make_twilio(from_number=None, messaging_service_sid=SERVICE)

    result = await twilio.send_sms(Sms("msg-2", TO, "hello", status_callback=None))

    assert result.outcome is Outcome.SENT
    assert result.provider_status == "accepted"
    [post] = fake_twilio.posts()
    assert post.form == {"To": TO, "MessagingServiceSid": SERVICE, "Body": "hello"}


async def test_twilio_base_url_may_end_with_a_slash(
    fake_twilio: FakeTwilio, make_twilio: MakeTwilio
) -> None:
    twilio = await make_twilio(api_base_url=fake_twilio.base_url + "/")

    assert (await twilio.send_sms(SMS)).outcome is Outcome.SENT
    assert fake_twilio.posts()[0].path.startswith("/2010-04-01/")


def test_twilio_needs_a_sender() -> None:
    with pytest.raises(ValueError, match="From"):
        TwilioSms(account_sid=SID, auth_token=TOKEN, from_number=None, messaging_service_sid=None)


async def test_twilio_refuses_to_send_before_start() -> None:
    twilio = TwilioSms(
        account_sid=SID, auth_token=TOKEN, from_number=FROM, messaging_service_sid=None
    )
    with pytest.raises(RuntimeError, match="start"):
        await twilio.send_sms(SMS)
    await twilio.close()  # closing what never started is harmless


# --- Twilio: errors by their meaning -------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "outcome", "code", "opted_out", "invalid"),
    [
        (Reject(429, 20429), Outcome.RETRY, "20429", False, False),
        (Reject(400, 21610), Outcome.FAILED, "21610", True, False),
        (Reject(400, 21211), Outcome.FAILED, "21211", False, True),
        (Reject(400, 21614), Outcome.FAILED, "21614", False, True),
        (Reject(400, 21408), Outcome.FAILED, "21408", False, False),
        (Reject(400, 30034), Outcome.FAILED, "30034", False, False),
        (Reject(400, 29999), Outcome.FAILED, "29999", False, False),
        (ServerError(500), Outcome.UNKNOWN, "20500", False, False),
        (ServerError(503), Outcome.UNKNOWN, "20500", False, False),
    ],
)
async def test_twilio_error_answers_map_to_outcomes_and_are_never_retried_by_the_sdk(
    fake_twilio: FakeTwilio,
    make_twilio: MakeTwilio,
    fault: Reject | ServerError,
    outcome: Outcome,
    code: str,
    opted_out: bool,
    invalid: bool,
) -> None:
    twilio = await make_twilio()
    fake_twilio.fail_next(fault)

    result = await twilio.send_sms(SMS)

    assert (result.outcome, result.error_code) == (outcome, code)
    assert (result.opted_out, result.invalid_recipient) == (opted_out, invalid)
    assert result.reason
    assert len(fake_twilio.posts()) == 1  # the SDK made one attempt, whatever the answer
    assert fake_twilio.messages == []


async def test_twilio_validation_of_the_number_is_an_invalid_recipient(
    fake_twilio: FakeTwilio, make_twilio: MakeTwilio
) -> None:
    twilio = await make_twilio()

    result = await twilio.send_sms(Sms("msg-3", "555-1234", "hi", None))

    assert (result.outcome, result.error_code, result.invalid_recipient) == (
        Outcome.FAILED,
        "21211",
        True,
    )


async def test_twilio_wrong_credentials_fail_with_the_auth_code(
    fake_twilio: FakeTwilio, make_twilio: MakeTwilio
) -> None:
    twilio = await make_twilio(auth_token="not-the-token")

    result = await twilio.send_sms(SMS)

    assert (result.outcome, result.error_code) == (Outcome.FAILED, "20003")
    assert fake_twilio.posts()[0].authorized is False


# --- Twilio: ambiguous answers and reconciliation ------------------------------------------------


async def test_twilio_500_after_creating_is_unknown_and_reconciliation_finds_the_message(
    fake_twilio: FakeTwilio, make_twilio: MakeTwilio
) -> None:
    twilio = await make_twilio()
    before = datetime.now(UTC)
    fake_twilio.fail_next(ServerError(500, create=True))

    result = await twilio.send_sms(SMS)
    found = await twilio.recent_messages(TO, since=before)

    assert result.outcome is Outcome.UNKNOWN
    [stored] = fake_twilio.messages
    assert [(m.provider_id, m.to, m.body) for m in found] == [(stored["sid"], TO, SMS.body)]
    assert len(fake_twilio.posts()) == 1


async def test_twilio_500_without_creating_is_unknown_and_reconciliation_finds_nothing(
    fake_twilio: FakeTwilio, make_twilio: MakeTwilio
) -> None:
    twilio = await make_twilio()
    fake_twilio.fail_next(ServerError(500, create=False))

    result = await twilio.send_sms(SMS)

    assert result.outcome is Outcome.UNKNOWN
    assert await twilio.recent_messages(TO, since=datetime.now(UTC)) == []


async def test_twilio_timeout_after_sending_is_unknown(
    fake_twilio: FakeTwilio, make_twilio: MakeTwilio
) -> None:
    twilio = await make_twilio(timeout=0.2)
    fake_twilio.fail_next(Delay(5.0, create=True))

    result = await twilio.send_sms(SMS)

    assert result.outcome is Outcome.UNKNOWN
    assert len(fake_twilio.posts()) == 1
    assert [m.body for m in await twilio.recent_messages(TO, datetime.now(UTC))] == [SMS.body]


@pytest.mark.parametrize("created", [True, False])
async def test_twilio_connection_dropped_after_sending_is_unknown(
    fake_twilio: FakeTwilio, make_twilio: MakeTwilio, created: bool
) -> None:
    twilio = await make_twilio()
    fake_twilio.fail_next(Drop(create=created))

    result = await twilio.send_sms(SMS)

    assert result.outcome is Outcome.UNKNOWN
    assert len(fake_twilio.posts()) == 1
    assert len(await twilio.recent_messages(TO, datetime.now(UTC))) == int(created)


async def test_twilio_connection_refused_is_retry(
    fake_twilio: FakeTwilio, make_twilio: MakeTwilio
) -> None:
    twilio = await make_twilio()
    await fake_twilio.stop()  # nothing listens on that port any more

    result = await twilio.send_sms(SMS)

    assert result.outcome is Outcome.RETRY
    assert fake_twilio.posts() == []


async def test_twilio_reconciliation_keeps_the_recipient_and_the_time_window(
    make_twilio: MakeTwilio,
) -> None:
    now = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)
    # Twilio's whole-second stamps on Twilio's clock: a message a few seconds "before" the
    # attempt began must still be found, one from an hour before must not.
    created = iter([now - timedelta(hours=1), now - timedelta(seconds=30), now])
    async with FakeTwilio(account_sid=SID, auth_token=TOKEN, clock=lambda: next(created)) as fake:
        twilio = await make_twilio(api_base_url=fake.base_url)
        for body in ("an hour ago", "just now"):
            assert (await twilio.send_sms(Sms(body, TO, body, None))).outcome is Outcome.SENT
        await twilio.send_sms(Sms("other", "+14165559999", "someone else", None))

        found = await twilio.recent_messages(TO, since=now.astimezone(ZoneInfo("America/Toronto")))

    assert [(m.body, m.created_at) for m in found] == [("just now", now - timedelta(seconds=30))]


async def test_twilio_reconciliation_failure_raises(
    fake_twilio: FakeTwilio, make_twilio: MakeTwilio
) -> None:
    twilio = await make_twilio()
    fake_twilio.fail_next(ServerError(503), on=Endpoint.LIST)

    with pytest.raises(TransportError):
        await twilio.recent_messages(TO, datetime.now(UTC))


async def test_twilio_logs_never_hold_the_number_or_the_body(
    make_twilio: MakeTwilio, caplog: pytest.LogCaptureFixture
) -> None:
    twilio = await make_twilio()
    caplog.set_level(logging.DEBUG)

    await twilio.send_sms(SMS)
    await twilio.recent_messages(TO, datetime.now(UTC))

    assert "msg-1" in caplog.text
    assert TO not in caplog.text and TO[1:] not in caplog.text
    assert SMS.body not in caplog.text


# --- the Twilio error table ----------------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(TWILIO_ERRORS))
def test_every_known_twilio_code_keeps_its_meaning_on_a_4xx(code: str) -> None:
    outcome, meaning = TWILIO_ERRORS[code]

    result = classify_twilio_error(400, code)

    assert (result.outcome, result.reason, result.error_code) == (outcome, meaning, code)
    assert result.opted_out == (code in OPTED_OUT_CODES)
    assert result.invalid_recipient == (code in INVALID_RECIPIENT_CODES)


@pytest.mark.parametrize(
    ("code", "meaning"),
    [
        ("30003", "unreachable"),
        ("30004", "blocked"),
        ("30005", "unknown destination"),
        ("30006", "landline"),
        ("30007", "carrier filtering"),
        ("30008", "unknown"),
        ("30034", "unregistered"),
    ],
)
def test_delivery_errors_are_final_and_say_what_happened(code: str, meaning: str) -> None:
    result = classify_twilio_error(None, code, provider_id="SM1", provider_status="undelivered")

    assert result.outcome is Outcome.FAILED
    assert meaning in (result.reason or "")
    assert (result.provider_id, result.provider_status) == ("SM1", "undelivered")


@given(
    status=st.integers(500, 599), code=st.one_of(st.none(), st.sampled_from(sorted(TWILIO_ERRORS)))
)
def test_a_twilio_5xx_is_always_unknown(status: int, code: str | None) -> None:
    assert classify_twilio_error(status, code).outcome is Outcome.UNKNOWN


@given(
    status=st.integers(400, 499).filter(lambda s: s != 429),
    code=st.from_regex(r"[1-9][0-9]{4}", fullmatch=True).filter(lambda c: c not in TWILIO_ERRORS),
)
def test_an_unknown_twilio_4xx_fails_for_good(status: int, code: str) -> None:
    result = classify_twilio_error(status, code)
    assert result.outcome is Outcome.FAILED
    assert code in (result.reason or "")


def test_a_twilio_429_is_retry_whatever_the_code() -> None:
    assert classify_twilio_error(429, None).outcome is Outcome.RETRY


@given(digits=st.from_regex(r"[1-9][0-9]{9,13}", fullmatch=True))
def test_a_masked_phone_number_cannot_be_read_back(digits: str) -> None:
    masked = mask_recipient("+" + digits)
    assert digits not in masked
    assert sum(ch.isdigit() for ch in masked) <= 4


def test_a_masked_email_keeps_only_its_domain() -> None:
    assert mask_recipient("jane.doe@example.com") == "j***@example.com"


# --- SMTP ----------------------------------------------------------------------------------------

SENDER = "Dealbot <deals@bot.example.com>"
EMAIL = Email(
    message_id="<msg-7@bot.example.com>",
    to="seller@example.org",
    subject="Your property on Elm St",
    text="Hello in text",
    html="<p>Hello in <b>HTML</b></p>",
    reply_to="replies+msg-7@bot.example.com",
    headers={
        "List-Unsubscribe": "<https://bot.example.com/unsubscribe/tok>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    },
)


@pytest.fixture
def smtp_server() -> Iterator[FakeSmtp]:
    with FakeSmtp() as server:
        yield server


def smtp_for(server: FakeSmtp, **overrides: object) -> SmtpEmail:
    options: dict[str, object] = {
        "host": server.host,
        "port": server.port,
        "username": None,
        "password": None,
        "starttls": False,
        "sender": SENDER,
        "timeout": 5.0,
    }
    return SmtpEmail(**{**options, **overrides})  # type: ignore[arg-type]


async def test_smtp_delivers_multipart_with_our_headers(smtp_server: FakeSmtp) -> None:
    result = await smtp_for(smtp_server).send_email(EMAIL)

    assert (result.outcome, result.provider_id) == (Outcome.SENT, EMAIL.message_id)
    [delivery] = smtp_server.deliveries
    assert delivery.mail_from == "deals@bot.example.com"
    assert delivery.rcpt_tos == ("seller@example.org",)
    message = delivery.message
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["Message-ID"] == EMAIL.message_id
    assert message["Reply-To"] == EMAIL.reply_to
    assert message["From"] == SENDER
    assert message["Subject"] == EMAIL.subject
    assert message["List-Unsubscribe"] == EMAIL.headers["List-Unsubscribe"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Date"] is not None
    assert "Hello in text" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


async def test_smtp_without_html_is_plain_text(smtp_server: FakeSmtp) -> None:
    plain = Email("<p@x.example>", "a@example.org", "Hi", "just text", None, None, {})

    assert (await smtp_for(smtp_server).send_email(plain)).outcome is Outcome.SENT

    [message] = smtp_server.messages
    assert message.get_content_type() == "text/plain"
    assert message["Reply-To"] is None


@pytest.mark.parametrize(
    ("stage", "reply", "outcome", "invalid"),
    [
        (Stage.RCPT, "451 4.3.0 try later", Outcome.RETRY, False),
        (Stage.RCPT, "550 5.1.1 no such user", Outcome.FAILED, True),
        (Stage.RCPT, "552 5.2.2 mailbox full", Outcome.FAILED, False),
        (Stage.DATA, "452 4.3.1 insufficient storage", Outcome.RETRY, False),
        (Stage.DATA, "554 5.7.1 message rejected as spam", Outcome.FAILED, False),
        (Stage.MAIL, "451 4.7.1 greylisted", Outcome.RETRY, False),
        (Stage.MAIL, "553 5.7.1 sender not allowed", Outcome.FAILED, False),
    ],
)
async def test_smtp_replies_map_to_outcomes(
    smtp_server: FakeSmtp, stage: Stage, reply: str, outcome: Outcome, invalid: bool
) -> None:
    smtp_server.fail_next(stage, reply)

    result = await smtp_for(smtp_server).send_email(EMAIL)

    assert (result.outcome, result.error_code) == (outcome, reply[:3])
    assert result.invalid_recipient is invalid
    assert smtp_server.deliveries == []


async def test_smtp_a_transient_refusal_leaves_the_next_attempt_free(smtp_server: FakeSmtp) -> None:
    transport = smtp_for(smtp_server)
    smtp_server.fail_next(Stage.RCPT, "451 4.3.0 try later")

    first = await transport.send_email(EMAIL)
    second = await transport.send_email(EMAIL)

    assert (first.outcome, second.outcome) == (Outcome.RETRY, Outcome.SENT)
    assert len(smtp_server.deliveries) == 1


async def test_smtp_rejection_reason_does_not_quote_the_address(smtp_server: FakeSmtp) -> None:
    smtp_server.reject(EMAIL.to, f"550 5.1.1 <{EMAIL.to}>: Recipient address rejected")

    result = await smtp_for(smtp_server).send_email(EMAIL)

    assert result.outcome is Outcome.FAILED and result.invalid_recipient
    assert EMAIL.to not in (result.reason or "")
    assert "Recipient address rejected" in (result.reason or "")


async def test_smtp_authenticates() -> None:
    with FakeSmtp(username="bot", password="s3cret") as server:
        good = await smtp_for(server, username="bot", password="s3cret").send_email(EMAIL)
        bad = await smtp_for(server, username="bot", password="wrong").send_email(EMAIL)
        anonymous = await smtp_for(server).send_email(EMAIL)

    assert good.outcome is Outcome.SENT
    assert [d.authenticated_as for d in server.deliveries] == ["bot"]
    assert (bad.outcome, bad.error_code) == (Outcome.FAILED, "535")
    assert (anonymous.outcome, anonymous.error_code) == (Outcome.FAILED, "530")
    # aiosmtplib tries each offered mechanism before giving up, so "bot" may fail more than once.
    assert server.auth_attempts[0] == ("bot", True)
    assert {attempt for attempt in server.auth_attempts[1:]} == {("bot", False)}


async def test_smtp_required_starttls_is_never_skipped(smtp_server: FakeSmtp) -> None:
    result = await smtp_for(smtp_server, starttls=True).send_email(EMAIL)

    assert (result.outcome, result.error_code) == (Outcome.FAILED, "smtp_unsupported")
    assert "STARTTLS" in (result.reason or "")
    assert smtp_server.deliveries == []


def test_smtp_tls_choices_exclude_each_other() -> None:
    with pytest.raises(ValueError, match="not both"):
        SmtpEmail(
            host="127.0.0.1",
            port=465,
            username=None,
            password=None,
            starttls=True,
            use_tls=True,
            sender=SENDER,
        )


async def test_smtp_connection_refused_is_retry() -> None:
    with FakeSmtp() as server:
        transport = smtp_for(server)
    # The server has stopped: nothing listens there now.

    result = await transport.send_email(EMAIL)

    assert result.outcome is Outcome.RETRY


async def test_smtp_line_breaks_in_the_subject_cannot_add_a_header(smtp_server: FakeSmtp) -> None:
    sneaky = Email(
        "<s@bot.example.com>",
        "seller@example.org",
        "Hello\r\nBcc: evil@example.net",
        "t",
        None,
        None,
        {},
    )

    result = await smtp_for(smtp_server).send_email(sneaky)

    assert result.outcome is Outcome.SENT
    [delivery] = smtp_server.deliveries
    assert delivery.rcpt_tos == ("seller@example.org",)
    assert delivery.message["Bcc"] is None
    assert delivery.message["Subject"] == "Hello Bcc: evil@example.net"
    assert b"\nBcc:" not in delivery.raw


@pytest.mark.parametrize(
    ("field", "invalid_recipient"),
    [("to", True), ("reply_to", False), ("headers", False)],
)
async def test_smtp_line_breaks_in_other_headers_fail_the_message(
    smtp_server: FakeSmtp, field: str, invalid_recipient: bool
) -> None:
    evil = "x@example.org\r\nBcc: evil@example.net"
    values = {
        "to": {"to": evil},
        "reply_to": {"reply_to": evil},
        "headers": {"headers": {"List-Unsubscribe": "<https://x>\r\nBcc: evil@example.net"}},
    }[field]
    email = Email(**{**{f: getattr(EMAIL, f) for f in EMAIL.__slots__}, **values})  # type: ignore[arg-type]

    result = await smtp_for(smtp_server).send_email(email)

    assert (result.outcome, result.error_code) == (Outcome.FAILED, "invalid_header")
    assert result.invalid_recipient is invalid_recipient
    assert smtp_server.deliveries == []


# --- dry run -------------------------------------------------------------------------------------


async def test_dry_run_sms_records_and_answers_reconciliation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    t0 = datetime(2025, 1, 6, 14, 0, tzinfo=UTC)
    times = iter([t0, t0 + timedelta(minutes=5), t0 + timedelta(minutes=6)])
    dry = DryRunSms(clock=lambda: next(times))
    caplog.set_level(logging.INFO)

    first = await dry.send_sms(SMS)
    await dry.send_sms(Sms("msg-2", TO, "second", None))
    await dry.send_sms(Sms("msg-3", "+14165559999", "to someone else", None))

    assert first.outcome is Outcome.SENT
    assert first.provider_id == (await DryRunSms().send_sms(SMS)).provider_id  # deterministic
    assert first.provider_id is not None and first.provider_id.startswith("dry-")
    assert [r.message.message_id for r in dry.sent] == ["msg-1", "msg-2", "msg-3"]
    recent = await dry.recent_messages(TO, since=t0 + timedelta(minutes=1))
    assert [(m.body, m.created_at) for m in recent] == [("second", t0 + timedelta(minutes=5))]
    assert TO not in caplog.text and SMS.body not in caplog.text


async def test_dry_run_keeps_only_the_latest() -> None:
    dry = DryRunEmail(capacity=2)
    for n in range(3):
        await dry.send_email(Email(f"<{n}@x>", "a@example.org", "s", "t", None, None, {}))

    assert [r.message.message_id for r in dry.sent] == ["<1@x>", "<2@x>"]

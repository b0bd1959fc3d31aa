"""Provider webhooks: Twilio inbound SMS and status callbacks, inbound email, one-click unsubscribe.

Each is authenticated by the provider's signature, stores what arrived in one
small unit of work, answers at once, and leaves the thinking to background work.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from html import escape

import structlog
from aiohttp import web

from bot.responses import (
    EmailInboundOut,
    ErrorOut,
    MailgunInboundForm,
    TwilioInboundForm,
    TwilioStatusForm,
)
from bot.services import inbound, status_callbacks, unsubscribe
from bot.services.deps import Deps
from bot.signatures import SETTINGS_HEADER, UnsupportedAlgorithm, algorithm_of, twilio_signature_matches
from handlers import appkeys
from handlers.errors import ApiError
from handlers.openapi import Header, Reply, documented, text
from handlers.validation import form_fields, without_nul

log = structlog.get_logger(__name__)
routes = web.RouteTableDef()

TWILIO_SIGNATURE = Header(
    "X-Twilio-Signature",
    "base64 HMAC-SHA1 (or HMAC-SHA256 when X-Twilio-Webhooks-Signature-Settings says so), under "
    "TWILIO_AUTH_TOKEN, of DEALBOT_PUBLIC_URL + path + the form's fields sorted by name "
    "(Twilio's scheme; its RequestValidator computes it)",
    required=True,
)
TWILIO_SIGNATURE_SETTINGS = Header(
    SETTINGS_HEADER,
    "`key=<shared key id>,algorithm=HMAC_SHA256` selects the newer algorithm; absent means HMAC-SHA1; "
    "an algorithm we do not know is refused (403)",
    required=False,
)
TWILIO_REPLIES = {
    200: text("TwiML: an empty `<Response/>`", "text/xml"),
    400: Reply("`MessageSid` or `From` missing, a file field, or not text (`bad_form`)", ErrorOut),
    403: Reply("missing or invalid signature (`forbidden`)", ErrorOut),
    413: Reply("the body is over DEALBOT_MAX_BODY_BYTES (`too_large`)", ErrorOut),
    415: Reply("not `application/x-www-form-urlencoded` (`unsupported_media_type`)", ErrorOut),
}

TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
EMAIL_MAX_AGE_S = 300
MAX_FIELD = 20_000


def _twiml() -> web.Response:
    return web.Response(text=TWIML_EMPTY, content_type="text/xml")


async def _signed_twilio_form(request: web.Request) -> dict[str, str]:
    """The form, once its ``X-Twilio-Signature`` matched; 403 otherwise.

    The signature is computed once, for the public URL we configured, and
    compared in constant time (bot/signatures.py says why not the SDK's
    ``validate()``).
    """
    deps = request.app[appkeys.DEPS]
    token = deps.settings.twilio_auth_token
    signature = request.headers.get("X-Twilio-Signature", "")
    # Twilio posts urlencoded; a repeated field: Twilio signs the first, and so do we.
    fields = await form_fields(request, ("application/x-www-form-urlencoded",), files=False)
    if token is None or not signature:
        raise ApiError(403, "forbidden", "missing or invalid Twilio signature")
    try:
        algorithm = algorithm_of(request.headers.get(SETTINGS_HEADER))
    except UnsupportedAlgorithm as exc:
        log.warning("webhook.signature_algorithm_unsupported", algorithm=str(exc))
        raise ApiError(403, "forbidden", f"unsupported Twilio signature algorithm {exc}") from None
    url = deps.public_url + request.path_qs
    if not twilio_signature_matches(token.get_secret_value(), url, fields, signature, algorithm):
        raise ApiError(403, "forbidden", "missing or invalid Twilio signature")
    return without_nul(fields)


@routes.post("/webhooks/twilio/sms")
@documented(
    "Twilio: an inbound SMS", tag="webhooks", form=TwilioInboundForm, headers=[TWILIO_SIGNATURE, TWILIO_SIGNATURE_SETTINGS],
    description="Stored at once and answered fast; read in the background. A repeated `MessageSid` is processed once.",
    responses=TWILIO_REPLIES,
)
async def twilio_sms(request: web.Request) -> web.Response:
    form = await _signed_twilio_form(request)
    sid, sender = form.get("MessageSid") or form.get("SmsSid"), form.get("From")
    if not sid or not sender:
        raise ApiError(400, "bad_form", "MessageSid and From are required")
    deps, sid = request.app[appkeys.DEPS], sid[:64]
    if await inbound.record_sms(
        deps, message_sid=sid, sender=sender[:32], to=form.get("To", "")[:32], body=form.get("Body", "")[:MAX_FIELD]
    ):
        request.app[appkeys.BACKGROUND].spawn(inbound.READ_SMS, sid)
    return _twiml()


@routes.post("/webhooks/twilio/status")
@documented(
    "Twilio: a message status callback", tag="webhooks", form=TwilioStatusForm, headers=[TWILIO_SIGNATURE, TWILIO_SIGNATURE_SETTINGS],
    description="Moves the message's status forward (never back); error `21610` marks the contact opted out.",
    responses=TWILIO_REPLIES,
)
async def twilio_status(request: web.Request) -> web.Response:
    form = await _signed_twilio_form(request)
    sid = form.get("MessageSid") or form.get("SmsSid")
    if not sid:
        raise ApiError(400, "bad_form", "MessageSid is required")
    await status_callbacks.apply(
        request.app[appkeys.DEPS], provider_id=sid, status=form.get("MessageStatus") or form.get("SmsStatus") or "",
        error_code=form.get("ErrorCode") or None,
    )
    return _twiml()


def _check_mailgun_signature(deps: Deps, fields: dict[str, str]) -> None:
    secret = deps.settings.inbound_email_secret
    if secret is None:
        raise ApiError(503, "not_configured", "set DEALBOT_INBOUND_EMAIL_SECRET to accept inbound email")
    timestamp, token, signature = fields.get("timestamp", ""), fields.get("token", ""), fields.get("signature", "")
    expected = hmac.new(secret.get_secret_value().encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    if not signature or not secrets.compare_digest(expected.encode(), signature.encode()):
        raise ApiError(403, "forbidden", "invalid inbound email signature")
    try:
        age = abs(time.time() - int(timestamp))
    except ValueError:
        raise ApiError(403, "forbidden", "invalid inbound email timestamp") from None
    if age > EMAIL_MAX_AGE_S:
        raise ApiError(403, "forbidden", "inbound email timestamp is too old")


@routes.post("/webhooks/email/inbound")
@documented(
    "Mailgun: an inbound email", tag="webhooks", form=MailgunInboundForm,
    form_types=("multipart/form-data", "application/x-www-form-urlencoded"),
    description="Authenticated by `signature`: hex HMAC-SHA256 of `timestamp` + `token` under "
    "DEALBOT_INBOUND_EMAIL_SECRET; a timestamp over 5 minutes off, or a token used before, is refused. "
    "Our own mail, bounces and auto-replies are acknowledged and ignored.",
    responses={
        200: EmailInboundOut,
        400: Reply("`Message-Id` is missing, or the form is not text (`bad_form`)", ErrorOut),
        403: Reply("bad signature, stale timestamp or a replayed token (`forbidden`)", ErrorOut),
        413: Reply("the body is over DEALBOT_MAX_BODY_BYTES (`too_large`)", ErrorOut),
        503: Reply("DEALBOT_INBOUND_EMAIL_SECRET is not set (`not_configured`)", ErrorOut),
    },
)
async def email_inbound(request: web.Request) -> web.Response:
    deps = request.app[appkeys.DEPS]
    # Another media type carries no signature we read: an empty form, refused by its signature (403).
    fields = await form_fields(request, other_types_empty=True)
    _check_mailgun_signature(deps, fields)
    fields = without_nul(fields)
    if not await unsubscribe.first_use_of_token(deps, fields["token"]):
        raise ApiError(403, "forbidden", "this webhook token was used before")
    verdict = inbound.auto_reply_reason(fields, own_address=deps.settings.email_from)
    if verdict is not None:
        return web.json_response({"status": "ignored", "reason": verdict})
    message_id = (fields.get("Message-Id") or fields.get("message-id") or "").strip()
    if not message_id:
        raise ApiError(400, "bad_form", "Message-Id is required")
    stored = await inbound.record_email(
        deps,
        message_id=message_id[:300],
        sender=(fields.get("sender") or "").strip().lower()[:254],
        recipient=(fields.get("recipient") or "").strip().lower()[:254],
        subject=(fields.get("subject") or "")[:500],
        body=(fields.get("stripped-text") or fields.get("body-plain") or "")[:MAX_FIELD],
        in_reply_to=(fields.get("In-Reply-To") or "").strip() or None,
    )
    if stored.new:
        request.app[appkeys.BACKGROUND].spawn(inbound.READ_EMAIL, stored.message_id)
    return web.json_response({"status": "stored" if stored.new else "duplicate", "message_id": stored.message_id})


@routes.get("/unsubscribe/{token}")
@documented(
    "Email unsubscribe: the confirmation page", tag="webhooks",
    responses={200: text("a page with one button", "text/html"), 404: Reply("not a valid link (`not_found`)", ErrorOut)},
)
async def unsubscribe_page(request: web.Request) -> web.Response:
    deps = request.app[appkeys.DEPS]
    address = unsubscribe.address_of(deps, request.match_info["token"])
    if address is None:
        raise web.HTTPNotFound(text="This unsubscribe link is not valid.")
    html = (
        "<!doctype html><meta charset=utf-8><title>Unsubscribe</title>"
        f"<p>Stop all email from {escape(deps.settings.company_name)} to {escape(address)}?</p>"
        '<form method="post"><button type="submit">Unsubscribe</button></form>'
    )
    return web.Response(text=html, content_type="text/html")


@routes.post("/unsubscribe/{token}")
@documented(
    "Email unsubscribe: one click (RFC 8058)", tag="webhooks",
    description="What a mail client's List-Unsubscribe-Post sends; stops all email to the address at once.",
    responses={200: text("done", "text/html"), 404: Reply("not a valid link (`not_found`)", ErrorOut)},
)
async def unsubscribe_now(request: web.Request) -> web.Response:
    deps = request.app[appkeys.DEPS]
    address = unsubscribe.address_of(deps, request.match_info["token"])
    if address is None:
        raise web.HTTPNotFound(text="This unsubscribe link is not valid.")
    await unsubscribe.opt_out_address(deps, address)
    return web.Response(
        text="<!doctype html><meta charset=utf-8><p>You are unsubscribed. No more email will be sent.</p>",
        content_type="text/html",
    )

"""Outbound transports behind one small interface; nothing else knows which provider is in use.

Import the concrete transports from their modules (bot.transports.twilio, .smtp, .dryrun): the
interface here pulls in no provider SDK.
"""

from bot.transports.base import (
    TWILIO_ERRORS,
    Email,
    EmailTransport,
    Outcome,
    ProviderMessage,
    SendResult,
    Sms,
    SmsTransport,
    TransportError,
    classify_twilio_error,
    mask_recipient,
)

__all__ = [
    "TWILIO_ERRORS",
    "Email",
    "EmailTransport",
    "Outcome",
    "ProviderMessage",
    "SendResult",
    "Sms",
    "SmsTransport",
    "TransportError",
    "classify_twilio_error",
    "mask_recipient",
]

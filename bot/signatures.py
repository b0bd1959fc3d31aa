"""Twilio's request signature, computed once per request.

The SDK's ``RequestValidator.validate()`` computes the HMAC twice (the URL
with and without its port) and builds the payload by repeated string
concatenation; a webhook under load pays for both. This is the same HMAC of
the same payload (the URL, then each field's name and value, sorted by name:
``RequestValidator.compute_signature`` for a dict of fields, which a test
checks), computed once for the public URL we configured. The algorithm is
HMAC-SHA1 unless the ``X-Twilio-Webhooks-Signature-Settings`` header names
another (the SDK's ``get_signature_algorithm`` reads it): HMAC-SHA256 is the
newer one; any other fails closed.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Mapping

from twilio.request_validator import HMAC_SHA1, HMAC_SHA256, get_signature_algorithm

SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"
_DIGESTS = {HMAC_SHA1: "sha1", HMAC_SHA256: "sha256"}


class UnsupportedAlgorithm(ValueError):
    """The settings header names a signature algorithm we do not know: the request is refused."""


def algorithm_of(settings_header: str | None) -> str:
    algorithm = get_signature_algorithm(settings_header).upper()
    if algorithm not in _DIGESTS:
        raise UnsupportedAlgorithm(algorithm)
    return algorithm


def twilio_signature(auth_token: str, url: str, fields: Mapping[str, str], algorithm: str = HMAC_SHA1) -> str:
    payload = url + "".join([name + fields[name] for name in sorted(fields)])
    return base64.b64encode(hmac.digest(auth_token.encode(), payload.encode(), _DIGESTS[algorithm])).decode()


def twilio_signature_matches(
    auth_token: str, url: str, fields: Mapping[str, str], signature: str, algorithm: str = HMAC_SHA1
) -> bool:
    """Constant-time comparison, so a forger learns nothing from how fast a guess fails."""
    return hmac.compare_digest(twilio_signature(auth_token, url, fields, algorithm).encode(), signature.encode())

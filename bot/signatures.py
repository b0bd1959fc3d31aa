"""Twilio's request signature, computed once per request.

The SDK's ``RequestValidator.validate()`` computes the HMAC twice (the URL
with and without its port) and builds the payload by repeated string
concatenation; a webhook under load pays for both. This is the same
HMAC-SHA1 of the same payload (the URL, then each field's name and value,
sorted by name: ``RequestValidator.compute_signature`` for a dict of fields,
which a test checks), computed once for the public URL we configured.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Mapping


def twilio_signature(auth_token: str, url: str, fields: Mapping[str, str]) -> str:
    payload = url + "".join([name + fields[name] for name in sorted(fields)])
    return base64.b64encode(hmac.digest(auth_token.encode(), payload.encode(), "sha1")).decode()


def twilio_signature_matches(auth_token: str, url: str, fields: Mapping[str, str], signature: str) -> bool:
    """Constant-time comparison, so a forger learns nothing from how fast a guess fails."""
    return hmac.compare_digest(twilio_signature(auth_token, url, fields).encode(), signature.encode())

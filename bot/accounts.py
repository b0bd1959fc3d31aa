"""Operator accounts, decided without I/O: password hashes, session tokens, CSRF tokens, login throttling.

Passwords are hashed with scrypt (hashlib; RFC 7914) under a random salt and
stored as ``scrypt$N$r$p$salt$key``, so the cost can be raised later and old
hashes still verify. A session token is 32 random bytes in the cookie; the
database keeps only its SHA-256. A form's CSRF token is an HMAC of the session
under the app's signing key; the login form's is an HMAC of the time it was made.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from storage.login_failures import Failures  # the record the login throttle keeps

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
KEY_BYTES = 32
MIN_PASSWORD = 8
MAX_PASSWORD = 1024

SESSION_TTL = timedelta(hours=12)
LOGIN_FORM_TTL = timedelta(hours=2)
API_ACTOR = "api"  # who did it, when it was a script with the API key (or a session opened with it)

# Failed logins: this many in a window are free; after that each try waits, doubling, up to a cap.
FREE_FAILURES = {"email": 5, "ip": 20}
FAILURE_WINDOW = timedelta(minutes=15)
FIRST_WAIT = timedelta(seconds=2)
MAX_WAIT = timedelta(minutes=5)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=128 * n * r * 2, dklen=KEY_BYTES)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(SALT_BYTES)
    key = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        computed = _scrypt(password, _unb64(salt), int(n), int(r), int(p))
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(computed, _unb64(key))


# Verified against when the email is unknown, so an unknown email costs what a wrong password does.
DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def password_problem(password: str) -> str | None:
    if len(password) < MIN_PASSWORD:
        return f"the password must be at least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"the password must be at most {MAX_PASSWORD} characters"
    return None


def normal_email(email: str) -> str:
    return email.strip().lower()


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def key_digest(api_key: str) -> str:
    return hashlib.sha256(f"api-key|{api_key}".encode()).hexdigest()[:32]


def csrf_token(signing_key: bytes, session_hash: str) -> str:
    return hmac.new(signing_key, f"csrf|{session_hash}".encode(), hashlib.sha256).hexdigest()[:32]


def login_form_token(signing_key: bytes, now: datetime) -> str:
    """The login form's CSRF token: when the form was made, signed (no session exists yet)."""
    issued = f"{int(now.timestamp()):012x}"
    return issued + _login_mac(signing_key, issued)


def _login_mac(signing_key: bytes, issued: str) -> str:
    return hmac.new(signing_key, f"login|{issued}".encode(), hashlib.sha256).hexdigest()[:32]


def login_form_token_ok(signing_key: bytes, token: str, now: datetime) -> bool:
    issued, mac = token[:12], token[12:]
    if len(token) != 44 or not all(c in "0123456789abcdef" for c in issued):
        return False
    expected = _login_mac(signing_key, issued)
    age = now.timestamp() - int(issued, 16)
    return hmac.compare_digest(expected.encode(), mac.encode()) and -60 <= age <= LOGIN_FORM_TTL.total_seconds()


def after_failure(kind: str, previous: Failures | None, now: datetime) -> Failures:
    """The record after one more failure: past the free ones, each waits twice as long as the last."""
    if previous is None or now - previous.window_start > FAILURE_WINDOW:
        previous = Failures(0, now, None)
    failures = previous.failures + 1
    over = failures - FREE_FAILURES[kind]
    if over < 0:
        return Failures(failures, previous.window_start, None)
    wait = min(MAX_WAIT, FIRST_WAIT * 2 ** min(over, 16))
    return Failures(failures, previous.window_start, now + wait)


def wait_left(record: Failures | None, now: datetime) -> timedelta | None:
    """How long a login from this scope must still wait, or None."""
    if record is None or record.blocked_until is None or record.blocked_until <= now:
        return None
    return record.blocked_until - now

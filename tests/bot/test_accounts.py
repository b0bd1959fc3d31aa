"""Passwords, login-form tokens and the throttle's arithmetic (bot/accounts.py), without I/O."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot import accounts
from tests.conftest import T0

KEY = b"k" * 32


def test_a_password_verifies_and_nothing_else_does() -> None:
    stored = accounts.hash_password("correct horse battery")
    assert stored.startswith("scrypt$16384$8$1$")
    assert accounts.verify_password("correct horse battery", stored)
    assert not accounts.verify_password("correct horse batterY", stored)
    assert stored != accounts.hash_password("correct horse battery")  # a salt each


@pytest.mark.parametrize(
    "stored", ["", "scrypt$x", "bcrypt$1$2$3$aa$bb", "scrypt$16384$8$1$!!$??", "scrypt$0$8$1$aa$bb"]
)
def test_a_damaged_hash_verifies_nothing(stored: str) -> None:
    assert not accounts.verify_password("anything", stored)


def test_a_login_form_token_holds_for_two_hours_under_its_key() -> None:
    token = accounts.login_form_token(KEY, T0)
    assert accounts.login_form_token_ok(KEY, token, T0 + timedelta(hours=1))
    assert not accounts.login_form_token_ok(KEY, token, T0 + accounts.LOGIN_FORM_TTL + timedelta(seconds=1))
    assert not accounts.login_form_token_ok(b"j" * 32, token, T0)
    for forged in ("", token[:-1] + ("0" if token[-1] != "0" else "1"), "f" * 12 + token[12:], token + "0"):
        assert not accounts.login_form_token_ok(KEY, forged, T0)


def test_failures_past_the_free_ones_wait_longer_each_time_up_to_the_cap() -> None:
    record = None
    waits = []
    for n in range(12):
        record = accounts.after_failure("email", record, T0 + timedelta(seconds=n))
        wait = accounts.wait_left(record, T0 + timedelta(seconds=n))
        waits.append(wait.total_seconds() if wait else 0)
    assert waits[:4] == [0, 0, 0, 0]
    assert waits[4:8] == [2, 4, 8, 16]
    assert max(waits) <= accounts.MAX_WAIT.total_seconds()
    assert record is not None and record.failures == 12
    # A quiet window later, the count starts over.
    later = accounts.after_failure("email", record, T0 + accounts.FAILURE_WINDOW + timedelta(minutes=1))
    assert later.failures == 1 and later.blocked_until is None

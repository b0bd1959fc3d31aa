"""Logs never show a full phone number, email address or message body at info level."""

from __future__ import annotations

import json

import pytest
import structlog

from bot import logs


@pytest.fixture(autouse=True)
def _reset_structlog():
    yield
    structlog.reset_defaults()


def test_info_lines_mask_numbers_addresses_and_bodies(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("info", "json")
    structlog.get_logger("t").info(
        "sms.in", sender="+14165552368", email="jane.tremblay@example.com", body="I want 400k for 12 Elm St",
        note="call +1 (416) 555-2368 or jane@example.com",
    )
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    text = json.dumps(line)
    assert "4165552368" not in text and "416) 555-2368" not in text and "jane.tremblay" not in text
    assert "400k" not in text and line["body"] == "<25 chars>"
    assert line["sender"].endswith("2368") and line["email"] == "j***@example.com"


def test_debug_lines_may_show_the_body(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("debug", "json")
    structlog.get_logger("t").debug("sms.in", body="hello there")
    assert json.loads(capsys.readouterr().err.strip().splitlines()[-1])["body"] == "hello there"


@pytest.mark.parametrize(
    ("raw", "masked"),
    [("+14165552368", "+*******2368"), ("a@b.co", "a***@b.co"), ("no secrets here", "no secrets here")],
)
def test_mask(raw: str, masked: str) -> None:
    assert logs.mask(raw) == masked

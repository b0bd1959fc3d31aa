"""Every endpoint that reads a form answers a malformed one with 400 or 415, and logs no traceback.

aiohttp raises on such bodies (a multipart body without a boundary, a broken part
header, an unknown charset, bytes that are not text); read in one place
(handlers/validation.py), each becomes ``bad_form`` or ``unsupported_media_type``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient

from tests.conftest import API_KEY

PART = b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\nv\r\n--x--\r\n'
MALFORMED: list[tuple[str, str, bytes]] = [
    ("no-boundary", "multipart/form-data", PART),
    ("long-boundary", "multipart/form-data; boundary=" + "x" * 80, PART),
    ("no-start", "multipart/form-data; boundary=x", b"garbage"),
    ("header-no-colon", "multipart/form-data; boundary=x", b"--x\r\nContent-Disposition form-data\r\n\r\nv\r\n--x--\r\n"),
    ("unnamed-part", "multipart/form-data; boundary=x", b"--x\r\nContent-Type: text/plain\r\n\r\nv\r\n--x--\r\n"),
    (
        "bad-transfer-encoding",
        "multipart/form-data; boundary=x",
        b'--x\r\nContent-Disposition: form-data; name="a"\r\nContent-Transfer-Encoding: bogus\r\n\r\nv\r\n--x--\r\n',
    ),
    (
        "part-charset",
        "multipart/form-data; boundary=x",
        b'--x\r\nContent-Disposition: form-data; name="a"\r\nContent-Type: text/plain; charset=bogus\r\n\r\nv\r\n--x--\r\n',
    ),
    ("part-not-utf8", "multipart/form-data; boundary=x", b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n\xff\r\n--x--\r\n'),
    ("form-charset", "application/x-www-form-urlencoded; charset=bogus", b"a=1"),
    ("form-not-utf8", "application/x-www-form-urlencoded", b"a=\xff\xfe"),
    ("json", "application/json", b'{"a": 1}'),
    ("octets", "application/octet-stream", b"\x00\x01"),
]
FORM_PATHS = [
    "/login",
    "/logout",
    "/dashboard/contacts/ct_x/handoff",
    "/dashboard/contacts/ct_x/resume",
    "/webhooks/email/inbound",
    "/webhooks/twilio/sms",
    "/webhooks/twilio/status",
]


@pytest.mark.parametrize("path", FORM_PATHS)
@pytest.mark.parametrize(("content_type", "body"), [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED])
async def test_a_malformed_form_is_refused_without_a_traceback(
    live: TestClient, caplog: pytest.LogCaptureFixture, path: str, content_type: str, body: bytes
) -> None:
    caplog.set_level(logging.DEBUG)
    headers: dict[str, Any] = {"Content-Type": content_type, "X-Twilio-Signature": "x"}
    response = await live.post(path, data=body, headers=headers)
    if path == "/webhooks/email/inbound" and not content_type.startswith(("multipart/", "application/x-www")):
        assert response.status == 403  # another media type: no signature read (test_hostile_input.py)
        return
    assert response.status in (400, 415), (response.status, await response.text())
    answer = await response.json()
    assert answer["error"] in ("bad_form", "unsupported_media_type")
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records]
    assert "Traceback" not in caplog.text


async def test_a_well_formed_multipart_login_still_works(live: TestClient) -> None:
    page = await (await live.get("/login", headers={"Authorization": "none"})).text()
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert csrf
    body = "".join(
        f'--x\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in (("csrf", csrf.group(1)), ("api_key", API_KEY))
    ).encode() + b"--x--\r\n"
    response = await live.post(
        "/login", data=body, headers={"Content-Type": "multipart/form-data; boundary=x", "Authorization": "none"},
        allow_redirects=False,
    )
    assert response.status == 303 and response.headers["Location"] == "/dashboard"


@pytest.mark.parametrize("content", [b"name,email,provinces\\nNorthside,deals@northside.example,ON\\n", b"\xff\xfe", b""])
async def test_an_upload_the_import_cannot_read_is_answered_not_a_500(live: TestClient, content: bytes) -> None:
    form = FormData()
    form.add_field("file", content, filename="buyers.csv", content_type="text/csv")
    response = await live.post("/dashboard/buyers/import", data=form)
    assert response.status < 500, await response.text()

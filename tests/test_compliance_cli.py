"""``dealbot import suppressions`` and ``dealbot compliance export`` as real processes, on both engines."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from tests.flows import settle
from tests.process import clean_env, run_cli

LEAD: dict[str, Any] = {
    "name": "Jane Tremblay",
    "phone": "416-555-2368",
    "address": "12 Elm St, Toronto, ON M4C 1A1",
    "arv": 820000,
    "consent": True,
    "consent_evidence": {"method": "web_form", "text": "I agree to be texted", "ip": "203.0.113.9",
                         "source_url": "https://offers.example.com/sell"},
}
SUPPRESSIONS_CSV = """\
Phone Number,E-mail,Area Code,List,Source
(416) 555-2368,,,national dnc,dnc.gov extract
,,,litigator,
1-212-555-0100,,,Litigator,
,spam@example.com,,reassigned,
,,604,operator,
416 555 0000 ext 2,,,operator,
,,,operator,
"""


def env(database_url: str) -> dict[str, str]:
    return clean_env(DEALBOT_DATABASE_URL=database_url, DEALBOT_LOG_LEVEL="warning")


async def test_import_suppressions_reports_bad_rows_stops_steps_and_is_idempotent(
    client: TestClient, database_url: str, tmp_path: Path
) -> None:
    contact_id = (await (await client.post("/api/leads", json=LEAD)).json())["contact_id"]
    await settle(client)
    contact = await (await client.get(f"/api/contacts/{contact_id}")).json()
    assert any(s["status"] == "pending" for s in contact["ladder"])
    path = tmp_path / "dnc.csv"
    path.write_text(SUPPRESSIONS_CSV)

    code, out, err = await run_cli("import", "suppressions", str(path), env=env(database_url), cwd=tmp_path, timeout=60)
    assert code == 1, err  # bad rows were skipped
    assert "line 3: " in err and "line 7: phone:" in err and "line 8: " in err
    assert "suppressions: 7 rows: 4 imported, 0 already imported, 3 skipped (bad rows)" in out
    listed = (await (await client.get("/api/suppressions")).json())["suppressions"]
    assert {(e["kind"], e[e["kind"]], e["reason"]) for e in listed} == {
        ("phone", "+14165552368", "national_dnc"), ("phone", "+12125550100", "litigator"),
        ("email", "spam@example.com", "reassigned"), ("area_code", "604", "operator"),
    }
    ladder = (await (await client.get(f"/api/contacts/{contact_id}")).json())["ladder"]
    assert not any(s["status"] == "pending" for s in ladder)

    code, out, _ = await run_cli("import", "suppressions", str(path), env=env(database_url), cwd=tmp_path, timeout=60)
    assert code == 1 and "0 imported, 4 already imported" in out


async def test_compliance_export_writes_the_record_as_json_and_csv(
    client: TestClient, database_url: str, tmp_path: Path
) -> None:
    contact_id = (await (await client.post("/api/leads", json=LEAD)).json())["contact_id"]
    await settle(client)
    await client.post("/api/suppressions", json={"phone": "+14165552368", "reason": "litigator"})
    await client.post("/api/messages/sms", json={"contact_id": contact_id, "body": "Hi Jane"})

    code, out, err = await run_cli(
        "compliance", "export", "--phone", "(416) 555-2368", env=env(database_url), cwd=tmp_path
    )
    assert code == 0, err
    record = json.loads(out)
    assert record["contact_id"] == contact_id
    [piece] = record["consent_evidence"]
    assert piece["method"] == "web_form" and piece["ip"] == "203.0.113.9" and piece["text"] == "I agree to be texted"
    assert record["sent"] and record["sent"][0]["local_sent_at"].endswith("-05:00")
    assert {b["reason"] for b in record["blocks"]} == {"suppressed"}

    code, out, err = await run_cli(
        "compliance", "export", "--phone", "+14165552368", "--format", "csv", env=env(database_url), cwd=tmp_path
    )
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {r["event"] for r in rows} >= {"consent", "sent", "blocked", "listed"}
    assert any(r["event"] == "blocked" and r["reason"] == "suppressed" for r in rows)

    code, _, err = await run_cli(
        "compliance", "export", "--phone", "+12125550199", env=env(database_url), cwd=tmp_path
    )
    assert code == 1 and "no contact" in err


async def test_lead_import_carries_consent_evidence_columns(
    client: TestClient, database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "leads.csv"
    path.write_text(
        "Name,Phone,Address,Consent,Consent Type,Consent Date,Disclosure\n"
        "Jane,416-555-2368,\"12 Elm St, Toronto, ON M4C 1A1\",yes,inquiry,2026-01-10T10:00:00-05:00,Asked online\n"
        "Bob,416-555-0199,\"14 Elm St, Toronto, ON M4C 1A1\",yes,telepathy,,\n"
    )
    code, out, err = await run_cli("import", "leads", str(path), env=env(database_url), cwd=tmp_path, timeout=60)
    assert code == 1 and "line 3: consent_evidence.method" in err, err
    code, out, err = await run_cli(
        "compliance", "export", "--phone", "416-555-2368", env=env(database_url), cwd=tmp_path
    )
    [piece] = json.loads(out)["consent_evidence"]
    assert piece["method"] == "inquiry" and piece["text"] == "Asked online"
    assert piece["captured_at"].startswith("2026-01-10T15:00:00")

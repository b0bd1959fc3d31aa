"""``dealbot import buyers|leads`` as real processes, on both engines, and the CSV reading
they share."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.services import imports
from bot.services.imports import (
    BUYER_HEADERS,
    Columns,
    ImportFailed,
    Kind,
    Meter,
    fold_header,
    parse_amount,
    parse_flag,
    read_rows,
    split_list,
)
from handlers import appkeys
from storage.database import Database, Engine, open_database
from tests.process import REPO, clean_env, run_cli

BUYERS_CSV = (
    "Name,E-mail,Phone,Provinces,Markets,Property Types,$ min,Max Price,Min Beds,Max Repairs,"
    "Active,Purchases,Notes\n"
    'Northside Capital,Deals@Northside.Example.com,(416) 555-0199,"ON; QC","GTA;montreal",'
    '"Single Family, semis","$300,000",900k,2,120000,yes,6,call first\n'
    """\
Bad Email,not-an-email,,ON,,,,,,,,,
Atlantis Co,a@atlantis.example.com,,Atlantis,,,,,,,,,
Prices Wrong,p@prices.example.com,,ON,,,"900,000",300000,,,,,
,,,,,,,,,,,,
Quebec Buyer,q@quebec.example.com,,Québec,,condo,,abc,,,no,,
Whole Ontario,w@ontario.example.com,,Ontario,,,,,,,,2,
"""
)


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


async def dealbot_import(
    database_url: str, tmp_path: Path, kind: str, path: Path
) -> tuple[int, str, str]:
    env = clean_env(DEALBOT_DATABASE_URL=database_url, DEALBOT_LOG_LEVEL="warning")
    return await run_cli("import", kind, str(path), env=env, cwd=tmp_path, timeout=60)


@pytest.fixture
async def opened(database_url: str) -> AsyncIterator[Database]:
    """The test's database, opened after the command migrated it (the command runs first)."""
    database = open_database(database_url)
    yield database
    await database.close()


async def rows(db: Database, sql: str, *args: Any) -> list[dict[str, Any]]:
    return [dict(r) for r in await db.fetch_all(sql, *args)]


async def test_buyers_import_reports_bad_rows_and_reimports_idempotently(
    database_url: str, tmp_path: Path, opened: Database
) -> None:
    path = write(tmp_path, "buyers.csv", BUYERS_CSV)
    code, out, err = await dealbot_import(database_url, tmp_path, "buyers", path)
    assert code == 1, err
    assert out.splitlines() == [
        "buyers: 6 rows: 2 imported, 0 updated, 0 unchanged, 4 skipped (bad rows)",
        "ignored columns: Notes",
    ]
    reported = [line for line in err.splitlines() if line.startswith("line ")]
    assert reported == [
        "line 3: email: An email address must have an @-sign.",
        "line 4: provinces: unknown province or state 'Atlantis'",
        "line 5: min_price: must not be above max_price",
        "line 7: max_price: not an amount: 'abc'",
    ]
    await opened.connect()
    stored = await rows(
        opened,
        "SELECT email, phone, provinces, markets, property_types, min_price, max_price, "
        "min_bedrooms, max_repairs, active, purchases_last_12m FROM buyers ORDER BY email",
    )
    assert stored == [
        {
            "email": "deals@northside.example.com",
            "phone": "+14165550199",
            "provinces": ["ON", "QC"],
            "markets": ["GTA", "Montréal"],
            "property_types": ["single_family", "semi_detached"],
            "min_price": 300000,
            "max_price": 900000,
            "min_bedrooms": 2,
            "max_repairs": 120000,
            "active": True,
            "purchases_last_12m": 6,
        },
        {
            "email": "w@ontario.example.com",
            "phone": None,
            "provinces": ["ON"],
            "markets": [],
            "property_types": [],
            "min_price": None,
            "max_price": None,
            "min_bedrooms": None,
            "max_repairs": None,
            "active": True,
            "purchases_last_12m": 2,
        },
    ]
    areas = await rows(opened, "SELECT province, market FROM buyer_areas ORDER BY province, market")
    assert [(a["province"], a["market"]) for a in areas] == [
        ("ON", ""),
        ("ON", "GTA"),
        ("QC", "Montréal"),
    ]
    ids = {r["email"]: r["id"] for r in await rows(opened, "SELECT id, email FROM buyers")}
    await opened.execute(
        "UPDATE buyers SET opted_out = TRUE WHERE email = $1", "w@ontario.example.com"
    )
    await opened.close()

    # The same file again: nothing new, nothing rewritten, the opt-out kept.
    code, out, _ = await dealbot_import(database_url, tmp_path, "buyers", path)
    assert code == 1
    assert (
        out.splitlines()[0]
        == "buyers: 6 rows: 0 imported, 0 updated, 2 unchanged, 4 skipped (bad rows)"
    )
    # A changed row and a new one: the changed buyer keeps its id; still one row per email.
    changed = (
        BUYERS_CSV.replace("Ontario,,,,,,,,2,", "Ontario,Ottawa,,,,,,,3,")
        + "New One,new@x.example.com,,BC,,,,,,,,,\n"
    )
    code, out, _ = await dealbot_import(
        database_url, tmp_path, "buyers", write(tmp_path, "b2.csv", changed)
    )
    assert (
        out.splitlines()[0]
        == "buyers: 7 rows: 1 imported, 1 updated, 1 unchanged, 4 skipped (bad rows)"
    )
    await opened.connect()
    after = {
        r["email"]: r
        for r in await rows(opened, "SELECT id, email, opted_out, purchases_last_12m FROM buyers")
    }
    assert len(after) == 3 and after["w@ontario.example.com"]["id"] == ids["w@ontario.example.com"]
    assert after["w@ontario.example.com"]["opted_out"] is True
    assert after["w@ontario.example.com"]["purchases_last_12m"] == 3
    eligible = await rows(
        opened,
        "SELECT market, eligible FROM buyer_areas WHERE buyer_id = $1",
        ids["w@ontario.example.com"],
    )
    assert eligible == [{"market": "Ottawa", "eligible": False}]


async def test_the_last_row_of_an_email_wins_with_batches_in_flight(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches of 3, two in flight: an email repeated in the next batches is held back until
    the batch holding it is stored, so its last row is what stays, as with one batch at a time."""
    monkeypatch.setattr(imports, "BATCH", 3)
    writing: list[set[str]] = []  # the emails of each batch being written
    most = 0
    upsert = imports._upsert

    async def watched(db: Database, batch: list[Any], at: datetime) -> Any:
        nonlocal most
        emails = {row.email for row in batch}
        assert all(emails.isdisjoint(other) for other in writing), "one email in two writes at once"
        writing.append(emails)
        most = max(most, len(writing))
        try:
            return await upsert(db, batch, at)
        finally:
            writing.remove(emails)

    monkeypatch.setattr(imports, "_upsert", watched)
    lines = ["Name,Email,Provinces,Purchases"]
    for n in range(40):
        lines.append(f"Buyer {n},b{n % 7}@example.com,ON,{n}")  # b0..b6, each over several batches
        lines.append(f"Loner {n},l{n}@example.com,QC,{n}")
        if n % 5 == 0:
            lines.append(f"Again {n},b{n % 7}@example.com,ON,{n}")  # in the very next batch
    path = write(tmp_path, "repeats.csv", "\n".join(lines) + "\n")

    class Silent:
        def bad(self, line: int, field: str, reason: str) -> None:
            raise AssertionError(f"line {line}: {field}: {reason}")

        def progress(self, bytes_read: int, rows: int) -> None:
            pass

    summary = await imports.import_buyers(db, path, Silent(), now=lambda: datetime.now(UTC))
    assert (summary.rows, summary.imported, summary.bad) == (88, 47, 0)
    assert most == imports.BUYERS_IN_FLIGHT
    stored = {r["email"]: (r["name"], r["purchases_last_12m"]) for r in await rows(db, "SELECT * FROM buyers")}
    assert len(stored) == 47
    for k in range(7):
        last = max(n for n in range(40) if n % 7 == k)
        name = f"Again {last}" if last % 5 == 0 else f"Buyer {last}"
        assert stored[f"b{k}@example.com"] == (name, last)
    areas = await rows(db, "SELECT buyer_id, purchases_last_12m FROM buyer_areas")
    assert len(areas) == 47  # one area each; a replaced box's old rows are gone


async def test_a_file_of_several_batches_keeps_the_last_row_of_each_email(
    database_url: str, tmp_path: Path, opened: Database
) -> None:
    """Through the command, with its real batch size: 10,000 rows are three batches, two written at
    once; 50 emails recur in every batch, and each keeps its last row, import after import."""
    assert 2 * imports.BATCH < 10_000
    lines = ["Name,Email,Provinces,Purchases"]
    for n in range(10_000):
        email = f"b{n // 2 % 50}@example.com" if n % 2 == 0 else f"u{n}@example.com"
        lines.append(f"Buyer {n},{email},ON,{n % 60}")
    path = write(tmp_path, "many.csv", "\n".join(lines) + "\n")
    expected = {f"b{n // 2 % 50}@example.com": (f"Buyer {n}", n % 60) for n in range(0, 10_000, 2)}
    for attempt in range(2):
        code, out, err = await dealbot_import(database_url, tmp_path, "buyers", path)
        assert code == 0, err
        assert out.startswith(f"buyers: 10,000 rows: {5_050 if attempt == 0 else 0:,} imported"), out
        await opened.connect()
        stored = {r["email"]: (r["name"], r["purchases_last_12m"]) for r in await rows(opened, "SELECT * FROM buyers")}
        areas = await opened.fetch_val("SELECT count(*) FROM buyer_areas")
        await opened.close()
        assert len(stored) == areas == 5_050
        assert {email: stored[email] for email in expected} == expected


async def test_leads_import_goes_through_intake_once(
    database_url: str, tmp_path: Path, opened: Database
) -> None:
    text = (
        "\ufeffSeller Name;Phone;E-mail;Property Address;City;Province;Postal Code;Beds;"
        "Asking Price;ARV;Consent;Notes\r\n"
        "Jane Tremblay;416-555-2368;jane@example.com;12 Elm St;Toronto;ON;M4C 1A1;3;$650,000;820k;"
        "yes;motivated\r\n"
        "Bob;;;9 Oak Ave;Toronto;ON;;;;;yes;\r\n"
        'Marc Roy;(514) 555-0142;;"45 rue Saint-Denis\r\napp. 3";Montréal;QC;H2X 1K4;2;;500000;'
        "oui;\r\n"
        "No Consent;416-555-0000;;1 Main St;Toronto;ON;;;;;maybe;\r\n"
    )
    path = write(tmp_path, "leads.csv", text)
    code, out, err = await dealbot_import(database_url, tmp_path, "leads", path)
    assert code == 1, err
    assert out.splitlines() == [
        "leads: 4 rows: 2 imported, 0 already imported, 2 skipped (bad rows)",
        "ignored columns: Notes",
        # Their first texts, due now, and when the pool (dry-run here, 1 a second) will have sent them.
        "SMS: 2 due now; at 1/s the pool sends them in about 0 min "
        + out.splitlines()[2].rpartition(" min ")[2],
    ]
    # Line numbers count physical lines: Marc's address spans two, so "No Consent" is on line 6.
    assert [line for line in err.splitlines() if line.startswith("line ")] == [
        "line 3: phone: a phone or an email is required",
        "line 6: consent: not yes or no: 'maybe'",
    ]
    code, out, _ = await dealbot_import(database_url, tmp_path, "leads", path)
    assert (
        out.splitlines()[0] == "leads: 4 rows: 0 imported, 2 already imported, 2 skipped (bad rows)"
    )
    await opened.connect()
    leads = await rows(
        opened,
        "SELECT c.province, c.market, c.state, l.source FROM leads l "
        "JOIN contacts c ON c.id = l.contact_id ORDER BY c.province",
    )
    assert [(r["province"], r["market"], r["source"]) for r in leads] == [
        ("ON", "GTA", "csv_import"),
        ("QC", "Montréal", "csv_import"),
    ]
    kpis = await opened.fetch_val("SELECT count(*) FROM kpi_events WHERE name = 'lead:created'")
    assert kpis == 2
    if opened.engine is Engine.POSTGRESQL:
        # The planner's statistics follow a bulk load (storage.statistics); the replay imported nothing.
        analyzed = await opened.fetch_val(
            "SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'ladder_steps'"
        )
        assert analyzed == 1


@pytest.mark.parametrize(
    ("kind", "text", "message"),
    [
        ("buyers", "Name,Phone,Provinces\nA,,ON\n", "no email column"),
        ("buyers", "", "the file is empty"),
        ("leads", "Name,Phone,Address\nA,416-555-2368,1 Main St\n", "no consent column"),
    ],
)
async def test_a_file_that_cannot_be_imported_is_exit_2(
    database_url: str, tmp_path: Path, kind: str, text: str, message: str
) -> None:
    code, out, err = await dealbot_import(
        database_url, tmp_path, kind, write(tmp_path, "x.csv", text)
    )
    assert code == 2 and message in err and out == ""


async def test_a_missing_file_is_exit_2(tmp_path: Path) -> None:
    env = clean_env(DEALBOT_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'd.db'}")
    code, _, err = await run_cli("import", "buyers", str(tmp_path / "nope.csv"), env=env, cwd=REPO)
    assert code == 2 and "no such file" in err


# --- reading the file, in process ------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("Email", "email"),
        ("E-mail", "email"),
        ("EMAIL ADDRESS", "email"),
        ("Courriel", "email"),
        ("Max Price", "max_price"),
        ("$ max", "max_price"),
        ("$Max", "max_price"),
        ("Max $", "max_price"),
        ("Prix max.", "max_price"),
        ("Min Beds", "min_bedrooms"),
        ("Provinces", "provinces"),
        ("Province/State", "provinces"),
        ("Property Types", "property_types"),
        ("Markets", "markets"),
        ("Purchases", "purchases_last_12m"),
        ("# Deals", "purchases_last_12m"),
        ("Buyer Name", "name"),
    ],
)
def test_header_spellings(header: str, field: str) -> None:
    assert BUYER_HEADERS[fold_header(header)] == field


def test_unknown_and_repeated_columns_are_ignored_and_named() -> None:
    columns = Columns.read(
        ["Name", "Email", "E-mail", "Provinces", "Favourite colour", ""], Kind.BUYERS
    )
    assert dict((f, i) for i, f in columns.fields)["email"] == 1
    assert columns.ignored == ("E-mail", "Favourite colour", "(column 6)")
    with pytest.raises(ImportFailed, match="no provinces column"):
        Columns.read(["Name", "Email"], Kind.BUYERS)


@pytest.mark.parametrize(
    ("raw", "amount"),
    [
        ("450000", 450000),
        ("$450,000", 450000),
        ("450 000", 450000),
        ("450k", 450000),
        ("1.2M", 1200000),
        ("$ 99,500.00", 99500),
        ("300000 CAD", 300000),
        ("1.5k", 1500),
    ],
)
def test_amounts(raw: str, amount: int) -> None:
    assert parse_amount(raw) == amount


@pytest.mark.parametrize("raw", ["abc", "12.5", "-5", "1,2,3k?", "$"])
def test_not_amounts(raw: str) -> None:
    with pytest.raises(ValueError, match="amount"):
        parse_amount(raw)


def test_lists_flags_and_headers() -> None:
    assert split_list("ON; QC") == split_list("ON, QC") == split_list(" ON|QC ") == ["ON", "QC"]
    assert [parse_flag(v) for v in ("Yes", "n", "TRUE", "0", "oui", "inactive")] == [
        True,
        False,
        True,
        False,
        True,
        False,
    ]
    with pytest.raises(ValueError, match="yes or no"):
        parse_flag("maybe")
    assert fold_header(" E-Mail ") == "e mail" and fold_header("$Max") == "$ max"


def test_rows_are_read_as_they_are_needed() -> None:
    """The reader holds one row at a time: after the first row of a big file, little was read."""
    body = "".join(f"Buyer {n},b{n}@example.com,ON\n" for n in range(20_000))
    handle = io.BytesIO(("Name,Email,Provinces\n" + body).encode())
    meter = Meter()
    _, rows = read_rows(handle, Kind.BUYERS, meter)
    first = next(rows)
    assert first.line == 2 and first.cells[1] == "b0@example.com"
    assert meter.bytes_read < 200 < len(body)
    assert sum(1 for _ in rows) == 19_999


def test_a_line_that_is_not_utf8_is_read_as_windows_1252() -> None:
    handle = io.BytesIO(
        b"Name,Email,Provinces\n" + "Andr\u00e9,a@example.com,QC\n".encode("cp1252")
    )
    _, rows = read_rows(handle, Kind.BUYERS, Meter())
    assert next(rows).cells[0] == "André"


def test_a_file_that_is_not_csv_stops_at_its_line() -> None:
    too_big = b"x" * 200_000  # over the csv module's cell limit
    handle = io.BytesIO(b"Name,Email,Provinces\nA,a@example.com,ON\nB," + too_big + b",ON\n")
    _, rows = read_rows(handle, Kind.BUYERS, Meter())
    assert next(rows).line == 2
    with pytest.raises(ImportFailed, match="line 3"):
        next(rows)


async def test_a_lead_import_refreshes_the_planners_statistics_as_it_grows_the_tables(
    client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Servers sweeping an import's steps meanwhile plan from figures taken during it, not only
    after it (storage.statistics): at ANALYZE_FIRST imported leads, doubling, and at the end."""
    deps = client.app[appkeys.DEPS]
    monkeypatch.setattr(imports, "ANALYZE_FIRST", 4)
    rows = "".join(f"Seller {n},+1416555{n:04d},{n} Queen St E Toronto ON,yes\n" for n in range(60))
    path = write(tmp_path, "leads.csv", "Name,Phone,Address,Consent\n" + rows)

    class Quiet:
        def bad(self, line: int, field: str, reason: str) -> None:
            raise AssertionError(f"line {line}: {field}: {reason}")

        def progress(self, bytes_read: int, rows: int) -> None:
            pass

    summary = await imports.import_leads(deps, path, Quiet())
    assert summary.imported == 60
    if deps.db.engine is not Engine.POSTGRESQL:
        return  # SQLite plans from its indexes alone: nothing to refresh
    analyzed = await deps.db.fetch_val(
        "SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'ladder_steps'"
    )
    assert analyzed >= 3, "at 4 leads, at least once more while 16 were in flight, and at the end"

"""``dealbot demo``: the whole story, told the same way every time, whatever this machine is configured for."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.process import clean_env, free_port, run_cli

pytestmark = pytest.mark.slow

# The beats of the story, in the order they must be told.
BEATS = (
    "Cash buyers on file",
    "GTA buyer liquidity:",
    "Jane Tremblay: 12 Elm St, Toronto",
    "lead from the web form → ON / GTA (America/Toronto)",
    "MAO $504,000, opening offer $453,000",
    "Mon 2 Mar 10:00 EST  bot → sms        Hi Jane",  # the intro, in the seller's zone
    "Jane → sms",  # her reply
    "What's the process?” [interested, asks: process]",  # a question in her yes
    "It's simple:",  # answered from the company's answers,
    "What shape is the house in?",  # then the questions
    "How soon would you like to sell",
    "“Do I have to pay any commission?” [question, asks: fees]",  # a question mid-flow
    "No fees and no commissions",  # answered, and the timeline asked again in other words
    "When would you ideally like to sell?",
    "What price would you need",
    "[price $600,000]",
    "can offer $453,000 cash",  # the offer
    "[price $550,000]",
    "move up from $453,000 to $478,000",  # the counter: half-way to the MAO, rounded down
    "We are agreed at $500,000",  # acceptance
    "deal alert → Northern Capital Homes by email",  # buyer alerts
    "A buyer answers the deal alert",
    "Northern → email",  # the buyer's interest, by email
    "match: Northern Capital Homes is interested",
    "Marie Dubois: 9 Cedar Cres, Toronto",  # a seller who says it all in one text
    "Hoping for 450k.” [price $450,000]",
    "can offer $369,000 cash",  # nothing asked: straight to the offer
    "read from one text: amount 450000; condition needs work; motivation relocating; occupancy vacant",
    "nothing asked twice: seller state offer_sent",
    "Bob Singh: 48 Birch Ave, Toronto",
    "“STOP” [opt_out]",  # the second seller opts out
    "a day later: Bob is opted_out; messages sent after the confirmation: 0",
    "KPI funnel",
    "offer:accepted",
    "notification:prepared",
)


async def test_the_demo_tells_the_whole_story_the_same_way_twice(tmp_path: Path) -> None:
    outputs = []
    for _run in range(2):
        code, out, err = await run_cli("demo", env=clean_env(), cwd=tmp_path, timeout=60)
        assert code == 0, err
        assert "Traceback" not in err
        outputs.append(out)
    assert outputs[0] == outputs[1]
    told = " ".join(outputs[0].split())  # lines wrap where they wrap; the words are what count
    position = 0
    for beat in BEATS:
        found = told.find(" ".join(beat.split()), position)
        assert found >= 0, f"missing, or out of order: {beat!r}"
        position = found
    assert list(tmp_path.iterdir()) == []  # the throwaway database went with its temporary folder


async def test_the_demo_ignores_this_machines_configuration(tmp_path: Path) -> None:
    # Were these used, the demo would write to that database and call an unreachable "Twilio".
    database = tmp_path / "real.db"
    env = clean_env(
        DEALBOT_DATABASE_URL=f"sqlite+aiosqlite:///{database}",
        TWILIO_ACCOUNT_SID="AC" + "0" * 32,
        TWILIO_AUTH_TOKEN="real-token",
        TWILIO_FROM_NUMBER="+14165550100",
        TWILIO_API_BASE_URL=f"http://127.0.0.1:{free_port()}",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(free_port()),
    )
    (tmp_path / ".env").write_text("DEALBOT_COMPANY_NAME=Somebody Else Inc\n")
    code, out, err = await run_cli("demo", env=env, cwd=tmp_path, timeout=60)
    assert code == 0, err
    assert "We are agreed at $500,000" in out and "Maple Home Buyers" in out
    assert "Somebody Else" not in out
    assert not database.exists()

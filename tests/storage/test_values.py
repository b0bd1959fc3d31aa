"""Records built from rows of either engine, by position or by name, are the same records."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from storage import messages
from storage.database import Database, Tx
from storage.enums import Channel
from storage.ladders import Step
from storage.messages import COLUMNS, Direction, Message, Origin, Status
from storage.values import is_id, new_id

AT = datetime(2026, 3, 3, 19, 0, 0, 5, tzinfo=UTC)


async def test_a_record_is_the_same_from_its_columns_in_order_or_not(db: Database) -> None:
    message = Message(
        id=new_id("ms"), direction=Direction.OUT, channel=Channel.SMS, contact_id=None, buyer_id=None,
        deal_id="dl_1", step_id=None, to_addr="+14165550100", from_addr=None, template="seller_intro", subject=None,
        body="Hi", html=None, status=Status.QUEUED, origin=Origin.LADDER, is_reply=False, provider_id=None, email_message_id=None,
        in_reply_to=None, error_code=None, error_reason=None, intent=None, intent_data={"a": [1]}, attempts=2,
        next_attempt_at=AT, processed_at=None, created_at=AT, sent_at=None, updated_at=AT,
    )

    async def unit(tx: Tx) -> None:
        await messages.insert(tx, message)

    await db.transact(unit)
    columns = [c.strip() for c in COLUMNS.split(",")]
    in_order = await db.fetch_one(f"SELECT {COLUMNS} FROM messages")
    reordered = await db.fetch_one(f"SELECT {', '.join(reversed(columns))} FROM messages")
    assert in_order is not None and reordered is not None
    by_position, by_name = Message.from_row(in_order), Message.from_row(reordered)
    assert by_position == by_name == Message.from_row(dict(in_order)) == message
    assert message.values() == tuple(getattr(message, c) for c in columns)
    # The closed sets come back as their enums, by position and by name alike.
    for record in (by_position, by_name):
        assert type(record.direction) is Direction and type(record.channel) is Channel
        assert type(record.status) is Status and type(record.origin) is Origin


def test_a_value_outside_an_enum_is_refused_at_the_boundary() -> None:
    row = {name: None for name in Step.__dataclass_fields__} | {"channel": "fax", "status": "pending"}
    with pytest.raises(ValueError, match="fax"):
        Step.from_row(row)
    assert Step.from_row(row | {"channel": "email"}).channel is Channel.EMAIL


def test_a_forked_child_draws_random_bits_of_its_own() -> None:
    new_id("ms")  # the pool of random bits is filled
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next id, then out without running pytest's teardown
        os.write(write_end, new_id("ms").encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child, parent = os.read(read_end, 100).decode(), new_id("ms")
    os.close(read_end)
    os.close(write_end)
    assert child[-16:] != parent[-16:], "the last 80 bits are random: never the parent's next ones"


def test_every_id_new_id_makes_has_the_shape_is_id_checks() -> None:
    for prefix in ("by", "pol", "str", "lad", "ct"):
        made = [new_id(prefix) for _ in range(200)]
        assert all(is_id(made_id, prefix) for made_id in made)
        assert not any(is_id(made_id, "x" + prefix) for made_id in made)
    assert not is_id("by_" + "0" * 25, "by") and not is_id("by_" + "0" * 27, "by")
    assert not is_id("by_" + "u" * 26, "by") and not is_id("BY_" + "0" * 26, "by")  # Crockford has no u

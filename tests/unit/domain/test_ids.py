from __future__ import annotations

import os

import pytest

from hedgestack.domain.enums import PositionSide
from hedgestack.domain.errors import ValidationError
from hedgestack.domain.ids import (
    BINANCE_CLIENT_ID,
    ClientOrderIdGenerator,
    Foreign,
    OurOrderId,
    check_vp_id,
    encode_client_order_id,
    new_vp_id,
    parse_client_order_id,
    short_id,
    unassigned_vp_id,
    vp_id_from_entropy,
)


def test_seed_example_round_trips() -> None:
    cid = encode_client_order_id("vp_abc123xy", 1708700123456, 1)
    assert cid == "VP-abc123-1708700123456-001"
    assert len(cid) == 27 and BINANCE_CLIENT_ID.match(cid)
    assert parse_client_order_id(cid) == OurOrderId("abc123", 1708700123456, 1)


@pytest.mark.parametrize(("text", "kind"), [
    ("web_AbCdEf", "web"), ("ios_123", "ios"), ("android_x", "android"), ("autoclose-1234", "liquidation"),
    ("adl_autoclose", "adl"), ("settlement_autoclose-99", "settlement"), ("6B2I9XVcJpCjqPAJ4YoFX7", "other"),
    ("VP-abc123-170870012345-001", "other"), ("VP-ABC123-1708700123456-001", "other"), ("", "other"), (None, "other"),
])
def test_foreign_ids(text: str | None, kind: str) -> None:
    assert parse_client_order_id(text) == Foreign(kind)


def test_generator_unique_within_a_millisecond_and_monotonic() -> None:
    gen = ClientOrderIdGenerator()
    ids = [gen.next("vp_abc123xy", 1708700123456) for _ in range(2500)]
    assert len(set(ids)) == 2500
    parsed = [parse_client_order_id(i) for i in ids]
    assert all(isinstance(p, OurOrderId) for p in parsed)
    assert parsed[999] == OurOrderId("abc123", 1708700123456, 999)
    assert parsed[1000] == OurOrderId("abc123", 1708700123457, 0)  # moved to the next ms
    # a clock that steps back continues the last millisecond
    later = gen.next("vp_abc123xy", 1708700000000)
    assert later not in ids


def test_vp_ids() -> None:
    vp_id = new_vp_id(os.urandom, set())
    assert check_vp_id(vp_id) == vp_id and len(vp_id) == 11
    assert vp_id_from_entropy(b"\x00" * 8) == "vp_00000000"
    with pytest.raises(ValidationError):
        check_vp_id("vp_ABCDEFGH")
    with pytest.raises(ValidationError):
        short_id("abc")


def test_new_vp_id_avoids_live_short_ids() -> None:
    draws = iter([b"\x00" * 8, b"\x00" * 8, b"\x01" * 8])
    vp_id = new_vp_id(lambda n: next(draws), {"000000"})
    assert short_id(vp_id) != "000000"


def test_unassigned_ids_are_stable_and_distinct() -> None:
    a = unassigned_vp_id("BTCUSDT", PositionSide.LONG)
    assert a == unassigned_vp_id("BTCUSDT", PositionSide.LONG)
    others = {unassigned_vp_id("BTCUSDT", PositionSide.SHORT), unassigned_vp_id("ETHUSDT", PositionSide.LONG)}
    assert len({a} | others) == 3
    assert check_vp_id(a) == a

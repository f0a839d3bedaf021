"""Numbers per symbol: prices to the tick, quantities to the step, PnL with sign and tone, never "-0.00"."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from hedgestack.ui import format as fmt

D = Decimal


def test_worked_examples() -> None:
    tick, step = D("0.10"), D("0.001")
    p = fmt.price(D("95395.2192419825072888"), tick)
    assert (p.text, p.title) == ("95,395.2", "95395.2192419825072888")
    assert fmt.qty(D("0.01"), step).text == "0.010"
    assert fmt.pnl(D("-0.004")).text == "0.00" and fmt.pnl(D("-0.004")).tone == ""
    assert (fmt.pnl(D("12.3")).text, fmt.pnl(D("12.3")).tone) == ("+12.30", "pos")
    assert (fmt.pnl(D("-3.105")).text, fmt.pnl(D("-3.105")).tone) == ("-3.11", "neg")  # half up, away from 0
    assert (fmt.pct(D("-20.833333")).text, fmt.pct(D("-20.833333")).tone) == ("-20.83%", "neg")
    assert fmt.price(D("3500.5"), D("0.01")).text == "3,500.50"
    assert fmt.price(D("1.23456"), D("0.0001")).text == "1.2346"


def test_missing_figures_read_dash() -> None:
    assert fmt.price(None, D("0.1")).text == "—"
    assert fmt.price(D(0), D("0.1")).text == "—"  # a flat VP's entry is 0: no price
    assert fmt.pnl(None).text == fmt.money(None).text == fmt.pct(None).text == "—"
    assert fmt.leverage(None) == "" and fmt.leverage(D("20")) == "20×"


def test_prices_out_of_reach_read_in_billions_with_the_exact_value_on_hover() -> None:
    """The simulator's liquidation price of a well-margined hedged side (seen at 1400 px: it widened the
    positions table past the screen)."""
    p = fmt.price(D("842971948552.8"), D("0.10"))
    assert (p.text, p.title) == ("842.97 B", "842971948552.8")
    assert fmt.price(D("999999999.9"), D("0.10")).text == "999,999,999.9"
    assert fmt.price(D("1000000000"), D("0.10")).text == "1.00 B"
    assert fmt.price(D("1234567890123456"), D("0.10")).text == "1,234.57 T"


def test_places_of_increments() -> None:
    assert [fmt.places_of(D(x)) for x in ("0.10", "0.001", "1", "0.00001000", "10")] == [1, 3, 0, 5, 0]


def test_age() -> None:
    assert [fmt.age(x) for x in (None, 0, 4_999, 125_000, 3_725_000)] == ["—", "0s", "4s", "2m 05s", "1h 02m"]


@given(st.decimals(min_value=D("-1e9"), max_value=D("1e9"), allow_nan=False, allow_infinity=False, places=12))
def test_pnl_never_shows_negative_zero_and_keeps_the_exact_value(value: Decimal) -> None:
    n = fmt.pnl(value)
    assert not n.text.startswith("-0.00") or n.text.rstrip("0.,") not in ("-", "")
    assert n.text not in ("-0.00", "+0.00")
    assert Decimal(n.title) == value
    rounded = Decimal(n.text.replace(",", "").replace("+", ""))
    assert abs(rounded - value) <= D("0.005")
    assert n.tone == ("pos" if rounded > 0 else "neg" if rounded < 0 else "")


@given(st.integers(min_value=1, max_value=10**9 - 1), st.sampled_from(["0.1", "0.01", "0.001", "1", "0.0001"]))
def test_price_on_the_tick_is_shown_exactly(ticks: int, tick_text: str) -> None:
    tick = D(tick_text)
    value = ticks * tick
    assert Decimal(fmt.price(value, tick).text.replace(",", "")) == value

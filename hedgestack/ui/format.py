"""Numbers as a trader reads them: prices to the symbol's tick, quantities to its step, money with a sign and a
colour, never "-0.00", the exact value kept for the hover.

Every figure the screen shows goes through one of these functions, which return a :class:`Num`: the display
``text``, the exact ``title`` (the engine's unrounded decimal, shown on hover) and a ``tone`` (``pos``, ``neg``
or ``""``) that the views turn into a colour. Missing figures (``None``: the venue did not give one yet) read
"—". Rounding is for display only (half-up, like the exchange's own screens); nothing here feeds a command.

Worked examples (BTCUSDT: tick 0.10, step 0.001)::

    price(Decimal("95395.2192419825072888"), tick) -> "95,395.2"   (title "95395.2192419825072888")
    qty(Decimal("0.01"), step)                      -> "0.010"
    pnl(Decimal("-0.004"))                           -> "0.00"       (tone "", not "-0.00")
    pnl(Decimal("12.3"))                             -> "+12.30"     (tone "pos")
    pct(Decimal("-20.833333"))                       -> "-20.83%"    (tone "neg")
    price(Decimal("842971948552.8"), tick)           -> "842.97 B"   (a liquidation price out of reach)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from hedgestack.domain.numbers import to_str

DASH = "—"


@dataclass(frozen=True, slots=True)
class Num:
    """A figure ready for the screen."""

    text: str
    title: str = ""  # the exact value (hover)
    tone: str = ""  # pos | neg | ""

    def __str__(self) -> str:
        return self.text


MISSING = Num(DASH)


def places_of(increment: Decimal) -> int:
    """Decimal places of a tick or step size (``0.10`` -> 1, ``0.001`` -> 3, ``1`` -> 0)."""
    if increment <= 0:
        return 8
    exponent = increment.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 8


def _rounded(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def plain(value: Decimal, places: int, *, grouping: bool = True, sign: bool = False) -> str:
    """``value`` rounded to ``places`` decimals; a result that rounds to zero has no sign."""
    rounded = _rounded(value, places)
    if rounded == 0:
        rounded = abs(rounded)  # Decimal("-0.00") -> "0.00"
    text = f"{rounded:,.{places}f}" if grouping else f"{rounded:.{places}f}"
    if sign and rounded > 0:
        text = "+" + text
    return text


def tone_of(value: Decimal, places: int) -> str:
    rounded = _rounded(value, places)
    return "pos" if rounded > 0 else "neg" if rounded < 0 else ""


def exact(value: Decimal | None) -> str:
    return "" if value is None else to_str(value)


#: prices from this size on read in billions / trillions ("842.97 B"): a liquidation price the market cannot
#: reach (a well-margined side) would otherwise widen its column past the screen
COMPACT = ((Decimal(10) ** 12, "T"), (Decimal(10) ** 9, "B"))


def price(value: Decimal | None, tick: Decimal) -> Num:
    """A price to the tick's decimals (``None`` and a zero entry of a flat position read "—"); from a billion on,
    in billions or trillions with two decimals (the exact value on hover)."""
    if value is None or value == 0:
        return MISSING
    for size, suffix in COMPACT:
        if abs(value) >= size:
            return Num(f"{plain(value / size, 2)} {suffix}", exact(value))
    return Num(plain(value, places_of(tick)), exact(value))


def qty(value: Decimal | None, step: Decimal) -> Num:
    """A quantity to the step's decimals."""
    if value is None:
        return MISSING
    return Num(plain(value, places_of(step)), exact(value))


def money(value: Decimal | None, places: int = 2) -> Num:
    """An amount in USDT without a sign (balances, notional, margin)."""
    if value is None:
        return MISSING
    return Num(plain(value, places), exact(value))


def pnl(value: Decimal | None, places: int = 2) -> Num:
    """A profit or loss: sign and tone; what rounds to zero reads "0.00", neutral."""
    if value is None:
        return MISSING
    return Num(plain(value, places, sign=True), exact(value), tone_of(value, places))


def pct(value: Decimal | None, places: int = 2) -> Num:
    """A percentage with sign and tone ("+20.83%")."""
    if value is None:
        return MISSING
    return Num(plain(value, places, sign=True) + "%", exact(value) + "%", tone_of(value, places))


def ratio_pct(value: Decimal | None, places: int = 2) -> Num:
    """A percentage without a sign (the margin ratio)."""
    if value is None:
        return MISSING
    return Num(plain(value, places) + "%", exact(value) + "%")


def leverage(value: Decimal | None) -> str:
    if value is None:
        return ""
    return f"{plain(value, 0, grouping=False)}×"


def clock(ms: int | None) -> str:
    """The local wall-clock time of a Unix-ms time, with the date when it is not today ("" for none)."""
    if not ms:
        return ""
    when = dt.datetime.fromtimestamp(ms / 1000)
    return when.strftime("%H:%M:%S") if when.date() == dt.date.today() else when.strftime("%m-%d %H:%M:%S")


def age(ms: int | None) -> str:
    """A duration as "3s", "2m 05s", "1h 02m" (``None``: "—")."""
    if ms is None:
        return DASH
    seconds = max(0, ms // 1000)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


__all__ = ["COMPACT", "DASH", "MISSING", "Num", "age", "clock", "exact", "leverage", "money", "pct", "places_of",
           "plain", "pnl", "price", "qty", "ratio_pct", "tone_of"]

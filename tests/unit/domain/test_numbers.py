from __future__ import annotations

from decimal import Decimal

import pytest

from hedgestack.domain.errors import ValidationError
from hedgestack.domain.numbers import D, to_str


def test_decimal_from_string_and_int() -> None:
    assert D("0.1") + D("0.2") == D("0.3")
    assert D(5) == Decimal(5)
    assert D(" 1.50 ") == Decimal("1.5")


@pytest.mark.parametrize("bad", [0.1, True, "abc", "NaN", "Infinity", None, [1]])
def test_refuses_floats_and_garbage(bad: object) -> None:
    with pytest.raises(ValidationError) as info:
        D(bad)  # type: ignore[arg-type]
    assert info.value.code == "INVALID_NUMBER"


@pytest.mark.parametrize(("value", "text"), [
    ("0", "0"), ("1E+1", "10"), ("0.000000000000000001", "0.000000000000000001"), ("30.000000", "30"),
    ("-0.50", "-0.5"), ("95000.10", "95000.1"),
])
def test_to_str_unrounded_plain(value: str, text: str) -> None:
    assert to_str(Decimal(value)) == text

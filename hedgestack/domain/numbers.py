"""Exact numbers: Decimal from strings, never from floats.

``D()`` is the one way into the domain for a quantity, price or amount. A float is refused with a
:class:`~hedgestack.domain.errors.ValidationError` because ``Decimal(0.1)`` is not 0.1.
``to_str()`` renders a Decimal unrounded and without exponent, the wire form of every figure.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from hedgestack.domain.errors import ValidationError

ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)


def D(value: str | int | Decimal, *, field: str = "value") -> Decimal:  # noqa: N802 - beancount's name
    """Convert a string, int or Decimal to a finite Decimal; refuse floats, bools and garbage."""
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool) or isinstance(value, float):
        raise ValidationError(f"{field} must be a decimal string, not {type(value).__name__} {value!r}",
                              code="INVALID_NUMBER")
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            result = Decimal(text)
        except InvalidOperation:
            raise ValidationError(f"{field} is not a decimal number: {value!r}",
                                  code="INVALID_NUMBER") from None
    else:
        raise ValidationError(f"{field} must be a decimal string, not {type(value).__name__}",
                              code="INVALID_NUMBER")
    if not result.is_finite():
        raise ValidationError(f"{field} must be finite, got {value!r}", code="INVALID_NUMBER")
    return result


def to_str(value: Decimal) -> str:
    """Render unrounded, in plain notation, without a trailing exponent ('1E+1' -> '10')."""
    if value == 0:
        return "0"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text

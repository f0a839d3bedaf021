"""The one code table (``domain.errors.ERROR_CODES``): every code the package raises is listed with the class it is
raised with, the API answers it with the listed status, and an envelope turns back into the same class, code and
message (what ``hedgestack.connect`` raises)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import hedgestack.domain.errors as errors_module
from hedgestack.api.errors import ApiError, envelope_of, status_of
from hedgestack.domain.errors import (
    ERROR_CODES,
    FilterViolation,
    HedgestackError,
    LiveConfirmationRequired,
    RequestRefused,
    SideLocked,
    ValidationError,
    VenueRejected,
    error_from_envelope,
    kinds_of,
)

PACKAGE = Path(__file__).resolve().parents[2] / "hedgestack"
ERROR_CLASSES = {name: cls for name, cls in vars(errors_module).items()
                 if isinstance(cls, type) and issubclass(cls, HedgestackError)}


def raised_codes() -> list[tuple[str, str, str, int | None]]:
    """(class name, code, file, status) of every ``SomeError(..., code="X")`` and ``ApiError(status, "X", ...)``."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        if "venue/sim" in path.as_posix():  # the simulator answers Binance's codes, not ours
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name == "ApiError" and len(node.args) >= 2 and all(isinstance(a, ast.Constant) for a in node.args[:2]):
                found.append((name, node.args[1].value, path.name, node.args[0].value))
            for kw in node.keywords:
                if kw.arg == "code" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
                    found.append((name, kw.value.value, path.name, None))
    return found


def test_every_raised_code_is_in_the_table_with_its_class() -> None:
    missing = []
    for name, code, where, status in raised_codes():
        if not re.fullmatch(r"[A-Z][A-Z_]+", code):
            continue
        kinds = kinds_of(code)
        if name == "ApiError":
            if status not in {k.status for k in kinds}:
                missing.append(f"{where}: ApiError({status}, {code!r}) has no entry with status {status}")
        elif name in ERROR_CLASSES and ERROR_CLASSES[name] not in {k.cls for k in kinds}:
            missing.append(f"{where}: {name}(code={code!r}) is not listed for {name} (listed: "
                           f"{[k.cls.__name__ for k in kinds]})")
    assert missing == []


def _defines_code(node: ast.ClassDef) -> bool:
    return any(isinstance(t, ast.Name) and t.id == "code"
               for item in node.body
               for t in (item.targets if isinstance(item, ast.Assign)
                         else [item.target] if isinstance(item, ast.AnnAssign) else []))


def test_every_error_class_is_defined_in_domain_errors() -> None:
    """No HedgestackError subclass with a code of its own elsewhere (the client could not raise it). A part may keep
    a private marker subclass without a code of its own (the store's ``AppendFailed``: its raise sites use codes
    listed for its parent, so a client raises the parent, which it is); one that names its own code is stray."""
    stray = []
    markers = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "errors.py" and path.parent.name in ("domain", "api"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any(
                    isinstance(b, ast.Name) and b.id in ERROR_CLASSES for b in node.bases):
                (stray if _defines_code(node) else markers).append(f"{path.relative_to(PACKAGE)}: {node.name}")
    assert stray == []
    assert set(markers) <= {"store/log.py: AppendFailed"}, markers  # a new marker is a decision: list it here


def test_the_stray_check_sees_a_code_of_its_own() -> None:
    tree = ast.parse('class A(StoreError):\n    code = "X"\n\n\nclass B(StoreError):\n    """doc"""\n')
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    assert [_defines_code(c) for c in classes] == [True, False]


def test_a_code_stands_for_one_class_per_status() -> None:
    for code, kinds in ERROR_CODES.items():
        statuses = [k.status for k in kinds]
        assert len(statuses) == len(set(statuses)), (code, kinds)


@pytest.mark.parametrize("code", sorted(ERROR_CODES))
def test_envelope_round_trip(code: str) -> None:
    for kind in ERROR_CODES[code]:
        if kind.cls is VenueRejected:
            original: HedgestackError = VenueRejected("Margin is insufficient.", binance_code=-2019)
        elif kind.cls is FilterViolation:
            original = FilterViolation("price 95000.05 is not a multiple of the tick size 0.1", code=code,
                                       binance_code=-4014)
        else:
            original = kind.cls("what went wrong", code=code)
        status = status_of(original)
        assert status == kind.status
        envelope = envelope_of(original)
        again = error_from_envelope(envelope["error"], envelope["message"], status)
        assert (type(again), again.code, str(again)) == (type(original), original.code, str(original))
        if isinstance(original, (VenueRejected, FilterViolation)):
            assert again.binance_code == original.binance_code  # type: ignore[attr-defined]


def test_run_time_codes_and_unknown_codes() -> None:
    assert type(error_from_envelope("INVALID_SIDE", "side must be ...", 400)) is ValidationError
    assert type(error_from_envelope("MISMATCH_LOCK", "locked", 409)) is SideLocked
    assert type(error_from_envelope("LIVE_CONFIRMATION_REQUIRED", "confirm", 428)) is LiveConfirmationRequired
    unknown = error_from_envelope("SOMETHING_NEW", "a code this client does not know", 404)
    assert type(unknown) is RequestRefused and unknown.code == "SOMETHING_NEW"
    assert error_from_envelope("SOMETHING_NEW", "x", 503).__class__.__name__ == "VenueUnavailable"


def test_api_errors_keep_their_status() -> None:
    assert status_of(ApiError(428, "LIVE_CONFIRMATION_REQUIRED", "confirm")) == 428
    assert status_of(ValidationError("bad", code="PRICE_REQUIRED")) == 400
    assert status_of(FilterViolation("bad", code="PRICE_REQUIRED")) == 422

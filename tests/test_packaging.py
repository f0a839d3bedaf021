"""pyproject.toml and environment.yml list the same pinned set; the layers import downward only."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pyproject_pins() -> dict[str, str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = data["project"]
    specs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        specs.extend(extra)
    return dict(_split(spec) for spec in specs)


def environment_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "environment.yml").read_text().splitlines():
        match = re.match(r"^\s+- ([A-Za-z0-9_.\-]+)==(\S+)\s*$", line)
        if match:
            pins[match.group(1).lower().replace("_", "-")] = match.group(2)
    return pins


def _split(spec: str) -> tuple[str, str]:
    name, _, version = spec.partition("==")
    assert version, f"{spec} is not pinned with =="
    return name.strip().lower().replace("_", "-"), version.strip()


def test_environment_yml_matches_pyproject() -> None:
    assert environment_pins() == pyproject_pins()


def test_environment_yml_python() -> None:
    text = (ROOT / "environment.yml").read_text()
    assert "- python=3.11" in text and "conda-forge" in text


def test_domain_has_no_io_or_clock() -> None:
    forbidden = {"asyncio", "time", "random", "logging", "os", "socket", "duckdb", "aiohttp", "binance"}
    for path in (ROOT / "hedgestack" / "domain").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                assert not {a.name.split(".")[0] for a in node.names} & forbidden, path
            elif isinstance(node, ast.ImportFrom) and node.module:
                assert node.module.split(".")[0] not in forbidden, path

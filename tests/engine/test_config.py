"""Settings from the environment (the seed's variables), venue selection, secrets masked."""

from __future__ import annotations

from pathlib import Path

import pytest

from hedgestack.engine.config import Settings
from hedgestack.engine.terminal import Terminal
from hedgestack.venue.binance.adapter import Endpoints


def test_defaults_pick_the_simulator(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("BINANCE_API_KEY", "BINANCE_API_SECRET", "BINANCE_TESTNET", "SYMBOLS", "DB_PATH"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.resolved_venue == "sim"
    assert settings.symbols == ("BTCUSDT", "ETHUSDT")
    assert settings.port == 3001
    assert settings.db_file == Path("data/hedgestack.duckdb")


def test_keys_pick_testnet_or_live_and_stay_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("BINANCE_API_KEY=key-123\nBINANCE_API_SECRET=secret-456\nSYMBOLS=btcusdt\n"
                                   "DB_PATH=./db/db.sqlite\n")
    settings = Settings()
    assert settings.resolved_venue == "live"
    assert settings.symbols == ("BTCUSDT",)
    assert settings.db_file == Path("db/db.duckdb")
    monkeypatch.setenv("BINANCE_TESTNET", "true")
    assert Settings().resolved_venue == "testnet"
    text = repr(settings) + str(settings)
    assert "secret-456" not in text and "key-123" not in text
    endpoints = Endpoints.live("key-123", "secret-456")
    assert "secret-456" not in repr(endpoints) and "key-123" not in repr(endpoints)


def test_from_env_without_keys_builds_a_simulator_terminal(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("BINANCE_API_KEY", "BINANCE_API_SECRET"):
        monkeypatch.delenv(name, raising=False)
    t = Terminal.from_env(tmp_path)
    try:
        assert t.venue_name == "sim" and t.simulator is not None
    finally:
        t.simulator.stop()

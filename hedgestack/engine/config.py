"""Settings from the environment and ``.env`` (the seed's variables), validated once, secrets masked."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SYMBOLS = ("BTCUSDT", "ETHUSDT")


class Settings(BaseSettings):
    """BINANCE_API_KEY, BINANCE_API_SECRET, BINANCE_TESTNET, SYMBOLS, PORT, DB_PATH, LOG_LEVEL (seed) and
    HEDGESTACK_DATA_DIR, HEDGESTACK_SIM_URL, HEDGESTACK_TOKEN, HEDGESTACK_VENUE."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True)

    binance_api_key: SecretStr | None = Field(default=None, alias="BINANCE_API_KEY")
    binance_api_secret: SecretStr | None = Field(default=None, alias="BINANCE_API_SECRET")
    binance_testnet: bool = Field(default=False, alias="BINANCE_TESTNET")
    symbols_csv: str = Field(default=",".join(DEFAULT_SYMBOLS), alias="SYMBOLS")
    port: int = Field(default=3001, alias="PORT")
    db_path: str | None = Field(default=None, alias="DB_PATH")
    log_level: str = Field(default="info", alias="LOG_LEVEL")
    data_dir: Path = Field(default=Path("./data"), alias="HEDGESTACK_DATA_DIR")
    sim_url: str | None = Field(default=None, alias="HEDGESTACK_SIM_URL")
    token: SecretStr | None = Field(default=None, alias="HEDGESTACK_TOKEN")
    venue: str | None = Field(default=None, alias="HEDGESTACK_VENUE")

    @field_validator("venue")
    @classmethod
    def _venue(cls, value: str | None) -> str | None:
        if value is not None and value not in ("sim", "testnet", "live"):
            raise ValueError("HEDGESTACK_VENUE must be sim, testnet or live")
        return value

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(s.strip().upper() for s in self.symbols_csv.split(",") if s.strip())

    @property
    def resolved_venue(self) -> str:
        """sim unless keys are set; then testnet or live as BINANCE_TESTNET says."""
        if self.venue is not None:
            return self.venue
        if self.binance_api_key is None or self.binance_api_secret is None:
            return "sim"
        return "testnet" if self.binance_testnet else "live"

    @property
    def db_file(self) -> Path:
        """DB_PATH when set (the seed's .sqlite default becomes .duckdb), else data_dir/hedgestack.duckdb."""
        if self.db_path:
            path = Path(self.db_path)
            return path.with_suffix(".duckdb") if path.suffix in (".sqlite", ".db") else path
        return self.data_dir / "hedgestack.duckdb"

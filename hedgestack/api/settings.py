"""The API's own settings (environment and ``.env``), beside the engine's :class:`Settings`."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    """HEDGESTACK_ALLOWED_ORIGINS: comma-separated browser origins allowed besides the server's own."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True)

    allowed_origins_csv: str = Field(default="", alias="HEDGESTACK_ALLOWED_ORIGINS")

    @property
    def allowed_origins(self) -> list[str]:
        return [o.strip() for o in self.allowed_origins_csv.split(",") if o.strip()]

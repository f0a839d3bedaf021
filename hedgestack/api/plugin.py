"""Panel plugin: ``panel serve notebooks/terminal.ipynb --plugins hedgestack.api.plugin`` adds ``/v1``.

The terminal is the process's registered one (:mod:`hedgestack.api.registry`): the notebook's, or, if the
API is called first, one built from the environment (.env: BINANCE_API_KEY/SECRET, BINANCE_TESTNET, SYMBOLS,
DB_PATH, HEDGESTACK_SIM_URL) and started; the notebook then gets that same one through
``registry.terminal()``. ``HEDGESTACK_TOKEN`` (if set) protects the API; without it, only loopback clients
are served, whatever ``panel serve --address`` says. ``HEDGESTACK_ALLOWED_ORIGINS`` (comma-separated)
adds browser origins.
"""

from __future__ import annotations

from hedgestack.api.registry import get_or_start
from hedgestack.api.routes import api_routes
from hedgestack.api.settings import ApiSettings
from hedgestack.engine.config import Settings

_settings = Settings()

ROUTES = api_routes(get_or_start, _settings.token.get_secret_value() if _settings.token else None,
                    ApiSettings().allowed_origins)

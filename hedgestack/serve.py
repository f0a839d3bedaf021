"""``hedgestack serve``: dashboard (``/``) + REST ``/v1`` + ``/v1/stream`` in one process (``pn.serve``).

The lead wires it in ``hedgestack/cli.py``::

    serve = commands.add_parser("serve", help="dashboard + REST API + events")
    from hedgestack.serve import add_arguments, run
    add_arguments(serve); serve.set_defaults(func=run)

Settings come from the command line, then the environment and ``.env`` (see ``.env.example``). Binding a
non-loopback address is refused unless ``HEDGESTACK_TOKEN`` is set; with a token, the dashboard is behind
the same login as the API.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hedgestack.api.context import is_loopback

if TYPE_CHECKING:
    import argparse

    from hedgestack.engine.terminal import Terminal

log = logging.getLogger("hedgestack.serve")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--venue", choices=("sim", "testnet", "live"), default=None,
                        help="sim (embedded simulator), testnet or live; default: HEDGESTACK_VENUE, else sim "
                        "without BINANCE_API_KEY, else BINANCE_TESTNET decides")
    parser.add_argument("--sim-url", default=None, help="attach to a running simulator (`hedgestack sim`) "
                        "instead of starting one (HEDGESTACK_SIM_URL)")
    parser.add_argument("--market", default=None, metavar="MARKET",
                        help="the embedded simulator's market: random (default), static, or replay:FILE[,FILE...] "
                        "(Binance public data files as downloaded; see docs/simulator.md)")
    parser.add_argument("--port", type=int, default=None, help="HTTP port (PORT, default 3001)")
    parser.add_argument("--address", default="127.0.0.1", help="bind address (default 127.0.0.1); any other "
                        "address requires HEDGESTACK_TOKEN")
    parser.add_argument("--data-dir", default=None, help="DuckDB file and published Parquet "
                        "(HEDGESTACK_DATA_DIR, default ./data)")
    ledger = parser.add_mutually_exclusive_group()
    ledger.add_argument("--rebind", action="store_true",
                        help="the data directory's ledger belongs to this account under another API key (a key "
                        "rotation): bind it to the key in use")
    ledger.add_argument("--new-ledger", action="store_true",
                        help="the data directory holds the ledger of another venue or account: move it aside "
                        "(data_dir/old-ledgers/, never deleted) and start a new one")
    parser.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                        help="extra browser origin allowed to use the API and stream (repeatable; also "
                        "HEDGESTACK_ALLOWED_ORIGINS)")


class ServeError(Exception):
    pass


def check_bind(address: str, token: str | None) -> None:
    if not is_loopback(address) and not token:
        raise ServeError(f"refusing to bind {address}: set HEDGESTACK_TOKEN (every API call, the stream and "
                         "the dashboard then need it), or bind 127.0.0.1")


def build_terminal(args: argparse.Namespace, settings: Any) -> Terminal:
    """The terminal the flags and settings ask for (not started)."""
    from hedgestack.domain.errors import ValidationError
    from hedgestack.engine.terminal import Terminal

    extra: dict[str, Any] = {"market": args.market} if getattr(args, "market", None) else {}
    if getattr(args, "rebind", False):
        extra["other_ledger"] = "rebind"
    elif getattr(args, "new_ledger", False):
        extra["other_ledger"] = "new-ledger"
    if "market" in extra and (args.sim_url or (args.venue or settings.resolved_venue) != "sim"):
        raise ServeError("--market chooses the embedded simulator's market: it needs the sim venue without --sim-url")
    try:
        return Terminal.from_settings(settings, venue=args.venue, sim_url=args.sim_url,
                                      data_dir=Path(args.data_dir) if args.data_dir else None, **extra)
    except ValidationError as exc:
        raise ServeError(f"--venue {args.venue or settings.resolved_venue}: {exc.message}") from exc


def dashboard_factory(terminal: Terminal) -> Any:
    """The dashboard page (``hedgestack.ui.dashboard(terminal).template()``), imported per session; a notice
    page if the UI is absent."""
    def factory() -> Any:
        import panel as pn

        try:
            from hedgestack.ui import dashboard
        except ImportError as exc:
            return pn.pane.Markdown(f"# hedgestack\n\nThe dashboard is not installed ({exc}). The API is served "
                                    "at `/v1` (see `/v1/openapi.json`) and events at `/v1/stream`.")
        return dashboard(terminal).template()

    return factory


def make_server(terminal: Terminal, *, port: int, address: str, token: str | None,
                allowed_origins: list[str], start: bool = True) -> Any:
    """``pn.serve`` with the dashboard at ``/`` and the API routes; resources inline (no CDN)."""
    import panel as pn

    from hedgestack.api.auth import TokenAuthProvider
    from hedgestack.api.routes import api_routes, context_of

    check_bind(address, token)
    os.environ.setdefault("BOKEH_RESOURCES", "server")  # JS/CSS from this server, never a CDN
    pn.config.inline = True  # type: ignore[misc]
    routes = api_routes(terminal, token, allowed_origins)
    kwargs: dict[str, Any] = {}
    if token:
        kwargs["auth_provider"] = TokenAuthProvider(context_of(routes))
    origins = [f"{host}:{port}" for host in ("localhost", "127.0.0.1", address)]
    origins += [o.split("://", 1)[-1] for o in allowed_origins]
    return pn.serve({"/": dashboard_factory(terminal)}, port=port, address=address, show=False, start=start,
                    extra_patterns=routes, websocket_origin=sorted(set(origins)), title="hedgestack", **kwargs)


def run(args: argparse.Namespace) -> int:
    from hedgestack.api.registry import register
    from hedgestack.api.settings import ApiSettings
    from hedgestack.domain.errors import HedgestackError
    from hedgestack.engine.config import Settings

    settings = Settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    token = settings.token.get_secret_value() if settings.token else None
    port = args.port if args.port is not None else settings.port
    origins = list(args.allow_origin) + ApiSettings().allowed_origins
    try:
        check_bind(args.address, token)
        terminal = build_terminal(args, settings)
    except ServeError as exc:
        sys.stderr.write(f"hedgestack serve: {exc}\n")
        return 2
    try:
        terminal.start_sync()
    except HedgestackError as exc:  # the venue unreachable, a ledger of another account, ...: one line
        terminal.stop_sync()
        sys.stderr.write(f"hedgestack serve: {exc.message}\n")
        return 2
    register(terminal)  # notebooks in this process (and the plugin) share it
    venue = terminal.venue_name
    marker = " *** LIVE: real money; the first order needs confirmation ***" if venue == "live" else ""
    log.info("hedgestack on %s venue%s: http://%s:%d/ (API /v1, events /v1/stream)", venue, marker,
             args.address, port)
    try:
        make_server(terminal, port=port, address=args.address, token=token, allowed_origins=origins)
    except KeyboardInterrupt:
        pass
    finally:
        terminal.stop_sync()
    return 0

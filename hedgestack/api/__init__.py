"""REST ``/v1`` and the ``/v1/stream`` WebSocket of the seed, as tornado routes (see :func:`api_routes`)."""

from hedgestack.api.routes import api_routes

__all__ = ["api_routes"]

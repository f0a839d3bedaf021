"""The client of a running ``hedgestack serve``: ``hedgestack.connect(url)`` has the local terminal's Python API
(:class:`~hedgestack.engine.facade.TerminalApi`), over the REST API and the event stream."""

from hedgestack.client.remote import RemoteTerminal, connect

__all__ = ["RemoteTerminal", "connect"]

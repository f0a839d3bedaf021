"""The terminal: the asyncio service that owns the state (commands, intake, TP/SL, consistency, recovery)."""

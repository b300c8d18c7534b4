"""Pure-ASGI middleware and small helpers with no domain knowledge."""

"""HTTP API tests: every request goes through the ASGI app, as a client would send it."""

"""Message templates: what may be sent outside the service window, and at what category."""

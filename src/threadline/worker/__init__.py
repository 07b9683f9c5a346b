"""Background work: ingesting platform events and dispatching the outbox."""

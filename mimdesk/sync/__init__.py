"""Background work between connectors and the store: pollers, outbox, backoff."""

"""Inbound webhook events: stored once, processed in order per contact."""

"""Broadcasts: one message to a segment, decided per recipient, sent at platform speed."""

"""The content calendar: scheduled broadcasts and automation volume per day and channel,
with the frequency pressure they put on each segment (docs/calendar.md)."""

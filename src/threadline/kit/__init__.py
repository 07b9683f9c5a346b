"""Domain-free helpers: clock, ids, crypto, database, errors."""

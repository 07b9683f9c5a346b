"""Audiences: the segment language, compiled to SQL, and what a send to a segment would do."""

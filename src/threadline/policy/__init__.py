"""The send-policy engine: one pure function that decides whether a message may go out."""

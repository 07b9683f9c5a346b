"""Commerce in the conversation: a catalog, product messages, cart orders and payment links."""

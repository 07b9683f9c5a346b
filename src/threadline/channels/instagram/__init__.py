"""Instagram Direct (Messenger Platform, Page-linked), on the shared Meta layer."""

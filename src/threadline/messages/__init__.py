"""Messages in both directions; outbound rows are the outbox the dispatcher drains."""

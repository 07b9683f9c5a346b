"""WhatsApp Business Cloud API adapter."""

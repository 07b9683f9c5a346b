"""Facebook Messenger: the Send API and page webhooks, on the shared Meta layer."""

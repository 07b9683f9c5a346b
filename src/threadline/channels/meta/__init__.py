"""What WhatsApp, Messenger and Instagram share: Meta's webhook signature, the Graph API
error envelope, and the messaging webhook and Send API of Messenger and Instagram."""

"""Apple Messages for Business, reached through a Messaging Service Provider (MSP) gateway."""

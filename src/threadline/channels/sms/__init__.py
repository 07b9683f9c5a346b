"""SMS and MMS through a Twilio-compatible provider API."""

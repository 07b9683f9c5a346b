"""Threadline: a conversational-messaging CRM that knows each channel's rules."""

__version__ = "0.1.0"

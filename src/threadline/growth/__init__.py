"""Subscriber growth: hosted opt-in pages, their QR codes and links, keyword opt-in with
double opt-in, checkout opt-ins, and the growth report."""

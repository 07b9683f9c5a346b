"""A local stand-in for the WhatsApp Cloud API: the same HTTP paths, bodies, rules, error
codes and signed webhooks, with seeded simulated users. Runs the demo and the tests."""

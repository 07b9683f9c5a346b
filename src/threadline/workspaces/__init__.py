"""Workspaces (one per business), their users and API keys."""

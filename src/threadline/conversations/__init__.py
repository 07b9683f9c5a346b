"""Conversations per contact and channel, and the platform windows they open."""

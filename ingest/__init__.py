"""Feeds -> queue: fetch and parse feeds, canonicalise entry URLs, enqueue one job per new URL."""

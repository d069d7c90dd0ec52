"""Queue -> store: the job that fetches, extracts, deduplicates and publishes one article URL."""

"""The document store and its query side: one interface, SQLite (embedded default) and PostgreSQL backends."""

-- Initial schema: documents with an FTS5 index, stories, feeds, URL states.
-- Times are ISO-8601 UTC text (fixed width, so they sort); lists are JSON text.

CREATE TABLE documents (
    -- small columns first: SQLite reads a row's columns in order, and big text spills to overflow pages
    seq INTEGER PRIMARY KEY,  -- stable rowid for the FTS index
    id TEXT NOT NULL UNIQUE,
    url TEXT NOT NULL,
    source TEXT NOT NULL,
    fetched TEXT NOT NULL,
    site_name TEXT,
    published TEXT,
    language TEXT,
    word_count INTEGER NOT NULL DEFAULT 0,
    content_hash TEXT NOT NULL DEFAULT '',
    wire TEXT,
    story_id TEXT NOT NULL,
    duplicate_of TEXT,
    similarity REAL,
    relation TEXT NOT NULL,
    flags TEXT NOT NULL DEFAULT '[]',
    dated TEXT NOT NULL,  -- published, else fetched: the date order
    stored_at TEXT NOT NULL,
    title TEXT,
    text TEXT NOT NULL,
    urls TEXT NOT NULL DEFAULT '[]',
    feeds TEXT NOT NULL DEFAULT '[]',
    authors TEXT NOT NULL DEFAULT '[]',
    summary TEXT
);
CREATE INDEX documents_dated ON documents (dated DESC, id);
CREATE INDEX documents_story ON documents (story_id);
CREATE INDEX documents_language ON documents (language, dated DESC);
CREATE INDEX documents_source ON documents (source, dated DESC);
CREATE INDEX documents_stored_at ON documents (stored_at);

CREATE VIRTUAL TABLE documents_fts USING fts5 (
    title, text,
    content = 'documents', content_rowid = 'seq',
    tokenize = "unicode61 remove_diacritics 2"
);
CREATE TRIGGER documents_ai AFTER INSERT ON documents BEGIN
    INSERT INTO documents_fts (rowid, title, text) VALUES (new.seq, new.title, new.text);
END;
CREATE TRIGGER documents_ad AFTER DELETE ON documents BEGIN
    INSERT INTO documents_fts (documents_fts, rowid, title, text) VALUES ('delete', old.seq, old.title, old.text);
END;
CREATE TRIGGER documents_au AFTER UPDATE OF title, text ON documents BEGIN
    INSERT INTO documents_fts (documents_fts, rowid, title, text) VALUES ('delete', old.seq, old.title, old.text);
    INSERT INTO documents_fts (rowid, title, text) VALUES (new.seq, new.title, new.text);
END;

CREATE TABLE stories (
    id TEXT PRIMARY KEY,
    canonical_id TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    size INTEGER NOT NULL DEFAULT 1        -- documents in the story, canonical included
);

CREATE TABLE feeds (
    url TEXT PRIMARY KEY,
    title TEXT,
    category TEXT,
    site_url TEXT,
    etag TEXT,
    last_modified TEXT,
    body_hash TEXT,
    last_polled TEXT,
    last_status INTEGER,
    next_poll TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    entries_seen INTEGER NOT NULL DEFAULT 0,
    rate_per_day REAL,
    polls INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'ok',
    added_at TEXT
);
CREATE INDEX feeds_next_poll ON feeds (next_poll);

CREATE TABLE urls (
    url_id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    feed_url TEXT,
    state TEXT NOT NULL,
    reason TEXT,
    detail TEXT,
    document_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    next_try TEXT
);
CREATE INDEX urls_state ON urls (state, updated_at);
CREATE INDEX urls_updated_at ON urls (updated_at);

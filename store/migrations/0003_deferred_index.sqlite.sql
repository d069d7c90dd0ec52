-- Deferred full-text indexing: a write queues the row in fts_pending instead of indexing it in its own
-- transaction (each FTS5 transaction writes a new segment, and merging thousands of one-document segments
-- dominated insert time). store/sqlite.py indexes the queue in batches: a writer when it holds
-- FLUSH_DOCS rows or its oldest row is FLUSH_SECONDS old, and every search first (so nothing published
-- is ever missing from a search). Rows already indexed keep their entries until their text changes.
CREATE TABLE fts_pending (
    seq INTEGER PRIMARY KEY,                         -- documents.seq waiting to be indexed
    queued REAL NOT NULL DEFAULT (julianday('now'))  -- when it was queued (UTC Julian day)
);
DROP TRIGGER documents_ai;
DROP TRIGGER documents_ad;
DROP TRIGGER documents_au;
CREATE TRIGGER documents_ai AFTER INSERT ON documents BEGIN
    INSERT INTO fts_pending (seq) SELECT new.seq WHERE NOT EXISTS (SELECT 1 FROM fts_pending WHERE seq = new.seq);
END;
CREATE TRIGGER documents_ad AFTER DELETE ON documents BEGIN
    INSERT INTO documents_fts (documents_fts, rowid, title, text)
        SELECT 'delete', old.seq, old.title, old.text WHERE NOT EXISTS (SELECT 1 FROM fts_pending WHERE seq = old.seq);
    DELETE FROM fts_pending WHERE seq = old.seq;
END;
-- (Not INSERT OR IGNORE: an upsert's own conflict policy would override the trigger's.)
-- A republish with the same title and text (an idempotent retry) leaves the index alone.
CREATE TRIGGER documents_au AFTER UPDATE OF title, text ON documents
WHEN old.title IS NOT new.title OR old.text IS NOT new.text BEGIN
    INSERT INTO documents_fts (documents_fts, rowid, title, text)
        SELECT 'delete', old.seq, old.title, old.text WHERE NOT EXISTS (SELECT 1 FROM fts_pending WHERE seq = old.seq);
    INSERT INTO fts_pending (seq) SELECT new.seq WHERE NOT EXISTS (SELECT 1 FROM fts_pending WHERE seq = new.seq);
END;
-- Fewer, larger segments: a 16 MB in-memory term table per batch (default 1 MB) and merges of 8 segments
-- (default 4) roughly halve indexing time on news-sized texts.
INSERT INTO documents_fts (documents_fts, rank) VALUES ('hashsize', 16777216);
INSERT INTO documents_fts (documents_fts, rank) VALUES ('automerge', 8);

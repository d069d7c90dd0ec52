-- Stored order for relevance windows (store/search.py ranks the newest matches by seq, as on SQLite),
-- and a larger GIN pending list so inserts append to it and the index absorbs them in bulk.
ALTER TABLE documents ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;
CREATE UNIQUE INDEX documents_seq ON documents (seq);
ALTER INDEX documents_tsv SET (fastupdate = on, gin_pending_list_limit = 16384);

-- The copies alone (about one document in five), for the duplicates count of `wiredesk status` and /metrics:
-- counting them read every document row (at 1M documents 513 ms on SQLite, 594 on PostgreSQL, and 6 s with a
-- cold cache); from this index 5 and 7-11 ms. Originals, the most of the inserts, add no entry to it.
CREATE INDEX documents_copies ON documents (seq) WHERE relation <> 'original';

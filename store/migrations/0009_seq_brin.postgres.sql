-- A block-range index of seq: documents are appended in seq order, so a seq range maps to a run of heap pages
-- and this index hands the planner that run for almost nothing (a B-tree bitmap of 320,000 seqs took 47 ms at
-- 1M documents; this one 6 ms). Relevance windows AND it with the text index's matches (store/postgres.py,
-- window_span) to read only a range's matches of a word, not every match in the store.
CREATE INDEX documents_seq_brin ON documents USING brin (seq) WITH (pages_per_range = 32);
-- Whether a word is common enough for that is the planner's estimate, from the tsvector's most common
-- lexemes: ten times as many as by default (about the 10,000 most common), so that a word in 1.5% of the
-- documents is estimated (15,436 for 15,344) rather than given the default of a word outside the list (5,011).
ALTER TABLE documents ALTER COLUMN tsv SET STATISTICS 1000;

-- Keep each document's tsvector in its row: a search tests or ranks it row by row, and a tsvector stored
-- out of line (TOAST: an index lookup and a few chunk reads) cost ~14 us a row against ~5 us inline.
-- MAIN keeps it in the row while the row fits the 8 KB target; a longer article's still moves out of line.
-- Rows stored before this migration keep their layout until rewritten (VACUUM FULL documents).
ALTER TABLE documents SET (toast_tuple_target = 8160);
ALTER TABLE documents ALTER COLUMN tsv SET STORAGE MAIN;

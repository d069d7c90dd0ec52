-- A relevance window with a date range walks the newest documents by seq; with dated in the same index the
-- walk skips, inside the index, every document outside the range, and reads only rows in the range to test
-- their words (without it: every row newer than the window's last match, or all matches of a common word).
CREATE INDEX documents_seq_dated ON documents (seq, dated);
-- Counting how many documents a published-date range leaves (store/relevance.py) then reads this index
-- alone instead of one table row per document.
DROP INDEX documents_dated;
CREATE INDEX documents_dated ON documents (dated DESC, id) INCLUDE (published);

-- Counting how many documents a published-date range leaves (store/relevance.py) walks the dated index and,
-- without published in it, reads one table row per document to test published (~40 ms for 5,000 at 1M
-- documents); with it, the index alone (as PostgreSQL's INCLUDE (published) does since migration 0006).
DROP INDEX documents_dated;
CREATE INDEX documents_dated ON documents (dated DESC, id, published);

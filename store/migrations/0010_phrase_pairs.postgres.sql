-- Phrases by their adjacent word pairs. The text index (GIN of tsv) knows which words a document holds but not
-- where, so a phrase of two common words ("while another": each in a fifth of a million documents, both in a
-- tenth, adjacent in 0.26%) had every document holding both words tested for the phrase, ~7 us a row: about
-- half a second for a window of 1,000 matches. `pairs` holds a hash of each pair of adjacent lexemes of the
-- tsvector (the positions the phrase operator <-> compares, so every document a phrase matches holds its pairs),
-- and its GIN index hands a phrase query the documents holding all of its pairs: the matches, and hash
-- collisions, which the phrase test then drops.
--
-- tsv was a generated column, which another generated column may not read; it is now computed, with pairs,
-- by a trigger, from the same expression. Existing documents get their pairs here: a new version of every row
-- (25 minutes for a million documents on a 2-core machine), which leaves the table twice its size (on that
-- store, a word with a language filter then took 1.75 s at p95, under 50 ms on a store loaded fresh) until
-- `VACUUM FULL documents` rewrites it without the old versions.
CREATE FUNCTION wd_pair_keys(v tsvector) RETURNS int4[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
AS $fn$
    WITH p AS (SELECT lexeme, unnest(positions) AS pos FROM unnest(v))
    SELECT coalesce(array_agg(DISTINCT hashtext(a.lexeme || ' ' || b.lexeme)), '{}')
    FROM p a JOIN p b ON b.pos = a.pos + 1
$fn$;

-- A phrase's pairs, from its words tokenized as a document's are: constant, so computed once per query.
CREATE FUNCTION wd_phrase_keys(phrase text) RETURNS int4[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
AS $fn$ SELECT wd_pair_keys(to_tsvector('simple'::regconfig, wd_search_text(phrase))) $fn$;

ALTER TABLE documents ALTER COLUMN tsv DROP EXPRESSION;
ALTER TABLE documents ADD COLUMN pairs int4[];
-- In the row, beside tsv: a candidate the index hands over is tested without a TOAST lookup.
ALTER TABLE documents ALTER COLUMN pairs SET STORAGE MAIN;

CREATE FUNCTION wd_index_document() RETURNS trigger
LANGUAGE plpgsql
AS $fn$
BEGIN
    NEW.tsv := setweight(to_tsvector('simple'::regconfig, coalesce(wd_search_text(NEW.title), '')), 'A') ||
               setweight(to_tsvector('simple'::regconfig, coalesce(wd_search_text(left(NEW.text, 500000)), '')), 'B');
    NEW.pairs := wd_pair_keys(NEW.tsv);
    RETURN NEW;
END
$fn$;
CREATE TRIGGER documents_index BEFORE INSERT OR UPDATE OF title, text ON documents
    FOR EACH ROW EXECUTE FUNCTION wd_index_document();

UPDATE documents SET pairs = wd_pair_keys(tsv);
ALTER TABLE documents ALTER COLUMN pairs SET NOT NULL;
CREATE INDEX documents_pairs ON documents USING gin (pairs) WITH (fastupdate = on, gin_pending_list_limit = 16384);
-- The planner's estimate of a phrase's documents (is it rare, or common enough to read in seq ranges?) comes
-- from the most common pairs: as many as the tsvector's words get (migration 0009).
ALTER TABLE documents ALTER COLUMN pairs SET STATISTICS 1000;

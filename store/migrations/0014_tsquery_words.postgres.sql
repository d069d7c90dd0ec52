-- wd_tsquery(template, words): the tsquery of a compiled user query (store/query.py), each word unaccented and
-- only then quoted as a lexeme. Quoting before unaccent (wd_unaccent over the whole to_tsquery string) broke on
-- letters unaccent turns into a quote: `Hawaiʻi`, `обʼєкт`, `ŉ` became `'Hawai'i'`, a tsquery syntax error.
-- Inside the quotes the parser splits the word where the documents' wd_search_text does (`hawai`, `i`).
-- IMMUTABLE (as wd_unaccent is) so that the planner evaluates it once and estimates the text index from it.
CREATE FUNCTION wd_tsquery(template text, words text[]) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
AS $fn$
    SELECT to_tsquery('simple'::regconfig, format(template, VARIADIC ARRAY(
        SELECT '''' || replace(replace(wd_unaccent(word), '\', '\\'), '''', '''''') || ''''
        FROM unnest(words) WITH ORDINALITY AS w(word, n) ORDER BY n)))
$fn$;

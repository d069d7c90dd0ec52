-- Initial schema: documents with a generated tsvector and GIN index, stories, feeds, URL states.
-- unaccent lives in public (created by the store before migrating); wd_unaccent wraps it as IMMUTABLE
-- for queries; wd_search_text, used by the generated column, also turns ASCII punctuation into spaces so
-- words split as in SQLite's unicode61 tokenizer (no host, email or signed-number tokens).

CREATE FUNCTION wd_unaccent(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
AS $fn$ SELECT public.unaccent('public.unaccent'::regdictionary, value) $fn$;

CREATE FUNCTION wd_search_text(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
AS $fn$
    SELECT translate(public.unaccent('public.unaccent'::regdictionary, value),
                     $chars$!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~$chars$,
                     '                                ')
$fn$;

CREATE TABLE documents (
    -- small columns first, as in SQLite (where it matters); big text and lists go out of line (TOAST)
    id text PRIMARY KEY,
    url text NOT NULL,
    source text NOT NULL,
    fetched timestamptz NOT NULL,
    site_name text,
    published timestamptz,
    language text,
    word_count integer NOT NULL DEFAULT 0,
    content_hash text NOT NULL DEFAULT '',
    wire text,
    story_id text NOT NULL,
    duplicate_of text,
    similarity double precision,
    relation text NOT NULL,
    flags jsonb NOT NULL DEFAULT '[]',
    dated timestamptz NOT NULL,  -- published, else fetched: the date order
    stored_at timestamptz NOT NULL,
    title text,
    text text NOT NULL,
    urls jsonb NOT NULL DEFAULT '[]',
    feeds jsonb NOT NULL DEFAULT '[]',
    authors jsonb NOT NULL DEFAULT '[]',
    summary text,
    tsv tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple'::regconfig, coalesce(wd_search_text(title), '')), 'A') ||
        setweight(to_tsvector('simple'::regconfig, coalesce(wd_search_text(left(text, 500000)), '')), 'B')
    ) STORED
);
CREATE INDEX documents_tsv ON documents USING gin (tsv);
CREATE INDEX documents_dated ON documents (dated DESC, id);
CREATE INDEX documents_story ON documents (story_id);
CREATE INDEX documents_language ON documents (language, dated DESC);
CREATE INDEX documents_source ON documents (source, dated DESC);
CREATE INDEX documents_stored_at ON documents (stored_at);

CREATE TABLE stories (
    id text PRIMARY KEY,
    canonical_id text NOT NULL,
    first_seen timestamptz NOT NULL,
    size integer NOT NULL DEFAULT 1        -- documents in the story, canonical included
);

CREATE TABLE feeds (
    url text PRIMARY KEY,
    title text,
    category text,
    site_url text,
    etag text,
    last_modified text,
    body_hash text,
    last_polled timestamptz,
    last_status integer,
    next_poll timestamptz,
    failures integer NOT NULL DEFAULT 0,
    last_error text,
    entries_seen integer NOT NULL DEFAULT 0,
    rate_per_day double precision,
    polls integer NOT NULL DEFAULT 0,
    state text NOT NULL DEFAULT 'ok',
    added_at timestamptz
);
CREATE INDEX feeds_next_poll ON feeds (next_poll);

CREATE TABLE urls (
    url_id text PRIMARY KEY,
    url text NOT NULL,
    feed_url text,
    state text NOT NULL,
    reason text,
    detail text,
    document_id text,
    attempts integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    next_try timestamptz
);
CREATE INDEX urls_state ON urls (state, updated_at);
CREATE INDEX urls_updated_at ON urls (updated_at);

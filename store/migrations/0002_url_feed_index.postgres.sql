-- URLs by the feed that brought them (per-feed failure reports) and documents by wire.
CREATE INDEX urls_feed_url ON urls (feed_url);
CREATE INDEX documents_wire ON documents (wire, dated DESC);

-- Date zones of the seq order: for each block of 1024 seqs, the lowest and highest seq and dated stored in it
-- (kept wide: a delete or a changed date never narrows a zone, so a zone always covers its documents). A
-- date-ranged relevance window then bounds its FTS5 walk to the seq ranges of zones meeting the range: a
-- stream stores documents roughly in date order, so a month's matches lie in a month's seqs, and a late
-- arrival widens only its own zone. Where dates and seqs don't correlate every zone meets the range and the
-- walk is the plain one.
CREATE TABLE seq_zones (
    block INTEGER PRIMARY KEY,  -- seq >> 10
    low_seq INTEGER NOT NULL,
    high_seq INTEGER NOT NULL,
    low_dated TEXT NOT NULL,
    high_dated TEXT NOT NULL
);
INSERT INTO seq_zones (block, low_seq, high_seq, low_dated, high_dated)
    SELECT seq >> 10, min(seq), max(seq), min(dated), max(dated) FROM documents GROUP BY seq >> 10;
CREATE TRIGGER documents_zone_ai AFTER INSERT ON documents BEGIN
    INSERT INTO seq_zones (block, low_seq, high_seq, low_dated, high_dated)
        VALUES (new.seq >> 10, new.seq, new.seq, new.dated, new.dated)
        ON CONFLICT (block) DO UPDATE SET low_seq = min(low_seq, excluded.low_seq),
            high_seq = max(high_seq, excluded.high_seq), low_dated = min(low_dated, excluded.low_dated),
            high_dated = max(high_dated, excluded.high_dated);
END;
CREATE TRIGGER documents_zone_au AFTER UPDATE OF dated ON documents WHEN old.dated IS NOT new.dated BEGIN
    UPDATE seq_zones SET low_dated = min(low_dated, new.dated), high_dated = max(high_dated, new.dated)
        WHERE block = new.seq >> 10;
END;

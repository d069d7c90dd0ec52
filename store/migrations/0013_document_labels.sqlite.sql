-- A document's feeds and flags as labels ('feed:<url>', 'flag:<name>'), kept by triggers. Both are JSON lists in
-- the row, which no index reaches: a feed or flag filter tested every document (at 1M documents a feed no
-- document is in took 2.2 s, a flag 1.3 s). document_labels_order lists a label's documents newest first,
-- so a date-ordered page filtered by one reads its own rows only, however many documents the label has or
-- however old they are; the primary key answers "has this document that label".
CREATE TABLE document_labels (
    seq INTEGER NOT NULL,  -- documents.seq
    label TEXT NOT NULL,
    dated TEXT NOT NULL,   -- documents.dated and documents.id, in the order of the date-ordered pages
    id TEXT NOT NULL,
    PRIMARY KEY (seq, label)
) WITHOUT ROWID;
CREATE INDEX document_labels_order ON document_labels (label, dated DESC, id);
INSERT INTO document_labels (seq, label, dated, id)
    SELECT d.seq, 'feed:' || j.value, d.dated, d.id FROM documents d, json_each(d.feeds) j
    UNION SELECT d.seq, 'flag:' || j.value, d.dated, d.id FROM documents d, json_each(d.flags) j;
CREATE TRIGGER documents_labels_ai AFTER INSERT ON documents BEGIN
    INSERT INTO document_labels (seq, label, dated, id)
        SELECT new.seq, 'feed:' || value, new.dated, new.id FROM json_each(new.feeds)
        UNION SELECT new.seq, 'flag:' || value, new.dated, new.id FROM json_each(new.flags);
END;
CREATE TRIGGER documents_labels_au AFTER UPDATE OF feeds, flags, dated ON documents
WHEN old.feeds IS NOT new.feeds OR old.flags IS NOT new.flags OR old.dated IS NOT new.dated BEGIN
    DELETE FROM document_labels WHERE seq = old.seq;
    INSERT INTO document_labels (seq, label, dated, id)
        SELECT new.seq, 'feed:' || value, new.dated, new.id FROM json_each(new.feeds)
        UNION SELECT new.seq, 'flag:' || value, new.dated, new.id FROM json_each(new.flags);
END;
CREATE TRIGGER documents_labels_ad AFTER DELETE ON documents BEGIN
    DELETE FROM document_labels WHERE seq = old.seq;
END;

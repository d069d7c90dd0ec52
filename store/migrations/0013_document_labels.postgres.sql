-- A document's feeds and flags as labels ('feed:<url>', 'flag:<name>'), kept by triggers. Both are JSON lists in
-- the row, which no index reaches: a feed or flag filter tested every document (at 1M documents a feed no
-- document is in took 1.8 s, a flag 0.7 s). document_labels_order lists a label's documents newest first, so a
-- date-ordered page filtered by one reads its own rows only, however many documents the label has or however
-- old they are. One index: the row's dated and id find its labels as well as a key of seq would.
CREATE TABLE document_labels (
    label text NOT NULL,
    dated timestamptz NOT NULL,  -- documents.dated and documents.id, in the order of the date-ordered pages
    id text NOT NULL,
    seq bigint NOT NULL  -- documents.seq
);
INSERT INTO document_labels (label, dated, id, seq)
    SELECT 'feed:' || f, d.dated, d.id, d.seq FROM documents d, jsonb_array_elements_text(d.feeds) f
    UNION SELECT 'flag:' || f, d.dated, d.id, d.seq FROM documents d, jsonb_array_elements_text(d.flags) f;
CREATE UNIQUE INDEX document_labels_order ON document_labels (label, dated DESC, id);

CREATE FUNCTION wd_label_document() RETURNS trigger
LANGUAGE plpgsql
AS $fn$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM document_labels WHERE dated = OLD.dated AND id = OLD.id AND label IN (
            SELECT 'feed:' || f FROM jsonb_array_elements_text(OLD.feeds) f
            UNION ALL SELECT 'flag:' || f FROM jsonb_array_elements_text(OLD.flags) f);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO document_labels (label, dated, id, seq)
            SELECT 'feed:' || f, NEW.dated, NEW.id, NEW.seq FROM jsonb_array_elements_text(NEW.feeds) f
            UNION ALL SELECT 'flag:' || f, NEW.dated, NEW.id, NEW.seq FROM jsonb_array_elements_text(NEW.flags) f
            ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER documents_labels AFTER INSERT OR DELETE ON documents
    FOR EACH ROW EXECUTE FUNCTION wd_label_document();
CREATE TRIGGER documents_labels_update AFTER UPDATE OF feeds, flags, dated ON documents
    FOR EACH ROW WHEN (OLD.feeds IS DISTINCT FROM NEW.feeds OR OLD.flags IS DISTINCT FROM NEW.flags
                       OR OLD.dated IS DISTINCT FROM NEW.dated)
    EXECUTE FUNCTION wd_label_document();

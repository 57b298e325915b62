-- Documents on cases and allegations: what each one is, in the uploader's words.
ALTER TABLE documents ADD COLUMN description text NOT NULL DEFAULT '';
ALTER TABLE documents ADD CONSTRAINT documents_description_length CHECK (char_length(description) <= 500);
-- Documents are never changed or deleted by the server.
CREATE TRIGGER documents_append_only BEFORE UPDATE OR DELETE ON documents
    FOR EACH ROW EXECUTE FUNCTION haven_refuse_change();

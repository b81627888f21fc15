-- API bearer tokens. Only SHA-256(token) is stored, never the token itself; `prefix`
-- keeps the first characters of the token so that a person can recognise it in a list
-- (too short to help guess the rest). A token is revoked by inserting a row in
-- token_revocations: like the history tables, both tables are insert-only.
--
-- kind   org      reads what concerns the organization `subject` (an org id)
--        auditor  reads everything (subject: the auditor's name)
--        trust    reads everything (subject: the trust service's name)

CREATE TABLE tokens (
    id          text        PRIMARY KEY CHECK (id ~ '^[0-9a-f]{12}$'),
    token_hash  bytea       NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    prefix      text        NOT NULL,
    kind        text        NOT NULL CHECK (kind IN ('org', 'auditor', 'trust')),
    subject     text        NOT NULL CHECK (length(subject) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tokens_prefix_idx ON tokens (prefix);

CREATE TABLE token_revocations (
    token_id    text        PRIMARY KEY REFERENCES tokens (id),
    revoked_at  timestamptz NOT NULL DEFAULT now()
);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['tokens', 'token_revocations']
    LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON %I
                        FOR EACH ROW EXECUTE FUNCTION ledger_refuse_rewrite()',
                       t || '_no_rewrite', t);
        EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I
                        FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_rewrite()',
                       t || '_no_truncate', t);
        EXECUTE format('ALTER TABLE %I ENABLE ALWAYS TRIGGER %I', t, t || '_no_rewrite');
        EXECUTE format('ALTER TABLE %I ENABLE ALWAYS TRIGGER %I', t, t || '_no_truncate');
        EXECUTE format('REVOKE ALL ON %I FROM PUBLIC', t);
        EXECUTE format('GRANT SELECT, INSERT ON %I TO ledger_writer', t);
    END LOOP;
END
$$;

-- The server's readiness probe checks, as ledger_writer, that every migration it knows
-- has been applied.
GRANT SELECT ON schema_migrations TO ledger_writer;

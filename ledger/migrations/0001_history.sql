-- History: the signed events, the key history, the Merkle nodes and the checkpoints.
-- Every table here is append-only: triggers refuse UPDATE, DELETE and TRUNCATE for
-- every role, owner and superusers included, and they are ENABLE ALWAYS so that
-- session_replication_role = replica does not bypass them either. Only an explicit
-- ALTER TABLE ... DISABLE TRIGGER by the owner can, and the audit catches what follows.

DO $$
BEGIN
    CREATE ROLE ledger_writer NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

CREATE TABLE events (
    position        bigint      PRIMARY KEY CHECK (position >= 0),
    recorded_at_us  bigint      NOT NULL CHECK (recorded_at_us >= 0),
    recorded_at     timestamptz NOT NULL,
    stream          text        NOT NULL,
    version         integer     NOT NULL CHECK (version >= 1),
    event_hash      bytea       NOT NULL UNIQUE CHECK (length(event_hash) = 32),
    prev_hash       bytea       CHECK (prev_hash IS NULL OR length(prev_hash) = 32),
    type            text        NOT NULL,
    actor           text        NOT NULL,
    key_id          text        NOT NULL,
    issued_at       timestamptz NOT NULL,
    payload         bytea       NOT NULL,
    envelope        bytea       NOT NULL,
    statement       jsonb       NOT NULL,
    leaf_hash       bytea       NOT NULL CHECK (length(leaf_hash) = 32),
    UNIQUE (stream, version)
);
CREATE INDEX events_actor_idx ON events (actor, position);
CREATE INDEX events_type_idx ON events (type, position);

CREATE TABLE keys (
    key_id      text    PRIMARY KEY,
    org_id      text    NOT NULL,
    public_key  bytea   NOT NULL UNIQUE CHECK (length(public_key) = 32),
    added_at    bigint  NOT NULL
);
CREATE INDEX keys_org_idx ON keys (org_id);

CREATE TABLE key_revocations (
    key_id      text    PRIMARY KEY REFERENCES keys (key_id),
    revoked_at  bigint  NOT NULL
);

-- Complete, aligned Merkle subtrees: node (level, idx) covers leaves
-- [idx * 2^level, (idx + 1) * 2^level). Level 0 holds the leaf hashes.
CREATE TABLE merkle_nodes (
    level   smallint NOT NULL CHECK (level >= 0 AND level < 64),
    idx     bigint   NOT NULL CHECK (idx >= 0),
    hash    bytea    NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, idx)
);

CREATE TABLE checkpoints (
    size       bigint      PRIMARY KEY CHECK (size >= 0),
    root_hash  bytea       NOT NULL CHECK (length(root_hash) = 32),
    note       text        NOT NULL,
    signed_at  timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION ledger_refuse_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger history is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'corrections are new events; nothing is updated or deleted';
END
$$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['events', 'keys', 'key_revocations', 'merkle_nodes', 'checkpoints']
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

DO $$
BEGIN
    EXECUTE format('GRANT ledger_writer TO %I', current_user);
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'could not grant ledger_writer to %: %', current_user, SQLERRM;
END
$$;

-- Facts about this ledger fixed at its creation, e.g. its origin (the ledger id every
-- statement names). Append-only like the rest of history.
CREATE TABLE ledger_meta (
    name   text PRIMARY KEY,
    value  text NOT NULL
);
CREATE TRIGGER ledger_meta_no_rewrite BEFORE UPDATE OR DELETE ON ledger_meta
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_rewrite();
CREATE TRIGGER ledger_meta_no_truncate BEFORE TRUNCATE ON ledger_meta
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_rewrite();
ALTER TABLE ledger_meta ENABLE ALWAYS TRIGGER ledger_meta_no_rewrite;
ALTER TABLE ledger_meta ENABLE ALWAYS TRIGGER ledger_meta_no_truncate;
REVOKE ALL ON ledger_meta FROM PUBLIC;
GRANT SELECT, INSERT ON ledger_meta TO ledger_writer;

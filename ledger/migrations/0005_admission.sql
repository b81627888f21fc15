-- Admission: single-use registration tokens, and a runtime login that cannot write
-- the tokens tables except through the functions below.
--
-- A registration token (kind `registration`) admits exactly one organization.registered
-- event: the store consumes it, in the transaction that writes the registration, by
-- inserting a row in registration_token_uses (insert-only, one row per token).
--
-- The runtime (ledger_writer and the login roles granted it) keeps SELECT on tokens,
-- token_revocations and registration_token_uses, and writes them only through
-- SECURITY DEFINER functions that do one thing each: issue a token, revoke a token,
-- use a registration token. Nothing can UPDATE, DELETE or TRUNCATE them (the triggers
-- of 0002 and the missing grants).

ALTER TABLE tokens DROP CONSTRAINT tokens_kind_check;
ALTER TABLE tokens ADD CONSTRAINT tokens_kind_check
    CHECK (kind IN ('org', 'auditor', 'trust', 'registration'));

CREATE TABLE registration_token_uses (
    token_id    text        PRIMARY KEY REFERENCES tokens (id),
    org_id      text        NOT NULL,
    event_hash  bytea       NOT NULL CHECK (length(event_hash) = 32),
    used_at     timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER registration_token_uses_no_rewrite
    BEFORE UPDATE OR DELETE ON registration_token_uses
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_rewrite();
CREATE TRIGGER registration_token_uses_no_truncate
    BEFORE TRUNCATE ON registration_token_uses
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_rewrite();
ALTER TABLE registration_token_uses ENABLE ALWAYS TRIGGER registration_token_uses_no_rewrite;
ALTER TABLE registration_token_uses ENABLE ALWAYS TRIGGER registration_token_uses_no_truncate;
REVOKE ALL ON registration_token_uses FROM PUBLIC;
GRANT SELECT ON registration_token_uses TO ledger_writer;

REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON tokens, token_revocations FROM ledger_writer;
GRANT SELECT ON tokens, token_revocations TO ledger_writer;

-- A new token row (the caller made the random token and hashes it; only the hash
-- and the prefix reach the database).
CREATE FUNCTION ledger_issue_token(p_id text, p_hash bytea, p_prefix text, p_kind text,
                                   p_subject text)
RETURNS timestamptz
LANGUAGE sql SECURITY DEFINER SET search_path FROM CURRENT AS $$
    INSERT INTO tokens (id, token_hash, prefix, kind, subject)
    VALUES (p_id, p_hash, p_prefix, p_kind, p_subject)
    RETURNING created_at
$$;

-- Revoke a token by id; the revocation time, or NULL if it already was revoked.
CREATE FUNCTION ledger_revoke_token(p_id text)
RETURNS timestamptz
LANGUAGE sql SECURITY DEFINER SET search_path FROM CURRENT AS $$
    INSERT INTO token_revocations (token_id) VALUES (p_id)
    ON CONFLICT (token_id) DO NOTHING RETURNING revoked_at
$$;

-- Use a registration token for the registration `p_event_hash` of `p_org`, in the
-- caller's transaction. Answers 'ok' (the use is recorded), or why not without
-- writing anything: 'unknown', 'wrong-kind', 'revoked', 'used'.
CREATE FUNCTION ledger_use_registration_token(p_hash bytea, p_org text, p_event_hash bytea)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    t_id   text;
    t_kind text;
BEGIN
    SELECT id, kind INTO t_id, t_kind FROM tokens WHERE token_hash = p_hash;
    IF NOT FOUND THEN
        RETURN 'unknown';
    END IF;
    IF t_kind <> 'registration' THEN
        RETURN 'wrong-kind';
    END IF;
    IF EXISTS (SELECT 1 FROM token_revocations WHERE token_id = t_id) THEN
        RETURN 'revoked';
    END IF;
    INSERT INTO registration_token_uses (token_id, org_id, event_hash)
    VALUES (t_id, p_org, p_event_hash) ON CONFLICT (token_id) DO NOTHING;
    IF NOT FOUND THEN
        RETURN 'used';
    END IF;
    RETURN 'ok';
END
$$;

REVOKE ALL ON FUNCTION ledger_issue_token(text, bytea, text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ledger_revoke_token(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ledger_use_registration_token(bytea, text, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ledger_issue_token(text, bytea, text, text, text) TO ledger_writer;
GRANT EXECUTE ON FUNCTION ledger_revoke_token(text) TO ledger_writer;
GRANT EXECUTE ON FUNCTION ledger_use_registration_token(bytea, text, bytea) TO ledger_writer;

-- The runtime login the server makes for itself (ledger/roles.py): its role name and
-- password, readable by the migrating (admin) role only.
CREATE TABLE ledger_runtime_login (
    role_name   text PRIMARY KEY,
    password    text NOT NULL
);
REVOKE ALL ON ledger_runtime_login FROM PUBLIC;

-- Read models: what the agreements say now, their audit history, and each organization's
-- portfolio of commitments. Unlike history, these tables are derived: `projections`
-- rebuilds them from the events alone, so the application may UPDATE, DELETE and
-- TRUNCATE them and they carry no append-only triggers. The columns are listed in the
-- same order in `projections/sql.py` (a test keeps the two in step).
--
-- They are UNLOGGED, checkpoint included: derived data needs no WAL (a rebuild writes
-- about half as much), and after a server crash PostgreSQL empties all of them
-- together, so the projection simply starts again from position 0. The price: they are
-- not replicated to standbys (run the projection where you read it).
--
-- Times the actors claim (issued_at of the event that set them) are timestamptz; the
-- ledger's own time is `updated_at` / `recorded_at`. Amounts are numeric, with the unit
-- beside them; a value that is not a well-formed amount or date is NULL.

-- Where each projection stands: `position` is the next log position to apply, i.e. the
-- number of log entries already applied (0 = nothing yet). It is updated in the same
-- transaction as the read-model rows it accounts for.
CREATE UNLOGGED TABLE projection_checkpoint (
    name        text    PRIMARY KEY,
    position    bigint  NOT NULL CHECK (position >= 0)
);
INSERT INTO projection_checkpoint (name, position) VALUES ('agreements', 0);

-- The current agreement, one row per drafted agreement stream.
-- status: draft (never fully ratified), in_force, suspended, terminated.
CREATE UNLOGGED TABLE agreements (
    agreement_id      text        PRIMARY KEY,
    title             text        NOT NULL,
    purpose           text        NOT NULL,
    binding           boolean     NOT NULL,
    public            boolean     NOT NULL,
    status            text        NOT NULL,
    status_reason     text,
    drafted_by        text        NOT NULL,
    drafted_at        timestamptz NOT NULL,
    current_stage     text,
    party_count       integer     NOT NULL,
    terms_version     integer     NOT NULL,
    terms_hash        text        NOT NULL,
    terms_pending     boolean     NOT NULL,
    in_force_version  integer,
    in_force_hash     text,
    in_force_since    timestamptz,
    last_version      integer     NOT NULL,
    last_position     bigint      NOT NULL,
    updated_at        timestamptz NOT NULL
);
CREATE INDEX agreements_status_idx ON agreements (status);

-- status: party, invited (pending invitation; may also be a former party), former.
CREATE UNLOGGED TABLE agreement_parties (
    agreement_id       text        NOT NULL,
    org                text        NOT NULL,
    status             text        NOT NULL,
    invited_by         text,
    joined_at          timestamptz,
    porteur            text,
    porteur_since      timestamptz,
    left_at            timestamptz,
    effective_on       date,
    withdrawal_reason  text,
    PRIMARY KEY (agreement_id, org)
);
CREATE INDEX agreement_parties_org_idx ON agreement_parties (org);

-- addressed_to: as written, NULL for "all"; addressees: the current parties it goes to.
CREATE UNLOGGED TABLE agreement_expectations (
    agreement_id       text        NOT NULL,
    expectation_id     text        NOT NULL,
    holder             text        NOT NULL,
    text               text        NOT NULL,
    addressed_to       text[],
    addressees         text[]      NOT NULL,
    revision           integer     NOT NULL,
    content_hash       text        NOT NULL,
    stated_at          timestamptz NOT NULL,
    withdrawn          boolean     NOT NULL,
    withdrawal_reason  text,
    shared             boolean     NOT NULL,
    acknowledged       integer     NOT NULL,
    addressee_count    integer     NOT NULL,
    PRIMARY KEY (agreement_id, expectation_id)
);

-- Acknowledgements of the current text only (they lapse on revision).
CREATE UNLOGGED TABLE agreement_expectation_acks (
    agreement_id     text        NOT NULL,
    expectation_id   text        NOT NULL,
    org              text        NOT NULL,
    acknowledged_at  timestamptz NOT NULL,
    addressee        boolean     NOT NULL,
    PRIMARY KEY (agreement_id, expectation_id, org)
);

CREATE UNLOGGED TABLE agreement_roles (
    agreement_id  text NOT NULL,
    role_id       text NOT NULL,
    name          text NOT NULL,
    description   text NOT NULL,
    assignee      text NOT NULL,
    proposed_by   text NOT NULL,
    status        text NOT NULL,
    person        text,
    reason        text,
    PRIMARY KEY (agreement_id, role_id)
);

-- provider_value: the provider's declared value of what it gives. The receivers'
-- declared values are in agreement_commitment_receivers; the two are never summed.
-- fulfilled / confirmed: totals of the fulfilments in the commitment's unit.
-- status: active, fulfilled (fulfilled >= amount), withdrawn.
CREATE UNLOGGED TABLE agreement_commitments (
    agreement_id         text        NOT NULL,
    commitment_id        text        NOT NULL,
    provider             text        NOT NULL,
    receiver             text        NOT NULL,
    category             text        NOT NULL,
    description          text        NOT NULL,
    amount               numeric,
    unit                 text        NOT NULL,
    period_start         date,
    period_end           date,
    conditions           text        NOT NULL,
    provider_value       numeric,
    provider_value_unit  text,
    fair_value           numeric,
    fair_value_unit      text,
    fair_value_method    text,
    offered_at           timestamptz NOT NULL,
    amendments           integer     NOT NULL,
    status               text        NOT NULL,
    withdrawal_reason    text,
    fulfilments          integer     NOT NULL,
    fulfilled            numeric     NOT NULL,
    confirmed            numeric     NOT NULL,
    PRIMARY KEY (agreement_id, commitment_id)
);
CREATE INDEX agreement_commitments_provider_idx ON agreement_commitments (provider);

-- The receiving side of each commitment: the receiver, or for "collective" every
-- current party but the provider (receiving = true), plus anyone who declared a value
-- earlier and no longer receives (receiving = false). value: that org's own declaration.
CREATE UNLOGGED TABLE agreement_commitment_receivers (
    agreement_id   text    NOT NULL,
    commitment_id  text    NOT NULL,
    org            text    NOT NULL,
    receiving      boolean NOT NULL,
    value          numeric,
    value_unit     text,
    PRIMARY KEY (agreement_id, commitment_id, org)
);
CREATE INDEX agreement_commitment_receivers_org_idx ON agreement_commitment_receivers (org);

-- status: contested (some receiver contests it), confirmed (some receiver confirmed it
-- and none contests it), recorded (no word yet). confirmed_by / contested_by: each
-- receiving org's latest word (the reasons are in the audit history).
CREATE UNLOGGED TABLE agreement_fulfilments (
    agreement_id     text        NOT NULL,
    fulfilment_id    text        NOT NULL,
    commitment_id    text        NOT NULL,
    provider         text        NOT NULL,
    amount           numeric,
    unit             text        NOT NULL,
    period_start     date,
    period_end       date,
    note             text        NOT NULL,
    evidence_sha256  text,
    reported_at      timestamptz NOT NULL,
    status           text        NOT NULL,
    confirmed_by     text[]      NOT NULL,
    contested_by     text[]      NOT NULL,
    PRIMARY KEY (agreement_id, fulfilment_id)
);

-- latest_*: the measure recorded last.
CREATE UNLOGGED TABLE agreement_indicators (
    agreement_id            text        NOT NULL,
    indicator_id            text        NOT NULL,
    name                    text        NOT NULL,
    unit                    text        NOT NULL,
    method                  text        NOT NULL,
    target                  numeric,
    defined_by              text        NOT NULL,
    defined_at              timestamptz NOT NULL,
    measures                integer     NOT NULL,
    latest_measurement_id   text,
    latest_value            numeric,
    latest_period_start     date,
    latest_period_end       date,
    latest_evidence_sha256  text,
    latest_by               text,
    latest_at               timestamptz,
    PRIMARY KEY (agreement_id, indicator_id)
);

-- ordinal: the stage's place in the workshop's order (1..6).
CREATE UNLOGGED TABLE agreement_stages (
    agreement_id  text        NOT NULL,
    stage         text        NOT NULL,
    ordinal       smallint,
    round         integer     NOT NULL,
    started_at    timestamptz NOT NULL,
    started_by    text        NOT NULL,
    complete      boolean     NOT NULL,
    completed_at  timestamptz,
    acknowledged  integer     NOT NULL,
    PRIMARY KEY (agreement_id, stage)
);

-- Acknowledgements of the current round; party: the org is a current party.
CREATE UNLOGGED TABLE agreement_stage_acks (
    agreement_id     text        NOT NULL,
    stage            text        NOT NULL,
    org              text        NOT NULL,
    acknowledged_at  timestamptz NOT NULL,
    party            boolean     NOT NULL,
    PRIMARY KEY (agreement_id, stage, org)
);

-- Every ratification, per party and terms version, with where the log holds it.
-- in_force: one of the signatures that put the version in force now.
CREATE UNLOGGED TABLE agreement_ratifications (
    agreement_id    text        NOT NULL,
    org             text        NOT NULL,
    terms_version   bigint      NOT NULL,
    state_hash      text        NOT NULL,
    key_id          text        NOT NULL,
    position        bigint,
    stream_version  integer     NOT NULL,
    ratified_at     timestamptz NOT NULL,
    in_force        boolean     NOT NULL,
    PRIMARY KEY (agreement_id, org, terms_version)
);

CREATE UNLOGGED TABLE agreement_consents (
    agreement_id       text        NOT NULL,
    consent_id         text        NOT NULL,
    org                text        NOT NULL,
    trust_id           text        NOT NULL,
    purpose            text        NOT NULL,
    scope              text[]      NOT NULL,
    licence            text        NOT NULL,
    expires_on         date,
    given_at           timestamptz NOT NULL,
    withdrawn_at       timestamptz,
    withdrawal_reason  text,
    PRIMARY KEY (agreement_id, consent_id)
);
CREATE INDEX agreement_consents_trust_idx ON agreement_consents (trust_id);

-- The derived part of the audit history: one row per event of an agreement stream,
-- with a short human summary. applied: the domain could read the event (false for a
-- type or data it does not know, which changes nothing). terms_version: after it.
-- The signed facts themselves stay in `events`; the view below joins the two.
CREATE UNLOGGED TABLE agreement_event_summaries (
    agreement_id    text    NOT NULL,
    stream_version  integer NOT NULL,
    position        bigint  NOT NULL,
    applied         boolean NOT NULL,
    terms_version   integer NOT NULL,
    summary         text    NOT NULL,
    PRIMARY KEY (agreement_id, stream_version)
);

-- The audit history: one row per agreement event, what was signed and what it changed.
CREATE VIEW agreement_history AS
SELECT s.position,
       s.agreement_id,
       s.stream_version,
       e.recorded_at,
       e.issued_at,
       e.type,
       e.actor,
       e.key_id,
       encode(e.event_hash, 'hex') AS event_hash,
       s.applied,
       s.terms_version,
       s.summary,
       e.statement -> 'data' AS data
FROM agreement_event_summaries s
JOIN events e ON e.stream = 'agreement/' || s.agreement_id AND e.version = s.stream_version;

-- The organization portfolio: every commitment an organization gives or receives, with
-- the value *that organization* declared for it (provider's value for what it gives,
-- its own receiver's value for what it receives). The other side's value stays in the
-- agreement tables and is never added to these.
CREATE VIEW org_commitments AS
SELECT c.provider AS org,
       'given' AS direction,
       c.agreement_id,
       c.commitment_id,
       c.receiver AS counterpart,
       c.category,
       c.amount,
       c.unit,
       c.period_start,
       c.period_end,
       c.status,
       c.provider_value AS declared_value,
       c.provider_value_unit AS declared_unit,
       c.fair_value,
       c.fair_value_unit,
       c.fair_value_method,
       c.fulfilled,
       c.confirmed
FROM agreement_commitments c
UNION ALL
SELECT r.org,
       'received',
       c.agreement_id,
       c.commitment_id,
       c.provider,
       c.category,
       c.amount,
       c.unit,
       c.period_start,
       c.period_end,
       c.status,
       r.value,
       r.value_unit,
       c.fair_value,
       c.fair_value_unit,
       c.fair_value_method,
       c.fulfilled,
       c.confirmed
FROM agreement_commitment_receivers r
JOIN agreement_commitments c USING (agreement_id, commitment_id)
WHERE r.receiving;

-- Totals per organization, direction and unit of the values each organization declared
-- itself, over commitments that are not withdrawn (declared_by = org, always).
CREATE VIEW org_declared_totals AS
SELECT org,
       org AS declared_by,
       direction,
       declared_unit AS unit,
       sum(declared_value) AS total,
       count(*) AS commitments
FROM org_commitments
WHERE status <> 'withdrawn' AND declared_value IS NOT NULL
GROUP BY org, direction, declared_unit;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'projection_checkpoint', 'agreements', 'agreement_parties',
        'agreement_expectations', 'agreement_expectation_acks', 'agreement_roles',
        'agreement_commitments', 'agreement_commitment_receivers', 'agreement_fulfilments',
        'agreement_indicators', 'agreement_stages',
        'agreement_stage_acks', 'agreement_ratifications', 'agreement_consents',
        'agreement_event_summaries']
    LOOP
        EXECUTE format('REVOKE ALL ON %I FROM PUBLIC', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON %I TO ledger_writer', t);
    END LOOP;
    FOREACH t IN ARRAY ARRAY['agreement_history', 'org_commitments', 'org_declared_totals']
    LOOP
        EXECUTE format('REVOKE ALL ON %I FROM PUBLIC', t);
        EXECUTE format('GRANT SELECT ON %I TO ledger_writer', t);
    END LOOP;
END
$$;

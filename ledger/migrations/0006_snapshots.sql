-- Snapshots of agreement states: an agreement's state folded up to a stream version,
-- so that a read folds only the events after the newest snapshot at or before the
-- version it wants (not the whole stream).
--
-- A snapshot is derived data, like the read models: the application may INSERT and
-- DELETE them, any of them may be deleted (TRUNCATE: they are made again), and they
-- carry no append-only triggers. They are never trusted as stored: `seal` is an
-- HMAC-SHA256, under a key derived from the log operator's key (which the database
-- does not hold), over the format, stream, version, the hash of the event at that
-- version and the state bytes. A row whose seal, state hash or event hash does not
-- match is discarded and the state refolded from the events (docs/PERFORMANCE.md).
-- Logged (unlike the read models): a streaming replica serving reads finds them too.
-- `format`: the encoding of `state`; a reader ignores every other format, so a change
-- of the state's shape only needs a new format number.
CREATE TABLE agreement_snapshots (
    stream          text        NOT NULL,
    version         integer     NOT NULL CHECK (version >= 1),
    event_hash      bytea       NOT NULL,
    format          integer     NOT NULL,
    state           bytea       NOT NULL,
    state_hash      text        NOT NULL,
    seal            bytea       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stream, format, version)
);

REVOKE ALL ON agreement_snapshots FROM PUBLIC;
GRANT SELECT, INSERT, DELETE, TRUNCATE ON agreement_snapshots TO ledger_writer;

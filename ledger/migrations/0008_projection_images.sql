-- Images of the projection runner's folded agreements (projections/snapshots.py): a
-- runner that does not hold an agreement reloads it from its image and folds only the
-- events after it, so a cold agreement costs the same in its first month and in its
-- tenth year. One row per agreement, rewritten in the runner's step transaction (so it
-- stands at a position the read models' rows stand at too); a rebuild empties it.
--
-- Derived data like the read models: the application may INSERT, UPDATE, DELETE and
-- TRUNCATE it; nothing of history is here. Never trusted as stored: `seal` is an
-- HMAC-SHA256, under a key derived from the log operator's key (which the database
-- does not hold), over the format, agreement, version, position and image bytes; a row
-- that fails it is discarded and the agreement refolded from its signed events.
-- `format`: the image's encoding; a runner ignores every other format.
CREATE TABLE projection_images (
    agreement_id    text        PRIMARY KEY,
    version         integer     NOT NULL CHECK (version >= 1),
    position        bigint      NOT NULL CHECK (position >= 0),
    format          integer     NOT NULL,
    image           bytea       NOT NULL,
    seal            bytea       NOT NULL
);

REVOKE ALL ON projection_images FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON projection_images TO ledger_writer;

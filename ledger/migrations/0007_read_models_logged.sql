-- Read models replicated: the projections' tables become LOGGED, so that PostgreSQL's
-- streaming replicas hold them like everything else and serve the agreements list
-- (LEDGER_REPLICA_URLS, docs/DEPLOYMENT.md "Read replicas"). The projection runner
-- still writes them on the primary only. The price: their writes go through the WAL
-- (a rebuild writes about twice as much), and a crash no longer empties them (the
-- runner goes on from its checkpoint, committed with the rows it accounts for).
-- Parents first: a logged table may not reference an unlogged one.
ALTER TABLE projection_checkpoint SET LOGGED;
ALTER TABLE agreements SET LOGGED;
ALTER TABLE agreement_parties SET LOGGED;
ALTER TABLE agreement_expectations SET LOGGED;
ALTER TABLE agreement_expectation_acks SET LOGGED;
ALTER TABLE agreement_roles SET LOGGED;
ALTER TABLE agreement_commitments SET LOGGED;
ALTER TABLE agreement_commitment_receivers SET LOGGED;
ALTER TABLE agreement_fulfilments SET LOGGED;
ALTER TABLE agreement_indicators SET LOGGED;
ALTER TABLE agreement_stages SET LOGGED;
ALTER TABLE agreement_stage_acks SET LOGGED;
ALTER TABLE agreement_ratifications SET LOGGED;
ALTER TABLE agreement_consents SET LOGGED;
ALTER TABLE agreement_event_summaries SET LOGGED;

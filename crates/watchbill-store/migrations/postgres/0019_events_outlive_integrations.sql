-- An accepted event is part of its incident's history, which is kept: deleting the integration
-- that sent it no longer deletes it (the incident's alerts stayed, their events went). Neither
-- column is a foreign key any more. The intake writer sets both from rows it read or wrote in
-- the same transaction, and incidents are never deleted; the checks were two queries per
-- accepted event, the larger part of the time PostgreSQL spent recording events (BENCHMARKS.md).
ALTER TABLE events
    DROP CONSTRAINT events_integration_id_fkey,
    DROP CONSTRAINT events_incident_id_fkey;

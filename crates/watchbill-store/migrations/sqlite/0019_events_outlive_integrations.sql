-- An accepted event is part of its incident's history, which is kept: deleting the integration
-- that sent it no longer deletes it (the incident's alerts stayed, their events went). Neither
-- column is a foreign key any more. The intake writer sets both from rows it read or wrote in
-- the same transaction, and incidents are never deleted. SQLite cannot drop a constraint, so
-- the table is built again, ids and all, with the same indexes.
CREATE TABLE events_kept (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    integration_id INTEGER NOT NULL,
    incident_id INTEGER,
    received_at INTEGER NOT NULL,
    action TEXT NOT NULL,
    dedup_key TEXT NOT NULL,
    summary TEXT NOT NULL,
    severity TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT '',
    outcome TEXT NOT NULL,
    payload TEXT NOT NULL
);
INSERT INTO events_kept (id, integration_id, incident_id, received_at, action, dedup_key, summary, severity, source, outcome, payload)
    SELECT id, integration_id, incident_id, received_at, action, dedup_key, summary, severity, source, outcome, payload FROM events;
-- Ids are never given twice, not even those of events deleted before.
UPDATE sqlite_sequence SET seq = MAX(seq, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0))
WHERE name = 'events_kept';
DROP TABLE events;
ALTER TABLE events_kept RENAME TO events;
CREATE INDEX events_by_incident ON events (incident_id, id);
CREATE INDEX events_changes ON events (id) WHERE action = 'change';

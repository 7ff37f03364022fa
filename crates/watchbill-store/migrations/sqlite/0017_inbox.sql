-- Accepted events waiting to be folded into incidents. Intake appends here and answers once
-- the append commits; the engine takes rows in order, applies them, and deletes them in the
-- same transaction.
CREATE TABLE inbox (
    id INTEGER PRIMARY KEY,
    integration_id INTEGER NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    received_at INTEGER NOT NULL,
    action TEXT NOT NULL,
    dedup_key TEXT NOT NULL,
    summary TEXT NOT NULL,
    severity TEXT NOT NULL,
    source TEXT NOT NULL,
    payload TEXT NOT NULL
);

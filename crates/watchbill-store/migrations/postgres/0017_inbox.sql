-- Accepted events waiting to be folded into incidents. Intake appends here and answers once
-- the append commits; the engine takes rows in order, applies them, and deletes them in the
-- same transaction.
CREATE TABLE inbox (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    integration_id BIGINT NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    received_at BIGINT NOT NULL,
    action TEXT NOT NULL,
    dedup_key TEXT NOT NULL,
    summary TEXT NOT NULL,
    severity TEXT NOT NULL,
    source TEXT NOT NULL,
    payload TEXT NOT NULL
);

-- One row whose lock a fold holds: events are folded by one transaction at a time, across
-- every server, so each dedup key's events apply in the order they were accepted.
CREATE TABLE inbox_folder (id INTEGER PRIMARY KEY);
INSERT INTO inbox_folder (id) VALUES (1);

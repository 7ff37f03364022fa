-- The designated addresses, and every message received through them (kept whole).
CREATE TABLE mail_addresses (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    address TEXT NOT NULL UNIQUE,
    team_id INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    service_id INTEGER REFERENCES services (id) ON DELETE SET NULL,
    mode TEXT NOT NULL,
    priority TEXT,
    labels TEXT NOT NULL DEFAULT '',
    due_days INTEGER,
    allow TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);

CREATE TABLE mail_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    outcome TEXT NOT NULL,
    ticket_id INTEGER REFERENCES tickets (id) ON DELETE SET NULL,
    incident_id INTEGER REFERENCES incidents (id) ON DELETE SET NULL,
    raw BLOB NOT NULL,
    received_at INTEGER NOT NULL
);
CREATE INDEX mail_messages_by_message_id ON mail_messages (message_id);
CREATE INDEX mail_messages_by_sender ON mail_messages (sender, received_at);

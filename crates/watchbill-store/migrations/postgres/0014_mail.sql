-- The designated addresses, and every message received through them (kept whole).
CREATE TABLE mail_addresses (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    address TEXT NOT NULL UNIQUE,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    service_id BIGINT REFERENCES services (id) ON DELETE SET NULL,
    mode TEXT NOT NULL,
    priority TEXT,
    labels TEXT NOT NULL DEFAULT '',
    due_days BIGINT,
    allow TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);

CREATE TABLE mail_messages (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    outcome TEXT NOT NULL,
    ticket_id BIGINT REFERENCES tickets (id) ON DELETE SET NULL,
    incident_id BIGINT REFERENCES incidents (id) ON DELETE SET NULL,
    raw BYTEA NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE INDEX mail_messages_by_message_id ON mail_messages (message_id);
CREATE INDEX mail_messages_by_sender ON mail_messages (sender, received_at);

-- The paging loop: services and their integrations, escalation policies, contact methods and
-- notification rules, incidents with their alerts and timeline, and the engine's durable work:
-- escalation timers and the notification outbox.

CREATE TABLE escalation_policies (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    team_id INTEGER NOT NULL REFERENCES teams (id),
    name TEXT NOT NULL,
    repeat_count INTEGER NOT NULL DEFAULT 0,
    -- JSON: [{"delay_seconds": 300, "targets": [{"kind": "schedule", "id": 1}]}]
    levels TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (team_id, name)
);

CREATE TABLE services (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    team_id INTEGER NOT NULL REFERENCES teams (id),
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    escalation_policy_id INTEGER REFERENCES escalation_policies (id),
    default_urgency TEXT NOT NULL DEFAULT 'high',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE integrations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id INTEGER NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    secret TEXT NOT NULL UNIQUE,
    rate_per_minute INTEGER NOT NULL DEFAULT 1200,
    created_at INTEGER NOT NULL
);

CREATE TABLE maintenance_windows (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id INTEGER NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    start_at INTEGER NOT NULL,
    end_at INTEGER,
    description TEXT NOT NULL DEFAULT ''
);

CREATE TABLE contact_methods (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    address TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    UNIQUE (user_id, kind, address)
);

CREATE TABLE notification_rules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    contact_method_id INTEGER NOT NULL REFERENCES contact_methods (id) ON DELETE CASCADE,
    delay_seconds INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE incidents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id INTEGER NOT NULL REFERENCES services (id),
    dedup_key TEXT NOT NULL,
    title TEXT NOT NULL,
    status TEXT NOT NULL,
    urgency TEXT NOT NULL,
    alert_count INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    last_alert_at INTEGER NOT NULL,
    acknowledged_at INTEGER,
    resolved_at INTEGER,
    escalation_level INTEGER NOT NULL DEFAULT 0,
    escalation_pass INTEGER NOT NULL DEFAULT 0
);
-- One open incident per service and dedup key.
CREATE UNIQUE INDEX incidents_open_dedup ON incidents (service_id, dedup_key) WHERE status <> 'resolved';
CREATE INDEX incidents_by_status ON incidents (status, id);

CREATE TABLE incident_assignees (
    incident_id INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id),
    PRIMARY KEY (incident_id, user_id)
);

-- Every accepted event, whatever it did: the durable record of intake.
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    integration_id INTEGER NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    incident_id INTEGER REFERENCES incidents (id),
    received_at INTEGER NOT NULL,
    action TEXT NOT NULL,
    dedup_key TEXT NOT NULL,
    summary TEXT NOT NULL,
    severity TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT '',
    outcome TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX events_by_incident ON events (incident_id, id);

CREATE TABLE incident_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL
);
CREATE INDEX incident_log_by_incident ON incident_log (incident_id, id);

-- The next escalation step of each incident still escalating.
CREATE TABLE escalation_timers (
    incident_id INTEGER PRIMARY KEY REFERENCES incidents (id) ON DELETE CASCADE,
    due_at INTEGER NOT NULL,
    level INTEGER NOT NULL,
    pass INTEGER NOT NULL
);
CREATE INDEX escalation_timers_due ON escalation_timers (due_at);

-- Outgoing notifications. The idempotency key makes a second write of the same send a no-op.
CREATE TABLE notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    incident_id INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    address TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    due_at INTEGER NOT NULL,
    last_error TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    sent_at INTEGER
);
CREATE INDEX notifications_due ON notifications (status, due_at);

-- Server-wide secrets shared by every node, such as the key that signs acknowledge links and
-- outgoing webhooks. Created on first start.
CREATE TABLE server_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- The paging loop: services and their integrations, escalation policies, contact methods and
-- notification rules, incidents with their alerts and timeline, and the engine's durable work:
-- escalation timers and the notification outbox.

CREATE TABLE escalation_policies (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id),
    name TEXT NOT NULL,
    repeat_count BIGINT NOT NULL DEFAULT 0,
    -- JSON: [{"delay_seconds": 300, "targets": [{"kind": "schedule", "id": 1}]}]
    levels TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (team_id, name)
);

CREATE TABLE services (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id),
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    escalation_policy_id BIGINT REFERENCES escalation_policies (id),
    default_urgency TEXT NOT NULL DEFAULT 'high',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE integrations (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    service_id BIGINT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    secret TEXT NOT NULL UNIQUE,
    rate_per_minute BIGINT NOT NULL DEFAULT 1200,
    created_at BIGINT NOT NULL
);

CREATE TABLE maintenance_windows (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    service_id BIGINT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    start_at BIGINT NOT NULL,
    end_at BIGINT,
    description TEXT NOT NULL DEFAULT ''
);

CREATE TABLE contact_methods (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    address TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    UNIQUE (user_id, kind, address)
);

CREATE TABLE notification_rules (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    contact_method_id BIGINT NOT NULL REFERENCES contact_methods (id) ON DELETE CASCADE,
    delay_seconds BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE incidents (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    service_id BIGINT NOT NULL REFERENCES services (id),
    dedup_key TEXT NOT NULL,
    title TEXT NOT NULL,
    status TEXT NOT NULL,
    urgency TEXT NOT NULL,
    alert_count BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    last_alert_at BIGINT NOT NULL,
    acknowledged_at BIGINT,
    resolved_at BIGINT,
    escalation_level BIGINT NOT NULL DEFAULT 0,
    escalation_pass BIGINT NOT NULL DEFAULT 0
);
-- One open incident per service and dedup key.
CREATE UNIQUE INDEX incidents_open_dedup ON incidents (service_id, dedup_key) WHERE status <> 'resolved';
CREATE INDEX incidents_by_status ON incidents (status, id);

CREATE TABLE incident_assignees (
    incident_id BIGINT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id),
    PRIMARY KEY (incident_id, user_id)
);

-- Every accepted event, whatever it did: the durable record of intake.
CREATE TABLE events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    integration_id BIGINT NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    incident_id BIGINT REFERENCES incidents (id),
    received_at BIGINT NOT NULL,
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
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id BIGINT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL
);
CREATE INDEX incident_log_by_incident ON incident_log (incident_id, id);

-- The next escalation step of each incident still escalating.
CREATE TABLE escalation_timers (
    incident_id BIGINT PRIMARY KEY REFERENCES incidents (id) ON DELETE CASCADE,
    due_at BIGINT NOT NULL,
    level BIGINT NOT NULL,
    pass BIGINT NOT NULL
);
CREATE INDEX escalation_timers_due ON escalation_timers (due_at);

-- Outgoing notifications. The idempotency key makes a second write of the same send a no-op.
CREATE TABLE notifications (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    incident_id BIGINT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    address TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts BIGINT NOT NULL DEFAULT 0,
    due_at BIGINT NOT NULL,
    last_error TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    sent_at BIGINT
);
CREATE INDEX notifications_due ON notifications (status, due_at);

-- Server-wide secrets shared by every node, such as the key that signs acknowledge links and
-- outgoing webhooks. Created on first start.
CREATE TABLE server_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

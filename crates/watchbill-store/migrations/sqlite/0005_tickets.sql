-- The ticket tracker: each team's ticket settings (key prefix and maintenance-duty filter),
-- tickets with labels, and every change to a ticket. The columns are the ones the core's
-- filter compiler writes SQL against (watchbill-core, tickets/filter/sql.rs).

CREATE TABLE ticket_settings (
    team_id INTEGER PRIMARY KEY REFERENCES teams (id) ON DELETE CASCADE,
    prefix TEXT NOT NULL UNIQUE,
    duty_filter TEXT NOT NULL
);

CREATE TABLE tickets (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    team_id INTEGER NOT NULL REFERENCES teams (id),
    team_key TEXT NOT NULL,
    number INTEGER NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL,
    priority INTEGER NOT NULL,
    status TEXT NOT NULL,
    due_date TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    resolved_at INTEGER,
    reporter_id INTEGER REFERENCES users (id),
    assignee_id INTEGER REFERENCES users (id),
    component TEXT,
    UNIQUE (team_key, number)
);
CREATE INDEX tickets_by_status ON tickets (status, priority);

CREATE TABLE ticket_labels (
    ticket_id INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    PRIMARY KEY (ticket_id, label)
);
CREATE INDEX ticket_labels_by_label ON ticket_labels (label, ticket_id);

CREATE TABLE ticket_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    field TEXT NOT NULL,
    old_value TEXT NOT NULL,
    new_value TEXT NOT NULL
);
CREATE INDEX ticket_history_by_ticket ON ticket_history (ticket_id, id);

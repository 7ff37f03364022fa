-- People, teams, schedules, overrides, API tokens and the audit log.
-- Times are Unix seconds (INTEGER). AUTOINCREMENT keeps ids from being reused, which the
-- resolver relies on: a larger override id is a newer override.

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    time_zone TEXT NOT NULL,
    photo_url TEXT,
    role TEXT NOT NULL,
    ics_token TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE teams (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE team_members (
    team_id INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id),
    PRIMARY KEY (team_id, user_id)
);

CREATE TABLE schedules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    team_id INTEGER NOT NULL REFERENCES teams (id),
    name TEXT NOT NULL,
    time_zone TEXT NOT NULL,
    follows_schedule_id INTEGER REFERENCES schedules (id),
    follows_offset INTEGER NOT NULL DEFAULT 0,
    ics_token TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (team_id, name)
);

CREATE TABLE layers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    schedule_id INTEGER NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    turn TEXT NOT NULL,
    handoff TEXT NOT NULL,
    start_at INTEGER NOT NULL,
    end_at INTEGER,
    restrictions TEXT NOT NULL DEFAULT '[]',
    participant_offset INTEGER NOT NULL DEFAULT 0,
    UNIQUE (schedule_id, name)
);

CREATE TABLE layer_participants (
    layer_id INTEGER NOT NULL REFERENCES layers (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id),
    PRIMARY KEY (layer_id, position)
);

CREATE TABLE overrides (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    schedule_id INTEGER NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    start_at INTEGER NOT NULL,
    end_at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id),
    other_user_id INTEGER REFERENCES users (id),
    note TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);
CREATE INDEX overrides_by_schedule_and_end ON overrides (schedule_id, end_at);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    user_id INTEGER REFERENCES users (id) ON DELETE CASCADE,
    secret_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL
);

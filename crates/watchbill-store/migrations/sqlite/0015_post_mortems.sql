-- Post-mortems of incidents, in Markdown, with the figures computed when they were written.
CREATE TABLE post_mortems (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    team_id INTEGER NOT NULL REFERENCES teams (id),
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    figures TEXT NOT NULL,
    status TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    published_at INTEGER
);

CREATE TABLE post_mortem_incidents (
    post_mortem_id INTEGER NOT NULL REFERENCES post_mortems (id) ON DELETE CASCADE,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    PRIMARY KEY (post_mortem_id, incident_id)
);

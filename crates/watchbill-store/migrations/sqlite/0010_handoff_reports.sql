-- The handoff report written for each team at each handoff of its duty schedule; the unique
-- key makes the write, and the webhooks announcing it, happen once however many servers run.
CREATE TABLE handoff_reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    team_id INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    week_end INTEGER NOT NULL,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (team_id, week_end)
);

-- The handoff report written for each team at each handoff of its duty schedule; the unique
-- key makes the write, and the webhooks announcing it, happen once however many servers run.
CREATE TABLE handoff_reports (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    week_end BIGINT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (team_id, week_end)
);

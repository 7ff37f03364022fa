-- Saved ticket filters, a team's or a person's.
CREATE TABLE saved_filters (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id BIGINT REFERENCES teams (id) ON DELETE CASCADE,
    user_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    query TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    CHECK ((team_id IS NULL) <> (user_id IS NULL))
);
CREATE UNIQUE INDEX saved_filters_by_team ON saved_filters (team_id, name) WHERE team_id IS NOT NULL;
CREATE UNIQUE INDEX saved_filters_by_user ON saved_filters (user_id, name) WHERE user_id IS NOT NULL;

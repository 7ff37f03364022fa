-- Commits pushed to the team's repositories, from GitHub, GitLab or Gitea push webhooks, and
-- the tickets their messages name.
CREATE TABLE commits (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    repository TEXT NOT NULL,
    sha TEXT NOT NULL,
    author_email TEXT NOT NULL,
    message TEXT NOT NULL,
    committed_at BIGINT NOT NULL,
    -- Newline-separated paths.
    added TEXT NOT NULL,
    modified TEXT NOT NULL,
    UNIQUE (team_id, repository, sha)
);
CREATE INDEX commits_by_time ON commits (team_id, committed_at);

CREATE TABLE commit_tickets (
    commit_id BIGINT NOT NULL REFERENCES commits (id) ON DELETE CASCADE,
    ticket_id BIGINT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    PRIMARY KEY (commit_id, ticket_id)
);

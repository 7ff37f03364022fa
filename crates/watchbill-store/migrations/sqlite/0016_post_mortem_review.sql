-- Post-mortems reviewed, tagged, searched and sent round: each team's template, distribution
-- list and reminder settings; reviewers and comments on drafts; full-text search; and HTML
-- parts for notices (a published post-mortem is mailed with both parts).

CREATE TABLE post_mortem_settings (
    team_id INTEGER PRIMARY KEY REFERENCES teams (id) ON DELETE CASCADE,
    template TEXT NOT NULL,
    -- Addresses, one per line, that hear of every published post-mortem besides the team.
    distribution TEXT NOT NULL DEFAULT '',
    -- How long after a high-urgency incident is resolved its responders are reminded that it
    -- has no post-mortem.
    remind_after_seconds INTEGER NOT NULL DEFAULT 172800,
    -- How old an unpublished draft gets before its owner is reminded.
    draft_reminder_days INTEGER NOT NULL DEFAULT 7
);

ALTER TABLE post_mortems ADD COLUMN tags TEXT NOT NULL DEFAULT '';
ALTER TABLE post_mortems ADD COLUMN owner_id INTEGER REFERENCES users (id);
CREATE INDEX post_mortems_by_status ON post_mortems (status, created_at);
CREATE INDEX post_mortem_incidents_by_incident ON post_mortem_incidents (incident_id);

CREATE TABLE post_mortem_reviewers (
    post_mortem_id INTEGER NOT NULL REFERENCES post_mortems (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id),
    PRIMARY KEY (post_mortem_id, user_id)
);

CREATE TABLE post_mortem_comments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    post_mortem_id INTEGER NOT NULL REFERENCES post_mortems (id) ON DELETE CASCADE,
    at INTEGER NOT NULL,
    author TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX post_mortem_comments_by_post_mortem ON post_mortem_comments (post_mortem_id, id);

-- The search index follows the table through triggers (FTS5 with external content); titles
-- weigh most, then tags, then the body (the weights are given at query time).
CREATE VIRTUAL TABLE post_mortem_search USING fts5 (
    title, tags, body,
    content = 'post_mortems', content_rowid = 'id', tokenize = 'porter unicode61'
);
CREATE TRIGGER post_mortem_search_insert AFTER INSERT ON post_mortems BEGIN
    INSERT INTO post_mortem_search (rowid, title, tags, body) VALUES (new.id, new.title, new.tags, new.body);
END;
CREATE TRIGGER post_mortem_search_delete AFTER DELETE ON post_mortems BEGIN
    INSERT INTO post_mortem_search (post_mortem_search, rowid, title, tags, body)
    VALUES ('delete', old.id, old.title, old.tags, old.body);
END;
CREATE TRIGGER post_mortem_search_update AFTER UPDATE OF title, tags, body ON post_mortems BEGIN
    INSERT INTO post_mortem_search (post_mortem_search, rowid, title, tags, body)
    VALUES ('delete', old.id, old.title, old.tags, old.body);
    INSERT INTO post_mortem_search (rowid, title, tags, body) VALUES (new.id, new.title, new.tags, new.body);
END;
INSERT INTO post_mortem_search (post_mortem_search) VALUES ('rebuild');

ALTER TABLE notices ADD COLUMN html TEXT;

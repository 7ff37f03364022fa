-- Post-mortems reviewed, tagged, searched and sent round: each team's template, distribution
-- list and reminder settings; reviewers and comments on drafts; full-text search; and HTML
-- parts for notices (a published post-mortem is mailed with both parts).

CREATE TABLE post_mortem_settings (
    team_id BIGINT PRIMARY KEY REFERENCES teams (id) ON DELETE CASCADE,
    template TEXT NOT NULL,
    -- Addresses, one per line, that hear of every published post-mortem besides the team.
    distribution TEXT NOT NULL DEFAULT '',
    -- How long after a high-urgency incident is resolved its responders are reminded that it
    -- has no post-mortem.
    remind_after_seconds BIGINT NOT NULL DEFAULT 172800,
    -- How old an unpublished draft gets before its owner is reminded.
    draft_reminder_days BIGINT NOT NULL DEFAULT 7
);

ALTER TABLE post_mortems ADD COLUMN tags TEXT NOT NULL DEFAULT '';
ALTER TABLE post_mortems ADD COLUMN owner_id BIGINT REFERENCES users (id);
CREATE INDEX post_mortems_by_status ON post_mortems (status, created_at);
CREATE INDEX post_mortem_incidents_by_incident ON post_mortem_incidents (incident_id);

CREATE TABLE post_mortem_reviewers (
    post_mortem_id BIGINT NOT NULL REFERENCES post_mortems (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id),
    PRIMARY KEY (post_mortem_id, user_id)
);

CREATE TABLE post_mortem_comments (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    post_mortem_id BIGINT NOT NULL REFERENCES post_mortems (id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    author TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX post_mortem_comments_by_post_mortem ON post_mortem_comments (post_mortem_id, id);

-- The search document, kept by PostgreSQL itself: titles weigh most, then tags, then the body.
ALTER TABLE post_mortems ADD COLUMN search tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english'::regconfig, title), 'A')
    || setweight(to_tsvector('english'::regconfig, tags), 'B')
    || setweight(to_tsvector('english'::regconfig, body), 'C')
) STORED;
-- Without fast update, a search never reads a pending list of recent writes linearly: writes
-- are rare here, searches are not.
CREATE INDEX post_mortems_search ON post_mortems USING GIN (search) WITH (fastupdate = off);
-- The title and tags alone, for "seen before", in a narrow table of their own kept by a
-- trigger: a lookup reads hundreds of matching rows, and narrow rows sit many to a page.
CREATE TABLE post_mortem_titles (
    post_mortem_id BIGINT PRIMARY KEY REFERENCES post_mortems (id) ON DELETE CASCADE,
    title_search tsvector NOT NULL
);
CREATE INDEX post_mortem_titles_search ON post_mortem_titles USING GIN (title_search)
    WITH (fastupdate = off);
CREATE FUNCTION post_mortem_titles_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO post_mortem_titles (post_mortem_id, title_search)
    VALUES (NEW.id, to_tsvector('english'::regconfig, NEW.title || ' ' || NEW.tags))
    ON CONFLICT (post_mortem_id) DO UPDATE SET title_search = excluded.title_search;
    RETURN NEW;
END
$$;
CREATE TRIGGER post_mortem_titles_keep AFTER INSERT OR UPDATE OF title, tags ON post_mortems
    FOR EACH ROW EXECUTE FUNCTION post_mortem_titles_keep();
INSERT INTO post_mortem_titles (post_mortem_id, title_search)
SELECT id, to_tsvector('english'::regconfig, title || ' ' || tags) FROM post_mortems;
-- Ranking reads each matching document's vector; LZ4 decompresses it several times faster than
-- the default. A server built without LZ4 keeps the default.
DO $$
BEGIN
    ALTER TABLE post_mortems ALTER COLUMN search SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    NULL;
END
$$;

ALTER TABLE notices ADD COLUMN html TEXT;

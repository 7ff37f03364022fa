-- Comments on tickets, links from tickets to incidents and to other tickets, and whether a
-- team's new duty tickets go to its Captain On-Call.

CREATE TABLE ticket_comments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    at INTEGER NOT NULL,
    author TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX ticket_comments_by_ticket ON ticket_comments (ticket_id, id);

CREATE TABLE ticket_links (
    ticket_id INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    -- `incident` or `ticket`.
    kind TEXT NOT NULL,
    target_id INTEGER NOT NULL,
    PRIMARY KEY (ticket_id, kind, target_id)
);
CREATE INDEX ticket_links_by_target ON ticket_links (kind, target_id);

ALTER TABLE ticket_settings ADD COLUMN assign_to_captain INTEGER NOT NULL DEFAULT 0;

-- A counter that every change to users, teams, schedules, layers or overrides increments in
-- the same transaction, so any server can tell in one read whether its cached view of who is
-- on call is still current.
CREATE TABLE roster_revision (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    value BIGINT NOT NULL
);
INSERT INTO roster_revision (id, value) VALUES (1, 0);

-- A service's change events are listed newest first. They are a handful among all of a
-- service's events, so they get an index of their own, which the alerts that make up nearly
-- all events never write to.
CREATE INDEX events_changes ON events (id) WHERE action = 'change';

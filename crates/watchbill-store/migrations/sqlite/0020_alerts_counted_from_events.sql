-- On SQLite an incident's alert count is kept in two parts: the count on the incident's row,
-- and its events recorded with outcome 'alert_added' after `alerts_counted_through`, which
-- every read of the incident adds. A repeated alert then writes only its event; the incident's
-- row takes the alerts counted so far at most once every few seconds. Every count so far is on
-- its incident's row; an incident opened later starts at 0, before any of its events.
ALTER TABLE incidents ADD COLUMN alerts_counted_through INTEGER NOT NULL DEFAULT 0;
UPDATE incidents SET alerts_counted_through = (SELECT COALESCE(MAX(id), 0) FROM events);

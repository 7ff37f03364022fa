-- A low-urgency service can turn its alerts into duty tickets instead of pages.
ALTER TABLE services ADD COLUMN low_urgency_tickets BIGINT NOT NULL DEFAULT 0;

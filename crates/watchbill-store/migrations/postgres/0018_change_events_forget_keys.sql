-- A change event is shown as sent to anyone who may read its service, so what is kept of it
-- must not hold the integration's routing key (its secret). Events are now kept without it;
-- this takes it out of those kept before.
UPDATE events SET payload = (payload::jsonb - 'routing_key')::text
WHERE action = 'change' AND payload::jsonb ? 'routing_key';

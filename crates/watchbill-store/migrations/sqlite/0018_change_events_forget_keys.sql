-- A change event is shown as sent to anyone who may read its service, so what is kept of it
-- must not hold the integration's routing key (its secret). Events are now kept without it;
-- this takes it out of those kept before.
UPDATE events SET payload = json_remove(payload, '$.routing_key')
WHERE action = 'change' AND json_valid(payload) AND json_type(payload, '$.routing_key') IS NOT NULL;

//! PostgreSQL's multi-row writes of the paging path: each column one array, so every
//! statement has one text whatever the number of rows, stays prepared, and is planned once.
//! The `VALUES` lists SQLite uses (`sqlite_rows.rs`) make a statement for every number of rows,
//! and PostgreSQL plans each of them afresh for its first five runs on a connection: a few
//! milliseconds each time on the machine of BENCHMARKS.md, against a fraction of one for the
//! arrays.

use jiff::Timestamp;
use sqlx::Row as _;
use watchbill_core::paging::Step;
use watchbill_core::{IncidentId, UserId};

use super::PostgresTx;
use crate::paging::NotificationInput;
use crate::shared_sql::seconds;

/// One column of the rows, as the array bound to its parameter.
fn column<'a, R, T>(rows: &'a [R], value: impl Fn(&'a R) -> T) -> Vec<T> {
    rows.iter().map(value).collect()
}

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// Records accepted events, each column one array: the events' integrations (`$1`),
/// incidents (`$2`), the time they were received (`$3`, one for all), then their actions, dedup
/// keys, summaries, severities, sources, outcomes and payloads (`$4` to `$10`).
const INSERT_EVENTS: &str = "INSERT INTO events (integration_id, incident_id, received_at, action, dedup_key, summary, \
     severity, source, outcome, payload) \
     SELECT integration_id, incident_id, $3, action, dedup_key, summary, severity, source, outcome, payload \
     FROM unnest($1::bigint[], $2::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], \
     $8::text[], $9::text[], $10::text[]) \
     AS e(integration_id, incident_id, action, dedup_key, summary, severity, source, outcome, payload)";

impl PostgresTx {
    /// Adds to the alert counts of open incidents, in the order given (the caller sorts by
    /// id); returns how many took them. An incident resolved by a transaction that committed
    /// while this one waited for its row is left as it is.
    pub(crate) async fn add_alert_rows(
        &mut self,
        counts: &[(IncidentId, i64)],
    ) -> Result<u64, sqlx::Error> {
        if counts.is_empty() {
            return Ok(0);
        }
        let updated = sqlx::query(
            "UPDATE incidents SET alert_count = alert_count + a.added, last_alert_at = $1 \
             FROM unnest($2::bigint[], $3::bigint[]) AS a(id, added) \
             WHERE incidents.id = a.id AND incidents.status <> 'resolved'",
        )
        .bind(seconds(self.now))
        .bind(column(counts, |(id, _)| id.0))
        .bind(column(counts, |(_, added)| *added))
        .execute(&mut *self.tx)
        .await?;
        Ok(updated.rows_affected())
    }

    /// Records accepted events in one statement that stays prepared: each column is one array.
    pub(crate) async fn insert_event_rows(
        &mut self,
        events: &[crate::paging::EventInput],
    ) -> Result<(), sqlx::Error> {
        if events.is_empty() {
            return Ok(());
        }
        self.bind_events(sqlx::query(INSERT_EVENTS), events)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// [`PostgresTx::add_alert_rows`] and [`PostgresTx::insert_event_rows`] as one statement,
    /// one round trip: in a storm of repeated alerts that is all an intake batch writes. The
    /// update checks that each incident is open as it updates its row, whatever `_check` says:
    /// here that costs nothing more.
    pub(crate) async fn alert_and_event_rows(
        &mut self,
        counts: &[(IncidentId, i64)],
        events: &[crate::paging::EventInput],
        _check: crate::paging::OpenCheck,
    ) -> Result<u64, sqlx::Error> {
        if counts.is_empty() {
            self.insert_event_rows(events).await?;
            return Ok(0);
        }
        if events.is_empty() {
            return self.add_alert_rows(counts).await;
        }
        // Every part of a statement's WITH that writes runs to its end, read or not. The
        // alerts take the events' time, `$3`.
        static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            format!(
                "WITH added AS (UPDATE incidents SET alert_count = alert_count + a.added, last_alert_at = $3 \
                 FROM unnest($11::bigint[], $12::bigint[]) AS a(id, added) \
                 WHERE incidents.id = a.id AND incidents.status <> 'resolved' RETURNING 1), \
                 recorded AS ({INSERT_EVENTS}) \
                 SELECT COUNT(*) FROM added"
            )
        });
        let open: i64 = self
            .bind_events(sqlx::query(SQL.as_str()), events)
            .bind(column(counts, |(id, _)| id.0))
            .bind(column(counts, |(_, added)| *added))
            .fetch_one(&mut *self.tx)
            .await?
            .try_get(0)?;
        Ok(u64::try_from(open).unwrap_or(0))
    }

    /// Binds the ten parameters of [`INSERT_EVENTS`].
    fn bind_events<'q>(
        &self,
        query: PgQuery<'q>,
        events: &'q [crate::paging::EventInput],
    ) -> PgQuery<'q> {
        let text = |field: fn(&crate::paging::EventInput) -> &str| -> Vec<&'q str> {
            events.iter().map(field).collect()
        };
        query
            .bind(column(events, |e| e.integration_id.0))
            .bind(column(events, |e| e.incident_id.map(|i| i.0)))
            .bind(seconds(self.now))
            .bind(text(|e| &e.action))
            .bind(text(|e| &e.dedup_key))
            .bind(text(|e| &e.summary))
            .bind(text(|e| &e.severity))
            .bind(text(|e| &e.source))
            .bind(text(|e| &e.outcome))
            .bind(text(|e| &e.payload))
    }

    /// Timeline lines (incident, kind, actor, message), all at the transaction's time, in
    /// order.
    pub(crate) async fn log_rows(
        &mut self,
        lines: &[(IncidentId, String, String, String)],
    ) -> Result<(), sqlx::Error> {
        if lines.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO incident_log (incident_id, at, kind, actor, message) \
             SELECT incident_id, $1, kind, actor, message \
             FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY \
             AS l(incident_id, kind, actor, message, n) ORDER BY n",
        )
        .bind(seconds(self.now))
        .bind(column(lines, |line| line.0 .0))
        .bind(column(lines, |line| line.1.as_str()))
        .bind(column(lines, |line| line.2.as_str()))
        .bind(column(lines, |line| line.3.as_str()))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Sets escalation timers, replacing each incident's earlier one.
    pub(crate) async fn timer_rows(
        &mut self,
        timers: &[(IncidentId, Timestamp, Step)],
    ) -> Result<(), sqlx::Error> {
        if timers.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO escalation_timers (incident_id, due_at, level, pass) \
             SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[]) \
             ON CONFLICT (incident_id) DO UPDATE SET due_at = excluded.due_at, level = excluded.level, pass = excluded.pass",
        )
        .bind(column(timers, |t| t.0 .0))
        .bind(column(timers, |t| seconds(t.1)))
        .bind(column(timers, |t| t.2.level as i64))
        .bind(column(timers, |t| i64::from(t.2.pass)))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Records the escalation step each incident has reached (the caller sorts by id).
    pub(crate) async fn step_rows(
        &mut self,
        steps: &[(IncidentId, Step)],
    ) -> Result<(), sqlx::Error> {
        if steps.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "UPDATE incidents SET escalation_level = s.level, escalation_pass = s.pass \
             FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS s(id, level, pass) \
             WHERE incidents.id = s.id",
        )
        .bind(column(steps, |(id, _)| id.0))
        .bind(column(steps, |(_, step)| step.level as i64))
        .bind(column(steps, |(_, step)| i64::from(step.pass)))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Adds assignees; one already there is kept.
    pub(crate) async fn assignee_rows(
        &mut self,
        assignees: &[(IncidentId, UserId)],
    ) -> Result<(), sqlx::Error> {
        if assignees.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO incident_assignees (incident_id, user_id) \
             SELECT * FROM unnest($1::bigint[], $2::bigint[]) \
             ON CONFLICT (incident_id, user_id) DO NOTHING",
        )
        .bind(column(assignees, |(id, _)| id.0))
        .bind(column(assignees, |(_, user)| user.0))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Queues notifications; returns the idempotency keys of those not queued before.
    pub(crate) async fn notification_rows(
        &mut self,
        inputs: &[NotificationInput],
    ) -> Result<Vec<String>, sqlx::Error> {
        if inputs.is_empty() {
            return Ok(Vec::new());
        }
        sqlx::query(
            "INSERT INTO notifications (idempotency_key, incident_id, user_id, kind, address, status, attempts, due_at, created_at) \
             SELECT idempotency_key, incident_id, user_id, kind, address, 'pending', 0, due_at, $1 \
             FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::bigint[]) \
             AS n(idempotency_key, incident_id, user_id, kind, address, due_at) \
             ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key",
        )
        .bind(seconds(self.now))
        .bind(column(inputs, |n| n.idempotency_key.as_str()))
        .bind(column(inputs, |n| n.incident_id.0))
        .bind(column(inputs, |n| n.user_id.0))
        .bind(column(inputs, |n| n.kind.as_str()))
        .bind(column(inputs, |n| n.address.as_str()))
        .bind(column(inputs, |n| seconds(n.due_at)))
        .fetch_all(&mut *self.tx)
        .await?
        .iter()
        .map(|row| row.try_get("idempotency_key"))
        .collect()
    }
}

//! SQLite's multi-row writes of the paging path: a few dozen rows a statement, as `VALUES`
//! lists or a derived table. PostgreSQL writes the same rows as arrays (`postgres_rows.rs`);
//! `paging_sql.rs` calls whichever its backend has.

use jiff::Timestamp;
use sqlx::Row as _;
use watchbill_core::paging::Step;
use watchbill_core::{IncidentId, UserId};

use super::SqliteTx;
use crate::paging::{NotificationInput, OpenCheck};
use crate::paging_sql::ROWS_PER_STATEMENT;
use crate::shared_sql::seconds;

/// How old an incident's last alert must be before a new alert writes the alerts counted so
/// far into its row; until then reads count them from the events (`SqliteTx::add_alert_rows`).
const ALERT_COUNT_WRITTEN_EVERY: jiff::SignedDuration = jiff::SignedDuration::from_secs(5);

type SqliteQuery<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>;

/// The write of the alert counts due: its parameters are the incidents' ids as a JSON array,
/// then the last alert a row must be older than to take its count.
macro_rules! write_due {
    () => {
        concat!(
            "UPDATE incidents SET alert_count = ",
            alert_count!(),
            ", last_alert_at = ",
            last_alert_at!(),
            ", alerts_counted_through = COALESCE((SELECT MAX(e.id) FROM events e \
             WHERE e.incident_id = incidents.id), alerts_counted_through) \
             WHERE id IN (SELECT value FROM json_each(?)) AND status <> 'resolved' \
             AND last_alert_at <= ?"
        )
    };
}

/// The check that incidents are open and the write of the alert counts due
/// ([`SqliteTx::add_alert_rows`]), as one text that stays prepared. Its parameters are
/// anonymous, so that the rows of another statement can follow it in the same call: the
/// incidents' ids as a JSON array, twice, then the last alert a row must be older than to take
/// its count.
const CHECK_AND_WRITE_DUE: &str = concat!(
    "SELECT COUNT(*) FROM incidents WHERE id IN (SELECT value FROM json_each(?)) \
     AND status <> 'resolved'; ",
    write_due!()
);

/// [`CHECK_AND_WRITE_DUE`] without the check, for incidents known to be open
/// ([`OpenCheck::Known`]): the ids once, then the last alert.
const WRITE_DUE: &str = write_due!();

/// Rows of events a statement.
const EVENTS_PER_STATEMENT: usize = 64;

/// Records `rows` accepted events. The parameters are anonymous (`?`), bound in order: the
/// driver looks a numbered one up by name, in a list that grows with the statement, so
/// numbered ones cost the square of their count.
fn event_insert_sql(rows: usize) -> String {
    const ROW: &str = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    format!(
        "INSERT INTO events (integration_id, incident_id, received_at, action, dedup_key, summary, \
         severity, source, outcome, payload) VALUES {}",
        vec![ROW; rows].join(", ")
    )
}

/// How many incidents [`CHECK_AND_WRITE_DUE`] found open, from its rows.
fn open_count(rows: Vec<sqlx::sqlite::SqliteRow>) -> Result<u64, sqlx::Error> {
    let open: i64 = match rows.first() {
        Some(row) => row.try_get(0)?,
        None => 0,
    };
    Ok(u64::try_from(open).unwrap_or(0))
}

impl SqliteTx {
    /// Counts alerts on open incidents; returns how many of them are open. The alerts are the
    /// incidents' events with outcome `alert_added`, recorded in the same transaction, which
    /// every read of an incident adds to the count on its row ([`SqliteTx::INCIDENT_READ`]).
    /// An incident's row takes the alerts counted so far only when its last alert is
    /// [`ALERT_COUNT_WRITTEN_EVERY`] old: in a storm most repeated alerts then change one page
    /// of the log (their event) instead of two (their event and their incident). This
    /// transaction holds SQLite's one write lock, so none of them can be resolved before it
    /// commits. Both statements go to SQLite's thread together.
    pub(crate) async fn add_alert_rows(
        &mut self,
        counts: &[(IncidentId, i64)],
    ) -> Result<u64, sqlx::Error> {
        let query = self.bind_alert_check(sqlx::query(CHECK_AND_WRITE_DUE), counts);
        open_count(query.fetch_all(&mut *self.tx).await?)
    }

    /// [`SqliteTx::add_alert_rows`], then [`SqliteTx::insert_event_rows`], the alerts and the
    /// first rows of events in one call to SQLite's thread: in a storm of repeated alerts that
    /// is all an intake batch writes.
    ///
    /// With [`OpenCheck::Known`] the check is left out, and every incident is taken as open.
    pub(crate) async fn alert_and_event_rows(
        &mut self,
        counts: &[(IncidentId, i64)],
        events: &[crate::paging::EventInput],
        check: OpenCheck,
    ) -> Result<u64, sqlx::Error> {
        let split = events.len().min(EVENTS_PER_STATEMENT);
        let (first, rest) = events.split_at(split);
        let open = if counts.is_empty() {
            self.insert_event_rows(first).await?;
            0
        } else if check == OpenCheck::Known {
            let sql = if first.is_empty() {
                WRITE_DUE.to_owned()
            } else {
                format!("{WRITE_DUE}; {}", event_insert_sql(first.len()))
            };
            let query = self.bind_due(sqlx::query(&sql), counts);
            let query = self.bind_events(query, first);
            query.execute(&mut *self.tx).await?;
            u64::try_from(counts.len()).unwrap_or(u64::MAX)
        } else if first.is_empty() {
            self.add_alert_rows(counts).await?
        } else {
            let sql = format!("{CHECK_AND_WRITE_DUE}; {}", event_insert_sql(first.len()));
            let query = self.bind_alert_check(sqlx::query(&sql), counts);
            let query = self.bind_events(query, first);
            open_count(query.fetch_all(&mut *self.tx).await?)?
        };
        self.insert_event_rows(rest).await?;
        Ok(open)
    }

    /// Binds what [`CHECK_AND_WRITE_DUE`] asks for.
    fn bind_alert_check<'q>(
        &self,
        query: SqliteQuery<'q>,
        counts: &[(IncidentId, i64)],
    ) -> SqliteQuery<'q> {
        self.bind_due(query.bind(SqliteTx::count_ids(counts)), counts)
    }

    /// Binds what [`WRITE_DUE`] asks for.
    fn bind_due<'q>(
        &self,
        query: SqliteQuery<'q>,
        counts: &[(IncidentId, i64)],
    ) -> SqliteQuery<'q> {
        let due = self
            .now
            .checked_sub(ALERT_COUNT_WRITTEN_EVERY)
            .unwrap_or(self.now);
        query.bind(SqliteTx::count_ids(counts)).bind(seconds(due))
    }

    /// The incidents of `counts`, as a JSON array of ids.
    fn count_ids(counts: &[(IncidentId, i64)]) -> String {
        let ids: Vec<i64> = counts.iter().map(|(id, _)| id.0).collect();
        SqliteTx::ids_param(&ids)
    }

    /// Records accepted events, many rows a statement.
    pub(crate) async fn insert_event_rows(
        &mut self,
        events: &[crate::paging::EventInput],
    ) -> Result<(), sqlx::Error> {
        for chunk in events.chunks(EVENTS_PER_STATEMENT) {
            let sql = event_insert_sql(chunk.len());
            self.bind_events(sqlx::query(&sql), chunk)
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }

    /// Binds the rows of [`event_insert_sql`].
    fn bind_events<'q>(
        &self,
        mut query: SqliteQuery<'q>,
        events: &'q [crate::paging::EventInput],
    ) -> SqliteQuery<'q> {
        for event in events {
            query = query
                .bind(event.integration_id.0)
                .bind(event.incident_id.map(|i| i.0))
                .bind(seconds(self.now))
                .bind(&event.action)
                .bind(&event.dedup_key)
                .bind(&event.summary)
                .bind(&event.severity)
                .bind(&event.source)
                .bind(&event.outcome)
                .bind(&event.payload);
        }
        query
    }

    /// Timeline lines (incident, kind, actor, message), all at the transaction's time.
    pub(crate) async fn log_rows(
        &mut self,
        lines: &[(IncidentId, String, String, String)],
    ) -> Result<(), sqlx::Error> {
        for chunk in lines.chunks(ROWS_PER_STATEMENT) {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let b = i * 4 + 1;
                    format!("(${}, $1, ${}, ${}, ${})", b + 1, b + 2, b + 3, b + 4)
                })
                .collect();
            let sql = format!(
                "INSERT INTO incident_log (incident_id, at, kind, actor, message) VALUES {}",
                values.join(", ")
            );
            let mut query = sqlx::query(&sql).bind(seconds(self.now));
            for (incident, kind, actor, message) in chunk {
                query = query.bind(incident.0).bind(kind).bind(actor).bind(message);
            }
            query.execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    /// Sets escalation timers, replacing each incident's earlier one.
    pub(crate) async fn timer_rows(
        &mut self,
        timers: &[(IncidentId, Timestamp, Step)],
    ) -> Result<(), sqlx::Error> {
        for chunk in timers.chunks(ROWS_PER_STATEMENT) {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let b = i * 4;
                    format!("(${}, ${}, ${}, ${})", b + 1, b + 2, b + 3, b + 4)
                })
                .collect();
            let sql = format!(
                "INSERT INTO escalation_timers (incident_id, due_at, level, pass) VALUES {} \
                 ON CONFLICT (incident_id) DO UPDATE SET due_at = excluded.due_at, level = excluded.level, pass = excluded.pass",
                values.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for (incident, due, step) in chunk {
                query = query
                    .bind(incident.0)
                    .bind(seconds(*due))
                    .bind(step.level as i64)
                    .bind(i64::from(step.pass));
            }
            query.execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    /// Records the escalation step each incident has reached (the caller sorts by id).
    pub(crate) async fn step_rows(
        &mut self,
        steps: &[(IncidentId, Step)],
    ) -> Result<(), sqlx::Error> {
        for chunk in steps.chunks(ROWS_PER_STATEMENT) {
            // A derived table of (id, level, pass), joined to the update.
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let b = i * 3;
                    format!(
                        "SELECT ${} AS id, ${} AS level, ${} AS pass",
                        b + 1,
                        b + 2,
                        b + 3
                    )
                })
                .collect();
            let sql = format!(
                "UPDATE incidents SET escalation_level = steps.level, escalation_pass = steps.pass \
                 FROM ({}) AS steps WHERE incidents.id = steps.id",
                rows.join(" UNION ALL ")
            );
            let mut query = sqlx::query(&sql);
            for (incident, step) in chunk {
                query = query
                    .bind(incident.0)
                    .bind(step.level as i64)
                    .bind(i64::from(step.pass));
            }
            query.execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    /// Adds assignees; one already there is kept.
    pub(crate) async fn assignee_rows(
        &mut self,
        assignees: &[(IncidentId, UserId)],
    ) -> Result<(), sqlx::Error> {
        for chunk in assignees.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO incident_assignees (incident_id, user_id) VALUES {} \
                 ON CONFLICT (incident_id, user_id) DO NOTHING",
                (0..chunk.len())
                    .map(|i| format!("(${}, ${})", i * 2 + 1, i * 2 + 2))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let mut query = sqlx::query(&sql);
            for (incident, user) in chunk {
                query = query.bind(incident.0).bind(user.0);
            }
            query.execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    /// Queues notifications; returns the idempotency keys of those not queued before.
    pub(crate) async fn notification_rows(
        &mut self,
        inputs: &[NotificationInput],
    ) -> Result<Vec<String>, sqlx::Error> {
        let mut inserted = Vec::with_capacity(inputs.len());
        for chunk in inputs.chunks(ROWS_PER_STATEMENT) {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let b = i * 6 + 1;
                    format!(
                        "(${}, ${}, ${}, ${}, ${}, 'pending', 0, ${}, $1)",
                        b + 1,
                        b + 2,
                        b + 3,
                        b + 4,
                        b + 5,
                        b + 6
                    )
                })
                .collect();
            let sql = format!(
                "INSERT INTO notifications (idempotency_key, incident_id, user_id, kind, address, status, attempts, due_at, created_at) \
                 VALUES {} ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key",
                values.join(", ")
            );
            let mut query = sqlx::query(&sql).bind(seconds(self.now));
            for input in chunk {
                query = query
                    .bind(&input.idempotency_key)
                    .bind(input.incident_id.0)
                    .bind(input.user_id.0)
                    .bind(&input.kind)
                    .bind(&input.address)
                    .bind(seconds(input.due_at));
            }
            for row in query.fetch_all(&mut *self.tx).await? {
                inserted.push(row.try_get("idempotency_key")?);
            }
        }
        Ok(inserted)
    }
}

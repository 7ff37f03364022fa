//! The PostgreSQL backend: several `watchbill serve` processes share one database, and none is
//! special. Migrations take an advisory lock so that processes starting together apply each
//! migration exactly once.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Executor as _, PgPool, Postgres, Row};
use watchbill_core::Clock;

use crate::migrate::{CREATE_MIGRATIONS_TABLE, POSTGRES};
use crate::{Backend, MigrationReport, Store, StoreError, Tx};

/// The advisory lock key held while migrating ("watchbil" in ASCII).
const MIGRATION_LOCK: i64 = 0x7761_7463_6862_696c;

/// How long a pooled connection may sit unused before it is checked again.
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(30);

/// A store in a PostgreSQL database.
#[derive(Debug)]
pub struct PostgresStore {
    pool: PgPool,
    clock: Arc<dyn Clock>,
}

impl PostgresStore {
    pub async fn open(url: &str, clock: Arc<dyn Clock>) -> Result<PostgresStore, StoreError> {
        let options: PgConnectOptions = url.parse().map_err(StoreError::Database)?;
        // A few connections are kept open, so the first burst after a start or a quiet spell
        // does not wait for new sessions. A connection is pinged only when it has been idle
        // a while (a restarted database or a dropped link shows there), not before every
        // transaction, which would add a round trip to each.
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .min_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .test_before_acquire(false)
            .before_acquire(|connection, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_WHEN_IDLE_FOR {
                        sqlx::Connection::ping(connection).await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(
                options
                    .application_name("watchbill")
                    .statement_cache_capacity(512),
            )
            .await
            .map_err(StoreError::Database)?;
        Ok(PostgresStore { pool, clock })
    }

    /// The underlying pool, for tests that need to look behind the trait.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// A transaction on the PostgreSQL store.
pub struct PostgresTx {
    tx: sqlx::Transaction<'static, Postgres>,
    now: jiff::Timestamp,
    /// Whether this transaction already incremented the roster revision.
    bumped: bool,
}

#[async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn now(&self) -> jiff::Timestamp {
        self.clock.now()
    }

    async fn read(&self) -> Result<Box<dyn Tx>, StoreError> {
        let tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .map_err(StoreError::Database)?;
        Ok(Box::new(PostgresTx {
            tx,
            now: self.clock.now(),
            bumped: false,
        }))
    }

    async fn write(&self) -> Result<Box<dyn Tx>, StoreError> {
        let tx = self.pool.begin().await.map_err(StoreError::Database)?;
        Ok(Box::new(PostgresTx {
            tx,
            now: self.clock.now(),
            bumped: false,
        }))
    }

    async fn migrate(&self) -> Result<MigrationReport, StoreError> {
        let mut report = MigrationReport::default();
        let newest_known = POSTGRES.iter().map(|m| m.version).max().unwrap_or(0);
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx)
            .await?;
        (&mut *tx).execute(CREATE_MIGRATIONS_TABLE).await?;
        let newest: Option<i64> = sqlx::query("SELECT MAX(version) AS v FROM watchbill_migrations")
            .fetch_one(&mut *tx)
            .await?
            .try_get("v")?;
        if newest.unwrap_or(0) > newest_known {
            return Err(StoreError::Migration(format!(
                "the database has schema version {}, newer than this binary's {newest_known}; upgrade watchbill",
                newest.unwrap_or(0)
            )));
        }
        for migration in POSTGRES {
            let applied =
                sqlx::query("SELECT 1 AS one FROM watchbill_migrations WHERE version = $1")
                    .bind(migration.version)
                    .fetch_optional(&mut *tx)
                    .await?;
            if applied.is_some() {
                report.already_applied += 1;
                continue;
            }
            (&mut *tx).execute(migration.sql).await.map_err(|e| {
                StoreError::Migration(format!("{} {}: {e}", migration.version, migration.name))
            })?;
            sqlx::query(
                "INSERT INTO watchbill_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            )
            .bind(migration.version)
            .bind(migration.name)
            .bind(self.clock.now().as_second())
            .execute(&mut *tx)
            .await?;
            report
                .applied
                .push(format!("{:04}_{}", migration.version, migration.name));
        }
        // All migrations commit together, so a failure leaves the schema as it was.
        tx.commit().await?;
        report.warnings = settings_warnings(&self.pool).await?;
        Ok(report)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn refresh_statistics(&self) -> Result<(), StoreError> {
        // The table intake reads and updates by key in every batch. A table autovacuum is
        // analyzing already is left to it.
        sqlx::query("ANALYZE (SKIP_LOCKED) incidents")
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// What in the database's settings will make watchbill slow. Statements stay prepared on each
/// connection, and PostgreSQL keeps a prepared statement's plan until the statistics of its
/// tables change. Without autovacuum they never do: a plan made while a table was nearly empty
/// (a scan of every row) stays as the table grows, and paging slows with it.
async fn settings_warnings(pool: &PgPool) -> Result<Vec<String>, StoreError> {
    let autovacuum: String = sqlx::query_scalar("SELECT current_setting('autovacuum')")
        .fetch_one(pool)
        .await?;
    Ok(settings_advice(&autovacuum))
}

/// The warnings [`settings_warnings`] gives for these settings' values.
fn settings_advice(autovacuum: &str) -> Vec<String> {
    let mut warnings = Vec::new();
    if autovacuum != "on" {
        warnings.push(
            "PostgreSQL's autovacuum is off: watchbill's tables get no statistics and their \
             queries slow down as they grow; turn it on (docs/operations.md, \"Databases\")"
                .to_owned(),
        );
    }
    warnings
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::settings_advice;

    #[test]
    fn autovacuum_off_is_the_one_setting_warned_of() {
        assert!(settings_advice("on").is_empty());
        let warnings = settings_advice("off");
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("autovacuum is off"), "{warnings:?}");
    }
}

/// PostgreSQL flushes its log before a commit returns and before others can see it.
#[async_trait]
impl crate::Finish for sqlx::Transaction<'static, Postgres> {
    async fn finish(self) -> Result<crate::Flush, StoreError> {
        self.commit().await.map_err(StoreError::Database)?;
        Ok(crate::Flush::done())
    }
}

impl PostgresTx {
    /// An incident's columns as a read wants them: PostgreSQL keeps every count on the row.
    pub(crate) const INCIDENT_READ: &'static str = crate::paging_sql::INCIDENT_COLUMNS;

    /// What deciding a trigger reads of an open incident.
    pub(crate) const OPEN_ALERTS_READ: &'static str = "id, dedup_key, alert_count, last_alert_at";

    /// "Is one of these ids", the ids bound as parameter `$n` ([`PostgresTx::ids_param`]) as
    /// one array, so that the statement's text does not change with the ids and stays prepared.
    pub(crate) fn in_ids(n: usize) -> String {
        format!("= ANY(${n})")
    }

    /// The value [`PostgresTx::in_ids`] binds.
    pub(crate) fn ids_param(ids: &[i64]) -> Vec<i64> {
        ids.to_vec()
    }

    /// The "seen before" rows of several incidents (see `post_mortems_sql.rs`): one statement
    /// for every incident's search of the titles and tags (every word, then any; the
    /// `post_mortem_titles` table), and one for the post-mortems of all their services at once.
    ///
    /// PostgreSQL plans each title search with its words in view, and picks by how common they
    /// are between the text index and a walk down the newest titles. Asked together, it did
    /// worse: a union of one part per incident was planned afresh at every call, and one
    /// statement over arrays was planned without the words and took twice as long over a
    /// library of 10,000 (BENCHMARKS.md). The services' part has no words to see, so it is
    /// asked for every incident at once, over arrays, under one plan: asked with each title
    /// search, it made PostgreSQL plan the whole statement afresh at nearly every call once
    /// the incidents table had statistics (0.6 ms a plan; BENCHMARKS.md, "A thirteenth day").
    pub(crate) async fn seen_before_rows(
        &mut self,
        queries: &[crate::post_mortems::SeenBeforeQuery],
        limit: i64,
        service_limit: i64,
    ) -> Result<Vec<sqlx::postgres::PgRow>, sqlx::Error> {
        use crate::post_mortems_sql::{tsquery, Terms};
        if queries.is_empty() {
            return Ok(Vec::new());
        }
        const BY_SERVICE: &str = "SELECT u.q, s.id, '' AS title, '' AS tags, \
             CAST(1 AS BIGINT) AS by_service \
             FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS u(service, exclude, q) \
             CROSS JOIN LATERAL (SELECT DISTINCT pi.post_mortem_id AS id FROM post_mortem_incidents pi \
             JOIN incidents i ON i.id = pi.incident_id WHERE i.service_id = u.service \
             AND NOT EXISTS (SELECT 1 FROM post_mortem_incidents own \
             WHERE own.post_mortem_id = pi.post_mortem_id AND own.incident_id = u.exclude) \
             ORDER BY id DESC LIMIT $4) s";
        let in_title = |text: &str| {
            format!(
                "SELECT post_mortem_id AS id FROM post_mortem_titles \
                 WHERE title_search @@ to_tsquery('english', {text}) \
                 ORDER BY post_mortem_id DESC LIMIT $4"
            )
        };
        let by_words = format!(
            "SELECT CAST($1 AS BIGINT) AS q, p.id, p.title, p.tags, CAST(0 AS BIGINT) AS by_service \
             FROM post_mortems p \
             JOIN (SELECT id FROM ({every}) e UNION SELECT id FROM ({any}) a) c ON c.id = p.id \
             WHERE NOT EXISTS (SELECT 1 FROM post_mortem_incidents pi WHERE pi.post_mortem_id = p.id \
             AND pi.incident_id = $2)",
            every = in_title("$3"),
            any = in_title("$5"),
        );
        let numbers: Vec<i64> = (0..queries.len())
            .map(|index| i64::try_from(index).unwrap_or(i64::MAX))
            .collect();
        let services: Vec<i64> = queries.iter().map(|query| query.service.0).collect();
        let excluded: Vec<i64> = queries.iter().map(|query| query.exclude.0).collect();
        let mut rows = sqlx::query(BY_SERVICE)
            .bind(services)
            .bind(excluded)
            .bind(&numbers)
            .bind(service_limit)
            .fetch_all(&mut *self.tx)
            .await?;
        for (query, q) in queries.iter().zip(numbers) {
            if query.terms.is_empty() {
                continue;
            }
            let statement = sqlx::query(&by_words)
                .bind(q)
                .bind(query.exclude.0)
                .bind(tsquery(&query.terms, Terms::AllInTitle))
                .bind(limit)
                .bind(tsquery(&query.terms, Terms::AnyInTitle));
            rows.extend(statement.fetch_all(&mut *self.tx).await?);
        }
        Ok(rows)
    }

    /// The rows (`columns`) of the open incidents of `service` with these dedup keys, in one
    /// statement that stays prepared (the keys are one array).
    ///
    /// Written as a probe per key (`LATERAL … LIMIT 1`, which the planner cannot fold into a
    /// join) so it never depends on the table's statistics: right after an alert storm opened
    /// thousands of incidents, before autovacuum analyzes the table, the plain `IN` form was
    /// planned as a scan of every open incident of the service (3 ms instead of 0.4 ms per
    /// intake batch at 10,000 open incidents).
    pub(crate) async fn open_incident_rows(
        &mut self,
        columns: &str,
        service: i64,
        keys: &[String],
    ) -> Result<Vec<sqlx::postgres::PgRow>, sqlx::Error> {
        let sql = format!(
            "SELECT i.* FROM unnest($2::text[]) AS k(dedup_key) CROSS JOIN LATERAL \
             (SELECT {columns} FROM incidents WHERE service_id = $1 AND dedup_key = k.dedup_key \
              AND status <> 'resolved' LIMIT 1) AS i"
        );
        sqlx::query(&sql)
            .bind(service)
            .bind(keys)
            .fetch_all(&mut *self.tx)
            .await
    }
}

// The multi-row writes of the paging path, in this backend's form.
#[path = "postgres_rows.rs"]
mod rows;

mod tx {
    use super::PostgresTx;
    crate::shared_sql::shared_tx_impl!(PostgresTx, sqlx::Postgres, sqlx::postgres::PgRow);
    crate::paging_sql::paging_tx_impl!(PostgresTx, sqlx::postgres::PgRow, "FOR UPDATE SKIP LOCKED");
    crate::tickets_sql::tickets_tx_impl!(PostgresTx, sqlx::postgres::PgRow);
    crate::web_sql::web_tx_impl!(PostgresTx, sqlx::postgres::PgRow);
    crate::mail_sql::mail_tx_impl!(PostgresTx, sqlx::postgres::PgRow);
    crate::post_mortems_sql::post_mortems_tx_impl!(
        PostgresTx,
        sqlx::postgres::PgRow,
        "post_mortems p WHERE p.search @@ to_tsquery('english', $1)",
        "CAST(ts_rank(p.search, to_tsquery('english', $1)) AS DOUBLE PRECISION)",
        // ts_rank needs only the vector: the rows are known to match, and matching again costs
        // as much as ranking.
        "post_mortems p WHERE TRUE",
        "SELECT id FROM post_mortems WHERE search @@ to_tsquery('english', $1) ORDER BY id DESC LIMIT $2",
        crate::post_mortems_sql::tsquery
    );
    crate::notices_sql::notices_tx_impl!(
        PostgresTx,
        sqlx::postgres::PgRow,
        "FOR UPDATE SKIP LOCKED"
    );
}

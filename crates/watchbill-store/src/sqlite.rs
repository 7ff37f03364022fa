//! The SQLite backend: one file, zero set-up.
//!
//! Writes go through exactly one connection, taken in turn, so transactions in this process
//! never fight over SQLite's single write lock; reads use a pool and, thanks to WAL, never
//! wait for writers. A commit releases the write connection as soon as SQLite has written it
//! to the log, and returns once the log has been flushed to disk: one flush for every commit
//! that came before it ([`crate::flush`]), so the next write need not wait for the flush. The
//! log is copied back into the database file by a checkpoint in the background, so commits
//! seldom copy any of it themselves.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions as _, Executor as _, Row, Sqlite, SqlitePool};
use tokio::sync::{Mutex, OwnedMutexGuard};
use watchbill_core::Clock;

use crate::flush::{Flush, LogFlusher};
use crate::migrate::{CREATE_MIGRATIONS_TABLE, SQLITE};
use crate::{Backend, Finish, MigrationReport, Routing, Store, StoreError, Tx};

/// How often the background checkpoint copies the log back into the database file.
/// A checkpoint copies each page changed since the last one once, however often it changed;
/// under a storm of alerts the same incident and index pages change in every batch, so copying
/// every second writes the database file far less than copying five times a second, and those
/// scattered writes are what a commit's flush of the log waits behind.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// How long the log may grow, in pages (80 MB of 4 KB pages), before the commit that passes it
/// checkpoints on its own, copying whatever the background checkpoint has not, while every
/// event of its batch waits. The background checkpoint lets the log start over every
/// [`CHECKPOINT_EVERY`], so this is only a bound for when it cannot keep up, not SQLite's
/// 1,000 pages, which a storm of alerts passes within a tenth of a second.
const LOG_PAGES_BEFORE_A_COMMIT_CHECKPOINTS: u32 = 20_000;

/// A store in a SQLite file.
#[derive(Debug)]
pub struct SqliteStore {
    writer: Arc<Mutex<WriteConnection>>,
    reader: SqlitePool,
    clock: Arc<dyn Clock>,
    /// The background checkpoint, stopped with the store.
    _checkpoints: Background,
}

/// A background task that stops when its owner is dropped.
#[derive(Debug)]
struct Background(tokio::task::JoinHandle<()>);

impl Drop for Background {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Copies the write-ahead log back into the database file every [`CHECKPOINT_EVERY`], on a
/// connection of its own; a passive checkpoint never waits for the writer or readers. Left to
/// SQLite alone, the commit that fills the log to 1,000 pages copies and flushes all of them
/// before it returns, and every event waiting on that commit waits with it (hundreds of
/// milliseconds here).
///
/// The log starts over from its beginning only once a checkpoint has copied all of it, and
/// only at a write that begins after that checkpoint. So each round copies in two passes: the
/// bulk while writes go on, then, holding the write connection so that no write is under way,
/// what was written during the first pass, which is little. Writes wait for that second pass
/// alone.
async fn checkpoint_in_background(pool: SqlitePool, writer: Arc<Mutex<WriteConnection>>) {
    let mut ticker = tokio::time::interval(CHECKPOINT_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if !checkpoint(&pool, "while writing").await {
            continue;
        }
        let _no_write_under_way = writer.lock().await;
        checkpoint(&pool, "between writes").await;
    }
}

/// One passive checkpoint; whether it ran. A failure is logged, and the next round tries again.
async fn checkpoint(pool: &SqlitePool, pass: &'static str) -> bool {
    match sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(pool)
        .await
    {
        Ok(row) => {
            let log: i64 = row.try_get(1).unwrap_or(-1);
            let copied: i64 = row.try_get(2).unwrap_or(-1);
            tracing::trace!(pass, log, copied, "checkpoint");
            true
        }
        Err(error) => {
            tracing::warn!(%error, pass, "a checkpoint failed; trying again shortly");
            false
        }
    }
}

/// A pool of up to `max` connections. A connection to a local file does not go stale, so it
/// is not pinged before each transaction: a ping is a round trip to the connection's thread.
async fn pool(max: u32, options: SqliteConnectOptions) -> Result<SqlitePool, StoreError> {
    SqlitePoolOptions::new()
        .max_connections(max)
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .map_err(StoreError::Database)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url`, e.g. `sqlite://watchbill.db`.
    pub async fn open(url: &str, clock: Arc<dyn Clock>) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(StoreError::Database)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // SQLite flushes the log before each checkpoint and when the log starts over, and
            // the store's flusher after every commit, outside the write lock.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            // Intake's multi-row statements come in a few dozen shapes; keep them all prepared.
            .statement_cache_capacity(512)
            .pragma(
                "wal_autocheckpoint",
                LOG_PAGES_BEFORE_A_COMMIT_CHECKPOINTS.to_string(),
            )
            // A statement that writes many rows inside a larger transaction keeps a copy of
            // every page it changes, so that it alone can be undone if it fails half-way. Past
            // 64 KB SQLite puts that copy in a temporary file, created and deleted per
            // transaction: an intake batch's statements pass it, and the file took four of every
            // ten writes to disk the write thread made. In memory, nothing of it reaches the
            // disk, and a crash loses nothing, as the copy is only ever needed to roll back.
            // The same setting keeps a sort too large for the page cache in memory; at this
            // product's sizes (an export of every ticket at most) that is a few megabytes.
            .pragma("temp_store", "memory")
            .foreign_keys(true);
        let mut writer = options.connect().await.map_err(StoreError::Database)?;
        let flusher = Arc::new(LogFlusher::new(log_sync(&mut writer, &options).await?));
        let writer = Arc::new(Mutex::new(WriteConnection {
            connection: writer,
            open: false,
            flusher,
        }));
        let checkpointer = pool(1, options.clone()).await?;
        let reader = pool(4, options.read_only(true)).await?;
        Ok(SqliteStore {
            _checkpoints: Background(tokio::spawn(checkpoint_in_background(
                checkpointer,
                writer.clone(),
            ))),
            writer,
            reader,
            clock,
        })
    }
}

/// The connection every write of this process goes through.
///
/// It is held by one transaction at a time, not pooled: a pool tests each connection it takes
/// back with a round trip to the connection's thread, in a task of its own, and the next write
/// transaction waited for both.
#[derive(Debug)]
struct WriteConnection {
    connection: SqliteConnection,
    /// A transaction may have been begun on it and not yet committed or rolled back. Set before
    /// `BEGIN` and cleared only after `COMMIT` or `ROLLBACK` returned, so a transaction whose
    /// future was dropped half-way through either is rolled back, never left open for the next.
    open: bool,
    flusher: Arc<LogFlusher>,
}

/// How to flush the database's log (its `-wal` file) to disk. The file is opened once: SQLite
/// deletes it only when the last connection to the database closes, and the write connection
/// lives as long as the store.
async fn log_sync(
    writer: &mut SqliteConnection,
    options: &SqliteConnectOptions,
) -> Result<crate::flush::LogSync, StoreError> {
    // A first read opens (and creates) the log.
    writer
        .execute("SELECT 1 FROM sqlite_master LIMIT 1")
        .await?;
    // SQLite keeps the log beside the file a symbolic link points to.
    let database = options.get_filename();
    let database = std::fs::canonicalize(database).unwrap_or_else(|_| database.to_owned());
    let mut path = database.into_os_string();
    path.push("-wal");
    let log = std::fs::File::open(&path).map_err(|error| {
        StoreError::Database(sqlx::Error::Io(std::io::Error::new(
            error.kind(),
            format!(
                "cannot open the database's log {}: {error}",
                std::path::Path::new(&path).display()
            ),
        )))
    })?;
    Ok(Arc::new(move || log.sync_data()))
}

impl WriteConnection {
    /// Rolls back what a dropped transaction left open.
    async fn roll_back_if_open(&mut self) {
        if self.open {
            if let Err(error) = self.connection.execute("ROLLBACK").await {
                tracing::warn!(%error, "rolling back an abandoned write transaction failed");
            }
            self.open = false;
        }
    }
}

/// The connection under a transaction: a pooled one for reads, the write connection for
/// writes. Either way, statements run on a [`SqliteConnection`].
enum Connection {
    Read(sqlx::Transaction<'static, Sqlite>),
    Write(WriteGuard),
}

/// The write connection, held by one transaction.
struct WriteGuard(OwnedMutexGuard<WriteConnection>);

#[async_trait]
impl Finish for Connection {
    /// Commits; a write lets the next write begin before its flush.
    async fn finish(self) -> Result<Flush, StoreError> {
        match self {
            Connection::Read(tx) => {
                tx.commit().await?;
                Ok(Flush::done())
            }
            Connection::Write(mut guard) => {
                guard.0.connection.execute("COMMIT").await?;
                guard.0.open = false;
                let flusher = guard.0.flusher.clone();
                let number = flusher.committed();
                drop(guard);
                Ok(Flush::pending(flusher, number))
            }
        }
    }
}

impl Drop for WriteGuard {
    /// A write transaction dropped without its commit is rolled back now, in the background,
    /// so SQLite's write lock is not held until the next write; the next write transaction
    /// would roll it back anyway.
    fn drop(&mut self) {
        if self.0.open {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                let writer = OwnedMutexGuard::mutex(&self.0).clone();
                runtime.spawn(async move { writer.lock().await.roll_back_if_open().await });
            }
        }
    }
}

impl std::ops::Deref for Connection {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        match self {
            Connection::Read(tx) => tx,
            Connection::Write(guard) => &guard.0.connection,
        }
    }
}

impl std::ops::DerefMut for Connection {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        match self {
            Connection::Read(tx) => tx,
            Connection::Write(guard) => &mut guard.0.connection,
        }
    }
}

impl SqliteStore {
    /// Waits for the write connection, rolls back whatever a dropped transaction left on it,
    /// and marks it as holding a transaction from now on, before its `BEGIN` is sent.
    async fn take_writer(&self) -> OwnedMutexGuard<WriteConnection> {
        let mut writer = self.writer.clone().lock_owned().await;
        writer.roll_back_if_open().await;
        writer.open = true;
        writer
    }

    /// Waits for the write connection and begins a transaction on it.
    async fn begin_write(&self) -> Result<Connection, StoreError> {
        let mut writer = self.take_writer().await;
        // IMMEDIATE takes the write lock up front, so a transaction that reads before it
        // writes cannot fail half-way when another process wrote in between.
        if let Err(error) = writer.connection.execute("BEGIN IMMEDIATE").await {
            // Nothing was begun (another process held the lock past the busy timeout, say).
            writer.open = false;
            return Err(error.into());
        }
        Ok(Connection::Write(WriteGuard(writer)))
    }
}

/// How many incidents one "seen before" statement asks about: a pass's pages in one or two
/// statements, each a union of one part per incident.
const SEEN_BEFORE_PER_STATEMENT: usize = 16;

/// An incident's alert events that its row does not count yet ([`SqliteTx::add_alert_rows`]):
/// those after its `alerts_counted_through`, as the `FROM` and `WHERE` of a subquery over the
/// incident being read, found through the index of events by incident.
macro_rules! uncounted_alerts {
    () => {
        "FROM events e WHERE e.incident_id = incidents.id \
         AND e.id > incidents.alerts_counted_through AND e.outcome = 'alert_added'"
    };
}

/// An incident's alert count: its row's, and its alert events the row does not count yet.
macro_rules! alert_count {
    () => {
        concat!("alert_count + (SELECT COUNT(*) ", uncounted_alerts!(), ")")
    };
}

/// An incident's last alert: its row's, or the newest of its alert events not counted yet.
macro_rules! last_alert_at {
    () => {
        concat!(
            "MAX(last_alert_at, COALESCE((SELECT MAX(e.received_at) ",
            uncounted_alerts!(),
            "), last_alert_at))"
        )
    };
}

impl SqliteTx {
    /// An incident's columns as a read wants them, from a query over `incidents` (not
    /// renamed): with the alert events its row does not count yet.
    pub(crate) const INCIDENT_READ: &'static str = concat!(
        "id, service_id, dedup_key, title, status, urgency, ",
        alert_count!(),
        " AS alert_count, created_at, ",
        last_alert_at!(),
        " AS last_alert_at",
        ", acknowledged_at, resolved_at, escalation_level, escalation_pass"
    );

    /// What deciding a trigger reads of an open incident, with the same count and last alert
    /// as [`SqliteTx::INCIDENT_READ`].
    pub(crate) const OPEN_ALERTS_READ: &'static str = concat!(
        "id, dedup_key, ",
        alert_count!(),
        " AS alert_count, ",
        last_alert_at!(),
        " AS last_alert_at"
    );

    /// "Is one of these ids", the ids bound as parameter `$n` ([`SqliteTx::ids_param`]): a
    /// JSON array read by `json_each`, so that the statement's text does not change with the
    /// ids and stays prepared (a list written into the text was compiled at every call).
    pub(crate) fn in_ids(n: usize) -> String {
        format!("IN (SELECT value FROM json_each(${n}))")
    }

    /// The value [`SqliteTx::in_ids`] binds.
    pub(crate) fn ids_param(ids: &[i64]) -> String {
        let list: Vec<String> = ids.iter().map(i64::to_string).collect();
        format!("[{}]", list.join(","))
    }

    /// The "seen before" rows of several incidents (see `post_mortems_sql.rs`): for every 16
    /// questions one statement, a union of each question's search of the titles and tags
    /// (every word, then any) and its service's own post-mortems.
    ///
    /// The statement's text depends only on how many questions it asks, so it stays prepared:
    /// compiling a union of this many full-text searches cost more than running it (about
    /// 1.8 ms a statement at 1,000 pages a second, BENCHMARKS.md). A question without words
    /// searches for an empty phrase, which matches nothing.
    pub(crate) async fn seen_before_rows(
        &mut self,
        queries: &[crate::post_mortems::SeenBeforeQuery],
        limit: i64,
        service_limit: i64,
    ) -> Result<Vec<sqlx::sqlite::SqliteRow>, sqlx::Error> {
        use crate::post_mortems_sql::{fts5_query, Terms};
        const NOTHING: &str = "\"\"";
        let mut rows = Vec::new();
        for (chunk_index, chunk) in queries.chunks(SEEN_BEFORE_PER_STATEMENT).enumerate() {
            let first = chunk_index * SEEN_BEFORE_PER_STATEMENT;
            // ?1 and ?2 are the limits; each question then takes five parameters: its number,
            // its service, the incident left out, and its words as "every" and "any".
            let parts: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let base = 2 + 5 * i;
                    let (q, service, exclude, every, any) =
                        (base + 1, base + 2, base + 3, base + 4, base + 5);
                    let in_title = |text: usize| {
                        format!(
                            "SELECT rowid AS id FROM post_mortem_search WHERE post_mortem_search MATCH ?{text} \
                             ORDER BY rowid DESC LIMIT ?1"
                        )
                    };
                    format!(
                        "SELECT CAST(?{q} AS INTEGER) AS q, p.id, p.title, p.tags, 0 AS by_service FROM post_mortems p \
                         JOIN (SELECT id FROM ({}) e UNION SELECT id FROM ({}) a) c ON c.id = p.id \
                         WHERE NOT EXISTS (SELECT 1 FROM post_mortem_incidents pi WHERE pi.post_mortem_id = p.id \
                         AND pi.incident_id = ?{exclude}) UNION ALL \
                         SELECT CAST(?{q} AS INTEGER) AS q, id, '' AS title, '' AS tags, 1 AS by_service FROM (\
                         SELECT DISTINCT pi.post_mortem_id AS id FROM post_mortem_incidents pi \
                         JOIN incidents i ON i.id = pi.incident_id WHERE i.service_id = ?{service} \
                         AND NOT EXISTS (SELECT 1 FROM post_mortem_incidents own \
                         WHERE own.post_mortem_id = pi.post_mortem_id AND own.incident_id = ?{exclude}) \
                         ORDER BY id DESC LIMIT ?2) s",
                        in_title(every),
                        in_title(any),
                    )
                })
                .collect();
            let sql = parts.join(" UNION ALL ");
            let mut statement = sqlx::query(&sql).bind(limit).bind(service_limit);
            for (i, query) in chunk.iter().enumerate() {
                let (every, any) = if query.terms.is_empty() {
                    (NOTHING.to_owned(), NOTHING.to_owned())
                } else {
                    (
                        fts5_query(&query.terms, Terms::AllInTitle),
                        fts5_query(&query.terms, Terms::AnyInTitle),
                    )
                };
                statement = statement
                    .bind(i64::try_from(first + i).unwrap_or(i64::MAX))
                    .bind(query.service.0)
                    .bind(query.exclude.0)
                    .bind(every)
                    .bind(any);
            }
            rows.extend(statement.fetch_all(&mut *self.tx).await?);
        }
        Ok(rows)
    }

    /// The rows (`columns`) of the open incidents of `service` with these dedup keys. SQLite
    /// looks each key up in the open-incident index.
    pub(crate) async fn open_incident_rows(
        &mut self,
        columns: &str,
        service: i64,
        keys: &[String],
    ) -> Result<Vec<sqlx::sqlite::SqliteRow>, sqlx::Error> {
        // The keys are one parameter, a JSON array, so the text never changes and the statement
        // stays prepared; SQLite probes the open-incident index once per key of the array.
        let keys = serde_json::to_string(keys).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        sqlx::query(&format!(
            "SELECT {columns} FROM incidents WHERE service_id = ?1 AND status <> 'resolved' \
             AND dedup_key IN (SELECT value FROM json_each(?2))"
        ))
        .bind(service)
        .bind(keys)
        .fetch_all(&mut *self.tx)
        .await
    }
}

/// A transaction on the SQLite store.
pub struct SqliteTx {
    tx: Connection,
    now: jiff::Timestamp,
    /// Whether this transaction already incremented the roster revision.
    bumped: bool,
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn now(&self) -> jiff::Timestamp {
        self.clock.now()
    }

    async fn read(&self) -> Result<Box<dyn Tx>, StoreError> {
        let tx = self.reader.begin().await.map_err(StoreError::Database)?;
        Ok(Box::new(SqliteTx {
            tx: Connection::Read(tx),
            now: self.clock.now(),
            bumped: false,
        }))
    }

    async fn write(&self) -> Result<Box<dyn Tx>, StoreError> {
        Ok(Box::new(SqliteTx {
            tx: self.begin_write().await?,
            now: self.clock.now(),
            bumped: false,
        }))
    }

    async fn write_routing(&self, secrets: &[String]) -> Result<Routing, StoreError> {
        // BEGIN, the paging revision and the routes go to SQLite's thread in one call: one
        // wake-up of that thread less for every intake batch. The revision's one row comes
        // first, the routes after it; with no secrets asked the route query is left out.
        static WITH_ROUTES: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            format!(
                "{REVISION}; {}",
                SqliteTx::intake_route_sql("i.secret IN (SELECT value FROM json_each($1))")
            )
        });
        const REVISION: &str = "BEGIN IMMEDIATE; SELECT revision FROM paging_revision";
        let now = self.clock.now();
        let query = if secrets.is_empty() {
            sqlx::query(REVISION)
        } else {
            let keys = serde_json::to_string(secrets)
                .map_err(|e| StoreError::Database(sqlx::Error::Encode(Box::new(e))))?;
            sqlx::query(WITH_ROUTES.as_str())
                .bind(keys)
                .bind(crate::shared_sql::seconds(now))
        };
        let mut writer = self.take_writer().await;
        let rows = match query.fetch_all(&mut writer.connection).await {
            Ok(rows) => rows,
            Err(error) => {
                // Whether BEGIN took effect is unknown; if it did not, there is nothing to
                // roll back, and SQLite says so.
                let _ = writer.connection.execute("ROLLBACK").await;
                writer.open = false;
                return Err(error.into());
            }
        };
        let tx = Box::new(SqliteTx {
            tx: Connection::Write(WriteGuard(writer)),
            now,
            bumped: false,
        });
        let Some((revision, found)) = rows.split_first() else {
            return Err(StoreError::Corrupt(
                "the paging revision is missing".to_owned(),
            ));
        };
        let revision: i64 = revision.try_get("revision")?;
        let found = found
            .iter()
            .map(SqliteTx::intake_route_from)
            .collect::<Result<Vec<_>, _>>()?;
        let routes = secrets
            .iter()
            .map(|secret| {
                found
                    .iter()
                    .find(|route| route.integration.secret == *secret)
                    .cloned()
            })
            .collect();
        Ok(Routing {
            tx,
            revision: Some(revision),
            routes,
        })
    }

    async fn migrate(&self) -> Result<MigrationReport, StoreError> {
        let mut report = MigrationReport::default();
        let newest_known = SQLITE.iter().map(|m| m.version).max().unwrap_or(0);
        for migration in SQLITE {
            let mut tx = self.begin_write().await?;
            (&mut *tx).execute(CREATE_MIGRATIONS_TABLE).await?;
            let newest: Option<i64> =
                sqlx::query("SELECT MAX(version) AS v FROM watchbill_migrations")
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get("v")?;
            if newest.unwrap_or(0) > newest_known {
                return Err(StoreError::Migration(format!(
                    "the database has schema version {}, newer than this binary's {newest_known}; upgrade watchbill",
                    newest.unwrap_or(0)
                )));
            }
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
            tx.finish().await?.wait().await?;
            report
                .applied
                .push(format!("{:04}_{}", migration.version, migration.name));
        }
        Ok(report)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn refresh_statistics(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

// The multi-row writes of the paging path, in this backend's form.
#[path = "sqlite_rows.rs"]
mod rows;

mod tx {
    use super::SqliteTx;
    crate::shared_sql::shared_tx_impl!(SqliteTx, sqlx::Sqlite, sqlx::sqlite::SqliteRow);
    crate::paging_sql::paging_tx_impl!(SqliteTx, sqlx::sqlite::SqliteRow, "");
    crate::tickets_sql::tickets_tx_impl!(SqliteTx, sqlx::sqlite::SqliteRow);
    crate::web_sql::web_tx_impl!(SqliteTx, sqlx::sqlite::SqliteRow);
    crate::mail_sql::mail_tx_impl!(SqliteTx, sqlx::sqlite::SqliteRow);
    crate::post_mortems_sql::post_mortems_tx_impl!(
        SqliteTx,
        sqlx::sqlite::SqliteRow,
        "post_mortem_search JOIN post_mortems p ON p.id = post_mortem_search.rowid WHERE post_mortem_search MATCH $1",
        "(-bm25(post_mortem_search, 10.0, 5.0, 1.0))",
        // bm25 needs the match it ranks.
        "post_mortem_search JOIN post_mortems p ON p.id = post_mortem_search.rowid WHERE post_mortem_search MATCH $1",
        "SELECT rowid AS id FROM post_mortem_search WHERE post_mortem_search MATCH $1 ORDER BY rowid DESC LIMIT $2",
        crate::post_mortems_sql::fts5_query
    );
    crate::notices_sql::notices_tx_impl!(SqliteTx, sqlx::sqlite::SqliteRow, "");
}

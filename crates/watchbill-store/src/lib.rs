//! watchbill's storage.
//!
//! Callers see one interface: a [`Store`] hands out transactions ([`Tx`]), and every read and
//! write happens inside one, so a request either changes everything it meant to or nothing.
//! There is one implementation per backend ([`sqlite`], [`postgres`]), each with its own
//! migrations under `migrations/`. The SQL both dialects share is written once
//! (`shared_sql.rs`) and instantiated for each backend; what differs (connection set-up,
//! pragmas, locking) stays in the backend's module. `tests/contract.rs` runs the same suite
//! against both.

mod error;
mod flush;
pub mod mail;
mod mail_sql;
mod migrate;
pub mod model;
pub mod notices;
mod notices_sql;
pub mod paging;
mod paging_sql;
pub mod post_mortems;
mod post_mortems_sql;
pub mod postgres;
mod shared_sql;
pub mod sqlite;
pub mod testing;
pub mod tickets;
mod tickets_sql;
pub mod web;
mod web_sql;

use std::sync::Arc;

use async_trait::async_trait;
use jiff::Timestamp;
use watchbill_core::{Clock, LayerId, OverrideId, ScheduleId, TeamId, TokenId, UserId};

pub use error::StoreError;
pub use flush::Flush;
pub use mail::MailTx;
use model::*;
pub use notices::NoticeTx;
pub use paging::PagingTx;
pub use post_mortems::PostMortemTx;
/// The database driver's error, for callers that classify [`StoreError::Database`].
pub use sqlx::Error as DatabaseError;
pub use tickets::TicketTx;
pub use web::WebTx;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// How a backend's transaction ends in a commit: with what is left to flush, if anything.
#[async_trait]
trait Finish {
    async fn finish(self) -> Result<Flush>;
}

/// What [`Store::write_routing`] begins an intake batch with.
pub struct Routing {
    pub tx: Box<dyn Tx>,
    /// A number that changes whenever an incident is resolved or a service, an integration or
    /// a maintenance window is written, by anyone; `None` where the backend keeps none
    /// (PostgreSQL). While it stays the same, routes and open incidents read earlier are still
    /// right, but for maintenance windows starting or ending on their own
    /// ([`paging::IntakeRoute::maintenance_changes_at`]).
    pub revision: Option<i64>,
    /// The route of each secret asked about, in order; `None` for a secret no integration has.
    pub routes: Vec<Option<paging::IntakeRoute>>,
}

impl std::fmt::Debug for Routing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Routing")
            .field("revision", &self.revision)
            .field("routes", &self.routes)
            .finish_non_exhaustive()
    }
}

/// A database holding watchbill's state.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    fn backend(&self) -> Backend;

    /// The store's clock, read now: the instant a transaction begun now would see.
    fn now(&self) -> Timestamp;

    /// A transaction for reading. It sees one consistent snapshot.
    async fn read(&self) -> Result<Box<dyn Tx>>;

    /// A transaction that may write. Nothing it does is visible to others, or durable, before
    /// [`Tx::commit`] returns.
    async fn write(&self) -> Result<Box<dyn Tx>>;

    /// [`Store::write`], the paging revision where the backend keeps one, and the intake route
    /// of each of these integration secrets at the transaction's time
    /// ([`PagingTx::intake_route`]), in order: what every intake batch asks first, in one
    /// step where the backend can (SQLite: one call to its thread).
    async fn write_routing(&self, secrets: &[String]) -> Result<Routing> {
        let mut tx = self.write().await?;
        let at = tx.now();
        let mut routes = Vec::with_capacity(secrets.len());
        for secret in secrets {
            routes.push(tx.intake_route(secret, at).await?);
        }
        Ok(Routing {
            tx,
            revision: None,
            routes,
        })
    }

    /// Applies any migrations this binary has that the database lacks. Safe to run from
    /// several processes at once.
    async fn migrate(&self) -> Result<MigrationReport>;

    /// Answers whether the database is reachable.
    async fn ping(&self) -> Result<()>;

    /// Brings the query planner's statistics of the incidents table up to date, after intake
    /// opened many incidents at once. PostgreSQL plans a statement it keeps prepared from the
    /// statistics it has at the time, and autovacuum refreshes them only at its next round (up
    /// to a minute later): until then, a table that grew from a few rows to thousands in an
    /// alert storm is scanned whole where its index would find the few rows wanted. SQLite has
    /// nothing to do: no statistics are ever gathered there, so its plans do not depend on any.
    async fn refresh_statistics(&self) -> Result<()>;
}

/// What [`Store::migrate`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationReport {
    pub applied: Vec<String>,
    pub already_applied: usize,
    /// What the database's own settings should change, for the operator: logged at start.
    pub warnings: Vec<String>,
}

/// One transaction. Dropping it without [`Tx::commit`] rolls everything back. After any error
/// the transaction is spent (PostgreSQL aborts it): drop it and start again.
///
/// Its operations come in two groups: [`RosterTx`] (people, teams, schedules, tokens) and
/// [`PagingTx`] (services, incidents, escalation and notifications).
#[async_trait]
pub trait Tx:
    RosterTx + PagingTx + TicketTx + WebTx + NoticeTx + MailTx + PostMortemTx + Send
{
    /// Commits, and returns once the transaction is durable.
    async fn commit(self: Box<Self>) -> Result<()> {
        self.commit_before_flush().await?.wait().await
    }

    /// Commits, and returns as soon as other transactions may write, with the [`Flush`] to
    /// wait for before anything is said about this one: nothing may leave the process because
    /// of it (an answer, a page) before [`Flush::wait`] returns. On PostgreSQL the commit is
    /// durable when it returns; on SQLite the flush is shared by every commit before it.
    async fn commit_before_flush(self: Box<Self>) -> Result<Flush>;

    /// The instant this transaction began, from the store's clock; used for every timestamp
    /// it writes.
    fn now(&self) -> Timestamp;
}

/// The roster: users, teams, schedules and their layers, overrides, tokens and the audit log.
#[async_trait]
pub trait RosterTx: Send {
    /// The roster revision: a number that grows with every committed change to users, teams,
    /// schedules, layers or overrides, and to what paging reads of them: services, escalation
    /// policies, contact methods and notification rules. Equal numbers mean an equal roster.
    async fn roster_revision(&mut self) -> Result<i64>;

    // Users.
    async fn insert_user(&mut self, input: &UserInput) -> Result<User>;
    async fn update_user(&mut self, id: UserId, input: &UserInput) -> Result<User>;
    async fn delete_user(&mut self, id: UserId) -> Result<()>;
    async fn user(&mut self, id: UserId) -> Result<User>;
    async fn find_user_by_email(&mut self, email: &str) -> Result<Option<User>>;
    async fn find_user_by_ics_token(&mut self, token: &str) -> Result<Option<User>>;
    async fn users(&mut self) -> Result<Vec<User>>;

    // Teams.
    async fn insert_team(&mut self, input: &TeamInput) -> Result<Team>;
    async fn update_team(&mut self, id: TeamId, input: &TeamInput) -> Result<Team>;
    async fn delete_team(&mut self, id: TeamId) -> Result<()>;
    async fn team(&mut self, id: TeamId) -> Result<Team>;
    async fn teams(&mut self) -> Result<Vec<Team>>;

    // Schedules and their layers.
    async fn insert_schedule(&mut self, input: &ScheduleInput) -> Result<Schedule>;
    async fn update_schedule(&mut self, id: ScheduleId, input: &ScheduleInput) -> Result<Schedule>;
    async fn delete_schedule(&mut self, id: ScheduleId) -> Result<()>;
    async fn schedule(&mut self, id: ScheduleId) -> Result<Schedule>;
    /// All schedules, or a team's, ordered by id, with their layers.
    async fn schedules(&mut self, team: Option<TeamId>) -> Result<Vec<Schedule>>;
    async fn find_schedule_by_ics_token(&mut self, token: &str) -> Result<Option<Schedule>>;
    /// Adds a layer on top of the schedule's existing ones.
    async fn insert_layer(&mut self, schedule: ScheduleId, input: &LayerInput) -> Result<Layer>;
    async fn update_layer(&mut self, id: LayerId, input: &LayerInput) -> Result<Layer>;
    async fn delete_layer(&mut self, id: LayerId) -> Result<()>;

    // Overrides.
    async fn insert_override(&mut self, input: &OverrideInput) -> Result<Override>;
    async fn delete_override(&mut self, id: OverrideId) -> Result<()>;
    async fn override_by_id(&mut self, id: OverrideId) -> Result<Override>;
    /// Overrides that overlap `[from, to)`, of the given schedules or all, ordered by id.
    async fn overrides(
        &mut self,
        schedules: Option<&[ScheduleId]>,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Override>>;

    // API tokens.
    async fn insert_token(&mut self, input: &TokenInput) -> Result<ApiToken>;
    async fn find_token_by_hash(&mut self, secret_hash: &str) -> Result<Option<ApiToken>>;
    async fn tokens(&mut self) -> Result<Vec<ApiToken>>;
    async fn delete_token(&mut self, id: TokenId) -> Result<()>;

    // The audit log.
    async fn record_audit(&mut self, actor: &str, action: &str, subject: &str) -> Result<()>;
    async fn audit_log(&mut self, limit: i64) -> Result<Vec<AuditEntry>>;
}

/// Opens the store a URL names: `sqlite://path` (created if missing) or `postgres://…`.
pub async fn connect(url: &str, clock: Arc<dyn Clock>) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::open(url, clock).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PostgresStore::open(url, clock).await?))
    } else {
        Err(StoreError::Migration(format!(
            "unsupported database URL `{}`: use sqlite://PATH or postgres://…",
            redact(url)
        )))
    }
}

/// A URL with any password replaced, safe to print.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.find(':') {
                Some(colon) => format!(
                    "{}://{}:***{}",
                    &url[..scheme_end],
                    &credentials[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// A new random secret: 32 characters of URL-safe alphanumerics (about 190 bits).
pub fn new_secret() -> String {
    use rand::distributions::Alphanumeric;
    use rand::Rng;
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}

/// The hex SHA-256 of a secret, as stored for API tokens.
pub fn hash_secret(secret: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(secret.as_bytes()))
}

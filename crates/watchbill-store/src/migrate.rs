//! Schema migrations: each backend has its own ordered list, embedded in the binary.

/// One migration: applied once, in version order, inside a transaction.
pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Lists a backend's migrations from `migrations/<backend>/<NNNN>_<name>.sql`.
macro_rules! migrations {
    ($backend:literal: $(($version:literal, $file:literal, $name:literal)),* $(,)?) => {
        &[$(Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("../migrations/", $backend, "/", $file, "_", $name, ".sql")),
        }),*]
    };
}

pub(crate) const SQLITE: &[Migration] = migrations!("sqlite":
    (1, "0001", "foundation"),
    (2, "0002", "roster_revision"),
    (3, "0003", "paging"),
    (4, "0004", "heartbeats_and_webhooks"),
    (5, "0005", "tickets"),
    (6, "0006", "ticket_comments_and_links"),
    (7, "0007", "saved_filters"),
    (8, "0008", "low_urgency_tickets"),
    (9, "0009", "commits"),
    (10, "0010", "handoff_reports"),
    (11, "0011", "ticket_attachments"),
    (12, "0012", "web"),
    (13, "0013", "notices"),
    (14, "0014", "mail"),
    (15, "0015", "post_mortems"),
    (16, "0016", "post_mortem_review"),
    (17, "0017", "change_events_index"),
    (18, "0018", "change_events_forget_keys"),
    (19, "0019", "events_outlive_integrations"),
    (20, "0020", "alerts_counted_from_events"),
    (21, "0021", "paging_revision"),
);

pub(crate) const POSTGRES: &[Migration] = migrations!("postgres":
    (1, "0001", "foundation"),
    (2, "0002", "roster_revision"),
    (3, "0003", "paging"),
    (4, "0004", "heartbeats_and_webhooks"),
    (5, "0005", "tickets"),
    (6, "0006", "ticket_comments_and_links"),
    (7, "0007", "saved_filters"),
    (8, "0008", "low_urgency_tickets"),
    (9, "0009", "commits"),
    (10, "0010", "handoff_reports"),
    (11, "0011", "ticket_attachments"),
    (12, "0012", "web"),
    (13, "0013", "notices"),
    (14, "0014", "mail"),
    (15, "0015", "post_mortems"),
    (16, "0016", "post_mortem_review"),
    (17, "0017", "change_events_index"),
    (18, "0018", "change_events_forget_keys"),
    (19, "0019", "events_outlive_integrations"),
);

/// The table recording which migrations a database has, in the syntax both backends accept.
pub(crate) const CREATE_MIGRATIONS_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS watchbill_migrations (\
    version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)";

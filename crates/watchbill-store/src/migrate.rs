//! Schema migrations: each backend has its own ordered list, embedded in the binary.

/// One migration: applied once, in version order, inside a transaction.
pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

pub(crate) const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "foundation",
        sql: include_str!("../migrations/sqlite/0001_foundation.sql"),
    },
    Migration {
        version: 2,
        name: "roster_revision",
        sql: include_str!("../migrations/sqlite/0002_roster_revision.sql"),
    },
];

pub(crate) const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "foundation",
        sql: include_str!("../migrations/postgres/0001_foundation.sql"),
    },
    Migration {
        version: 2,
        name: "roster_revision",
        sql: include_str!("../migrations/postgres/0002_roster_revision.sql"),
    },
];

/// The table recording which migrations a database has, in the syntax both backends accept.
pub(crate) const CREATE_MIGRATIONS_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS watchbill_migrations (\
    version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)";

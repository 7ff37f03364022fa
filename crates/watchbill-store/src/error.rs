//! The store's one error type.

use std::borrow::Cow;

/// What went wrong in the store, in terms a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The thing asked for does not exist.
    #[error("{what} not found")]
    NotFound { what: Cow<'static, str> },
    /// A unique name or address is already taken.
    #[error("{what} already exists")]
    Conflict { what: Cow<'static, str> },
    /// Rows the transaction counted on changed before it wrote them: another writer, in this
    /// process or another, got there first. Trying the whole transaction again, reading
    /// afresh, may succeed.
    #[error("{what} changed meanwhile")]
    Changed { what: Cow<'static, str> },
    /// A reference points at nothing, or a deletion would leave references dangling.
    #[error("{message}")]
    Reference {
        message: Cow<'static, str>,
        field: Option<Cow<'static, str>>,
    },
    /// The database could not be reached or failed; the caller should retry later.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// A migration failed or the schema is newer than this binary.
    #[error("migration failed: {0}")]
    Migration(String),
    /// Data read back from the database does not parse; a bug or a hand-edited row.
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Whether trying the whole transaction again may succeed: a unique-key race with another
    /// server, rows changed since they were read, a deadlock, a serialization failure, or a
    /// busy SQLite file.
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Conflict { .. } | StoreError::Changed { .. } => true,
            StoreError::Database(sqlx::Error::Database(db)) => {
                matches!(
                    db.code().as_deref(),
                    Some("40001" | "40P01" | "5" | "517" | "6")
                )
            }
            _ => false,
        }
    }

    pub fn not_found(what: impl Into<Cow<'static, str>>) -> StoreError {
        StoreError::NotFound { what: what.into() }
    }

    pub fn reference(
        message: impl Into<Cow<'static, str>>,
        field: impl Into<Cow<'static, str>>,
    ) -> StoreError {
        StoreError::Reference {
            message: message.into(),
            field: Some(field.into()),
        }
    }

    /// Maps database errors to the variants a caller can act on; `what` names the subject for
    /// uniqueness and reference violations.
    pub(crate) fn from_sqlx(error: sqlx::Error, what: &'static str) -> StoreError {
        if let sqlx::Error::Database(db) = &error {
            match db.kind() {
                sqlx::error::ErrorKind::UniqueViolation => {
                    return StoreError::Conflict { what: what.into() };
                }
                sqlx::error::ErrorKind::ForeignKeyViolation => {
                    return StoreError::Reference {
                        message: format!("{what} refers to something that does not exist, or is still referred to").into(),
                        field: None,
                    };
                }
                _ => {}
            }
        }
        if let sqlx::Error::RowNotFound = error {
            return StoreError::not_found(what);
        }
        StoreError::Database(error)
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        StoreError::from_sqlx(error, "record")
    }
}

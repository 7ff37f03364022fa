//! Fresh databases for tests: a new SQLite file or a new PostgreSQL database per test, removed
//! again when the handle drops.
//!
//! PostgreSQL is found through `WATCHBILL_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). It is required: a test that cannot reach it
//! fails rather than skipping, so a green run always means both backends were exercised.

use std::path::PathBuf;
use std::sync::Arc;

use sqlx::Connection;

use crate::{new_secret, Backend, Store, StoreError};

/// The server every test database is created on.
pub fn postgres_admin_url() -> String {
    std::env::var("WATCHBILL_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database that exists for one test.
#[derive(Debug)]
pub struct TestDatabase {
    pub backend: Backend,
    pub url: String,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    File(PathBuf),
    Postgres { admin_url: String, name: String },
}

impl TestDatabase {
    /// A new, empty SQLite file in the temporary directory.
    pub fn sqlite() -> TestDatabase {
        let path =
            std::env::temp_dir().join(format!("watchbill-test-{}.db", new_secret().to_lowercase()));
        TestDatabase {
            backend: Backend::Sqlite,
            url: format!("sqlite://{}", path.display()),
            cleanup: Cleanup::File(path),
        }
    }

    /// A new, empty PostgreSQL database.
    pub async fn postgres() -> Result<TestDatabase, String> {
        let admin_url = postgres_admin_url();
        let name = format!("wbtest_{}", new_secret().to_lowercase());
        let mut admin = sqlx::PgConnection::connect(&admin_url).await.map_err(|e| {
            format!(
                "PostgreSQL is required for the tests and was not reachable at {admin_url}: {e}"
            )
        })?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .map_err(|e| format!("creating test database {name}: {e}"))?;
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(base, _)| base)
            .to_owned();
        Ok(TestDatabase {
            backend: Backend::Postgres,
            url: format!("{base}/{name}"),
            cleanup: Cleanup::Postgres { admin_url, name },
        })
    }

    /// A fresh database of the given backend.
    pub async fn new(backend: Backend) -> Result<TestDatabase, String> {
        match backend {
            Backend::Sqlite => Ok(TestDatabase::sqlite()),
            Backend::Postgres => TestDatabase::postgres().await,
        }
    }

    /// A store on this database with every migration applied, on the system's clock.
    pub async fn migrated_store(&self) -> Result<Arc<dyn Store>, StoreError> {
        let store = crate::connect(&self.url, Arc::new(watchbill_core::SystemClock)).await?;
        store.migrate().await?;
        Ok(store)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    let _ = std::fs::remove_file(file);
                }
            }
            Cleanup::Postgres { admin_url, name } => {
                let (admin_url, name) = (admin_url.clone(), name.clone());
                // Drop runs outside any async context we could borrow, so the cleanup gets a
                // small runtime of its own on a separate thread.
                let _ = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build();
                    if let Ok(runtime) = runtime {
                        runtime.block_on(async {
                            if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await {
                                let _ = sqlx::query(&format!(
                                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                                ))
                                .execute(&mut admin)
                                .await;
                            }
                        });
                    }
                })
                .join();
            }
        }
    }
}

//! A real server on 127.0.0.1 with a fresh database per test, a clock the test moves, and a
//! client that speaks to it over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

pub mod peers;

use std::sync::Arc;

use jiff::Timestamp;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use watchbill_core::{Clock, ManualClock};
use watchbill_server::paging::engine::Engine;
use watchbill_server::{AppState, PagingConfig};
use watchbill_store::testing::TestDatabase;
use watchbill_store::{Backend, Store};

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// The largest message the test servers' mail intake takes.
pub const SMTP_MAX_SIZE: usize = 1024 * 1024;

pub struct TestApp {
    pub url: String,
    /// Mail intake's `host:port`.
    pub smtp: String,
    /// The server's state, for starting more of its parts (IMAP polling).
    pub state: AppState,
    pub store: Arc<dyn Store>,
    pub clock: Arc<ManualClock>,
    /// The engine, stepped by the test.
    pub engine: Engine,
    http: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    database_url: String,
    paging: PagingConfig,
    // Dropped last: the database outlives the server. A second server on the same database
    // holds none.
    _db: Option<TestDatabase>,
}

impl TestApp {
    /// Starts a server on a fresh database with the clock at `now` and an admin token.
    pub async fn start(backend: Backend, now: &str) -> TestApp {
        TestApp::start_with(backend, now, PagingConfig::default()).await
    }

    /// Starts a server whose pages go out as `paging` says.
    pub async fn start_with(backend: Backend, now: &str, paging: PagingConfig) -> TestApp {
        let db = TestDatabase::new(backend).await.expect("test database");
        let mut app = TestApp::on_database(&db.url, now, paging).await;
        app._db = Some(db);
        app
    }

    /// Another server on this one's database, as a second node would be.
    pub async fn another_server(&self) -> TestApp {
        TestApp::on_database(
            &self.database_url,
            &self.clock.now().to_string(),
            self.paging.clone(),
        )
        .await
    }

    async fn on_database(database_url: &str, now: &str, paging: PagingConfig) -> TestApp {
        let clock = Arc::new(ManualClock::new(now.parse().unwrap()));
        let store = watchbill_store::connect(database_url, clock.clone())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        watchbill_server::setup::bootstrap(store.as_ref(), Some(ADMIN_TOKEN))
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (state, engine) = AppState::start(
            store.clone(),
            clock.clone(),
            url.clone(),
            paging.clone(),
            watchbill_server::Facing::default(),
        )
        .await
        .unwrap();
        let (shutdown, stopped) = oneshot::channel::<()>();
        // Mail intake on a port of its own, stopped with the HTTP server.
        let smtp_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let smtp = smtp_listener.local_addr().unwrap().to_string();
        let (stop_mail, mail_stopped) = oneshot::channel::<()>();
        tokio::spawn(watchbill_server::mail::smtp::serve_smtp(
            smtp_listener,
            state.clone(),
            watchbill_server::mail::smtp::SmtpConfig {
                hostname: "watchbill.test".to_owned(),
                max_size: SMTP_MAX_SIZE,
                tls: None,
                timeout: std::time::Duration::from_secs(30),
                reply_address: Some("watchbill@example.test".to_owned()),
            },
            async {
                let _ = mail_stopped.await;
            },
        ));
        let shared_state = state.clone();
        tokio::spawn(watchbill_server::serve(listener, state, async {
            let _ = stopped.await;
            let _ = stop_mail.send(());
        }));
        TestApp {
            url,
            smtp,
            state: shared_state,
            store,
            clock,
            engine,
            http: reqwest::Client::new(),
            shutdown: Some(shutdown),
            database_url: database_url.to_owned(),
            paging,
            _db: None,
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, seconds: i64) {
        self.clock.advance(jiff::SignedDuration::from_secs(seconds));
    }

    /// Runs engine steps until one finds nothing to do.
    pub async fn settle(&self) -> watchbill_server::paging::engine::StepReport {
        let mut total = watchbill_server::paging::engine::StepReport::default();
        loop {
            let report = self.engine.step().await.unwrap();
            if report.escalations + report.sent + report.failed == 0 {
                return total;
            }
            total.escalations += report.escalations;
            total.sent += report.sent;
            total.failed += report.failed;
        }
    }

    pub fn set_now(&self, now: &str) {
        self.clock.set(now.parse::<Timestamp>().unwrap());
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.request(Method::GET, path, Some(ADMIN_TOKEN), None)
            .await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.request(Method::POST, path, Some(ADMIN_TOKEN), Some(body))
            .await
    }

    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.request(Method::PUT, path, Some(ADMIN_TOKEN), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.request(Method::DELETE, path, Some(ADMIN_TOKEN), None)
            .await
    }

    pub async fn text(&self, path: &str) -> (StatusCode, String, String) {
        let response = self
            .http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, content_type, response.text().await.unwrap())
    }

    /// A GET with the admin token, answered as text: (status, content type, body).
    pub async fn text_with_token(&self, path: &str) -> (StatusCode, String, String) {
        let response = self
            .http
            .get(format!("{}{path}", self.url))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, content_type, response.text().await.unwrap())
    }

    /// Creates a user and returns its id.
    pub async fn user(&self, name: &str) -> i64 {
        let (status, body) = self
            .post(
                "/api/v1/users",
                json!({"name": name, "email": format!("{}@example.test", name.to_lowercase()), "time_zone": "America/Los_Angeles"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_i64().unwrap()
    }

    /// Creates a team with the given members and returns its id.
    pub async fn team(&self, name: &str, members: &[i64]) -> i64 {
        let (status, body) = self
            .post("/api/v1/teams", json!({"name": name, "members": members}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_i64().unwrap()
    }

    /// A token with the given role.
    pub async fn token(&self, role: &str) -> String {
        let (status, body) = self
            .post("/api/v1/tokens", json!({"name": role, "role": role}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["secret"].as_str().unwrap().to_owned()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// Runs each named async test function once per backend.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(watchbill_store::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(watchbill_store::Backend::Postgres).await;
                }
            )*
        }
    };
}

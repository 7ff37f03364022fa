//! What the process-level tests share: a real `watchbill serve` child process that can be
//! killed with SIGKILL and started again on the same database, an HTTP client for its API, a
//! webhook receiver that records every page, and the line-up of people, schedules, policy and
//! service that incidents page.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::collections::HashMap;
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};

pub const BIN: &str = env!("CARGO_BIN_EXE_watchbill");

/// The admin token every server is started with. Passing it through
/// `WATCHBILL_BOOTSTRAP_TOKEN` means a restarted server on the same database accepts it too.
pub const TOKEN: &str = "process-test-bootstrap-token-0123456789";

/// A directory under the system temporary directory, removed when dropped.
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "{prefix}-{}",
            watchbill_store::new_secret().to_lowercase()
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir { path }
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The last `lines` lines of a log file, for failure messages.
pub fn tail(path: &std::path::Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A `watchbill serve` process on 127.0.0.1 with a port of its own. It is killed (SIGKILL)
/// when dropped, so a failing test leaves no server behind.
pub struct Server {
    child: Child,
    pub url: String,
    /// Everything the server printed up to "Press Ctrl-C to stop.".
    pub banner: String,
    /// Where the server's log (its stderr) goes; printed when something fails.
    pub log: PathBuf,
    _logs: Arc<TempDir>,
}

impl Server {
    /// Starts a server on `database_url` and waits (at most 30 s) for its banner. Blocks; from
    /// async code use [`Server::spawn`].
    pub fn start(database_url: &str) -> Server {
        Server::start_with(database_url, &[])
    }

    /// [`Server::start`] with more `serve` flags.
    pub fn start_with(database_url: &str, extra: &[&str]) -> Server {
        let logs = Arc::new(TempDir::new("watchbill-serve-log"));
        let log = logs.file("serve.log");
        let stderr = std::fs::File::create(&log).unwrap();
        let mut child = Command::new(BIN)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--database-url",
                database_url,
            ])
            .args(extra)
            .env("WATCHBILL_SMTP_LISTEN", "127.0.0.1:0")
            .env("WATCHBILL_BOOTSTRAP_TOKEN", TOKEN)
            .env("WATCHBILL_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        // The banner is read on a thread of its own so that a server that hangs before
        // printing it fails the test after the deadline instead of blocking it forever. The
        // thread keeps draining stdout afterwards so the pipe never fills.
        let (lines_tx, lines_rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = lines_tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut url = None;
        let mut banner = String::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match lines_rx.recv_timeout(left) {
                Ok(line) => line,
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "watchbill serve did not print its banner within 30 s; its log:\n{}",
                        tail(&log, 40)
                    );
                }
            };
            if let Some(rest) = line
                .strip_prefix("watchbill ")
                .and_then(|l| l.split(" is listening on ").nth(1))
            {
                url = Some(rest.trim().to_owned());
            }
            banner.push_str(&line);
            banner.push('\n');
            if line == "Press Ctrl-C to stop." {
                break;
            }
        }
        Server {
            child,
            url: url.expect("the banner names the URL"),
            banner,
            log,
            _logs: logs,
        }
    }

    /// [`Server::start`] without blocking the async runtime's worker.
    pub async fn spawn(database_url: &str) -> Server {
        let url = database_url.to_owned();
        tokio::task::spawn_blocking(move || Server::start(&url))
            .await
            .unwrap()
    }

    /// Kills the process with SIGKILL, as a power cut or the OOM killer would: no shutdown
    /// code runs.
    pub fn kill9(mut self) -> PathBuf {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.log.clone()
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn log_tail(&self) -> String {
        tail(&self.log, 40)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client for one server's HTTP API with the admin token.
#[derive(Clone)]
pub struct Api {
    pub url: String,
    http: reqwest::Client,
}

impl Api {
    pub fn new(url: &str) -> Api {
        Api {
            url: url.to_owned(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
        }
    }

    /// Sends a request; transport errors (a killed server) come back as `Err`.
    pub async fn try_request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), reqwest::Error> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(TOKEN);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        let status = response.status();
        let text = response.text().await?;
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok((status, value))
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.try_request(reqwest::Method::GET, path, None)
            .await
            .unwrap_or_else(|e| panic!("GET {}{path} failed: {e}", self.url))
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.try_request(reqwest::Method::POST, path, Some(&body))
            .await
            .unwrap_or_else(|e| panic!("POST {}{path} failed: {e}", self.url))
    }

    /// POSTs and insists on 201 Created; returns the new object.
    pub async fn create(&self, path: &str, body: Value) -> Value {
        let (status, answer) = self.post(path, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::CREATED,
            "POST {path} {body} answered {answer}"
        );
        answer
    }

    /// Every incident, newest first (the list's default is every status).
    pub async fn incidents(&self) -> Vec<Value> {
        let (status, list) = self.get("/api/v1/incidents?limit=1000").await;
        assert_eq!(status, StatusCode::OK, "{list}");
        list.as_array().unwrap().clone()
    }

    /// One incident with its timeline and notifications.
    pub async fn incident(&self, id: i64) -> Value {
        let (status, detail) = self.get(&format!("/api/v1/incidents/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{detail}");
        detail
    }

    /// Sends an Events API v2 event; transport errors come back as `Err`.
    pub async fn enqueue(&self, event: &Value) -> Result<(StatusCode, Value), reqwest::Error> {
        let response = self
            .http
            .post(format!("{}/v2/enqueue", self.url))
            .json(event)
            .send()
            .await?;
        let status = response.status();
        let value = response.json::<Value>().await.unwrap_or(Value::Null);
        Ok((status, value))
    }
}

/// An Events API v2 trigger.
pub fn trigger(key: &str, dedup: &str, summary: &str) -> Value {
    json!({"routing_key": key, "event_action": "trigger", "dedup_key": dedup,
           "payload": {"summary": summary, "source": "crash-test", "severity": "critical"}})
}

/// One page a receiver got.
#[derive(Debug, Clone)]
pub struct Page {
    pub path: String,
    pub idempotency_key: String,
    pub body: Value,
    /// When it arrived.
    pub at: Instant,
}

impl Page {
    /// Whether `server` (a base URL) sent this page: its acknowledge link names the server
    /// that built it.
    pub fn sent_by(&self, server: &str) -> bool {
        self.body["acknowledge_url"]
            .as_str()
            .is_some_and(|url| url.starts_with(&format!("{server}/")))
    }
}

/// An HTTP server on 127.0.0.1 that records every POST (path, `idempotency-key` header and
/// JSON body) and answers 200, standing in for a person's webhook contact method.
pub struct Receiver {
    pub url: String,
    pages: Arc<Mutex<Vec<Page>>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        async fn record(
            State(pages): State<Arc<Mutex<Vec<Page>>>>,
            uri: Uri,
            headers: HeaderMap,
            body: Bytes,
        ) -> &'static str {
            let idempotency_key = headers
                .get("idempotency-key")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let body = serde_json::from_slice(&body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
            pages.lock().unwrap().push(Page {
                path: uri.path().to_owned(),
                idempotency_key,
                body,
                at: Instant::now(),
            });
            "ok"
        }
        let pages: Arc<Mutex<Vec<Page>>> = Arc::default();
        let app = Router::new()
            .route("/{*path}", post(record))
            .with_state(pages.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, pages }
    }

    pub fn pages(&self) -> Vec<Page> {
        self.pages.lock().unwrap().clone()
    }
}

/// Idempotency keys the receiver got more than once, with how many times.
pub fn repeated_keys(pages: &[Page]) -> Vec<(String, usize)> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for page in pages {
        *counts.entry(page.idempotency_key.as_str()).or_default() += 1;
    }
    let mut repeated: Vec<(String, usize)> = counts
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(k, n)| (k.to_owned(), n))
        .collect();
    repeated.sort();
    repeated
}

/// What [`line_up`] created.
#[derive(Debug, Clone)]
pub struct LineUp {
    pub team: i64,
    pub ada: i64,
    pub grace: i64,
    pub captain: i64,
    pub first_mate: i64,
    pub policy: i64,
    pub service: i64,
    /// The `events_v2` integration's routing key.
    pub events_key: String,
}

/// Creates Ada (primary, on the "Captain On-Call" schedule) and Grace (secondary, on
/// "First-mate"), their team, a policy that pages the Captain, then `level_one_delay` seconds
/// later the First-mate, a service on that policy and an Events API v2 integration whose rate
/// limit is far above what a test sends. With a receiver, both are paged by webhook at
/// `<receiver>/pages/ada` and `<receiver>/pages/grace`.
pub async fn line_up(api: &Api, receiver: Option<&Receiver>, level_one_delay: i64) -> LineUp {
    let person = |name: &str| json!({"name": name, "email": format!("{}@example.test", name.to_lowercase()), "time_zone": "UTC"});
    let ada = api.create("/api/v1/users", person("Ada")).await["id"]
        .as_i64()
        .unwrap();
    let grace = api.create("/api/v1/users", person("Grace")).await["id"]
        .as_i64()
        .unwrap();
    let team = api
        .create(
            "/api/v1/teams",
            json!({"name": "User-facing", "members": [ada, grace]}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    // A one-person weekly rotation that started long ago: that person is always on call.
    let schedule = |name: &str, who: i64| {
        json!({"team_id": team, "name": name, "time_zone": "UTC",
               "layers": [{"name": "Weekly", "participants": [who], "turn": "1w",
                           "handoff": "Wednesday 10:00", "start": "2026-01-07T10:00:00Z"}]})
    };
    let captain = api
        .create("/api/v1/schedules", schedule("Captain On-Call", ada))
        .await["id"]
        .as_i64()
        .unwrap();
    let first_mate = api
        .create("/api/v1/schedules", schedule("First-mate", grace))
        .await["id"]
        .as_i64()
        .unwrap();
    let policy = api
        .create(
            "/api/v1/escalation-policies",
            json!({"team_id": team, "name": "Product", "levels": [
                {"targets": [{"kind": "schedule", "id": captain}], "delay_seconds": level_one_delay},
                {"targets": [{"kind": "schedule", "id": first_mate}], "delay_seconds": 60}]}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let service = api
        .create(
            "/api/v1/services",
            json!({"team_id": team, "name": "Course platform", "escalation_policy_id": policy}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let integration = api
        .create(
            &format!("/api/v1/services/{service}/integrations"),
            json!({"kind": "events_v2", "rate_per_minute": 10_000_000}),
        )
        .await;
    if let Some(receiver) = receiver {
        for (user, name) in [(ada, "ada"), (grace, "grace")] {
            api.create(
                &format!("/api/v1/users/{user}/contact-methods"),
                json!({"kind": "webhook", "address": format!("{}/pages/{name}", receiver.url)}),
            )
            .await;
        }
    }
    LineUp {
        team,
        ada,
        grace,
        captain,
        first_mate,
        policy,
        service,
        events_key: integration["key"].as_str().unwrap().to_owned(),
    }
}

/// Calls `check` every `every` until it returns `Some`, or panics after `limit` with
/// `what` and the last state `check` described.
pub async fn wait_for<T, F, Fut>(what: &str, limit: Duration, every: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + limit;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(state) => {
                assert!(
                    Instant::now() < deadline,
                    "timed out after {limit:?} waiting for {what}; last seen: {state}"
                );
            }
        }
        tokio::time::sleep(every).await;
    }
}

/// A small pseudo-random generator (xorshift), seeded from the clock unless
/// `WATCHBILL_TEST_SEED` is set, so a failing run can be repeated with its printed seed.
pub struct Rng(u64);

impl Rng {
    pub fn from_env_or_clock() -> Rng {
        let seed = std::env::var("WATCHBILL_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            })
            .max(1);
        eprintln!("random seed: {seed} (set WATCHBILL_TEST_SEED={seed} to repeat)");
        Rng(seed)
    }

    /// A generator for a task of its own, derived from this one so the seed still repeats
    /// the run.
    pub fn split(&mut self) -> Rng {
        Rng(self.next().max(1))
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `low..high`.
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low).max(1)
    }
}

//! A real Prometheus Alertmanager (Debian's `prometheus-alertmanager`, 0.25) as the sender:
//! alerts posted to it reach `watchbill serve` through its webhook receiver
//! (`/integrations/alertmanager`) and through its PagerDuty receiver pointed at watchbill's
//! Events API v2 (`/v2/enqueue`), open one incident each with the right title, and resolve
//! them when the alerts end. On SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use support::{tail, Api, Server, TempDir};
use watchbill_store::testing::TestDatabase;
use watchbill_store::Backend;

/// Every wait in this test is bounded by this.
const WAIT: Duration = Duration::from_secs(30);

/// The two alerts, one per route, and the titles their incidents must get.
const WEBHOOK_TITLE: &str = "Checkout p99 latency above 2s";
const PAGERDUTY_TITLE: &str = "Disk on db-1 almost full";

/// The Alertmanager binary: `WATCHBILL_TEST_ALERTMANAGER` if set, else the Debian package's.
fn alertmanager_binary() -> String {
    std::env::var("WATCHBILL_TEST_ALERTMANAGER")
        .unwrap_or_else(|_| "prometheus-alertmanager".to_owned())
}

/// A running Alertmanager with clustering off, its storage in a temporary directory. Killed
/// when dropped.
struct Alertmanager {
    child: Child,
    url: String,
    log: std::path::PathBuf,
    _dir: TempDir,
}

impl Alertmanager {
    fn start(config: &str) -> Alertmanager {
        let dir = TempDir::new("watchbill-alertmanager");
        let config_file = dir.file("alertmanager.yml");
        std::fs::write(&config_file, config).unwrap();
        let storage = dir.file("data");
        std::fs::create_dir_all(&storage).unwrap();
        let log = dir.file("alertmanager.log");
        // Alertmanager cannot be told to pick its own port and report it, so a free port is
        // found by binding to port 0 and releasing it just before Alertmanager binds it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(alertmanager_binary())
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!("--storage.path={}", storage.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            // An empty cluster address turns gossip off: one instance, no peers to wait for.
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run `{}`: {e}; install the prometheus-alertmanager Debian package (scripts/test does)",
                    alertmanager_binary()
                )
            });
        let mut alertmanager = Alertmanager {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
            _dir: dir,
        };
        alertmanager.wait_ready();
        alertmanager
    }

    /// Waits for `/-/ready`, failing with Alertmanager's log if it exits or never gets ready.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "Alertmanager exited ({status}) before it was ready; its log:\n{}",
                    tail(&self.log, 40)
                );
            }
            if let Ok(mut stream) =
                std::net::TcpStream::connect(self.url.trim_start_matches("http://"))
            {
                use std::io::Write;
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let _ = stream.write_all(
                    b"GET /-/ready HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                );
                let mut answer = String::new();
                let _ = stream.read_to_string(&mut answer);
                if answer.starts_with("HTTP/1.1 200") {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "Alertmanager was not ready within {WAIT:?}; its log:\n{}",
                tail(&self.log, 40)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Posts alerts to Alertmanager's API, as Prometheus does on every evaluation.
    async fn post_alerts(&self, alerts: &Value) {
        let response = reqwest::Client::new()
            .post(format!("{}/api/v2/alerts", self.url))
            .json(alerts)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert_eq!(
            status,
            StatusCode::OK,
            "Alertmanager refused the alerts: {body}"
        );
    }

    /// The fingerprint Alertmanager gave the alert whose `route` label is `route`.
    async fn fingerprint(&self, route: &str) -> String {
        let alerts: Value = reqwest::Client::new()
            .get(format!("{}/api/v2/alerts", self.url))
            .query(&[("filter", format!("route=\"{route}\""))])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        alerts[0]["fingerprint"]
            .as_str()
            .unwrap_or_else(|| panic!("Alertmanager lists no {route} alert: {alerts}"))
            .to_owned()
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An Alertmanager configuration with two receivers, chosen by the `route` label: watchbill's
/// Alertmanager webhook, and PagerDuty's Events API v2 pointed at watchbill. The intervals are
/// short so that a notification leaves about a second after an alert arrives or ends.
fn config(watchbill: &str, alertmanager_key: &str, events_key: &str) -> String {
    format!(
        r#"route:
  receiver: webhook
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - matchers: ['route="webhook"']
      receiver: webhook
    - matchers: ['route="pagerduty"']
      receiver: pagerduty
receivers:
  - name: webhook
    webhook_configs:
      - url: "{watchbill}/integrations/alertmanager?key={alertmanager_key}"
        send_resolved: true
  - name: pagerduty
    pagerduty_configs:
      - routing_key: "{events_key}"
        url: "{watchbill}/v2/enqueue"
        send_resolved: true
        severity: critical
        source: '{{{{ .CommonLabels.instance }}}}'
        description: '{{{{ .CommonAnnotations.summary }}}}'
"#
    )
}

/// The two alerts as Prometheus would send them. With `ended`, their `endsAt` is in the past,
/// which is how Prometheus tells Alertmanager an alert is resolved.
fn alerts(ended: bool) -> Value {
    let now = jiff::Timestamp::now();
    let starts = now - jiff::SignedDuration::from_secs(120);
    let alert = |name: &str, route: &str, instance: &str, summary: &str| {
        let mut alert = json!({
            "labels": {"alertname": name, "route": route, "instance": instance, "severity": "page"},
            "annotations": {"summary": summary},
            "startsAt": starts.to_string(),
            "generatorURL": "http://prometheus.test/graph?g0.expr=up",
        });
        if ended {
            alert["endsAt"] = json!((now - jiff::SignedDuration::from_secs(1)).to_string());
        }
        alert
    };
    json!([
        alert("HighLatency", "webhook", "web-1", WEBHOOK_TITLE),
        alert("DiskFull", "pagerduty", "db-1", PAGERDUTY_TITLE),
    ])
}

async fn alertmanager_opens_and_resolves_incidents(backend: Backend) {
    let db = TestDatabase::new(backend).await.unwrap();
    let server = Server::spawn(&db.url).await;
    let api = Api::new(&server.url);

    // The smallest line-up that pages: a user on a schedule, a policy, a service.
    let user = api
        .create(
            "/api/v1/users",
            json!({"name": "Ada", "email": "ada@example.test", "time_zone": "UTC"}),
        )
        .await["id"]
        .clone();
    let team = api
        .create(
            "/api/v1/teams",
            json!({"name": "Infrastructure", "members": [user]}),
        )
        .await["id"]
        .clone();
    let schedule = api
        .create(
            "/api/v1/schedules",
            json!({"team_id": team, "name": "Captain On-Call", "time_zone": "UTC",
                   "layers": [{"name": "Weekly", "participants": [user], "turn": "1w",
                               "handoff": "Wednesday 10:00", "start": "2026-01-07T10:00:00Z"}]}),
        )
        .await["id"]
        .clone();
    let policy = api
        .create(
            "/api/v1/escalation-policies",
            json!({"team_id": team, "name": "Infrastructure", "levels": [
                {"targets": [{"kind": "schedule", "id": schedule}], "delay_seconds": 300}]}),
        )
        .await["id"]
        .clone();
    let service = api
        .create(
            "/api/v1/services",
            json!({"team_id": team, "name": "Storage", "escalation_policy_id": policy}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let integrations = format!("/api/v1/services/{service}/integrations");
    let alertmanager_key = api
        .create(&integrations, json!({"kind": "alertmanager"}))
        .await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let events_key = api
        .create(&integrations, json!({"kind": "events_v2"}))
        .await["key"]
        .as_str()
        .unwrap()
        .to_owned();

    let alertmanager = Alertmanager::start(&config(&server.url, &alertmanager_key, &events_key));
    alertmanager.post_alerts(&alerts(false)).await;

    // One incident per route, each titled by its alert's summary.
    let opened = support::wait_for(
        "an incident from each Alertmanager receiver",
        WAIT,
        Duration::from_millis(250),
        || async {
            let incidents = api.incidents().await;
            let titled = |title: &str| incidents.iter().find(|i| i["title"] == title).cloned();
            match (titled(WEBHOOK_TITLE), titled(PAGERDUTY_TITLE)) {
                (Some(webhook), Some(pagerduty)) => Ok((webhook, pagerduty)),
                _ => Err(format!(
                    "incidents {}\nAlertmanager log:\n{}",
                    Value::from(incidents),
                    tail(&alertmanager.log, 20)
                )),
            }
        },
    )
    .await;
    let (webhook, pagerduty) = opened;
    assert_eq!(webhook["status"], "triggered", "{webhook}");
    assert_eq!(pagerduty["status"], "triggered", "{pagerduty}");
    assert_eq!(webhook["service_id"], service);
    assert_eq!(pagerduty["service_id"], service);
    // The webhook carries each alert's fingerprint, which watchbill uses as the dedup key; the
    // PagerDuty receiver sends a hash of the alert group's key instead.
    assert_eq!(
        webhook["dedup_key"],
        alertmanager.fingerprint("webhook").await,
        "{webhook}"
    );
    let pagerduty_dedup = pagerduty["dedup_key"].as_str().unwrap();
    assert!(
        pagerduty_dedup.len() == 64 && pagerduty_dedup.chars().all(|c| c.is_ascii_hexdigit()),
        "the PagerDuty receiver's dedup key is a SHA-256 of the group key: {pagerduty}"
    );
    assert_eq!(
        api.incidents().await.len(),
        2,
        "nothing else was opened: {}",
        Value::from(api.incidents().await)
    );

    // What each incident recorded about its first alert: the webhook takes the source from
    // the `instance` label, the PagerDuty receiver from its templated `source`.
    // The engine then fires level 1 on its next step, within about a second.
    for (incident, source) in [(&webhook, "web-1"), (&pagerduty, "db-1")] {
        let id = incident["id"].as_i64().unwrap();
        let detail = api.incident(id).await;
        let first = &detail["alerts"][0];
        assert_eq!(first["action"], "trigger", "{detail}");
        assert_eq!(first["source"], source, "{detail}");
        let api = &api;
        support::wait_for(
            "level 1 to page Ada",
            WAIT,
            Duration::from_millis(100),
            move || async move {
                let detail = api.incident(id).await;
                let fired = detail["timeline"].as_array().unwrap().iter().any(|e| {
                    e["kind"] == "not_notified" && e["message"] == "Ada has no contact methods"
                });
                if fired {
                    Ok(())
                } else {
                    Err(detail.to_string())
                }
            },
        )
        .await;
    }

    // Prometheus ends the alerts; Alertmanager sends them resolved through both receivers.
    alertmanager.post_alerts(&alerts(true)).await;
    support::wait_for(
        "both incidents to be resolved",
        WAIT,
        Duration::from_millis(250),
        || async {
            let incidents = api.incidents().await;
            let open: Vec<&Value> = incidents
                .iter()
                .filter(|i| i["status"] != "resolved")
                .collect();
            if open.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "still open: {open:?}\nAlertmanager log:\n{}",
                    tail(&alertmanager.log, 20)
                ))
            }
        },
    )
    .await;
    for incident in [&webhook, &pagerduty] {
        let detail = api.incident(incident["id"].as_i64().unwrap()).await;
        assert!(
            detail["alerts"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["action"] == "resolve" && a["outcome"] == "resolved"),
            "the resolve came from Alertmanager: {detail}"
        );
        assert!(detail["resolved_at"].is_string(), "{detail}");
    }
    assert_eq!(api.incidents().await.len(), 2, "resolving opened nothing");
    drop(alertmanager);
    drop(server);
}

mod sqlite {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn alertmanager_opens_and_resolves_incidents() {
        super::alertmanager_opens_and_resolves_incidents(watchbill_store::Backend::Sqlite).await;
    }
}

mod postgres {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn alertmanager_opens_and_resolves_incidents() {
        super::alertmanager_opens_and_resolves_incidents(watchbill_store::Backend::Postgres).await;
    }
}

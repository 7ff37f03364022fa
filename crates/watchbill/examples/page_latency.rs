//! Measures event-to-first-notification latency on a running server: sends Events API v2
//! triggers at a constant rate, each opening a new incident, and times how long until the
//! primary's webhook page for it arrives at a receiver run here.
//!
//! Usage: `cargo run --release --example page_latency -- URL ADMIN_TOKEN [RATE] [SECONDS]
//! [WARMUP_SECONDS]` against `watchbill serve` (any database). It creates its own team,
//! schedule, policy, service and contact method. With a warm-up, events are sent at the same
//! rate for that long first and left out of the figures, which then describe the steady state
//! rather than a cold start.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};

type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

async fn receive(State(arrivals): State<Arrivals>, body: Bytes) -> &'static str {
    let now = Instant::now();
    if let Ok(page) = serde_json::from_slice::<Value>(&body) {
        if let Some(title) = page["incident"]["title"].as_str() {
            arrivals
                .lock()
                .unwrap()
                .entry(title.to_owned())
                .or_insert(now);
        }
    }
    "ok"
}

async fn api(client: &reqwest::Client, url: &str, token: &str, path: &str, body: Value) -> Value {
    let response = client
        .post(format!("{url}{path}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.unwrap()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = args.get(1).expect("URL").trim_end_matches('/').to_owned();
    let token = args.get(2).expect("ADMIN_TOKEN").clone();
    let rate: u64 = args.get(3).map_or(1000, |r| r.parse().unwrap());
    let seconds: u64 = args.get(4).map_or(10, |s| s.parse().unwrap());
    let warmup: u64 = args.get(5).map_or(0, |s| s.parse().unwrap()) * rate;

    let arrivals: Arrivals = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let receiver = format!("http://{}/page", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/page", post(receive))
        .with_state(arrivals.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let client = reqwest::Client::new();
    let tag = format!("{}", std::process::id());
    let user = api(
        &client,
        &url,
        &token,
        "/api/v1/users",
        json!({"name": format!("Bench {tag}"), "email": format!("bench-{tag}@example.test")}),
    )
    .await;
    let user_id = user["id"].as_i64().unwrap();
    api(
        &client,
        &url,
        &token,
        &format!("/api/v1/users/{user_id}/contact-methods"),
        json!({"kind": "webhook", "address": receiver}),
    )
    .await;
    let team = api(
        &client,
        &url,
        &token,
        "/api/v1/teams",
        json!({"name": format!("Latency {tag}"), "members": [user_id]}),
    )
    .await;
    let schedule = api(&client, &url, &token, "/api/v1/schedules", json!({
        "team_id": team["id"], "name": "Primary", "time_zone": "UTC",
        "layers": [{"name": "All", "participants": [user_id], "turn": "1w", "handoff": "Monday 00:00", "start": "2026-01-05T00:00:00Z"}]
    })).await;
    let policy = api(&client, &url, &token, "/api/v1/escalation-policies", json!({
        "team_id": team["id"], "name": "Primary", "levels": [{"targets": [{"kind": "schedule", "id": schedule["id"]}], "delay_seconds": 3600}]
    })).await;
    let service = api(&client, &url, &token, "/api/v1/services", json!({"team_id": team["id"], "name": format!("Latency {tag}"), "escalation_policy_id": policy["id"]})).await;
    let integration = api(
        &client,
        &url,
        &token,
        &format!("/api/v1/services/{}/integrations", service["id"]),
        json!({"kind": "events_v2", "rate_per_minute": 10_000_000}),
    )
    .await;
    let key = integration["key"].as_str().unwrap().to_owned();

    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let total = rate * seconds;
    let mut ticker = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    // How long each event waited for its 202: the intake's share of the whole latency.
    let accepted: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..warmup + total {
        ticker.tick().await;
        let measured = n >= warmup;
        let (client, url, key, sent, accepted) = (
            client.clone(),
            url.clone(),
            key.clone(),
            sent.clone(),
            accepted.clone(),
        );
        tasks.spawn(async move {
            let title = if measured {
                format!("latency {n}")
            } else {
                format!("warm-up {n}")
            };
            let body = json!({"routing_key": key, "event_action": "trigger", "dedup_key": format!("latency-{n}"),
                              "payload": {"summary": title, "source": "bench", "severity": "critical"}});
            let started = Instant::now();
            if measured {
                sent.lock().unwrap().insert(title, started);
            }
            let response = client.post(format!("{url}/v2/enqueue")).json(&body).send().await.unwrap();
            assert_eq!(response.status().as_u16(), 202);
            if measured {
                accepted.lock().unwrap().push(started.elapsed());
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let deadline = Instant::now() + Duration::from_secs(30);
    while arrivals.lock().unwrap().len() < (warmup + total) as usize && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let sent = sent.lock().unwrap();
    let arrivals = arrivals.lock().unwrap();
    let mut latencies: Vec<Duration> = sent
        .iter()
        .filter_map(|(title, at)| {
            arrivals
                .get(title)
                .map(|arrived| arrived.duration_since(*at))
        })
        .collect();
    latencies.sort();
    let pick = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q) as usize];
    // The p99 of each second of the run, by when the event was sent: a slow start (new
    // connections, first plans) shows apart from a steady state.
    let first = sent.values().min().copied();
    let mut by_second: Vec<Vec<Duration>> = vec![Vec::new(); seconds as usize + 1];
    for (title, at) in sent.iter() {
        if let (Some(arrived), Some(first)) = (arrivals.get(title), first) {
            let second = (at.duration_since(first).as_secs() as usize).min(seconds as usize);
            by_second[second].push(arrived.duration_since(*at));
        }
    }
    let seconds_p99: Vec<String> = by_second
        .iter_mut()
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.sort();
            format!(
                "{:.0}",
                l[((l.len() - 1) as f64 * 0.99) as usize].as_secs_f64() * 1000.0
            )
        })
        .collect();
    println!("p99 of each second, ms: {}", seconds_p99.join(" "));
    let mut accepted = accepted.lock().unwrap().clone();
    accepted.sort();
    let pick_accepted = |q: f64| accepted[((accepted.len() as f64 - 1.0) * q) as usize];
    println!(
        "{rate} events/s for {seconds}s: {} of {total} pages arrived; event-to-page latency p50 {:?}, p99 {:?}, max {:?}",
        latencies.len(),
        pick(0.5),
        pick(0.99),
        latencies.last().copied().unwrap_or_default()
    );
    println!(
        "event to its 202: p50 {:?}, p99 {:?}, max {:?}",
        pick_accepted(0.5),
        pick_accepted(0.99),
        accepted.last().copied().unwrap_or_default()
    );
}

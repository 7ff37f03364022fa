//! Post-mortems over real HTTP, on SQLite and PostgreSQL: an incident that escalated becomes a
//! post-mortem whose timeline and figures match the incident, which then moves through review
//! to published and exports as Markdown.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::peers::Receiver;
use common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::json;
use watchbill_store::Backend;

on_both_backends!(an_escalated_incident_becomes_a_post_mortem);

async fn an_escalated_incident_becomes_a_post_mortem(backend: Backend) {
    // Thursday noon (UTC): office hours.
    let app = TestApp::start(backend, "2026-11-26T12:00:00Z").await;
    let receiver = Receiver::start().await;
    let ada = app.user("Ada").await;
    let grace = app.user("Grace").await;
    let team = app.team("User-facing", &[ada, grace]).await;
    let schedule = |name: &str, who: i64| {
        json!({"team_id": team, "name": name, "time_zone": "UTC",
               "layers": [{"name": "Weekly", "participants": [who], "turn": "1w", "handoff": "Wednesday 10:00",
                           "start": "2026-01-07T10:00:00Z"}]})
    };
    let (_, primary) = app
        .post("/api/v1/schedules", schedule("Captain On-Call", ada))
        .await;
    let (_, secondary) = app
        .post("/api/v1/schedules", schedule("First-mate", grace))
        .await;
    let (_, policy) = app
        .post(
            "/api/v1/escalation-policies",
            json!({"team_id": team, "name": "Product", "levels": [
                {"targets": [{"kind": "schedule", "id": primary["id"]}], "delay_seconds": 60},
                {"targets": [{"kind": "schedule", "id": secondary["id"]}], "delay_seconds": 60}]}),
        )
        .await;
    let (_, service) = app
        .post("/api/v1/services", json!({"team_id": team, "name": "Course platform", "escalation_policy_id": policy["id"]}))
        .await;
    let (_, integration) = app
        .post(
            &format!("/api/v1/services/{}/integrations", service["id"]),
            json!({"kind": "events_v2"}),
        )
        .await;
    for who in [ada, grace] {
        app.post(
            &format!("/api/v1/users/{who}/contact-methods"),
            json!({"kind": "webhook", "address": format!("{}/pages/{who}", receiver.url)}),
        )
        .await;
    }
    let (status, _) = app
        .request(
            Method::POST,
            "/v2/enqueue",
            None,
            Some(json!({"routing_key": integration["key"], "event_action": "trigger", "dedup_key": "cdn",
                        "payload": {"summary": "Video CDN timeouts", "source": "cdn-1", "severity": "critical"}})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    app.settle().await;
    app.advance(61);
    app.settle().await;
    app.advance(539);
    app.post("/api/v1/incidents/INC-1/acknowledge", json!({}))
        .await;
    app.advance(1800);
    app.post("/api/v1/incidents/INC-1/resolve", json!({})).await;

    let (status, pm) = app
        .post("/api/v1/post-mortems", json!({"incidents": ["INC-1"]}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{pm}");
    assert_eq!(pm["number"], "PM-1");
    assert_eq!(pm["title"], "Video CDN timeouts");
    assert_eq!(pm["status"], "draft");
    assert_eq!(pm["incidents"], json!(["INC-1"]));
    assert_eq!(
        pm["figures"],
        json!({"incidents": 1, "pages": 2, "people_paged": 2, "out_of_hours": 0,
               "minutes_to_acknowledge": 10.0, "minutes_to_resolve": 40.0})
    );
    let body = pm["body"].as_str().unwrap();
    for section in [
        "## Summary",
        "## Impact",
        "## Timeline",
        "## Root cause",
        "## What went well",
        "## What went wrong",
        "## Action items",
        "## How to tackle it next time",
    ] {
        assert!(body.contains(section), "{section} in {body}");
    }
    assert!(
        body.contains("- 2026-11-26 12:00 UTC — INC-1 triggered:"),
        "{body}"
    );
    assert!(
        body.contains("INC-1 escalated") || body.contains("Level 2"),
        "{body}"
    );
    assert!(
        body.contains("- 2026-11-26 12:10 UTC — INC-1 acknowledged:"),
        "{body}"
    );
    assert!(
        body.contains("- 2026-11-26 12:40 UTC — INC-1 resolved:"),
        "{body}"
    );

    let edited = format!(
        "{}\nThe CDN's origin shield was misconfigured.",
        body.replace(
            "## Summary\n",
            "## Summary\n\nVideos stalled for 40 minutes.\n"
        )
    );
    let (status, pm) = app
        .request(
            Method::PATCH,
            "/api/v1/post-mortems/PM-1",
            Some(common::ADMIN_TOKEN),
            Some(json!({"body": edited, "status": "in_review"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{pm}");
    assert_eq!(pm["status"], "in_review");
    let (status, pm) = app
        .request(
            Method::PATCH,
            "/api/v1/post-mortems/1",
            Some(common::ADMIN_TOKEN),
            Some(json!({"status": "published"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{pm}");
    assert!(pm["published_at"].is_string());
    let (status, error) = app
        .request(
            Method::PATCH,
            "/api/v1/post-mortems/1",
            Some(common::ADMIN_TOKEN),
            Some(json!({"status": "draft"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{error}");
    let (status, error) = app
        .request(
            Method::PATCH,
            "/api/v1/post-mortems/1",
            Some(common::ADMIN_TOKEN),
            Some(json!({"status": "done"})),
        )
        .await;
    assert_eq!(
        (status, error["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("status"))
    );

    let response = reqwest::Client::new()
        .get(format!("{}/api/v1/post-mortems/PM-1/markdown", app.url))
        .bearer_auth(common::ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/markdown"));
    let markdown = response.text().await.unwrap();
    assert!(
        markdown.starts_with("# PM-1: Video CDN timeouts\n"),
        "{markdown}"
    );
    assert!(
        markdown.contains("| people paged | 2 |")
            && markdown.contains("| longest time to resolve | 40 min |")
    );
    assert!(markdown.contains("Videos stalled for 40 minutes."));

    let (status, _) = app
        .post("/api/v1/post-mortems", json!({"incidents": ["INC-99"]}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, error) = app
        .post("/api/v1/post-mortems", json!({"incidents": []}))
        .await;
    assert_eq!(
        (status, error["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("incidents"))
    );
    let (_, list) = app.get("/api/v1/post-mortems").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
}

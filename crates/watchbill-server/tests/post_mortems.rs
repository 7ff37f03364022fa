//! Post-mortems over real HTTP, on SQLite and PostgreSQL: an incident that escalated becomes a
//! post-mortem whose timeline and figures match the incident, which then moves through review
//! to published and exports as Markdown; one that is reviewed, gets action items, is mailed
//! round when published and comes back as "seen before" when the trouble pages again; and the
//! reminders that ask for post-mortems.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::peers::{Receiver, SmtpSink};
use common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use watchbill_server::paging::channels::SmtpSettings;
use watchbill_server::PagingConfig;
use watchbill_store::Backend;

on_both_backends!(
    an_escalated_incident_becomes_a_post_mortem,
    post_mortems_are_sent_round_and_seen_again,
    post_mortems_are_asked_for_and_finished,
);

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
    assert_eq!(
        (status, pm["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("reviewers")),
        "review needs reviewers"
    );
    let (status, pm) = app
        .request(
            Method::PATCH,
            "/api/v1/post-mortems/PM-1",
            Some(common::ADMIN_TOKEN),
            Some(
                json!({"body": edited, "status": "in_review", "reviewers": ["grace@example.test"]}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{pm}");
    assert_eq!(pm["reviewers"][0]["name"], "Grace");
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

/// A team (Ada and Grace, tickets `UF`), its captain Ada paged by email for "Course platform",
/// and the service's Events API key.
async fn paged_team(app: &TestApp) -> (i64, String) {
    let ada = app.user("Ada").await;
    let grace = app.user("Grace").await;
    let team = app.team("User-facing", &[ada, grace]).await;
    app.put(
        &format!("/api/v1/teams/{team}/ticket-settings"),
        json!({"prefix": "UF"}),
    )
    .await;
    let (_, schedule) = app
        .post(
            "/api/v1/schedules",
            json!({"team_id": team, "name": "Captain On-Call", "time_zone": "UTC",
                   "layers": [{"name": "Weekly", "participants": [ada], "turn": "1w",
                               "handoff": "Wednesday 10:00", "start": "2026-01-07T10:00:00Z"}]}),
        )
        .await;
    let (_, policy) = app
        .post(
            "/api/v1/escalation-policies",
            json!({"team_id": team, "name": "Product", "levels": [
                {"targets": [{"kind": "schedule", "id": schedule["id"]}], "delay_seconds": 300}]}),
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
    for (who, address) in [(ada, "ada@example.test"), (grace, "grace@example.test")] {
        let (status, body) = app
            .post(
                &format!("/api/v1/users/{who}/contact-methods"),
                json!({"kind": "email", "address": address}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    (team, integration["key"].as_str().unwrap().to_owned())
}

async fn trigger(app: &TestApp, key: &str, dedup: &str, summary: &str) {
    let (status, body) = app
        .request(
            Method::POST,
            "/v2/enqueue",
            None,
            Some(json!({"routing_key": key, "event_action": "trigger", "dedup_key": dedup,
                        "payload": {"summary": summary, "source": "cdn-1", "severity": "critical"}})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
}

async fn patch(app: &TestApp, path: &str, body: Value) -> (StatusCode, Value) {
    app.request(Method::PATCH, path, Some(common::ADMIN_TOKEN), Some(body))
        .await
}

/// The one message received whose subject holds `subject` and is addressed to `to`, parsed.
fn message_to(sink: &SmtpSink, subject: &str, to: &str) -> String {
    let found: Vec<String> = sink
        .messages()
        .into_iter()
        .filter(|m| {
            let parsed = mail_parser::MessageParser::default()
                .parse(m.as_bytes())
                .unwrap();
            parsed.subject().unwrap_or_default().contains(subject)
                && parsed
                    .to()
                    .and_then(|a| a.first())
                    .and_then(|a| a.address())
                    == Some(to)
        })
        .collect();
    assert_eq!(found.len(), 1, "one {subject:?} to {to}: {found:#?}");
    found[0].clone()
}

async fn post_mortems_are_sent_round_and_seen_again(backend: Backend) {
    let sink = SmtpSink::start();
    let paging = PagingConfig {
        smtp: Some(SmtpSettings::parse(&sink.url(), "watchbill@example.test").unwrap()),
        sms: None,
    };
    // Thursday 10:00 in Los Angeles, where everyone lives.
    let app = TestApp::start_with(backend, "2026-11-26T18:00:00Z", paging).await;
    let receiver = Receiver::start().await;
    let (team, key) = paged_team(&app).await;
    let (status, settings) = app
        .get(&format!("/api/v1/teams/{team}/post-mortem-settings"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(settings["template"]
        .as_str()
        .unwrap()
        .contains("## How to tackle it next time"));
    let (status, error) = app
        .put(
            &format!("/api/v1/teams/{team}/post-mortem-settings"),
            json!({"distribution": ["not an address"]}),
        )
        .await;
    assert_eq!(
        (status, error["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("distribution[0]"))
    );
    let template =
        "## What broke\n\n\n## Timeline\n\n{{timeline}}\n\n## How to tackle it next time\n\n";
    let (status, settings) = app
        .put(
            &format!("/api/v1/teams/{team}/post-mortem-settings"),
            json!({"template": template, "distribution": ["engineering@example.test"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{settings}");
    let (status, _) = app
        .post(
            "/api/v1/webhooks",
            json!({"url": format!("{}/hooks", receiver.url), "events": ["post_mortem.published"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    trigger(
        &app,
        &key,
        "cdn-1",
        "Video CDN timeouts on the course player",
    )
    .await;
    app.settle().await;
    let first_page = sink.wait_for("INC-1 triggered").await;
    assert!(!first_page.contains("Seen before"), "nothing written yet");
    app.advance(300);
    app.post("/api/v1/incidents/INC-1/acknowledge", json!({}))
        .await;
    app.advance(900);
    app.post("/api/v1/incidents/INC-1/resolve", json!({})).await;

    let (status, pm) = app
        .post(
            "/api/v1/post-mortems",
            json!({"incidents": ["INC-1"], "title": "Video CDN timeouts", "tags": ["CDN", "video"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{pm}");
    assert_eq!(pm["tags"], json!(["cdn", "video"]));
    let body = pm["body"].as_str().unwrap();
    assert!(
        body.starts_with("## What broke"),
        "the team's template: {body}"
    );
    assert!(body.contains("INC-1 triggered"), "{body}");
    let body = body.replace(
        "## How to tackle it next time\n",
        "## How to tackle it next time\n\nPurge the CDN edge cache with `cdnctl purge --all`, then check the origin shield.\n",
    );

    // Review: the reviewer hears of it and comments on the draft.
    let (status, pm) = patch(
        &app,
        "/api/v1/post-mortems/PM-1",
        json!({"body": body, "status": "in_review", "reviewers": ["grace@example.test"]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{pm}");
    app.settle().await;
    sink.wait_for("PM-1 awaits your review").await;
    message_to(&sink, "PM-1 awaits your review", "grace@example.test");
    let (status, comment) = app
        .post(
            "/api/v1/post-mortems/PM-1/comments",
            json!({"body": "Add the purge URL, please."}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{comment}");

    // An action item is a duty ticket, linked both ways.
    let (status, ticket) = app
        .post(
            "/api/v1/post-mortems/PM-1/action-items",
            json!({"title": "Alert on origin shield errors", "priority": "High", "due": "2026-12-03"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ticket}");
    assert_eq!(ticket["key"], "UF-1");
    assert!(ticket["labels"]
        .as_array()
        .unwrap()
        .contains(&json!("product-maintenance-duty")));
    assert_eq!(ticket["due"], "2026-12-03");
    let (_, detail) = app.get("/api/v1/tickets/UF-1").await;
    assert_eq!(detail["post_mortems"], json!(["PM-1"]));
    let (status, error) = app
        .post(
            "/api/v1/post-mortems/PM-1/action-items",
            json!({"title": "x", "due": "next week"}),
        )
        .await;
    assert_eq!(
        (status, error["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("due"))
    );

    // Publishing sends it round: the team, the distribution list, the webhook.
    let (status, pm) = patch(
        &app,
        "/api/v1/post-mortems/PM-1",
        json!({"status": "published"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{pm}");
    assert_eq!(
        (pm["action_items_done"].as_u64(), pm["complete"].as_bool()),
        (Some(0), Some(false)),
        "not complete while its action item is open"
    );
    assert_eq!(pm["comments"][0]["body"], "Add the purge URL, please.");
    app.settle().await;
    sink.wait_for("engineering@example.test").await;
    for to in [
        "ada@example.test",
        "grace@example.test",
        "engineering@example.test",
    ] {
        let raw = message_to(&sink, "PM-1 published: Video CDN timeouts", to);
        assert!(raw.contains("multipart/alternative"), "{raw}");
        let parsed = mail_parser::MessageParser::default()
            .parse(raw.as_bytes())
            .unwrap();
        assert_eq!(parsed.text_body.len(), 1, "a text part");
        assert_eq!(parsed.html_body.len(), 1, "an HTML part");
        assert_ne!(parsed.text_body, parsed.html_body, "two parts, not one");
        let text = parsed.body_text(0).unwrap();
        assert!(text.starts_with("# PM-1: Video CDN timeouts"), "{text}");
        assert!(text.contains("cdnctl purge --all"), "{text}");
        let html = parsed.body_html(0).unwrap();
        assert!(html.contains("<h1>PM-1: Video CDN timeouts</h1>"), "{html}");
        assert!(html.contains("<code>cdnctl purge --all</code>"), "{html}");
    }
    let hooks = receiver.received();
    let published: Vec<Value> = hooks
        .iter()
        .filter_map(|h| serde_json::from_str::<Value>(&h.body).ok())
        .filter(|v| v["event"] == "post_mortem.published")
        .collect();
    assert_eq!(published.len(), 1, "{hooks:?}");
    assert_eq!(published[0]["post_mortem"]["number"], "PM-1");

    // Closing the action item completes the post-mortem.
    let (status, closed) = patch(&app, "/api/v1/tickets/UF-1", json!({"status": "closed"})).await;
    assert_eq!(status, StatusCode::OK, "{closed}");
    let (_, pm) = app.get("/api/v1/post-mortems/PM-1").await;
    assert_eq!(pm["action_items"][0]["status"], "closed");
    assert_eq!(pm["complete"], true);
    let (status, error) = app
        .post(
            "/api/v1/post-mortems/PM-1/comments",
            json!({"body": "late"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{error}");

    // The same trouble again: the page itself says where to look.
    app.advance(86_400);
    trigger(
        &app,
        &key,
        "cdn-2",
        "Course player: video CDN timeouts again",
    )
    .await;
    app.settle().await;
    let output = sink.wait_for("INC-2 triggered").await;
    let raw = message_to(&sink, "INC-2 triggered", "ada@example.test");
    let page = mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .unwrap();
    let text = page.body_text(0).unwrap();
    assert!(text.contains("Seen before:"), "{text}\n{output}");
    assert!(
        text.contains("PM-1 \"Video CDN timeouts\" — how to tackle it: Purge the CDN edge cache with `cdnctl purge --all`"),
        "{text}"
    );
    assert!(text.contains("/post-mortems/1"), "{text}");
    let (status, seen) = app.get("/api/v1/incidents/INC-2/seen-before").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(seen[0]["number"], "PM-1");
    assert_eq!(seen[0]["same_service"], true);
    let (_, seen) = app.get("/api/v1/incidents/INC-1/seen-before").await;
    assert_eq!(
        seen,
        json!([]),
        "a post-mortem is not seen before by its own incident"
    );
    // On another service, the title's words alone find it when it holds half of them or more.
    let (_, other) = app
        .post(
            "/api/v1/services",
            json!({"team_id": team, "name": "Marketing site"}),
        )
        .await;
    for (title, score) in [
        ("Landing page slow for visitors", None),
        ("Video timeouts on the landing page", Some(0.5)),
        ("Video CDN timeouts", Some(1.0)),
    ] {
        let (status, incident) = app
            .post(
                "/api/v1/incidents",
                json!({"service_id": other["id"], "title": title}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{incident}");
        let (_, seen) = app
            .get(&format!("/api/v1/incidents/{}/seen-before", incident["id"]))
            .await;
        match score {
            None => assert_eq!(seen, json!([]), "{title}"),
            Some(score) => {
                assert_eq!(seen[0]["number"], "PM-1", "{title}: {seen}");
                assert_eq!(seen[0]["same_service"], false);
                assert_eq!(seen[0]["score"], score);
            }
        }
    }

    // The library: full text, tag, status, and clear errors.
    let (_, found) = app.get("/api/v1/post-mortems?q=purge%20edge").await;
    assert_eq!(found[0]["number"], "PM-1");
    assert!(found[0]["rank"].as_f64().unwrap() > 0.0);
    let (_, found) = app.get("/api/v1/post-mortems?q=database").await;
    assert_eq!(found, json!([]));
    let (_, found) = app
        .get("/api/v1/post-mortems?tag=video&status=published")
        .await;
    assert_eq!(found.as_array().unwrap().len(), 1);
    let (status, error) = app.get("/api/v1/post-mortems?status=finished").await;
    assert_eq!(
        (status, error["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("status"))
    );
    let (status, error) = app.get("/api/v1/post-mortems?colour=red").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
}

async fn post_mortems_are_asked_for_and_finished(backend: Backend) {
    let sink = SmtpSink::start();
    let paging = PagingConfig {
        smtp: Some(SmtpSettings::parse(&sink.url(), "watchbill@example.test").unwrap()),
        sms: None,
    };
    let app = TestApp::start_with(backend, "2026-11-26T18:00:00Z", paging).await;
    let (team, key) = paged_team(&app).await;
    let (status, _) = app
        .put(
            &format!("/api/v1/teams/{team}/post-mortem-settings"),
            json!({"remind_after_seconds": 3600, "draft_reminder_days": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    trigger(&app, &key, "db", "Database failover").await;
    app.settle().await;
    app.post("/api/v1/incidents/INC-1/resolve", json!({})).await;
    app.advance(1800);
    app.settle().await;
    app.advance(61);
    app.settle().await;
    assert!(
        !sink.output().contains("has no post-mortem"),
        "half an hour is not yet an hour"
    );
    app.advance(1800);
    app.settle().await;
    sink.wait_for("INC-1 has no post-mortem yet").await;
    message_to(&sink, "INC-1 has no post-mortem yet", "ada@example.test");
    app.advance(3600);
    app.settle().await;
    let reminders = sink
        .messages()
        .iter()
        .filter(|m| m.contains("has no post-mortem"))
        .count();
    assert_eq!(reminders, 1, "once");

    // A draft older than two days reminds its owner (here the admin token's: nobody), and one
    // written by a person reminds that person.
    let ada_token = {
        let (_, users) = app.get("/api/v1/users").await;
        let ada = users
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["name"] == "Ada")
            .unwrap()["id"]
            .as_i64()
            .unwrap();
        let (status, token) = app
            .post(
                "/api/v1/tokens",
                json!({"name": "ada", "role": "responder", "user_id": ada}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{token}");
        token["secret"].as_str().unwrap().to_owned()
    };
    let (status, pm) = app
        .request(
            Method::POST,
            "/api/v1/post-mortems",
            Some(&ada_token),
            Some(json!({"incidents": ["INC-1"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{pm}");
    assert!(pm["owner_id"].is_i64(), "{pm}");
    app.advance(86_400);
    app.settle().await;
    assert!(!sink.output().contains("still unpublished"));
    app.advance(86_400 + 61);
    app.settle().await;
    sink.wait_for("PM-1 is still unpublished after 2 days")
        .await;
    message_to(&sink, "PM-1 is still unpublished", "ada@example.test");
}

//! The paging loop end to end over real HTTP, with a webhook receiver and a real SMTP server
//! on 127.0.0.1, on SQLite and on PostgreSQL. The engine is stepped and the clock moved by
//! the test, so escalation delays cost no waiting.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::peers::{Receiver, SmtpSink};
use common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use watchbill_server::paging::channels::{SmsSettings, SmtpSettings};
use watchbill_server::PagingConfig;
use watchbill_store::Backend;

on_both_backends!(
    an_event_pages_the_primary_then_the_secondary_until_acknowledged,
    duplicates_do_not_page_again_and_resolve_closes,
    a_trigger_after_a_resolve_elsewhere_opens_a_new_incident,
    a_storm_of_repeats_lists_its_newest_alerts,
    change_events_are_listed_without_their_key_and_page_nobody,
    maintenance_windows_record_without_paging,
    remembered_routes_follow_rotations_and_maintenance,
    bad_events_are_refused_and_nothing_is_written,
    alertmanager_webhooks_trigger_and_resolve,
    acknowledge_links_act_only_when_confirmed,
    keys_over_their_rate_get_429,
    low_urgency_waits_for_daytime,
    targets_are_resolved_when_each_level_fires,
    two_servers_never_send_a_page_twice,
    silent_heartbeats_open_an_incident_and_the_next_ping_resolves_it,
    webhook_subscribers_hear_of_incident_events,
    failing_webhook_subscriptions_are_disabled,
    sms_voice_and_slack_pages_take_their_providers_forms,
    responders_reassignment_and_snooze,
    concurrent_events_are_batched_and_none_is_lost,
    low_urgency_alerts_can_become_duty_tickets,
    resolving_while_a_level_fires_waits_for_it_and_neither_fails,
);

/// A line-up: Ada (primary, paged by webhook) and Grace (secondary, paged by email); a policy
/// that pages the primary, then the secondary a minute later; a service with an Events API
/// key. Returns (service id, events key, policy id).
async fn line_up(app: &TestApp, receiver: &Receiver) -> (i64, String, i64) {
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
    let (status, policy) = app
        .post(
            "/api/v1/escalation-policies",
            json!({"team_id": team, "name": "Product", "levels": [
                {"targets": [{"kind": "schedule", "id": primary["id"]}], "delay_seconds": 60},
                {"targets": [{"kind": "schedule", "id": secondary["id"]}], "delay_seconds": 60}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{policy}");
    let (status, service) = app
        .post("/api/v1/services", json!({"team_id": team, "name": "Course platform", "escalation_policy_id": policy["id"]}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{service}");
    let service_id = service["id"].as_i64().unwrap();
    let (status, integration) = app
        .post(
            &format!("/api/v1/services/{service_id}/integrations"),
            json!({"kind": "events_v2"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{integration}");
    let (status, body) = app
        .post(
            &format!("/api/v1/users/{ada}/contact-methods"),
            json!({"kind": "webhook", "address": format!("{}/pages/ada", receiver.url)}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .post(
            &format!("/api/v1/users/{grace}/contact-methods"),
            json!({"kind": "email", "address": "grace@example.test"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (
        service_id,
        integration["key"].as_str().unwrap().to_owned(),
        policy["id"].as_i64().unwrap(),
    )
}

async fn send_event(app: &TestApp, event: Value) -> (StatusCode, Value) {
    app.request(Method::POST, "/v2/enqueue", None, Some(event))
        .await
}

async fn send_change(app: &TestApp, change: Value) -> (StatusCode, Value) {
    app.request(Method::POST, "/v2/change/enqueue", None, Some(change))
        .await
}

fn trigger(key: &str, dedup: &str, summary: &str) -> Value {
    json!({"routing_key": key, "event_action": "trigger", "dedup_key": dedup,
           "payload": {"summary": summary, "source": "web-1", "severity": "critical"}})
}

async fn with_mail(backend: Backend) -> (TestApp, Receiver, SmtpSink) {
    let sink = SmtpSink::start();
    let paging = PagingConfig {
        smtp: Some(SmtpSettings::parse(&sink.url(), "watchbill@example.test").unwrap()),
        sms: None,
    };
    let app = TestApp::start_with(backend, "2026-11-26T12:00:00Z", paging).await;
    let receiver = Receiver::start().await;
    (app, receiver, sink)
}

async fn an_event_pages_the_primary_then_the_secondary_until_acknowledged(backend: Backend) {
    let (app, receiver, sink) = with_mail(backend).await;
    let (_, key, _) = line_up(&app, &receiver).await;

    let (status, answer) = send_event(&app, trigger(&key, "video-cdn", "Video CDN timeouts")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(
        answer,
        json!({"status": "success", "message": "Event processed", "dedup_key": "video-cdn"})
    );

    app.settle().await;
    let pages = receiver.received();
    assert_eq!(pages.len(), 1, "the primary is paged once");
    let page: Value = serde_json::from_str(&pages[0].body).unwrap();
    assert_eq!(page["incident"]["number"], "INC-1");
    assert_eq!(page["incident"]["title"], "Video CDN timeouts");
    assert_eq!(page["paged"], "Ada");
    assert!(pages[0].headers["x-watchbill-signature"]
        .to_str()
        .unwrap()
        .starts_with("sha256="));
    assert!(
        !sink.output().contains("INC-1"),
        "the secondary is not paged yet"
    );

    // Nobody acknowledges: a minute later the secondary is paged by email.
    app.advance(59);
    app.settle().await;
    assert!(
        !sink.output().contains("INC-1"),
        "not before the level's delay"
    );
    app.advance(2);
    app.settle().await;
    let mail = sink
        .wait_for("Subject: [watchbill] INC-1 triggered: Video CDN timeouts")
        .await;
    assert!(mail.contains("Grace, you are paged."), "{mail}");
    assert!(
        mail.contains("/act/"),
        "the mail carries acknowledge links: {mail}"
    );
    assert_eq!(receiver.received().len(), 1, "Ada is not paged again");

    let (status, incident) = app
        .post("/api/v1/incidents/INC-1/acknowledge", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{incident}");
    assert_eq!(incident["status"], "acknowledged");
    app.advance(3600);
    app.settle().await;
    assert_eq!(
        receiver.received().len(),
        1,
        "acknowledging stops escalation"
    );
    assert_eq!(
        sink.output().matches("Subject: [watchbill] INC-1").count(),
        1
    );

    let (_, detail) = app.get("/api/v1/incidents/1").await;
    let kinds: Vec<&str> = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "triggered",
            "paging",
            "notified",
            "escalated",
            "paging",
            "exhausted",
            "notified",
            "acknowledged"
        ],
        "{detail}"
    );
    let notified: Vec<&str> = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "notified")
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert!(
        notified[0].starts_with("Notified Ada by webhook"),
        "{notified:?}"
    );
    assert_eq!(notified[1], "Notified Grace by email to grace@example.test");
    assert!(detail["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .all(|n| n["status"] == "sent"));
}

async fn change_events_are_listed_without_their_key_and_page_nobody(backend: Backend) {
    let app = TestApp::start(backend, "2026-11-26T12:00:00Z").await;
    let receiver = Receiver::start().await;
    let (service, key, _) = line_up(&app, &receiver).await;
    let change = json!({"routing_key": key,
        "payload": {"summary": "Deployed course-platform 2.3", "source": "ci",
                    "custom_details": {"build": 42}},
        "links": [{"href": "https://ci.example.test/builds/42", "text": "Build 42"}]});
    let (status, body) = send_change(&app, change).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (status, body) = send_change(
        &app,
        json!({"routing_key": key, "payload": {"source": "ci"}}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    app.settle().await;
    assert!(receiver.received().is_empty(), "a change pages nobody");

    // Anyone who may read the service sees the change as sent, but not the integration's key.
    let viewer = app.token("viewer").await;
    let (status, changes) = app
        .request(
            Method::GET,
            &format!("/api/v1/services/{service}/changes"),
            Some(&viewer),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changes}");
    let changes = changes.as_array().unwrap();
    assert_eq!(changes.len(), 1, "the refused change is not recorded");
    assert_eq!(changes[0]["summary"], "Deployed course-platform 2.3");
    assert_eq!(
        changes[0]["payload"]["payload"]["custom_details"]["build"],
        42
    );
    assert_eq!(changes[0]["payload"]["links"][0]["text"], "Build 42");
    assert!(
        !changes[0].to_string().contains(&key),
        "the routing key is not shown: {}",
        changes[0]
    );
}

async fn duplicates_do_not_page_again_and_resolve_closes(backend: Backend) {
    let app = TestApp::start(backend, "2026-11-26T12:00:00Z").await;
    let receiver = Receiver::start().await;
    let (service, key, _) = line_up(&app, &receiver).await;
    send_event(&app, trigger(&key, "disk", "Disk full")).await;
    app.settle().await;
    let (status, _) = send_event(&app, trigger(&key, "disk", "Disk still full")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    app.settle().await;
    assert_eq!(receiver.received().len(), 1, "a duplicate pages nobody");
    let (_, incident) = app.get("/api/v1/incidents/INC-1").await;
    assert_eq!(incident["alert_count"], 2);
    assert_eq!(incident["alerts"].as_array().unwrap().len(), 2);

    // A storm of repeats shows in the count and the alerts, with one timeline line for the
    // first repeat and one for a repeat after a quiet minute.
    for n in 0..5 {
        send_event(
            &app,
            trigger(&key, "disk", &format!("Disk still full ({n})")),
        )
        .await;
    }
    app.advance(61);
    send_event(&app, trigger(&key, "disk", "Disk full once more")).await;
    let (_, incident) = app.get("/api/v1/incidents/INC-1").await;
    assert_eq!(incident["alert_count"], 8);
    assert_eq!(incident["alerts"].as_array().unwrap().len(), 8);
    let alert_lines: Vec<&str> = incident["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["kind"] == "alert")
        .map(|entry| entry["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        alert_lines,
        [
            "Another alert: Disk still full",
            "Another alert: Disk full once more"
        ]
    );

    let resolve = json!({"routing_key": key, "event_action": "resolve", "dedup_key": "disk"});
    let (status, _) = send_event(&app, resolve).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (_, incident) = app.get("/api/v1/incidents/INC-1").await;
    assert_eq!(incident["status"], "resolved");
    app.advance(600);
    app.settle().await;
    assert_eq!(
        receiver.received().len(),
        1,
        "a resolved incident escalates no further"
    );

    send_event(&app, trigger(&key, "disk", "Disk full again")).await;
    let (_, open) = app.get("/api/v1/incidents?status=open").await;
    assert_eq!(open.as_array().unwrap().len(), 1);
    assert_eq!(
        open[0]["number"], "INC-2",
        "a trigger after resolve opens a new incident"
    );

    // Deleting the integration stops its key; what it sent stays in the incidents' history.
    let (_, integrations) = app
        .get(&format!("/api/v1/services/{service}/integrations"))
        .await;
    let (status, _) = app
        .delete(&format!("/api/v1/integrations/{}", integrations[0]["id"]))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = send_event(&app, trigger(&key, "disk", "Disk full after all")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the key is gone");
    let (_, incident) = app.get("/api/v1/incidents/INC-1").await;
    let alerts = incident["alerts"].as_array().unwrap();
    assert_eq!(
        alerts.len(),
        9,
        "eight triggers and the resolve: {incident}"
    );
    assert_eq!(alerts[0]["summary"], "Disk full");
    assert_eq!(alerts[8]["action"], "resolve");
    let (_, incident) = app.get("/api/v1/incidents/INC-2").await;
    assert_eq!(incident["alerts"][0]["summary"], "Disk full again");
}

/// Intake remembers the open incidents it found from one batch to the next. One resolved
/// behind its back, by hand on the same server or on another, takes no more alerts: the next
/// trigger with its key opens a new incident, and pages.
async fn a_trigger_after_a_resolve_elsewhere_opens_a_new_incident(backend: Backend) {
    let first = TestApp::start(backend, "2026-11-26T12:00:00Z").await;
    let receiver = Receiver::start().await;
    let (_, key, _) = line_up(&first, &receiver).await;
    let second = first.another_server().await;
    let count_of = |incident: &Value| incident["alert_count"].as_i64().unwrap();

    send_event(&first, trigger(&key, "disk", "Disk full")).await;
    send_event(&first, trigger(&key, "disk", "Disk still full")).await;
    first.settle().await;
    let (status, _) = first
        .post("/api/v1/incidents/INC-1/resolve", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = send_event(&first, trigger(&key, "disk", "Disk full again")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (_, old) = first.get("/api/v1/incidents/INC-1").await;
    assert_eq!(old["status"], "resolved");
    assert_eq!(
        count_of(&old),
        2,
        "the resolved incident took no alert: {old}"
    );
    let (_, new) = first.get("/api/v1/incidents/INC-2").await;
    assert_eq!(new["status"], "triggered");
    assert_eq!(new["alerts"][0]["summary"], "Disk full again");
    first.settle().await;

    // Resolved on another server sharing the database.
    let (status, _) = second
        .post("/api/v1/incidents/INC-2/resolve", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    send_event(&first, trigger(&key, "disk", "Disk full a third time")).await;
    send_event(
        &first,
        trigger(&key, "disk", "Disk full a third time, still"),
    )
    .await;
    let (_, resolved) = first.get("/api/v1/incidents/INC-2").await;
    assert_eq!(count_of(&resolved), 1, "{resolved}");
    let (_, open) = first.get("/api/v1/incidents?status=open").await;
    assert_eq!(open.as_array().unwrap().len(), 1);
    assert_eq!(open[0]["number"], "INC-3");
    assert_eq!(count_of(&open[0]), 2);
    first.settle().await;
    assert_eq!(
        receiver.received().len(),
        3,
        "each new incident paged the primary once"
    );
}

async fn maintenance_windows_record_without_paging(backend: Backend) {
    let app = TestApp::start(backend, "2026-11-26T12:00:00Z").await;
    let receiver = Receiver::start().await;
    let (service, key, _) = line_up(&app, &receiver).await;
    let (status, window) = app
        .post(
            &format!("/api/v1/services/{service}/maintenance"),
            json!({"start": "2026-11-26T11:00:00Z", "description": "deploy"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{window}");
    let (status, _) = send_event(&app, trigger(&key, "deploy-noise", "Errors during deploy")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "the event is accepted");
    app.settle().await;
    assert!(
        receiver.received().is_empty(),
        "nobody is paged in maintenance"
    );
    let (_, incidents) = app.get("/api/v1/incidents").await;
    assert_eq!(incidents, json!([]));
    let mut tx = app.store.read().await.unwrap();
    assert_eq!(
        tx.count_events().await.unwrap(),
        1,
        "but the event is recorded"
    );
    drop(tx);

    let (status, _) = app
        .delete(&format!("/api/v1/maintenance/{}", window["id"]))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    send_event(&app, trigger(&key, "real", "Real trouble")).await;
    app.settle().await;
    assert_eq!(receiver.received().len(), 1);
}

/// Intake remembers each key's route from one batch to the next: what changes behind it
/// still counts from the next event on.
async fn remembered_routes_follow_rotations_and_maintenance(backend: Backend) {
    let app = TestApp::start(backend, "2026-11-26T12:00:00Z").await;
    let receiver = Receiver::start().await;
    let (service, key, _) = line_up(&app, &receiver).await;
    let (status, window) = app
        .post(
            &format!("/api/v1/services/{service}/maintenance"),
            json!({"start": "2026-11-26T12:10:00Z", "end": "2026-11-26T12:20:00Z",
                   "description": "deploy"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{window}");
    let (status, _) = send_event(&app, trigger(&key, "before", "Before the deploy")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    // The window starts and ends with nothing written to the database.
    app.advance(600);
    let (status, _) = send_event(&app, trigger(&key, "during", "During the deploy")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    app.advance(600);
    send_event(&app, trigger(&key, "after", "After the deploy")).await;
    let (_, incidents) = app.get("/api/v1/incidents").await;
    let mut titles: Vec<&str> = incidents
        .as_array()
        .unwrap()
        .iter()
        .map(|incident| incident["title"].as_str().unwrap())
        .collect();
    titles.sort_unstable();
    assert_eq!(
        titles,
        ["After the deploy", "Before the deploy"],
        "the event during the window opened nothing"
    );

    // A rotated key stops working at once, and the new one works.
    let (_, integrations) = app
        .get(&format!("/api/v1/services/{service}/integrations"))
        .await;
    let id = &integrations[0]["id"];
    let (status, rotated) = app
        .post(&format!("/api/v1/integrations/{id}/rotate"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let (status, answer) = send_event(&app, trigger(&key, "old", "With the old key")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let new_key = rotated["key"].as_str().unwrap();
    let (status, answer) = send_event(&app, trigger(new_key, "new", "With the new key")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    // And a key added works at once.
    let (status, added) = app
        .post(
            &format!("/api/v1/services/{service}/integrations"),
            json!({"kind": "events_v2"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    let added_key = added["key"].as_str().unwrap();
    let (status, _) = send_event(&app, trigger(added_key, "added", "With the added key")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (_, incidents) = app.get("/api/v1/incidents").await;
    assert_eq!(incidents.as_array().unwrap().len(), 4, "{incidents}");
}

async fn bad_events_are_refused_and_nothing_is_written(backend: Backend) {
    let app = TestApp::start(backend, "2026-11-26T12:00:00Z").await;
    let receiver = Receiver::start().await;
    let (_, key, _) = line_up(&app, &receiver).await;
    let raw = |body: String| {
        let url = format!("{}/v2/enqueue", app.url);
        async move {
            let response = reqwest::Client::new()
                .post(url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            (response.status(), response.text().await.unwrap())
        }
    };
    let (status, body) = raw("{\"routing_key\": ".to_owned()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["status"], "invalid event");
    assert!(answer["errors"][0]
        .as_str()
        .unwrap()
        .contains("not valid JSON"));

    let (status, answer) = send_event(&app, trigger("not-a-key", "x", "Wrong key")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        answer["errors"][0]
            .as_str()
            .unwrap()
            .contains("routing_key"),
        "{answer}"
    );

    let mut unknown_action = trigger(&key, "x", "Boom");
    unknown_action["event_action"] = json!("explode");
    let (status, answer) = send_event(&app, unknown_action).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        answer["errors"][0]
            .as_str()
            .unwrap()
            .contains("event_action"),
        "{answer}"
    );

    let mut no_summary = trigger(&key, "x", "");
    no_summary["payload"]
        .as_object_mut()
        .unwrap()
        .remove("summary");
    let (status, answer) = send_event(&app, no_summary).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        answer["errors"][0]
            .as_str()
            .unwrap()
            .contains("payload.summary"),
        "{answer}"
    );

    let huge = trigger(&key, "x", &"x".repeat(600 * 1024)).to_string();
    let (status, _) = raw(huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    let (status, answer) = app
        .request(
            Method::POST,
            "/integrations/generic?key=nope",
            None,
            Some(json!({"summary": "x"})),
        )
        .await;
    assert_eq!(
        (status, answer["code"].clone()),
        (StatusCode::UNAUTHORIZED, json!("unauthorized"))
    );
    let (status, answer) = app
        .request(
            Method::POST,
            &format!("/integrations/generic?key={key}"),
            None,
            Some(json!({"summary": "x"})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "an Events API key is not a generic-webhook key: {answer}"
    );

    let mut tx = app.store.read().await.unwrap();
    assert_eq!(tx.count_events().await.unwrap(), 0, "nothing was written");
    drop(tx);
    app.settle().await;
    assert!(receiver.received().is_empty(), "and nobody was paged");
}

fn alertmanager_body(status: &str) -> Value {
    json!({
        "version": "4", "groupKey": "{}:{alertname=\"HighLatency\"}", "truncatedAlerts": 0, "status": status,
        "receiver": "watchbill", "groupLabels": {"alertname": "HighLatency"},
        "commonLabels": {"alertname": "HighLatency", "severity": "page"},
        "commonAnnotations": {"summary": "Checkout p99 above 2s"}, "externalURL": "http://alertmanager:9093",
        "alerts": [{"status": status, "labels": {"alertname": "HighLatency", "instance": "web-1"},
                    "annotations": {}, "startsAt": "2026-11-26T11:59:00Z", "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://prometheus/graph", "fingerprint": "a1b2c3d4e5f60718"}]
    })
}

/// The lined-up service with an Alertmanager integration, and the integration's key.
async fn with_alertmanager(backend: Backend) -> (TestApp, Receiver, String) {
    let app = TestApp::start(backend, "2026-11-26T12:00:00Z").await;
    let receiver = Receiver::start().await;
    let (service, _, _) = line_up(&app, &receiver).await;
    let (_, integration) = app
        .post(
            &format!("/api/v1/services/{service}/integrations"),
            json!({"kind": "alertmanager"}),
        )
        .await;
    let key = integration["key"].as_str().unwrap().to_owned();
    (app, receiver, key)
}

async fn alertmanager_webhooks_trigger_and_resolve(backend: Backend) {
    let (app, receiver, key) = with_alertmanager(backend).await;
    let response = reqwest::Client::new()
        .post(format!("{}/integrations/alertmanager", app.url))
        .bearer_auth(&key)
        .json(&alertmanager_body("firing"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let (_, incidents) = app.get("/api/v1/incidents").await;
    assert_eq!(incidents[0]["title"], "Checkout p99 above 2s");
    assert_eq!(incidents[0]["dedup_key"], "a1b2c3d4e5f60718");
    app.settle().await;
    assert_eq!(receiver.received().len(), 1);
    let (status, _) = app
        .request(
            Method::POST,
            &format!("/integrations/alertmanager?key={key}"),
            None,
            Some(alertmanager_body("resolved")),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (_, incidents) = app.get("/api/v1/incidents").await;
    assert_eq!(incidents[0]["status"], "resolved");
}

/// A flapping alert can send thousands of repeats; the incident counts them all and its
/// detail lists the newest 500, oldest first.
async fn a_storm_of_repeats_lists_its_newest_alerts(backend: Backend) {
    let (app, _receiver, key) = with_alertmanager(backend).await;
    let mut body = alertmanager_body("firing");
    let alert = body["alerts"][0].clone();
    body["alerts"] = (0..520)
        .map(|n| {
            let mut repeat = alert.clone();
            repeat["annotations"] = json!({"summary": format!("Checkout p99 above 2s ({n})")});
            repeat
        })
        .collect();
    let (status, _) = app
        .request(
            Method::POST,
            &format!("/integrations/alertmanager?key={key}"),
            None,
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (_, incident) = app.get("/api/v1/incidents/INC-1").await;
    assert_eq!(incident["alert_count"], 520);
    let alerts = incident["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 500);
    assert_eq!(alerts[0]["summary"], "Checkout p99 above 2s (20)");
    assert_eq!(alerts[499]["summary"], "Checkout p99 above 2s (519)");
}

async fn acknowledge_links_act_only_when_confirmed(backend: Backend) {
    let app = TestApp::start(backend, "2026-11-26T12:00:00Z").await;
    let receiver = Receiver::start().await;
    let (_, key, _) = line_up(&app, &receiver).await;
    send_event(&app, trigger(&key, "api", "API errors")).await;
    app.settle().await;
    let page: Value = serde_json::from_str(&receiver.received()[0].body).unwrap();
    let link = page["acknowledge_url"]
        .as_str()
        .unwrap()
        .strip_prefix(&app.url)
        .unwrap()
        .to_owned();
    let (status, _, body) = app.text(&link).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("Acknowledge INC-1?") && body.contains("method=\"post\""),
        "{body}"
    );
    let (_, incident) = app.get("/api/v1/incidents/1").await;
    assert_eq!(
        incident["status"], "triggered",
        "opening the link changes nothing"
    );
    let response = reqwest::Client::new()
        .post(format!("{}{link}", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (_, incident) = app.get("/api/v1/incidents/1").await;
    assert_eq!(incident["status"], "acknowledged");
    assert!(incident["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["message"] == "Acknowledged by Ada (link)"));
    let tampered = link.replace("/act/", "/act/x");
    let response = reqwest::Client::new()
        .post(format!("{}{tampered}", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    app.advance(25 * 3600);
    let response = reqwest::Client::new()
        .post(format!("{}{link}", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "links expire");
}

async fn keys_over_their_rate_get_429(backend: Backend) {
    let app = TestApp::start(backend, "2026-11-26T12:00:00Z").await;
    let receiver = Receiver::start().await;
    let (service, _, _) = line_up(&app, &receiver).await;
    let (_, integration) = app
        .post(
            &format!("/api/v1/services/{service}/integrations"),
            json!({"kind": "events_v2", "rate_per_minute": 2}),
        )
        .await;
    let key = integration["key"].as_str().unwrap();
    for n in 0..2 {
        let (status, _) = send_event(&app, trigger(key, &format!("k{n}"), "Event")).await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    let (status, answer) = send_event(&app, trigger(key, "k3", "One too many")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(answer["status"], "throttle event");
    app.advance(30);
    let (status, _) = send_event(&app, trigger(key, "k4", "After a pause")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "the bucket refills");
}

async fn low_urgency_waits_for_daytime(backend: Backend) {
    let app = TestApp::start(backend, "2026-11-26T12:00:00Z").await;
    let receiver = Receiver::start().await;
    let (service, key, _) = line_up(&app, &receiver).await;
    let (_, current) = app.get(&format!("/api/v1/services/{service}")).await;
    let mut body = current.clone();
    for field in ["id", "created_at", "updated_at"] {
        body.as_object_mut().unwrap().remove(field);
    }
    body["default_urgency"] = json!("low");
    let (status, updated) = app.put(&format!("/api/v1/services/{service}"), body).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    // 12:00 UTC is 04:00 in Los Angeles, where Ada lives: night.
    send_event(&app, trigger(&key, "typo", "Typo on the about page")).await;
    app.settle().await;
    assert!(
        receiver.received().is_empty(),
        "a low-urgency page does not wake anyone"
    );
    let (_, incidents) = app.get("/api/v1/incidents").await;
    assert_eq!(incidents[0]["urgency"], "low");
    assert_eq!(
        incidents[0]["status"], "triggered",
        "it waits in the team's queue"
    );
    app.advance(4 * 3600 - 60);
    app.settle().await;
    assert!(receiver.received().is_empty(), "not before 08:00");
    app.advance(60);
    app.settle().await;
    assert_eq!(receiver.received().len(), 1, "at 08:00 Ada is paged");
}

async fn targets_are_resolved_when_each_level_fires(backend: Backend) {
    let app = TestApp::start(backend, "2026-11-26T12:00:00Z").await;
    let receiver = Receiver::start().await;
    let (_, key, policy) = line_up(&app, &receiver).await;
    // Grace takes over the Captain's schedule thirty seconds from now: a handoff mid-incident.
    let (_, schedules) = app.get("/api/v1/schedules").await;
    let captain = schedules[0]["id"].as_i64().unwrap();
    let (_, users) = app.get("/api/v1/users").await;
    let grace = users[1]["id"].as_i64().unwrap();
    app.post(
        &format!("/api/v1/schedules/{captain}/overrides"),
        json!({"start": "2026-11-26T12:00:30Z", "end": "2026-11-27T00:00:00Z", "user_id": grace}),
    )
    .await;
    app.post(
        &format!("/api/v1/users/{grace}/contact-methods"),
        json!({"kind": "webhook", "address": format!("{}/pages/grace", receiver.url)}),
    )
    .await;
    // One level, repeated once: the repeat pages whoever is the Captain by then.
    let (_, current) = app
        .get(&format!("/api/v1/escalation-policies/{policy}"))
        .await;
    let mut body = json!({"team_id": current["team_id"], "name": current["name"], "repeat": 1,
                          "levels": [current["levels"][0].clone()]});
    body["levels"][0]["delay_seconds"] = json!(60);
    let (status, _) = app
        .put(&format!("/api/v1/escalation-policies/{policy}"), body)
        .await;
    assert_eq!(status, StatusCode::OK);
    send_event(&app, trigger(&key, "x", "Checkout down")).await;
    app.settle().await;
    app.advance(61);
    app.settle().await;
    let paths: Vec<String> = receiver.received().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/pages/ada", "/pages/grace"]);
}

async fn two_servers_never_send_a_page_twice(backend: Backend) {
    let first = TestApp::start(backend, "2026-11-26T12:00:00Z").await;
    let receiver = Receiver::start().await;
    let (_, key, _) = line_up(&first, &receiver).await;
    let second = first.another_server().await;
    for n in 0..10 {
        let server = if n % 2 == 0 { &first } else { &second };
        let (status, _) = send_event(
            server,
            trigger(&key, &format!("dedup-{n}"), &format!("Trouble {n}")),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    // Both engines step at the same moments, as two nodes would.
    for _ in 0..3 {
        let (a, b) = tokio::join!(first.engine.step(), second.engine.step());
        a.unwrap();
        b.unwrap();
    }
    first.advance(61);
    second.advance(61);
    for _ in 0..3 {
        let (a, b) = tokio::join!(first.engine.step(), second.engine.step());
        a.unwrap();
        b.unwrap();
    }
    let pages = receiver.received();
    assert_eq!(
        pages.len(),
        10,
        "each incident paged the primary exactly once"
    );
    let mut keys: Vec<String> = pages
        .iter()
        .map(|p| p.headers["idempotency-key"].to_str().unwrap().to_owned())
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 10);
}

async fn silent_heartbeats_open_an_incident_and_the_next_ping_resolves_it(backend: Backend) {
    let app = TestApp::start(backend, "2026-11-26T12:00:00Z").await;
    let receiver = Receiver::start().await;
    let (service, _, _) = line_up(&app, &receiver).await;
    let (status, integration) = app
        .post(
            &format!("/api/v1/services/{service}/integrations"),
            json!({"kind": "heartbeat", "name": "nightly backup", "interval_seconds": 60}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{integration}");
    let ping = integration["url"]
        .as_str()
        .unwrap()
        .strip_prefix(&app.url)
        .unwrap()
        .to_owned();
    let (status, answer) = app.request(Method::POST, &ping, None, None).await;
    assert_eq!((status, answer), (StatusCode::OK, json!({"status": "ok"})));
    app.advance(59);
    app.settle().await;
    let (_, incidents) = app.get("/api/v1/incidents").await;
    assert_eq!(incidents, json!([]), "not yet overdue");
    app.advance(2);
    app.settle().await;
    let (_, incidents) = app.get("/api/v1/incidents").await;
    assert_eq!(
        incidents[0]["title"],
        "No heartbeat from nightly backup in 60 seconds"
    );
    assert_eq!(incidents[0]["status"], "triggered");
    assert_eq!(
        receiver.received().len(),
        1,
        "the silence pages the primary"
    );
    app.advance(600);
    app.settle().await;
    let (_, incidents) = app.get("/api/v1/incidents").await;
    assert_eq!(
        incidents.as_array().unwrap().len(),
        1,
        "one silence, one incident"
    );
    let (status, _) = app.request(Method::GET, &ping, None, None).await;
    assert_eq!(status, StatusCode::OK);
    let (_, incidents) = app.get("/api/v1/incidents").await;
    assert_eq!(
        incidents[0]["status"], "resolved",
        "the next ping resolves it"
    );
    let (status, error) = app
        .post(
            &format!("/api/v1/services/{service}/integrations"),
            json!({"kind": "heartbeat"}),
        )
        .await;
    assert_eq!(
        (status, error["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("interval_seconds"))
    );
    let (status, _) = app
        .request(Method::POST, "/heartbeat/not-a-key", None, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn webhook_subscribers_hear_of_incident_events(backend: Backend) {
    let app = TestApp::start(backend, "2026-11-26T12:00:00Z").await;
    let pager = Receiver::start().await;
    let (_, key, _) = line_up(&app, &pager).await;
    let subscriber = Receiver::start().await;
    let (status, webhook) = app
        .post(
            "/api/v1/webhooks",
            json!({"url": format!("{}/hooks", subscriber.url)}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{webhook}");
    let (status, error) = app
        .post("/api/v1/webhooks", json!({"url": "ftp://x", "events": []}))
        .await;
    assert_eq!(
        (status, error["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("url"))
    );
    let (status, error) = app
        .post(
            "/api/v1/webhooks",
            json!({"url": "https://x.test", "events": ["incident.exploded"]}),
        )
        .await;
    assert_eq!(
        (status, error["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("events[0]"))
    );

    send_event(&app, trigger(&key, "db", "Database down")).await;
    app.settle().await;
    app.advance(61);
    app.settle().await;
    app.post(
        "/api/v1/incidents/INC-1/notes",
        json!({"text": "Failing over"}),
    )
    .await;
    app.post("/api/v1/incidents/INC-1/acknowledge", json!({}))
        .await;
    app.post("/api/v1/incidents/INC-1/resolve", json!({})).await;
    app.settle().await;
    let received = subscriber.received();
    let events: Vec<String> = received
        .iter()
        .map(|r| r.headers["x-watchbill-event"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        events,
        [
            "incident.triggered",
            "incident.escalated",
            "incident.annotated",
            "incident.acknowledged",
            "incident.resolved"
        ]
    );
    let secret = webhook["secret"].as_str().unwrap();
    for delivery in &received {
        let expected = format!(
            "sha256={}",
            watchbill_server::paging::links::LinkSigner::new(secret)
                .sign_hex(delivery.body.as_bytes())
        );
        assert_eq!(
            delivery.headers["x-watchbill-signature"].to_str().unwrap(),
            expected,
            "signed"
        );
        let body: Value = serde_json::from_str(&delivery.body).unwrap();
        assert_eq!(body["incident"]["number"], "INC-1");
    }
    let last: Value = serde_json::from_str(&received[4].body).unwrap();
    assert_eq!(last["incident"]["status"], "resolved");
    let (_, deliveries) = app
        .get(&format!("/api/v1/webhooks/{}/deliveries", webhook["id"]))
        .await;
    assert_eq!(deliveries.as_array().unwrap().len(), 5);
    assert!(deliveries
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["status"] == "sent"));
}

async fn failing_webhook_subscriptions_are_disabled(backend: Backend) {
    let app = TestApp::start(backend, "2026-11-26T12:00:00Z").await;
    let pager = Receiver::start().await;
    let (_, key, _) = line_up(&app, &pager).await;
    // Nothing listens on this port: every delivery fails.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (_, webhook) = app
        .post(
            "/api/v1/webhooks",
            json!({"url": format!("http://127.0.0.1:{closed}/"), "events": ["incident.triggered"]}),
        )
        .await;
    for n in 0..10 {
        send_event(&app, trigger(&key, &format!("k{n}"), "Flapping")).await;
    }
    app.settle().await;
    let (_, webhooks) = app.get("/api/v1/webhooks").await;
    assert_eq!(webhooks[0]["enabled"], false, "{webhooks}");
    assert_eq!(webhooks[0]["consecutive_failures"], 10);
    let (_, deliveries) = app
        .get(&format!("/api/v1/webhooks/{}/deliveries", webhook["id"]))
        .await;
    assert!(
        deliveries[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("failed"),
        "{deliveries}"
    );
    send_event(&app, trigger(&key, "later", "After disabling")).await;
    let (_, deliveries) = app
        .get(&format!("/api/v1/webhooks/{}/deliveries", webhook["id"]))
        .await;
    assert_eq!(
        deliveries.as_array().unwrap().len(),
        10,
        "a disabled subscription gets nothing new"
    );
    let (status, _) = app
        .post(
            &format!("/api/v1/webhooks/{}/enable", webhook["id"]),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

async fn sms_voice_and_slack_pages_take_their_providers_forms(backend: Backend) {
    // A stand-in for the Twilio-compatible provider, which cannot be reached from here.
    let provider = Receiver::start().await;
    let paging = PagingConfig {
        smtp: None,
        sms: Some(SmsSettings {
            base_url: provider.url.clone(),
            account: "AC123".to_owned(),
            token: "secret-token".to_owned(),
            from: "+15550000000".to_owned(),
        }),
    };
    let app = TestApp::start_with(backend, "2026-11-26T12:00:00Z", paging).await;
    let pager = Receiver::start().await;
    let (_, key, _) = line_up(&app, &pager).await;
    let (_, users) = app.get("/api/v1/users").await;
    let ada = users[0]["id"].as_i64().unwrap();
    for (kind, address) in [
        ("sms", "+15551234567".to_owned()),
        ("voice", "+15551234567".to_owned()),
        ("slack", format!("{}/slack", provider.url)),
    ] {
        let (status, body) = app
            .post(
                &format!("/api/v1/users/{ada}/contact-methods"),
                json!({"kind": kind, "address": address}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{kind}: {body}");
    }
    let (status, error) = app
        .post(
            &format!("/api/v1/users/{ada}/contact-methods"),
            json!({"kind": "sms", "address": "555-1234"}),
        )
        .await;
    assert_eq!(
        (status, error["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("address"))
    );
    send_event(&app, trigger(&key, "sms", "Payments failing")).await;
    app.settle().await;
    let received = provider.received();
    let by_path = |path: &str| {
        received
            .iter()
            .find(|r| r.path == path)
            .unwrap_or_else(|| panic!("nothing at {path}: {received:?}"))
    };
    let sms = by_path("/2010-04-01/Accounts/AC123/Messages.json");
    assert!(
        sms.body.contains("To=%2B15551234567") && sms.body.contains("From=%2B15550000000"),
        "{}",
        sms.body
    );
    assert!(sms.body.contains("INC-1"), "{}", sms.body);
    assert!(sms.headers["authorization"]
        .to_str()
        .unwrap()
        .starts_with("Basic "));
    let call = by_path("/2010-04-01/Accounts/AC123/Calls.json");
    assert!(
        call.body.contains("Twiml=%3CResponse%3E%3CSay%3E"),
        "{}",
        call.body
    );
    let slack = by_path("/slack");
    let message: Value = serde_json::from_str(&slack.body).unwrap();
    assert!(
        message["text"].as_str().unwrap().contains("*INC-1*"),
        "{message}"
    );
}

async fn responders_reassignment_and_snooze(backend: Backend) {
    let app = TestApp::start(backend, "2026-11-26T12:00:00Z").await;
    let receiver = Receiver::start().await;
    let (_, key, _) = line_up(&app, &receiver).await;
    let (_, users) = app.get("/api/v1/users").await;
    let grace = users[1]["id"].as_i64().unwrap();
    app.post(
        &format!("/api/v1/users/{grace}/contact-methods"),
        json!({"kind": "webhook", "address": format!("{}/pages/grace", receiver.url)}),
    )
    .await;
    send_event(&app, trigger(&key, "x", "Search is slow")).await;
    app.settle().await;
    let (status, incident) = app
        .post(
            "/api/v1/incidents/INC-1/responders",
            json!({"user_id": grace}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{incident}");
    app.settle().await;
    let paths: Vec<String> = receiver.received().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        ["/pages/ada", "/pages/grace"],
        "calling on the secondary pages her now"
    );

    app.post("/api/v1/incidents/INC-1/acknowledge", json!({}))
        .await;
    let (status, snoozed) = app
        .post("/api/v1/incidents/INC-1/snooze", json!({"seconds": 600}))
        .await;
    assert_eq!(status, StatusCode::OK, "{snoozed}");
    app.advance(599);
    app.settle().await;
    let (_, incident) = app.get("/api/v1/incidents/1").await;
    assert_eq!(incident["status"], "acknowledged");
    app.advance(2);
    app.settle().await;
    let (_, incident) = app.get("/api/v1/incidents/1").await;
    assert_eq!(incident["status"], "triggered", "the snooze ended");
    assert_eq!(receiver.received().len(), 3, "and the level pages again");

    let (status, reassigned) = app
        .post(
            "/api/v1/incidents/INC-1/reassign",
            json!({"user_id": grace}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reassigned}");
    assert_eq!(reassigned["assignees"], json!([grace]));
    let (status, error) = app
        .post("/api/v1/incidents/INC-1/snooze", json!({"seconds": 60}))
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "only acknowledged incidents snooze: {error}"
    );
    let (status, _) = app
        .post("/api/v1/incidents/INC-1/escalate", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    app.post("/api/v1/incidents/INC-1/resolve", json!({})).await;
    let (status, error) = app
        .post("/api/v1/incidents/INC-1/acknowledge", json!({}))
        .await;
    assert_eq!(
        (status, error["code"].clone()),
        (StatusCode::CONFLICT, json!("conflict"))
    );
    let (status, _) = app.get("/api/v1/incidents/INC-999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn concurrent_events_are_batched_and_none_is_lost(backend: Backend) {
    let app = TestApp::start(backend, "2026-11-26T12:00:00Z").await;
    let receiver = Receiver::start().await;
    let (_, key, _) = line_up(&app, &receiver).await;
    // 200 triggers over 5 dedup keys at once: intake batches them.
    let sends = (0..200).map(|n| {
        let event = trigger(&key, &format!("key-{}", n % 5), &format!("Alert {n}"));
        let url = format!("{}/v2/enqueue", app.url);
        async move {
            let response = reqwest::Client::new()
                .post(url)
                .json(&event)
                .send()
                .await
                .unwrap();
            response.status()
        }
    });
    let statuses = futures_join_all(sends).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::ACCEPTED),
        "{statuses:?}"
    );
    let (_, incidents) = app.get("/api/v1/incidents?status=open").await;
    let incidents = incidents.as_array().unwrap();
    assert_eq!(incidents.len(), 5, "one incident per dedup key");
    let alerts: i64 = incidents
        .iter()
        .map(|i| i["alert_count"].as_i64().unwrap())
        .sum();
    assert_eq!(alerts, 200, "every event counted");
    let mut tx = app.store.read().await.unwrap();
    assert_eq!(
        tx.count_events().await.unwrap(),
        200,
        "every event recorded"
    );
    drop(tx);
    app.settle().await;
    assert_eq!(receiver.received().len(), 5, "each incident paged once");

    // Resolves and new triggers for the same keys, interleaved in one burst.
    let mixed = (0..40).map(|n| {
        let event = if n % 2 == 0 {
            json!({"routing_key": key, "event_action": "resolve", "dedup_key": format!("key-{}", n % 5)})
        } else {
            trigger(&key, &format!("key-{}", 5 + n % 3), "New trouble")
        };
        let url = format!("{}/v2/enqueue", app.url);
        async move { reqwest::Client::new().post(url).json(&event).send().await.unwrap().status() }
    });
    let statuses = futures_join_all(mixed).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::ACCEPTED),
        "{statuses:?}"
    );
    let (_, open) = app.get("/api/v1/incidents?status=open").await;
    let keys: std::collections::BTreeSet<String> = open
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["dedup_key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        keys.into_iter().collect::<Vec<_>>(),
        ["key-5", "key-6", "key-7"]
    );
}

/// Runs the futures concurrently and collects their outputs in order.
async fn futures_join_all<F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

async fn low_urgency_alerts_can_become_duty_tickets(backend: Backend) {
    let app = TestApp::start(backend, "2026-11-26T20:00:00Z").await;
    let receiver = Receiver::start().await;
    let (service, key, _) = line_up(&app, &receiver).await;
    let (_, current) = app.get(&format!("/api/v1/services/{service}")).await;
    let mut body = current.clone();
    for field in ["id", "created_at", "updated_at"] {
        body.as_object_mut().unwrap().remove(field);
    }
    body["default_urgency"] = json!("low");
    body["low_urgency_tickets"] = json!(true);
    let (status, updated) = app.put(&format!("/api/v1/services/{service}"), body).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    let team = current["team_id"].as_i64().unwrap();

    // Without a ticket prefix the team cannot take the ticket; the timeline says so.
    send_event(&app, trigger(&key, "typo-1", "Typo on the pricing page")).await;
    let (_, first) = app.get("/api/v1/incidents/1").await;
    assert!(first["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["message"].as_str().unwrap().contains("no ticket prefix")));

    app.put(
        &format!("/api/v1/teams/{team}/ticket-settings"),
        json!({"prefix": "UF"}),
    )
    .await;
    // 12:00 in Los Angeles: daytime, yet nobody is paged: the alert becomes a duty ticket.
    send_event(&app, trigger(&key, "typo-2", "Typo on the about page")).await;
    app.settle().await;
    assert!(receiver.received().is_empty(), "no page");
    let (_, incident) = app.get("/api/v1/incidents/2").await;
    assert_eq!(incident["tickets"], json!(["UF-1"]));
    let (_, ticket) = app.get("/api/v1/tickets/UF-1").await;
    assert_eq!(ticket["title"], "Typo on the about page");
    assert_eq!(ticket["labels"], json!(["product-maintenance-duty"]));
    assert_eq!(ticket["incidents"], json!(["INC-2"]));
}

/// A person resolves an incident at the moment the engine fires its next level. The engine
/// holds the level's timer and is about to change the incident; the resolve must wait for it
/// rather than take the incident first, or the database has to undo one of the two.
async fn resolving_while_a_level_fires_waits_for_it_and_neither_fails(backend: Backend) {
    use watchbill_core::paging::IncidentStatus;
    use watchbill_core::{Clock, IncidentId};

    let app = TestApp::start(backend, "2026-11-26T12:00:00Z").await;
    let receiver = Receiver::start().await;
    let (_, key, _) = line_up(&app, &receiver).await;
    send_event(&app, trigger(&key, "disk", "Disk full")).await;
    app.settle().await;
    app.advance(61);
    let incident = IncidentId(1);

    // The engine's side: the due timer is claimed (and locked) first.
    let mut firing = app.store.write().await.unwrap();
    let claimed = firing.claim_due_timers(app.clock.now(), 64).await.unwrap();
    assert_eq!(claimed.len(), 1);

    // A person resolves, in a transaction of its own and without retries.
    let store = app.store.clone();
    let resolving = tokio::spawn(async move {
        let mut tx = store.write().await?;
        watchbill_server::paging::actions::resolve(tx.as_mut(), incident, "Ada")
            .await
            .map_err(|e| watchbill_store::StoreError::Corrupt(e.to_string()))?;
        tx.commit().await
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    // The engine's side goes on to change the incident, then commits.
    firing
        .set_incident_status(incident, IncidentStatus::Triggered)
        .await
        .expect("the engine is not undone");
    firing.commit().await.expect("the engine commits");
    resolving
        .await
        .unwrap()
        .expect("the resolve waits for the engine, then commits");

    let (_, shown) = app.get("/api/v1/incidents/INC-1").await;
    assert_eq!(shown["status"], "resolved");
    app.advance(600);
    app.settle().await;
    assert_eq!(
        receiver.received().len(),
        1,
        "nothing pages after the resolve"
    );
}

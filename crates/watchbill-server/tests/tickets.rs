//! The ticket tracker over real HTTP, on SQLite and PostgreSQL: filing, filtering in the
//! filter language, changing with history, and the team's maintenance-duty queue.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use watchbill_store::Backend;

on_both_backends!(
    tickets_are_filed_filtered_and_changed,
    the_duty_queue_is_the_captains_filtered_work,
);

fn keys(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|t| t["key"].as_str().unwrap().to_owned())
        .collect()
}

async fn tickets_are_filed_filtered_and_changed(backend: Backend) {
    let app = TestApp::start(backend, "2026-11-26T12:00:00Z").await;
    let ada = app.user("Ada").await;
    let team = app.team("User-facing", &[ada]).await;
    let ticket = |title: &str, extra: Value| {
        let mut body = json!({"team_id": team, "title": title});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let (status, error) = app
        .post("/api/v1/tickets", ticket("Too early", json!({})))
        .await;
    assert_eq!(
        (status, error["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("team_id")),
        "{error}"
    );

    let (status, error) = app
        .put(
            &format!("/api/v1/teams/{team}/ticket-settings"),
            json!({"prefix": "U F"}),
        )
        .await;
    assert_eq!(
        (status, error["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("prefix"))
    );
    let (status, error) = app
        .put(
            &format!("/api/v1/teams/{team}/ticket-settings"),
            json!({"prefix": "uf", "duty_filter": "lable = x"}),
        )
        .await;
    assert_eq!(
        (status, error["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("duty_filter"))
    );
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("did you mean `label`"),
        "{error}"
    );
    let (status, settings) = app
        .put(
            &format!("/api/v1/teams/{team}/ticket-settings"),
            json!({"prefix": "uf"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{settings}");
    assert_eq!(settings["prefix"], "UF");

    let filed = [
        (
            "Quiz scores round down",
            json!({"type": "bug", "priority": "High", "labels": ["product-maintenance-duty"], "due": "2026-11-30"}),
        ),
        (
            "Add captions to lectures",
            json!({"type": "feature", "priority": "Low"}),
        ),
        (
            "Rotate CDN certificates",
            json!({"type": "maintenance", "priority": "Highest", "labels": ["product-maintenance-duty", "infra"], "due": "2026-12-10"}),
        ),
    ];
    for (title, extra) in filed {
        let (status, body) = app.post("/api/v1/tickets", ticket(title, extra)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, error) = app
        .post(
            "/api/v1/tickets",
            ticket("Bad", json!({"priority": "Urgent"})),
        )
        .await;
    assert_eq!(
        (status, error["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("priority"))
    );

    let filter = |text: &str| {
        format!(
            "/api/v1/tickets?filter={}",
            text.replace(' ', "%20")
                .replace('"', "%22")
                .replace('+', "%2B")
        )
    };
    let (_, duty) = app
        .get(&filter(
            "label = product-maintenance-duty ORDER BY priority DESC",
        ))
        .await;
    assert_eq!(keys(&duty), ["UF-3", "UF-1"]);
    let (_, soon) = app.get(&filter("due < \"+7d\"")).await;
    assert_eq!(keys(&soon), ["UF-1"]);
    let (_, text) = app
        .get(&filter("title ~ captions OR type = bug ORDER BY key"))
        .await;
    assert_eq!(keys(&text), ["UF-1", "UF-2"]);
    let (status, error) = app.get(&filter("status = = open")).await;
    assert_eq!(
        (status, error["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("filter"))
    );
    assert!(
        error["message"].as_str().unwrap().contains("column"),
        "{error}"
    );

    let (status, changed) = app
        .request(
            Method::PATCH,
            "/api/v1/tickets/UF-1",
            Some(common::ADMIN_TOKEN),
            Some(json!({"status": "closed", "assignee_id": ada})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["status"], "closed");
    assert!(changed["resolved_at"].is_string());
    let (_, detail) = app.get("/api/v1/tickets/UF-1").await;
    let fields: Vec<&str> = detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["created", "status", "assignee"]);
    let (_, open_duty) = app
        .get(&filter(
            "label = product-maintenance-duty AND status != closed",
        ))
        .await;
    assert_eq!(keys(&open_duty), ["UF-3"]);
    let (status, _) = app.get("/api/v1/tickets/UF-99").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, error) = app
        .request(
            Method::PATCH,
            "/api/v1/tickets/UF-2",
            Some(common::ADMIN_TOKEN),
            Some(json!({"status": "done"})),
        )
        .await;
    assert_eq!(
        (status, error["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("status"))
    );
    let (_, unchanged) = app.get("/api/v1/tickets/UF-2").await;
    assert_eq!(
        unchanged["status"], "open",
        "a refused change changes nothing"
    );
}

async fn the_duty_queue_is_the_captains_filtered_work(backend: Backend) {
    let app = TestApp::start(backend, "2026-11-26T12:00:00Z").await;
    watchbill_server::setup::demo(app.store.as_ref())
        .await
        .unwrap();
    let (_, teams) = app.get("/api/v1/teams").await;
    let team_id = |name: &str| {
        teams
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let (user_facing, infra) = (team_id("User-facing"), team_id("Infrastructure"));
    app.put(
        &format!("/api/v1/teams/{user_facing}/ticket-settings"),
        json!({"prefix": "UF"}),
    )
    .await;
    app.put(
        &format!("/api/v1/teams/{infra}/ticket-settings"),
        json!({"prefix": "INF"}),
    )
    .await;
    for (team, title, labels, priority) in [
        (
            user_facing,
            "Fix the quiz timer",
            json!(["product-maintenance-duty"]),
            "Low",
        ),
        (
            user_facing,
            "Broken course links",
            json!(["product-maintenance-duty"]),
            "Highest",
        ),
        (user_facing, "New onboarding flow", json!([]), "High"),
        (
            infra,
            "Disk alerts are noisy",
            json!(["product-maintenance-duty"]),
            "High",
        ),
    ] {
        let (status, body) = app
            .post(
                "/api/v1/tickets",
                json!({"team_id": team, "title": title, "labels": labels, "priority": priority}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, queue) = app
        .get(&format!("/api/v1/teams/{user_facing}/duty-queue"))
        .await;
    assert_eq!(status, StatusCode::OK, "{queue}");
    assert_eq!(
        queue["captain"]["name"], "Alan Turing",
        "this week's Captain On-Call works the queue"
    );
    assert_eq!(
        keys(&queue["tickets"]),
        ["UF-2", "UF-1"],
        "the team's own duty tickets, most urgent first"
    );

    // A team can make the queue the captain's own assignments.
    let (_, users) = app.get("/api/v1/users").await;
    let alan = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "Alan Turing")
        .unwrap()["id"]
        .clone();
    app.request(
        Method::PATCH,
        "/api/v1/tickets/UF-1",
        Some(common::ADMIN_TOKEN),
        Some(json!({"assignee_id": alan})),
    )
    .await;
    let (status, _) = app
        .put(
            &format!("/api/v1/teams/{user_facing}/ticket-settings"),
            json!({"prefix": "UF", "duty_filter": "assignee = currentDuty()"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, queue) = app
        .get(&format!("/api/v1/teams/{user_facing}/duty-queue"))
        .await;
    assert_eq!(keys(&queue["tickets"]), ["UF-1"]);
}

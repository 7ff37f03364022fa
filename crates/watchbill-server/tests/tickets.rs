//! The ticket tracker over real HTTP, on SQLite and PostgreSQL: filing, filtering in the
//! filter language, changing with history, and the team's maintenance-duty queue.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::peers::SmtpSink;
use common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use watchbill_store::Backend;

on_both_backends!(
    tickets_are_filed_filtered_and_changed,
    the_duty_queue_is_the_captains_filtered_work,
    jira_csv_imports_exports_and_bulk_edits_are_all_or_nothing,
    comments_links_follow_ups_and_the_captains_new_work,
    saved_filters_are_a_teams_or_ones_own,
    balance_counts_closed_work_and_the_captains_pages,
    a_simulated_duty_week_ends_in_a_handoff_report,
    forge_pushes_link_commits_and_count_in_the_handoff_report,
    generated_weeks_report_what_happened_in_them,
    files_are_attached_listed_and_downloaded_safely,
    deadlines_remind_by_day_and_handoffs_mail_the_team,
    requesters_hear_when_their_ticket_is_taken_finished_or_commented,
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

const JIRA_CSV: &str = "Summary,Issue key,Issue Type,Status,Priority,Assignee,Due Date,Labels,Labels,Description\r\n\
Quiz scores round down,CRS-101,Bug,To Do,High,ada@example.test,2026-12-01,product-maintenance-duty,quiz,\"Rounding, not truncating\nsee logs\"\r\n\
Captions for lectures,CRS-102,Story,In Progress,Minor,,01/Dec/26 5:00 PM,,,\r\n\
Old CDN bucket,CRS-103,Task,Done,Lowest,Ada,,product-maintenance-duty,,Cleanup\r\n";

async fn jira_csv_imports_exports_and_bulk_edits_are_all_or_nothing(backend: Backend) {
    let app = TestApp::start(backend, "2026-11-26T12:00:00Z").await;
    let ada = app.user("Ada").await;
    let grace = app.user("Grace").await;
    let team = app.team("User-facing", &[ada, grace]).await;
    app.put(
        &format!("/api/v1/teams/{team}/ticket-settings"),
        json!({"prefix": "UF"}),
    )
    .await;
    let import = |csv: String| {
        let url = format!("{}/api/v1/teams/{team}/tickets/import", app.url);
        async move {
            let response = reqwest::Client::new()
                .post(url)
                .bearer_auth(common::ADMIN_TOKEN)
                .header("content-type", "text/csv")
                .body(csv)
                .send()
                .await
                .unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        }
    };

    // A bad row stops the whole import, naming the row.
    let (status, error) = import(JIRA_CSV.replace("Minor", "Urgent")).await;
    assert_eq!(
        (status, error["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("row 3")),
        "{error}"
    );
    assert!(error["message"]
        .as_str()
        .unwrap()
        .contains("`Urgent` is not a priority"));
    let (status, error) = import(JIRA_CSV.replace("ada@example.test", "nobody@example.test")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("row 2: no user is `nobody@example.test`"),
        "{error}"
    );
    let (_, none) = app.get("/api/v1/tickets").await;
    assert_eq!(none, json!([]), "nothing was imported");

    let (status, report) = import(JIRA_CSV.to_owned()).await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    assert_eq!(report["keys"], json!(["UF-1", "UF-2", "UF-3"]));
    let (_, first) = app.get("/api/v1/tickets/UF-1").await;
    assert_eq!(first["type"], "bug");
    assert_eq!(first["labels"], json!(["product-maintenance-duty", "quiz"]));
    assert_eq!(first["description"], "Rounding, not truncating\nsee logs");
    assert_eq!(first["assignee_id"], json!(ada));
    assert!(first["history"][0]["actor"]
        .as_str()
        .unwrap()
        .contains("import of CRS-101"));
    let (_, second) = app.get("/api/v1/tickets/UF-2").await;
    assert_eq!(
        (
            second["status"].clone(),
            second["priority"].clone(),
            second["due"].clone()
        ),
        (json!("in_progress"), json!("Low"), json!("2026-12-01"))
    );
    let (_, third) = app.get("/api/v1/tickets/UF-3").await;
    assert_eq!(
        (third["status"].clone(), third["assignee_id"].clone()),
        (json!("closed"), json!(ada)),
        "assignees by name too"
    );

    // The export imports back into another team unchanged.
    let (status, _, csv) = app
        .text_with_token("/api/v1/tickets?format=csv&filter=ORDER%20BY%20key")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        csv.starts_with(
            "Issue key,Summary,Description,Issue Type,Status,Priority,Labels,Due Date,Assignee"
        ),
        "{csv}"
    );
    let other = app.team("Analytics", &[ada]).await;
    app.put(
        &format!("/api/v1/teams/{other}/ticket-settings"),
        json!({"prefix": "AN"}),
    )
    .await;
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/teams/{other}/tickets/import", app.url))
        .bearer_auth(common::ADMIN_TOKEN)
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let (_, copy) = app.get("/api/v1/tickets/AN-1").await;
    for field in [
        "title",
        "description",
        "type",
        "status",
        "priority",
        "labels",
        "due",
        "assignee_id",
    ] {
        assert_eq!(copy[field], first[field], "{field}");
    }

    // Bulk edit: an unknown user changes nothing; a known one changes every selected ticket.
    let bulk = |body: Value| app.post("/api/v1/tickets/bulk", body);
    let (status, error) = bulk(json!({"filter": "label = product-maintenance-duty", "set": {"assignee": "nobody@example.test"}})).await;
    assert_eq!(
        (status, error["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("set.assignee"))
    );
    let (status, error) = bulk(json!({"filter": "label == x", "set": {}})).await;
    assert_eq!(
        (status, error["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("filter"))
    );
    let (status, report) = bulk(json!({
        "filter": "team = UF AND label = product-maintenance-duty",
        "set": {"assignee": "grace@example.test", "priority": "Highest", "add_labels": ["week-48"], "remove_labels": ["quiz"]}
    }))
    .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["keys"], json!(["UF-1", "UF-3"]));
    let (_, first) = app.get("/api/v1/tickets/UF-1").await;
    assert_eq!(first["assignee_id"], json!(grace));
    assert_eq!(first["priority"], "Highest");
    assert_eq!(
        first["labels"],
        json!(["product-maintenance-duty", "week-48"])
    );
    let (_, untouched) = app.get("/api/v1/tickets/AN-1").await;
    assert_eq!(
        untouched["assignee_id"],
        json!(ada),
        "the filter's team only"
    );
}

async fn comments_links_follow_ups_and_the_captains_new_work(backend: Backend) {
    let app = TestApp::start(backend, "2026-11-26T12:00:00Z").await;
    watchbill_server::setup::demo(app.store.as_ref())
        .await
        .unwrap();
    let (status, settings) = app
        .put(
            "/api/v1/teams/1/ticket-settings",
            json!({"prefix": "UF", "assign_to_captain": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{settings}");
    assert_eq!(settings["assign_to_captain"], true);
    let (_, users) = app.get("/api/v1/users").await;
    let alan = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "Alan Turing")
        .unwrap()["id"]
        .clone();

    let (_, duty) = app
        .post("/api/v1/tickets", json!({"team_id": 1, "title": "Flaky quiz timer", "labels": ["product-maintenance-duty"]}))
        .await;
    assert_eq!(
        duty["assignee_id"], alan,
        "a new duty ticket goes to this week's captain"
    );
    let (_, feature) = app
        .post(
            "/api/v1/tickets",
            json!({"team_id": 1, "title": "Dark mode", "type": "feature"}),
        )
        .await;
    assert_eq!(feature["assignee_id"], Value::Null, "other work does not");

    let (status, comment) = app
        .post(
            "/api/v1/tickets/UF-1/comments",
            json!({"body": "Seen on Safari only"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{comment}");
    let (status, _) = app
        .post("/api/v1/tickets/UF-1/links", json!({"ticket": "UF-2"}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, error) = app
        .post("/api/v1/tickets/UF-1/links", json!({"ticket": "UF-1"}))
        .await;
    assert_eq!(
        (status, error["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("ticket"))
    );
    let (status, _) = app.post("/api/v1/tickets/UF-1/links", json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, incident) = app
        .post(
            "/api/v1/incidents",
            json!({"service_id": 1, "title": "Video CDN timeouts"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{incident}");
    let (status, follow_up) = app
        .post("/api/v1/incidents/INC-1/follow-up", json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{follow_up}");
    assert_eq!(follow_up["key"], "UF-3");
    assert_eq!(follow_up["title"], "Follow up INC-1: Video CDN timeouts");
    assert_eq!(follow_up["labels"], json!(["product-maintenance-duty"]));
    assert_eq!(follow_up["assignee_id"], alan);

    let (_, detail) = app.get("/api/v1/tickets/UF-1").await;
    assert_eq!(detail["comments"][0]["body"], "Seen on Safari only");
    assert_eq!(detail["linked_tickets"], json!(["UF-2"]));
    let (_, other) = app.get("/api/v1/tickets/UF-2").await;
    assert_eq!(
        other["linked_tickets"],
        json!(["UF-1"]),
        "ticket links go both ways"
    );
    let (_, follow) = app.get("/api/v1/tickets/UF-3").await;
    assert_eq!(follow["incidents"], json!(["INC-1"]));
    let (_, incident) = app.get("/api/v1/incidents/INC-1").await;
    assert_eq!(incident["tickets"], json!(["UF-3"]));
    assert!(incident["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["kind"] == "follow_up"));
}

async fn saved_filters_are_a_teams_or_ones_own(backend: Backend) {
    let app = TestApp::start(backend, "2026-11-26T12:00:00Z").await;
    watchbill_server::setup::demo(app.store.as_ref())
        .await
        .unwrap();
    app.put("/api/v1/teams/1/ticket-settings", json!({"prefix": "UF"}))
        .await;
    let (_, users) = app.get("/api/v1/users").await;
    let alan = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "Alan Turing")
        .unwrap()["id"]
        .clone();
    app.post(
        "/api/v1/tickets",
        json!({"team_id": 1, "title": "Mine", "assignee_id": alan}),
    )
    .await;
    app.post(
        "/api/v1/tickets",
        json!({"team_id": 1, "title": "Someone else's"}),
    )
    .await;
    let (_, token) = app
        .post(
            "/api/v1/tokens",
            json!({"name": "alan", "role": "responder", "user_id": alan}),
        )
        .await;
    let alan_token = token["secret"].as_str().unwrap().to_owned();

    let (status, error) = app
        .post(
            "/api/v1/filters",
            json!({"name": "Mine", "query": "assignee = currentUser()"}),
        )
        .await;
    assert_eq!(
        (status, error["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("team_id")),
        "a token for nobody saves no personal filter"
    );
    let (status, error) = app
        .request(
            Method::POST,
            "/api/v1/filters",
            Some(&alan_token),
            Some(json!({"name": "Bad", "query": "assignee = = x"})),
        )
        .await;
    assert_eq!(
        (status, error["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("query"))
    );
    let (status, own) = app
        .request(
            Method::POST,
            "/api/v1/filters",
            Some(&alan_token),
            Some(json!({"name": "Mine", "query": "assignee = currentUser()"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{own}");
    let (status, team) = app
        .post(
            "/api/v1/filters",
            json!({"name": "Captain's", "query": "assignee = currentDuty()", "team_id": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{team}");
    let (status, _) = app
        .post(
            "/api/v1/filters",
            json!({"name": "Captain's", "query": "status = open", "team_id": 1}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "names are unique within a team"
    );

    let (_, listed) = app
        .request(
            Method::GET,
            "/api/v1/filters?team=1",
            Some(&alan_token),
            None,
        )
        .await;
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Captain's", "Mine"]);
    let (_, mine) = app
        .request(
            Method::GET,
            &format!("/api/v1/filters/{}/tickets", own["id"]),
            Some(&alan_token),
            None,
        )
        .await;
    assert_eq!(keys(&mine), ["UF-1"]);
    let (_, captains) = app
        .get(&format!("/api/v1/filters/{}/tickets", team["id"]))
        .await;
    assert_eq!(
        keys(&captains),
        ["UF-1"],
        "currentDuty() is the team's captain, Alan"
    );

    let (status, _) = app
        .request(
            Method::DELETE,
            &format!("/api/v1/filters/{}", team["id"]),
            Some(&alan_token),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a team's filter is a manager's to delete"
    );
    let (status, _) = app
        .request(
            Method::DELETE,
            &format!("/api/v1/filters/{}", own["id"]),
            Some(&alan_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

async fn balance_counts_closed_work_and_the_captains_pages(backend: Backend) {
    let app = TestApp::start(backend, "2026-11-26T12:00:00Z").await;
    watchbill_server::setup::demo(app.store.as_ref())
        .await
        .unwrap();
    app.put("/api/v1/teams/1/ticket-settings", json!({"prefix": "UF"}))
        .await;
    for (title, kind) in [
        ("Fix rounding", "bug"),
        ("Fix links", "bug"),
        ("Captions", "feature"),
        ("Rotate keys", "maintenance"),
    ] {
        app.post(
            "/api/v1/tickets",
            json!({"team_id": 1, "title": title, "type": kind}),
        )
        .await;
    }
    for key in ["UF-1", "UF-2", "UF-4"] {
        app.request(
            Method::PATCH,
            &format!("/api/v1/tickets/{key}"),
            Some(common::ADMIN_TOKEN),
            Some(json!({"status": "closed"})),
        )
        .await;
    }
    // A page for this week's captain, Alan, open for two hours.
    app.post(
        "/api/v1/incidents",
        json!({"service_id": 1, "title": "Video CDN timeouts"}),
    )
    .await;
    app.settle().await;
    app.advance(2 * 3600);
    app.post("/api/v1/incidents/INC-1/resolve", json!({})).await;

    let (status, weeks) = app
        .get("/api/v1/teams/1/balance?from=2026-11-25T18:00:00Z&weeks=2")
        .await;
    assert_eq!(status, StatusCode::OK, "{weeks}");
    let week = &weeks[0];
    assert_eq!(week["captain"]["name"], "Alan Turing");
    assert_eq!(
        week["closed"],
        json!({"bug": 2, "feature": 0, "maintenance": 1, "task": 0})
    );
    assert_eq!(week["pages"], 1);
    assert_eq!(week["page_hours"], 2.0);
    assert_eq!(weeks[1]["captain"]["name"], "Katherine Johnson");
    assert_eq!(weeks[1]["pages"], 0);
    let (status, error) = app.get("/api/v1/teams/1/balance?weeks=0").await;
    assert_eq!(
        (status, error["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("weeks"))
    );
}

async fn a_simulated_duty_week_ends_in_a_handoff_report(backend: Backend) {
    // Alan Turing holds the User-facing duty from Wednesday 25 November 10:00 PST
    // (18:00 UTC) to Wednesday 2 December.
    let app = TestApp::start(backend, "2026-11-26T00:00:00Z").await;
    watchbill_server::setup::demo(app.store.as_ref())
        .await
        .unwrap();
    app.put("/api/v1/teams/1/ticket-settings", json!({"prefix": "UF"}))
        .await;
    let (status, hook) = app
        .post(
            "/api/v1/webhooks",
            json!({"url": "http://127.0.0.1:9/reports", "events": ["handoff.report"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    for n in 1..=7 {
        let due = if n == 7 { "2026-11-30" } else { "2026-12-20" };
        app.post(
            "/api/v1/tickets",
            json!({"team_id": 1, "title": format!("Duty {n}"), "labels": ["product-maintenance-duty"], "due": due}),
        )
        .await;
    }
    let patch = |key: &'static str, status: &'static str| {
        let path = format!("/api/v1/tickets/{key}");
        let app = &app;
        async move {
            app.request(
                Method::PATCH,
                &path,
                Some(common::ADMIN_TOKEN),
                Some(json!({"status": status})),
            )
            .await
        }
    };
    // Thursday: a page at 02:00 in Los Angeles, acknowledged in 10 minutes, resolved in 40.
    app.set_now("2026-11-26T10:00:00Z");
    app.post(
        "/api/v1/incidents",
        json!({"service_id": 1, "title": "Night-time outage"}),
    )
    .await;
    app.settle().await;
    app.advance(600);
    app.post("/api/v1/incidents/INC-1/acknowledge", json!({}))
        .await;
    app.advance(1800);
    app.post("/api/v1/incidents/INC-1/resolve", json!({})).await;
    // Friday to Tuesday: five duty tickets closed, one page by day, acknowledged in 20 minutes.
    for (day, key) in [
        ("27", "UF-1"),
        ("28", "UF-2"),
        ("30", "UF-3"),
        ("30", "UF-4"),
    ] {
        app.set_now(&format!("2026-11-{day}T20:00:00Z"));
        patch(key, "closed").await;
    }
    app.set_now("2026-12-01T20:00:00Z");
    patch("UF-5", "resolved").await;
    app.post(
        "/api/v1/incidents",
        json!({"service_id": 1, "title": "Slow search"}),
    )
    .await;
    app.settle().await;
    app.advance(1200);
    app.post("/api/v1/incidents/INC-2/acknowledge", json!({}))
        .await;
    // After Wednesday's handoff.
    app.set_now("2026-12-02T19:00:00Z");
    let (status, report) = app.get("/api/v1/teams/1/handoff-report").await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["week_start"], "2026-11-25T18:00:00Z");
    assert_eq!(report["week_end"], "2026-12-02T18:00:00Z");
    assert_eq!(report["outgoing"]["name"], "Alan Turing");
    assert_eq!(report["incoming"]["name"], "Katherine Johnson");
    assert_eq!(report["pages"]["count"], 2);
    assert_eq!(report["pages"]["by_service"], json!({"Course platform": 2}));
    assert_eq!(report["pages"]["out_of_hours"], 1);
    assert_eq!(report["pages"]["median_minutes_to_acknowledge"], 15.0);
    assert_eq!(report["pages"]["median_minutes_to_resolve"], 40.0);
    assert_eq!(report["duty_closed"], 5);
    assert_eq!(report["duty_within_target"], true);
    assert_eq!(report["opened"], 7, "all seven were filed during the week");
    assert_eq!(report["overdue"], 1);
    assert_eq!(keys(&report["carried_over"]), ["UF-7", "UF-6"]);

    // The engine writes the same report at the handoff, keeps it, and announces it.
    app.settle().await;
    app.settle().await;
    let (status, kept) = app.get("/api/v1/teams/1/handoff-reports").await;
    assert_eq!(status, StatusCode::OK, "{kept}");
    assert_eq!(kept[0]["week_end"], "2026-12-02T18:00:00Z", "{kept}");
    assert_eq!(kept[0]["report"]["duty_closed"], 5);
    assert_eq!(kept[0]["report"]["pages"]["count"], 2);
    assert_eq!(
        kept[1]["week_end"], "2026-11-25T18:00:00Z",
        "the week before was written when the engine first looked"
    );
    let (_, deliveries) = app
        .get(&format!("/api/v1/webhooks/{}/deliveries", hook["id"]))
        .await;
    let announced: Vec<&Value> = deliveries
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["event"] == "handoff.report")
        .collect();
    assert_eq!(
        announced.len(),
        6,
        "two weeks for each of the demo's three teams, once each: {deliveries}"
    );
}

/// Posts a push the way a forge does: the raw body with the forge's headers.
async fn push(
    app: &TestApp,
    integration: i64,
    headers: &[(&str, String)],
    body: &Value,
) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}/integrations/code/{integration}", app.url))
        .header("content-type", "application/json")
        .body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn signature(secret: &str, body: &Value) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.to_string().as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

async fn forge_pushes_link_commits_and_count_in_the_handoff_report(backend: Backend) {
    let app = TestApp::start(backend, "2026-11-26T00:00:00Z").await;
    watchbill_server::setup::demo(app.store.as_ref())
        .await
        .unwrap();
    app.put("/api/v1/teams/1/ticket-settings", json!({"prefix": "UF"}))
        .await;
    app.post(
        "/api/v1/tickets",
        json!({"team_id": 1, "title": "Login fails"}),
    )
    .await;
    let (status, integration) = app
        .post(
            "/api/v1/services/1/integrations",
            json!({"kind": "code_push", "name": "Course platform repository"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{integration}");
    let id = integration["id"].as_i64().unwrap();
    let secret = integration["key"].as_str().unwrap().to_owned();
    assert_eq!(
        integration["url"],
        format!("{}/integrations/code/{id}", app.url)
    );
    let (_, report) = app
        .get("/api/v1/teams/1/handoff-report?at=2026-12-02T19:00:00Z")
        .await;
    let captain = report["outgoing"]["email"].as_str().unwrap().to_uppercase();

    // GitHub: signed with X-Hub-Signature-256.
    let github = json!({
        "ref": "refs/heads/main",
        "repository": {"full_name": "demo/course-platform"},
        "commits": [
            {"id": "a1", "message": "UF-1: retry the login\n\nAlso UF-99, which does not exist.",
             "timestamp": "2026-11-27T09:00:00-08:00", "author": {"name": "Alan", "email": captain},
             "added": ["crates/login/tests/retry.rs"], "modified": ["crates/login/src/lib.rs"], "removed": []},
            {"id": "a2", "message": "Tidy the docs", "timestamp": "2026-11-28T09:00:00-08:00",
             "author": {"email": "someone@else.test"}, "added": ["docs/tests/x_test.md"], "modified": []}
        ]
    });
    let signed = |body: &Value| {
        vec![
            ("x-github-event", "push".to_owned()),
            (
                "x-hub-signature-256",
                format!("sha256={}", signature(&secret, body)),
            ),
        ]
    };
    let (status, answer) = push(&app, id, &signed(&github), &github).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer, json!({"commits": 2, "linked": ["UF-1"]}));
    // The same delivery again links nothing twice.
    let (status, answer) = push(&app, id, &signed(&github), &github).await;
    assert_eq!(
        (status, answer["linked"].clone()),
        (StatusCode::ACCEPTED, json!([]))
    );
    // A wrong signature, a tampered body, or none at all is refused.
    let (status, error) = push(
        &app,
        id,
        &[("x-hub-signature-256", "sha256=00".to_owned())],
        &github,
    )
    .await;
    assert_eq!(
        (status, error["code"].clone()),
        (StatusCode::UNAUTHORIZED, json!("unauthorized")),
        "{error}"
    );
    let (status, _) = push(&app, id, &[], &github).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = push(&app, id + 1000, &signed(&github), &github).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // GitLab: the secret in X-Gitlab-Token, the repository as a project.
    let gitlab = json!({
        "object_kind": "push",
        "project": {"path_with_namespace": "demo/web-app"},
        "commits": [{"id": "b1", "message": "Fix uf-1 on mobile", "timestamp": "2026-11-29T10:00:00+00:00",
            "author": {"name": "Alan", "email": captain}, "added": ["web/login.spec.ts"], "modified": ["web/login.ts"]}]
    });
    let (status, _) = push(
        &app,
        id,
        &[
            ("x-gitlab-event", "Push Hook".to_owned()),
            ("x-gitlab-token", "wrong".to_owned()),
        ],
        &gitlab,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, answer) = push(
        &app,
        id,
        &[
            ("x-gitlab-event", "Push Hook".to_owned()),
            ("x-gitlab-token", secret.clone()),
        ],
        &gitlab,
    )
    .await;
    assert_eq!(
        (status, answer["linked"].clone()),
        (StatusCode::ACCEPTED, json!(["UF-1"])),
        "{answer}"
    );

    // Gitea: signed with X-Gitea-Signature; a commit after the week does not count.
    let gitea = json!({
        "repository": {"full_name": "demo/ops"},
        "commits": [{"id": "c1", "message": "UF-1 follow-up", "timestamp": "2026-12-03T10:00:00Z",
            "author": {"email": captain}, "added": ["tests/test_late.py"], "modified": []}]
    });
    let (status, _) = push(
        &app,
        id,
        &[
            ("x-gitea-event", "push".to_owned()),
            ("x-gitea-signature", signature(&secret, &gitea)),
        ],
        &gitea,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    // A GitHub ping is acknowledged and ignored; a push that is not JSON is a clear 400.
    let ping = json!({"zen": "Keep it logically awesome."});
    let (status, answer) = push(
        &app,
        id,
        &[
            ("x-github-event", "ping".to_owned()),
            (
                "x-hub-signature-256",
                format!("sha256={}", signature(&secret, &ping)),
            ),
        ],
        &ping,
    )
    .await;
    assert_eq!(
        (status, answer["commits"].clone()),
        (StatusCode::ACCEPTED, json!(0))
    );
    let broken = json!("not a push");
    let (status, error) = push(&app, id, &signed(&broken), &broken).await;
    assert_eq!(
        (status, error["code"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_input")),
        "{error}"
    );

    let (_, ticket) = app.get("/api/v1/tickets/UF-1").await;
    let shas: Vec<&str> = ticket["commits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["sha"].as_str().unwrap())
        .collect();
    assert_eq!(shas, ["a1", "b1", "c1"], "{ticket}");
    assert_eq!(ticket["commits"][1]["repository"], "demo/web-app");

    let (status, report) = app
        .get("/api/v1/teams/1/handoff-report?at=2026-12-02T19:00:00Z")
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        report["code"],
        json!({
            "commits": 2,
            "components_touched": ["crates/login", "web"],
            "test_files_added": ["crates/login/tests/retry.rs", "web/login.spec.ts"],
        })
    );
}

/// A small deterministic generator, so a failing week can be replayed from its seed.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

async fn generated_weeks_report_what_happened_in_them(backend: Backend) {
    // The User-facing duty week runs from Wednesday 25 November 18:00 UTC to 2 December.
    let week_start = jiff::Timestamp::from_second(1_795_629_600).unwrap();
    assert_eq!(week_start.to_string(), "2026-11-25T18:00:00Z");
    for seed in 1..=4_u64 {
        let mut random = Lcg(seed);
        let app = TestApp::start(backend, "2026-11-25T18:00:00Z").await;
        watchbill_server::setup::demo(app.store.as_ref())
            .await
            .unwrap();
        app.put("/api/v1/teams/1/ticket-settings", json!({"prefix": "UF"}))
            .await;
        // Tickets filed at random moments of the week, some of them duty work, some due
        // before the handoff; some closed later in the week, the others left open.
        let count = random.below(30);
        let mut filed: Vec<i64> = (0..count)
            .map(|_| random.below(6 * 86_400) as i64)
            .collect();
        filed.sort_unstable();
        let mut events: Vec<(i64, String, Value)> = Vec::new();
        let (mut closed_duty, mut open_duty, mut overdue) = (0, 0, 0);
        for (n, at) in (1..).zip(filed) {
            let duty = random.below(3) != 0;
            let due_soon = random.below(2) == 0;
            events.push((
                at,
                String::new(),
                json!({
                    "team_id": 1, "title": format!("Generated {n}"),
                    "labels": if duty { json!(["product-maintenance-duty"]) } else { json!([]) },
                    "due": if due_soon { "2026-11-30" } else { "2026-12-20" },
                }),
            ));
            if random.below(2) == 0 {
                let closed = at + 1 + random.below((7 * 86_400 - at - 2) as u64) as i64;
                events.push((closed, format!("UF-{n}"), json!({"status": "closed"})));
                closed_duty += usize::from(duty);
            } else {
                open_duty += usize::from(duty);
                overdue += usize::from(due_soon);
            }
        }
        // In time order; a ticket is always filed before it is closed, and filed in key order.
        events.sort_by_key(|(at, key, _)| (*at, !key.is_empty()));
        for (at, key, body) in events {
            let when = week_start
                .checked_add(jiff::SignedDuration::from_secs(at))
                .unwrap();
            app.set_now(&when.to_string());
            let (status, answer) = if key.is_empty() {
                app.post("/api/v1/tickets", body).await
            } else {
                app.request(
                    Method::PATCH,
                    &format!("/api/v1/tickets/{key}"),
                    Some(common::ADMIN_TOKEN),
                    Some(body),
                )
                .await
            };
            assert!(status.is_success(), "seed {seed}: {answer}");
        }
        app.set_now("2026-12-02T18:00:00Z");
        let (status, report) = app
            .get("/api/v1/teams/1/handoff-report?at=2026-12-02T19:00:00Z")
            .await;
        assert_eq!(status, StatusCode::OK, "{report}");
        assert_eq!(report["duty_closed"], closed_duty, "seed {seed}: {report}");
        assert_eq!(
            report["duty_within_target"],
            (5..=20).contains(&closed_duty),
            "seed {seed}"
        );
        assert_eq!(report["opened"], count, "seed {seed}");
        assert_eq!(
            report["carried_over"].as_array().unwrap().len(),
            open_duty,
            "seed {seed}: duty work still open at the handoff is carried over"
        );
        assert_eq!(report["overdue"], overdue, "seed {seed}");
    }
}

async fn files_are_attached_listed_and_downloaded_safely(backend: Backend) {
    let app = TestApp::start(backend, "2026-11-26T12:00:00Z").await;
    let ada = app.user("Ada").await;
    let team = app.team("User-facing", &[ada]).await;
    app.put(
        &format!("/api/v1/teams/{team}/ticket-settings"),
        json!({"prefix": "UF"}),
    )
    .await;
    app.post(
        "/api/v1/tickets",
        json!({"team_id": team, "title": "Upload fails"}),
    )
    .await;
    let client = reqwest::Client::new();
    let upload = |name: &str, content_type: &str, body: Vec<u8>| {
        client
            .post(format!("{}/api/v1/tickets/UF-1/attachments", app.url))
            .query(&[("filename", name)])
            .bearer_auth(common::ADMIN_TOKEN)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let log: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let response = upload("server log.txt", "text/plain", log.clone())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["size"], 70_000);
    let page = upload(
        "page.html",
        "text/html",
        b"<script>alert(1)</script>".to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(page.status(), StatusCode::CREATED);

    for (name, body) in [
        ("../etc/passwd", b"x".to_vec()),
        ("", b"x".to_vec()),
        ("empty.txt", Vec::new()),
    ] {
        let response = upload(name, "text/plain", body).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{name}");
        let error: Value = response.json().await.unwrap();
        assert!(
            error["field"] == "filename" || error["field"] == "body",
            "{error}"
        );
    }
    let too_big = upload(
        "huge.bin",
        "application/octet-stream",
        vec![0; 10 * 1024 * 1024 + 1],
    )
    .await
    .unwrap();
    assert_eq!(too_big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let error: Value = too_big.json().await.unwrap();
    assert_eq!(error["code"], "payload_too_large", "{error}");

    let (_, list) = app.get("/api/v1/tickets/UF-1/attachments").await;
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["filename"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["server log.txt", "page.html"],
        "nothing refused was kept"
    );
    let (_, ticket) = app.get("/api/v1/tickets/UF-1").await;
    assert_eq!(ticket["attachments"].as_array().unwrap().len(), 2);
    assert!(
        ticket["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["field"] == "attachment" && h["new_value"] == "page.html"),
        "{ticket}"
    );

    let download = |id: &Value| {
        client
            .get(format!("{}/api/v1/tickets/UF-1/attachments/{id}", app.url))
            .bearer_auth(common::ADMIN_TOKEN)
            .send()
    };
    let response = download(&created["id"]).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/plain");
    assert_eq!(
        response.headers()["content-disposition"],
        "attachment; filename=\"server log.txt\""
    );
    assert_eq!(
        response.bytes().await.unwrap().to_vec(),
        log,
        "the bytes come back unchanged"
    );
    let response = download(&list[1]["id"]).await.unwrap();
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert!(response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    let (status, _) = app.get("/api/v1/tickets/UF-1/attachments/999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// A user's id by name, through the API.
async fn user_id(app: &TestApp, name: &str) -> i64 {
    let (_, users) = app.get("/api/v1/users").await;
    users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == name)
        .unwrap()["id"]
        .as_i64()
        .unwrap()
}

async fn deadlines_remind_by_day_and_handoffs_mail_the_team(backend: Backend) {
    use watchbill_server::paging::channels::SmtpSettings;
    use watchbill_server::PagingConfig;
    let sink = SmtpSink::start();
    let paging = PagingConfig {
        smtp: Some(SmtpSettings::parse(&sink.url(), "watchbill@example.test").unwrap()),
        sms: None,
    };
    // Tuesday 24 November, noon in Los Angeles. Grace Hopper holds the User-facing duty until
    // Wednesday 10:00; every demo person is reached by email.
    let app = TestApp::start_with(backend, "2026-11-24T20:00:00Z", paging).await;
    watchbill_server::setup::demo(app.store.as_ref())
        .await
        .unwrap();
    let alan = user_id(&app, "Alan Turing").await;
    for (title, due, assignee) in [
        ("Upload fails", "2026-11-25", Some(alan)),
        ("Old export", "2026-11-25", None),
        ("Later work", "2026-12-20", Some(alan)),
    ] {
        let (status, body) = app
            .post(
                "/api/v1/tickets",
                json!({"team_id": 1, "title": title, "due": due, "assignee_id": assignee,
                                            "labels": ["product-maintenance-duty"]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    app.settle().await;
    sink.wait_for("Subject: UF-1 is due tomorrow: Upload fails")
        .await;
    // Quoted-printable bodies break long lines with `=` at the end.
    let mail = sink
        .wait_for("Subject: UF-2 is due tomorrow: Old export")
        .await
        .replace("=\n", "");
    assert!(
        mail.contains("To: alan@demo.watchbill.test\nSubject: UF-1"),
        "{mail}"
    );
    assert!(
        mail.contains("To: grace@demo.watchbill.test\nSubject: UF-2"),
        "the captain hears of unassigned work"
    );
    assert!(
        mail.contains("you hold the team's maintenance duty"),
        "{mail}"
    );
    assert!(
        !mail.contains("Subject: UF-3"),
        "nothing due for weeks earns a reminder"
    );

    // Checking again finds nothing new.
    app.advance(3600);
    app.settle().await;
    assert_eq!(
        sink.output()
            .matches("Subject: UF-1 is due tomorrow")
            .count(),
        1
    );

    // Thursday 01:00 in Los Angeles: UF-1 is overdue, but nobody is woken; the reminder waits
    // for 08:00.
    app.set_now("2026-11-26T09:00:00Z");
    app.settle().await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !sink.output().contains("is overdue"),
        "no reminder at night"
    );
    let mut tx = app.store.read().await.unwrap();
    let waiting = tx.notices("reminder:UF-1:overdue:", 10).await.unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].input.due_at.to_string(), "2026-11-26T16:00:00Z");
    drop(tx);
    app.set_now("2026-11-26T16:30:00Z");
    app.settle().await;
    sink.wait_for("Subject: UF-1 is overdue (it was due 2026-11-25): Upload fails")
        .await;

    // Wednesday's handoff went to the team by email.
    let mail = sink
        .wait_for("Subject: Handoff report: User-facing")
        .await
        .replace("=\n", "");
    assert!(
        mail.contains("Outgoing captain: Grace Hopper. Incoming captain: Alan Turing."),
        "{mail}"
    );
    let mut tx = app.store.read().await.unwrap();
    let handoff = tx.notices("handoff:1:1795629600:", 20).await.unwrap();
    assert_eq!(
        handoff.len(),
        4,
        "each of the four User-facing members, once"
    );
    assert!(handoff.iter().all(|n| n.status == "sent"));
}

async fn requesters_hear_when_their_ticket_is_taken_finished_or_commented(backend: Backend) {
    use watchbill_server::paging::channels::SmtpSettings;
    use watchbill_server::PagingConfig;
    let sink = SmtpSink::start();
    let paging = PagingConfig {
        smtp: Some(SmtpSettings::parse(&sink.url(), "watchbill@example.test").unwrap()),
        sms: None,
    };
    let app = TestApp::start_with(backend, "2026-11-24T20:00:00Z", paging).await;
    let rita = app.user("Rita").await;
    let ada = app.user("Ada").await;
    let team = app.team("User-facing", &[ada]).await;
    app.put(
        &format!("/api/v1/teams/{team}/ticket-settings"),
        json!({"prefix": "UF"}),
    )
    .await;
    let (status, token) = app
        .post(
            "/api/v1/tokens",
            json!({"name": "rita", "role": "responder", "user_id": rita}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{token}");
    let rita_token = token["secret"].as_str().unwrap().to_owned();
    let (status, ticket) = app
        .request(
            Method::POST,
            "/api/v1/tickets",
            Some(&rita_token),
            Some(json!({"team_id": team, "title": "Certificates show the wrong date"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ticket}");
    assert_eq!(ticket["reporter_id"], rita);

    let patch = |body: Value| {
        app.request(
            Method::PATCH,
            "/api/v1/tickets/UF-1",
            Some(common::ADMIN_TOKEN),
            Some(body),
        )
    };
    patch(json!({"assignee_id": ada, "status": "in_progress"})).await;
    app.settle().await;
    let mail = sink.wait_for("Ada is now working on UF-1.").await;
    assert!(
        mail.contains("To: rita@example.test\nSubject: [UF-1] Certificates show the wrong date"),
        "{mail}"
    );
    assert!(
        mail.contains("In-Reply-To: <ticket.UF-1@watchbill>"),
        "{mail}"
    );
    assert!(
        mail.contains("References: <ticket.UF-1@watchbill>"),
        "{mail}"
    );

    app.post(
        "/api/v1/tickets/UF-1/comments",
        json!({"body": "Found it: the time zone."}),
    )
    .await;
    // Her own comment is not mailed back to her.
    app.request(
        Method::POST,
        "/api/v1/tickets/UF-1/comments",
        Some(&rita_token),
        Some(json!({"body": "Thanks!"})),
    )
    .await;
    patch(json!({"status": "resolved"})).await;
    app.settle().await;
    sink.wait_for("commented on UF-1:").await;
    let mail = sink.wait_for("UF-1 is resolved.").await;
    assert!(!mail.contains("Thanks!"), "{mail}");
    assert_eq!(mail.matches("Subject: [UF-1]").count(), 3, "{mail}");
    // Reassigning to the same person, or editing the priority, says nothing new.
    patch(json!({"priority": "High"})).await;
    app.settle().await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(sink.output().matches("Subject: [UF-1]").count(), 3);
}

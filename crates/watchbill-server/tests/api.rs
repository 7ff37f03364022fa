//! The REST API over real HTTP, on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{TestApp, ADMIN_TOKEN};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use watchbill_store::Backend;

on_both_backends!(
    health_needs_no_token_but_the_api_does,
    viewers_read_but_cannot_write,
    weekly_handoff_stays_at_ten_local_across_dst,
    first_mate_is_the_same_rotation_one_along,
    overrides_replace_their_window_and_newest_wins,
    swaps_exchange_two_people,
    restrictions_leave_gaps_that_are_reported,
    bad_input_is_refused_and_changes_nothing,
    apply_is_idempotent_and_export_round_trips,
    apply_errors_name_the_field_and_write_nothing,
    calendar_feeds_are_served_at_secret_urls,
    every_documented_route_is_served,
    changes_are_audited,
    demo_organisation_has_the_seed_line_up,
    servers_sharing_a_database_see_each_others_changes,
    duty_weeks_show_who_holds_each_week_for_sprint_planning,
);

/// Three people in a weekly Wednesday 10:00 Los Angeles rotation, arranged so that Linus has
/// the week of 25 November 2026 and Ada the next; returns (team, schedule, users).
async fn weekly_line_up(app: &TestApp) -> (i64, i64, Vec<i64>) {
    let users = vec![
        app.user("Ada").await,
        app.user("Grace").await,
        app.user("Linus").await,
    ];
    let team = app.team("User-facing", &users).await;
    let (status, schedule) = app
        .post(
            "/api/v1/schedules",
            json!({
                "team_id": team,
                "name": "Captain On-Call",
                "time_zone": "America/Los_Angeles",
                "layers": [{
                    "name": "Weekly",
                    "participants": users,
                    "turn": "1w",
                    "handoff": "Wednesday 10:00",
                    "start": "2026-01-07T18:00:00Z",
                    "offset": 1
                }]
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{schedule}");
    (team, schedule["id"].as_i64().unwrap(), users)
}

fn names(shifts: &Value) -> Vec<(String, String)> {
    shifts["shifts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["start"].as_str().unwrap().to_owned(),
                s["user_name"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect()
}

async fn health_needs_no_token_but_the_api_does(backend: Backend) {
    let app = TestApp::start(backend, "2026-11-26T12:00:00Z").await;
    let (status, body) = app.request(Method::GET, "/health", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    let (status, body) = app.request(Method::GET, "/api/v1/users", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "unauthorized");
    let (status, _) = app
        .request(
            Method::GET,
            "/api/v1/users",
            Some("wb_not-a-real-token"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = app
        .request(Method::GET, "/api/v1/nothing-here", Some(ADMIN_TOKEN), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "not_found");
}

async fn viewers_read_but_cannot_write(backend: Backend) {
    let app = TestApp::start(backend, "2026-11-26T12:00:00Z").await;
    let (_, schedule, users) = weekly_line_up(&app).await;
    let viewer = app.token("viewer").await;
    let (status, _) = app
        .request(Method::GET, "/api/v1/oncall", Some(&viewer), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let override_body = json!({"start": "2026-11-27T00:00:00Z", "end": "2026-11-28T00:00:00Z", "user_id": users[0]});
    let path = format!("/api/v1/schedules/{schedule}/overrides");
    let (status, body) = app
        .request(
            Method::POST,
            &path,
            Some(&viewer),
            Some(override_body.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["code"], "forbidden");
    let (status, _) = app
        .request(
            Method::POST,
            "/api/v1/users",
            Some(&viewer),
            Some(json!({"name": "Eve", "email": "eve@example.test"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, overrides) = app
        .get(&format!("{path}?from=2026-11-20&to=2026-12-20"))
        .await;
    assert_eq!(overrides, json!([]), "the refused override was not written");
    let responder = app.token("responder").await;
    let (status, _) = app
        .request(Method::POST, &path, Some(&responder), Some(override_body))
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "responders may create overrides"
    );
    let (status, _) = app
        .request(
            Method::DELETE,
            &format!("/api/v1/schedules/{schedule}"),
            Some(&responder),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "but not delete schedules");
}

async fn weekly_handoff_stays_at_ten_local_across_dst(backend: Backend) {
    let app = TestApp::start(backend, "2026-10-20T12:00:00Z").await;
    let (_, schedule, _) = weekly_line_up(&app).await;
    let (status, shifts) = app
        .get(&format!(
            "/api/v1/schedules/{schedule}/shifts?from=2026-10-21T00:00:00Z&to=2026-11-12T00:00:00Z"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{shifts}");
    // 10:00 PDT is 17:00Z until Sunday 1 November; 10:00 PST is 18:00Z after.
    assert_eq!(
        names(&shifts),
        vec![
            ("2026-10-21T00:00:00Z".to_owned(), "Linus".to_owned()),
            ("2026-10-21T17:00:00Z".to_owned(), "Ada".to_owned()),
            ("2026-10-28T17:00:00Z".to_owned(), "Grace".to_owned()),
            ("2026-11-04T18:00:00Z".to_owned(), "Linus".to_owned()),
            ("2026-11-11T18:00:00Z".to_owned(), "Ada".to_owned()),
        ]
    );
    // And in March the other way: clocks spring forward on Sunday 14 March 2027.
    let (_, spring) = app
        .get(&format!(
            "/api/v1/schedules/{schedule}/shifts?from=2027-03-03&to=2027-03-18"
        ))
        .await;
    let starts: Vec<String> = names(&spring)
        .into_iter()
        .skip(1)
        .map(|(start, _)| start)
        .collect();
    assert_eq!(
        starts,
        vec![
            "2027-03-03T18:00:00Z",
            "2027-03-10T18:00:00Z",
            "2027-03-17T17:00:00Z"
        ]
    );

    let (_, now) = app.get("/api/v1/oncall?at=2026-11-04T17:59:59Z").await;
    let entry = &now["schedules"][0];
    assert_eq!(entry["user"]["name"], "Grace");
    assert_eq!(entry["since"], "2026-10-28T17:00:00Z");
    assert_eq!(entry["until"], "2026-11-04T18:00:00Z");
    assert_eq!(entry["next"]["user"]["name"], "Linus");
    assert_eq!(entry["next"]["end"], "2026-11-11T18:00:00Z");
}

async fn first_mate_is_the_same_rotation_one_along(backend: Backend) {
    let app = TestApp::start(backend, "2026-11-26T12:00:00Z").await;
    let (team, primary, _) = weekly_line_up(&app).await;
    let (status, secondary) = app
        .post(
            "/api/v1/schedules",
            json!({"team_id": team, "name": "First-mate", "time_zone": "America/Los_Angeles",
                   "follows": {"schedule_id": primary, "offset": 1}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{secondary}");
    for at in [
        "2026-11-26T12:00:00Z",
        "2026-12-03T12:00:00Z",
        "2027-06-01T00:00:00Z",
    ] {
        let (_, now) = app
            .get(&format!("/api/v1/oncall?team=User-facing&at={at}"))
            .await;
        let captain = &now["schedules"][0];
        let mate = &now["schedules"][1];
        assert_eq!(captain["schedule_name"], "Captain On-Call");
        assert_eq!(mate["schedule_name"], "First-mate");
        assert_eq!(
            mate["user"]["name"], captain["next"]["user"]["name"],
            "at {at}"
        );
        assert_eq!(mate["until"], captain["until"]);
    }
    // Editing the primary's rotation moves the First-mate with it.
    let (_, captain) = app.get(&format!("/api/v1/schedules/{primary}")).await;
    let mut layer = captain["layers"][0].clone();
    let reversed: Vec<Value> = layer["participants"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .cloned()
        .collect();
    layer["participants"] = Value::Array(reversed);
    for key in ["id", "position"] {
        layer.as_object_mut().unwrap().remove(key);
    }
    let layer_id = captain["layers"][0]["id"].as_i64().unwrap();
    let (status, body) = app
        .put(
            &format!("/api/v1/schedules/{primary}/layers/{layer_id}"),
            layer,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, now) = app
        .get("/api/v1/oncall?team=User-facing&at=2026-11-26T12:00:00Z")
        .await;
    assert_eq!(
        now["schedules"][1]["user"]["name"],
        now["schedules"][0]["next"]["user"]["name"]
    );
}

async fn overrides_replace_their_window_and_newest_wins(backend: Backend) {
    let app = TestApp::start(backend, "2026-11-26T12:00:00Z").await;
    let (_, schedule, users) = weekly_line_up(&app).await;
    let path = format!("/api/v1/schedules/{schedule}/overrides");
    let (status, first) = app
        .post(&path, json!({"start": "2026-11-27T00:00:00Z", "end": "2026-11-29T00:00:00Z", "user_id": users[0], "note": "covering"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, second) = app
        .post(&path, json!({"start": "2026-11-28T00:00:00Z", "end": "2026-11-28T12:00:00Z", "user_id": users[1]}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, shifts) = app
        .get(&format!(
            "/api/v1/schedules/{schedule}/shifts?from=2026-11-26T00:00:00Z&to=2026-11-30T00:00:00Z"
        ))
        .await;
    let rendered: Vec<(String, String, String)> = shifts["shifts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["start"].as_str().unwrap().to_owned(),
                s["user_name"].as_str().unwrap().to_owned(),
                s["source"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let row = |start: &str, who: &str, source: &str| {
        (start.to_owned(), who.to_owned(), source.to_owned())
    };
    assert_eq!(
        rendered,
        vec![
            row("2026-11-26T00:00:00Z", "Linus", "layer"),
            row("2026-11-27T00:00:00Z", "Ada", "override"),
            row("2026-11-28T00:00:00Z", "Grace", "override"),
            row("2026-11-28T12:00:00Z", "Ada", "override"),
            row("2026-11-29T00:00:00Z", "Linus", "layer"),
        ]
    );
    let (_, now) = app.get("/api/v1/oncall?at=2026-11-28T06:00:00Z").await;
    assert_eq!(now["schedules"][0]["user"]["name"], "Grace");
    assert_eq!(now["schedules"][0]["source"], "override");
    let (status, _) = app.delete(&format!("{path}/{}", second["id"])).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, now) = app.get("/api/v1/oncall?at=2026-11-28T06:00:00Z").await;
    assert_eq!(now["schedules"][0]["user"]["name"], "Ada");
}

async fn swaps_exchange_two_people(backend: Backend) {
    let app = TestApp::start(backend, "2026-11-26T12:00:00Z").await;
    let (_, schedule, users) = weekly_line_up(&app).await;
    // Linus has the week of 25 November, Ada the week of 2 December: they swap both weeks.
    let (status, body) = app
        .post(
            &format!("/api/v1/schedules/{schedule}/overrides"),
            json!({"start": "2026-11-25T18:00:00Z", "end": "2026-12-09T18:00:00Z", "user_id": users[2], "swap_with": users[0]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["kind"], "swap");
    let (_, shifts) = app
        .get(&format!(
            "/api/v1/schedules/{schedule}/shifts?from=2026-11-25T18:00:00Z&to=2026-12-16T18:00:00Z"
        ))
        .await;
    let who: Vec<String> = names(&shifts).into_iter().map(|(_, name)| name).collect();
    assert_eq!(who, vec!["Ada", "Linus", "Grace"]);
}

async fn restrictions_leave_gaps_that_are_reported(backend: Backend) {
    let app = TestApp::start(backend, "2026-11-26T12:00:00Z").await;
    let ada = app.user("Ada").await;
    let team = app.team("Analytics", &[ada]).await;
    let (status, schedule) = app
        .post(
            "/api/v1/schedules",
            json!({"team_id": team, "name": "Office hours", "time_zone": "Europe/Berlin",
                   "layers": [{"name": "Days", "participants": [ada], "turn": "1d", "handoff": "09:00",
                               "start": "2026-11-01T00:00:00Z",
                               "restrictions": [{"days": ["Mon", "Tue", "Wed", "Thu", "Fri"], "start": "09:00", "end": "17:00"}]}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{schedule}");
    let id = schedule["id"].clone();
    // Friday 27 November to Monday 30 November, Berlin (UTC+1).
    let (_, gaps) = app
        .get(&format!(
            "/api/v1/schedules/{id}/gaps?from=2026-11-27T00:00:00Z&to=2026-12-01T00:00:00Z"
        ))
        .await;
    assert_eq!(
        gaps,
        json!([
            {"start": "2026-11-27T00:00:00Z", "end": "2026-11-27T08:00:00Z"},
            {"start": "2026-11-27T16:00:00Z", "end": "2026-11-30T08:00:00Z"},
            {"start": "2026-11-30T16:00:00Z", "end": "2026-12-01T00:00:00Z"},
        ])
    );
    let (_, now) = app.get("/api/v1/oncall?at=2026-11-28T12:00:00Z").await;
    assert_eq!(
        now["schedules"][0]["user"],
        Value::Null,
        "nobody on Saturday"
    );
    assert_eq!(now["schedules"][0]["until"], "2026-11-30T08:00:00Z");
    assert_eq!(now["schedules"][0]["next"]["user"]["name"], "Ada");
}

async fn bad_input_is_refused_and_changes_nothing(backend: Backend) {
    let app = TestApp::start(backend, "2026-11-26T12:00:00Z").await;
    let (team, schedule, users) = weekly_line_up(&app).await;
    let layer = |overrides: Value| {
        let mut base = json!({"name": "Extra", "participants": [users[0]], "turn": "1w",
                              "handoff": "Wednesday 10:00", "start": "2026-01-07T18:00:00Z"});
        base.as_object_mut()
            .unwrap()
            .extend(overrides.as_object().unwrap().clone());
        base
    };
    let schedule_body = |zone: &str, layer: Value| json!({"team_id": team, "name": "Another", "time_zone": zone, "layers": [layer]});
    let cases: Vec<(&str, String, Value, StatusCode, &str)> = vec![
        (
            "unknown zone",
            "/api/v1/schedules".into(),
            schedule_body("Mars/Olympus_Mons", layer(json!({}))),
            StatusCode::BAD_REQUEST,
            "time_zone",
        ),
        (
            "empty rotation",
            "/api/v1/schedules".into(),
            schedule_body("UTC", layer(json!({"participants": []}))),
            StatusCode::BAD_REQUEST,
            "layers[0].participants",
        ),
        (
            "unknown user",
            "/api/v1/schedules".into(),
            schedule_body("UTC", layer(json!({"participants": [users[0], 9999]}))),
            StatusCode::UNPROCESSABLE_ENTITY,
            "layers[0].participants[1]",
        ),
        (
            "bad turn",
            "/api/v1/schedules".into(),
            schedule_body("UTC", layer(json!({"turn": "0w"}))),
            StatusCode::BAD_REQUEST,
            "layers[0].turn",
        ),
        (
            "bad handoff",
            "/api/v1/schedules".into(),
            schedule_body("UTC", layer(json!({"handoff": "Someday 25:00"}))),
            StatusCode::BAD_REQUEST,
            "layers[0].handoff",
        ),
        (
            "end before start",
            "/api/v1/schedules".into(),
            schedule_body("UTC", layer(json!({"end": "2025-01-01T00:00:00Z"}))),
            StatusCode::BAD_REQUEST,
            "layers[0].end",
        ),
        (
            "overlapping restrictions",
            "/api/v1/schedules".into(),
            schedule_body(
                "UTC",
                layer(json!({"restrictions": [
                {"days": ["Monday"], "start": "09:00", "end": "17:00"},
                {"days": ["Monday", "Tuesday"], "start": "16:00", "end": "18:00"}]})),
            ),
            StatusCode::BAD_REQUEST,
            "layers[0].restrictions[1]",
        ),
        (
            "unknown field",
            "/api/v1/schedules".into(),
            schedule_body("UTC", layer(json!({"colour": "red"}))),
            StatusCode::BAD_REQUEST,
            "layers[0].colour",
        ),
        (
            "wrong type",
            "/api/v1/users".into(),
            json!({"name": "Eve", "email": 7}),
            StatusCode::BAD_REQUEST,
            "email",
        ),
        (
            "bad email",
            "/api/v1/users".into(),
            json!({"name": "Eve", "email": "eve"}),
            StatusCode::BAD_REQUEST,
            "email",
        ),
        (
            "unknown role",
            "/api/v1/users".into(),
            json!({"name": "Eve", "email": "eve@example.test", "role": "root"}),
            StatusCode::BAD_REQUEST,
            "role",
        ),
        (
            "override ends before it starts",
            format!("/api/v1/schedules/{schedule}/overrides"),
            json!({"start": "2026-11-28T00:00:00Z", "end": "2026-11-27T00:00:00Z", "user_id": users[0]}),
            StatusCode::BAD_REQUEST,
            "end",
        ),
        (
            "override for a stranger",
            format!("/api/v1/schedules/{schedule}/overrides"),
            json!({"start": "2026-11-27T00:00:00Z", "end": "2026-11-28T00:00:00Z", "user_id": 4242}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "user_id",
        ),
    ];
    for (what, path, body, status, field) in cases {
        let (got, error) = app.post(&path, body).await;
        assert_eq!(got, status, "{what}: {error}");
        assert_eq!(error["field"], field, "{what}: {error}");
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: {error}"
        );
        assert!(error["code"].is_string(), "{what}: {error}");
    }
    let (status, error) = app
        .get(&format!(
            "/api/v1/schedules/{schedule}/shifts?from=2026-12-01&to=2026-11-01"
        ))
        .await;
    assert_eq!(
        (status, error["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("to"))
    );
    let (status, error) = app.get("/api/v1/oncall?at=yesterday-ish").await;
    assert_eq!(
        (status, error["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("at"))
    );

    // Malformed JSON and a missing content type.
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/users", app.url))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["code"], "invalid_input");
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/users", app.url))
        .bearer_auth(ADMIN_TOKEN)
        .body("name=Eve")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // Nothing was written by any of it.
    let (_, schedules) = app.get("/api/v1/schedules").await;
    assert_eq!(schedules.as_array().unwrap().len(), 1);
    let (_, all_users) = app.get("/api/v1/users").await;
    assert_eq!(all_users.as_array().unwrap().len(), 3);
    let (_, overrides) = app
        .get(&format!(
            "/api/v1/schedules/{schedule}/overrides?from=2026-11-01&to=2026-12-31"
        ))
        .await;
    assert_eq!(overrides, json!([]));
}

fn org_document() -> Value {
    json!({
        "users": [
            {"name": "Ada", "email": "ada@example.test", "time_zone": "Europe/London"},
            {"name": "Grace", "email": "grace@example.test", "role": "manager"},
        ],
        "teams": [{"name": "User-facing", "members": ["ada@example.test", "grace@example.test"]}],
        "schedules": [
            {"team": "User-facing", "name": "First-mate", "time_zone": "America/Los_Angeles", "follows": "Captain On-Call"},
            {"team": "User-facing", "name": "Captain On-Call", "time_zone": "America/Los_Angeles",
             "layers": [{"name": "Weekly", "participants": ["ada@example.test", "grace@example.test"],
                         "turn": "1w", "handoff": "Wednesday 10:00", "start": "2026-01-07T18:00:00Z",
                         "restrictions": [{"days": ["Monday"], "start": "00:00", "end": "00:00"}]}]},
        ],
    })
}

async fn apply_is_idempotent_and_export_round_trips(backend: Backend) {
    let app = TestApp::start(backend, "2026-11-26T12:00:00Z").await;
    let (status, report) = app.post("/api/v1/apply", org_document()).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["changes"].as_array().unwrap().len(), 5, "{report}");
    let (_, before) = app.get("/api/v1/schedules").await;
    let (_, again) = app.post("/api/v1/apply", org_document()).await;
    assert_eq!(
        again["changes"],
        json!([]),
        "applying twice changes nothing"
    );
    let (_, after) = app.get("/api/v1/schedules").await;
    assert_eq!(before, after, "not even a timestamp");
    let (status, exported) = app.get("/api/v1/export").await;
    assert_eq!(status, StatusCode::OK);
    let (_, round_trip) = app.post("/api/v1/apply", exported.clone()).await;
    assert_eq!(round_trip["changes"], json!([]), "apply(export) is a no-op");

    // A change is applied, and only it.
    let mut changed = org_document();
    changed["schedules"][1]["layers"][0]["turn"] = json!("2w");
    let (_, dry) = app
        .post("/api/v1/apply?dry_run=true", changed.clone())
        .await;
    assert_eq!(
        dry["changes"],
        json!(["updated schedule User-facing/Captain On-Call"])
    );
    let (_, still) = app.get("/api/v1/export").await;
    assert_eq!(still, exported, "a dry run changes nothing");
    let (_, report) = app.post("/api/v1/apply", changed.clone()).await;
    assert_eq!(
        report["changes"],
        json!(["updated schedule User-facing/Captain On-Call"])
    );

    // A team's ticket prefix and duty queue are part of the document too.
    let team = changed["teams"][0]["name"].as_str().unwrap().to_owned();
    changed["teams"][0]["tickets"] = json!({"prefix": "uf", "duty_filter": "label = duty ORDER BY due", "assign_to_captain": true});
    let mut wrong = changed.clone();
    wrong["teams"][0]["tickets"]["duty_filter"] = json!("lable = duty");
    let (status, error) = app.post("/api/v1/apply", wrong).await;
    assert_eq!(
        (status, error["field"].clone()),
        (
            StatusCode::BAD_REQUEST,
            json!("teams[0].tickets.duty_filter")
        ),
        "{error}"
    );
    let (_, report) = app.post("/api/v1/apply", changed.clone()).await;
    assert_eq!(
        report["changes"],
        json!([format!("set the ticket settings of team {team}")])
    );
    let (_, teams) = app.get("/api/v1/teams").await;
    let id = teams
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == team.as_str())
        .unwrap()["id"]
        .clone();
    let (_, settings) = app
        .get(&format!("/api/v1/teams/{id}/ticket-settings"))
        .await;
    assert_eq!(
        (
            settings["prefix"].clone(),
            settings["assign_to_captain"].clone()
        ),
        (json!("UF"), json!(true))
    );
    let (_, exported) = app.get("/api/v1/export").await;
    assert_eq!(
        exported["teams"][0]["tickets"],
        json!({"prefix": "UF", "duty_filter": "label = duty ORDER BY due", "assign_to_captain": true})
    );
    let (_, round_trip) = app.post("/api/v1/apply", exported).await;
    assert_eq!(round_trip["changes"], json!([]), "apply(export) is a no-op");
}

async fn apply_errors_name_the_field_and_write_nothing(backend: Backend) {
    let app = TestApp::start(backend, "2026-11-26T12:00:00Z").await;
    let mut doc = org_document();
    doc["schedules"][1]["layers"][0]["participants"][1] = json!("nobody@example.test");
    let (status, error) = app.post("/api/v1/apply", doc).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["field"], "schedules[1].layers[0].participants[1]");
    let (_, users) = app.get("/api/v1/users").await;
    assert_eq!(
        users.as_array().unwrap().len(),
        0,
        "the users before the error were rolled back"
    );

    let mut doc = org_document();
    doc["schedules"][1]["time_zone"] = json!("Nowhere/Land");
    let (status, error) = app.post("/api/v1/apply", doc).await;
    assert_eq!(
        (status, error["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("schedules[1].time_zone"))
    );
    let mut doc = org_document();
    doc["schedules"][0]["follows"] = json!("Nonexistent");
    let (status, error) = app.post("/api/v1/apply", doc).await;
    assert_eq!(
        (status, error["field"].clone()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!("schedules[0].follows")
        )
    );
    let (_, teams) = app.get("/api/v1/teams").await;
    assert_eq!(teams, json!([]));
}

async fn calendar_feeds_are_served_at_secret_urls(backend: Backend) {
    let app = TestApp::start(backend, "2026-11-26T12:00:00Z").await;
    let (_, schedule, users) = weekly_line_up(&app).await;
    let (_, record) = app.get(&format!("/api/v1/schedules/{schedule}")).await;
    let feed_url = record["ics_url"].as_str().unwrap();
    let path = feed_url.strip_prefix(&app.url).unwrap();
    let (status, content_type, body) = app.text(path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/calendar; charset=utf-8");
    assert!(
        body.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"),
        "{body}"
    );
    assert!(body.contains("DTSTART:20261202T180000Z\r\nDTEND:20261209T180000Z\r\nSUMMARY:Captain On-Call: Ada\r\n"), "{body}");
    assert!(body.ends_with("END:VCALENDAR\r\n"));
    let (again_status, _, again) = app.text(path).await;
    assert_eq!(
        (again_status, &again),
        (StatusCode::OK, &body),
        "a feed is stable between fetches"
    );

    let (_, ada) = app.get(&format!("/api/v1/users/{}", users[0])).await;
    let user_path = ada["ics_url"]
        .as_str()
        .unwrap()
        .strip_prefix(&app.url)
        .unwrap()
        .to_owned();
    let (status, _, mine) = app.text(&user_path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(mine.contains("SUMMARY:On call: Captain On-Call"));
    assert!(mine.contains("DTSTART:20261202T180000Z"), "{mine}");
    assert!(
        !mine.contains("DTSTART:20261209T180000Z"),
        "Grace's week is not in Ada's feed"
    );

    let (status, _, _) = app.text("/ics/schedules/not-the-secret.ics").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = app.text(&path.replace(".ics", "")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A real iCalendar parser accepts the feed.
    let checked = std::process::Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ics_check.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(body.as_bytes())?;
            child.wait_with_output()
        })
        .expect("python3 runs");
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    let parsed: Value = serde_json::from_slice(&checked.stdout).unwrap();
    assert!(parsed["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["summary"] == "Captain On-Call: Ada"
            && e["start"] == "2026-12-02T18:00:00+00:00"
            && e["end"] == "2026-12-09T18:00:00+00:00"));
}

async fn every_documented_route_is_served(backend: Backend) {
    let app = TestApp::start(backend, "2026-11-26T12:00:00Z").await;
    let (status, document) = app
        .request(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let paths = document["paths"].as_object().unwrap();
    for expected in [
        "/api/v1/users",
        "/api/v1/teams/{id}",
        "/api/v1/schedules/{id}/layers/{layer_id}",
        "/api/v1/oncall",
        "/api/v1/schedules/{id}/overrides/{override_id}",
        "/api/v1/apply",
        "/api/v1/export",
        "/api/v1/tokens",
        "/health",
        "/ics/schedules/{file}",
        "/ics/users/{file}",
    ] {
        assert!(paths.contains_key(expected), "{expected} is documented");
    }
    for (path, operations) in paths {
        for method in operations.as_object().unwrap().keys() {
            let concrete = path
                .replace(['{', '}'], "")
                .replace("layer_id", "1")
                .replace("override_id", "1")
                .replace("/id", "/1")
                .replace("file", "x.ics");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = (method == Method::POST || method == Method::PUT).then(|| json!({}));
            let (status, answer) = app
                .request(method.clone(), &concrete, Some(ADMIN_TOKEN), body)
                .await;
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert_ne!(answer["message"], "no such route", "{method} {path}");
        }
    }
}

async fn changes_are_audited(backend: Backend) {
    let app = TestApp::start(backend, "2026-11-26T12:00:00Z").await;
    weekly_line_up(&app).await;
    let (status, log) = app.get("/api/v1/audit?limit=10").await;
    assert_eq!(status, StatusCode::OK);
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions[..5],
        [
            "schedule.create",
            "team.create",
            "user.create",
            "user.create",
            "user.create"
        ]
    );
    assert!(log[0]["actor"].as_str().unwrap().starts_with("token:"));
}

async fn demo_organisation_has_the_seed_line_up(backend: Backend) {
    let app = TestApp::start(backend, "2026-11-26T12:00:00Z").await;
    let report = watchbill_server::setup::demo(app.store.as_ref())
        .await
        .unwrap();
    assert!(report.demo_created);
    let demo_token = report.admin_token.unwrap();
    let (status, now) = app
        .request(
            Method::GET,
            "/api/v1/oncall?at=2026-11-26T12:00:00Z",
            Some(&demo_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let line_up: Vec<(String, String, String)> = now["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["team_name"].as_str().unwrap().to_owned(),
                s["schedule_name"].as_str().unwrap().to_owned(),
                s["user"]["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(line_up.len(), 6);
    assert_eq!(
        line_up[0],
        (
            "User-facing".into(),
            "Captain On-Call".into(),
            "Alan Turing".into()
        )
    );
    assert_eq!(
        line_up[1],
        (
            "User-facing".into(),
            "First-mate".into(),
            "Katherine Johnson".into()
        )
    );
    assert!(now["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["until"] == "2026-12-02T18:00:00Z"));
    // A second demo start keeps the organisation and only adds a token.
    let again = watchbill_server::setup::demo(app.store.as_ref())
        .await
        .unwrap();
    assert!(!again.demo_created);
    let (_, teams) = app.get("/api/v1/teams").await;
    assert_eq!(teams.as_array().unwrap().len(), 3);
}

async fn servers_sharing_a_database_see_each_others_changes(backend: Backend) {
    let first = TestApp::start(backend, "2026-11-26T12:00:00Z").await;
    let (_, schedule, users) = weekly_line_up(&first).await;
    let second = first.another_server().await;
    let (_, before) = second.get("/api/v1/oncall?at=2026-11-27T12:00:00Z").await;
    assert_eq!(before["schedules"][0]["user"]["name"], "Linus");
    let (status, _) = first
        .post(
            &format!("/api/v1/schedules/{schedule}/overrides"),
            json!({"start": "2026-11-27T00:00:00Z", "end": "2026-11-28T00:00:00Z", "user_id": users[1]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, after) = second.get("/api/v1/oncall?at=2026-11-27T12:00:00Z").await;
    assert_eq!(
        after["schedules"][0]["user"]["name"], "Grace",
        "the second server's cached roster was refreshed"
    );
    let (_, renamed) = first
        .put(
            &format!("/api/v1/users/{}", users[1]),
            json!({"name": "Grace Hopper", "email": "grace@example.test"}),
        )
        .await;
    assert_eq!(renamed["name"], "Grace Hopper");
    let (_, after) = second.get("/api/v1/oncall?at=2026-11-27T12:00:00Z").await;
    assert_eq!(after["schedules"][0]["user"]["name"], "Grace Hopper");
}

async fn duty_weeks_show_who_holds_each_week_for_sprint_planning(backend: Backend) {
    let app = TestApp::start(backend, "2026-11-26T12:00:00Z").await;
    watchbill_server::setup::demo(app.store.as_ref())
        .await
        .unwrap();
    let (status, weeks) = app.get("/api/v1/duty-weeks?team=User-facing&weeks=3").await;
    assert_eq!(status, StatusCode::OK, "{weeks}");
    let on_duty: Vec<&str> = weeks
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["on_duty"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        on_duty,
        ["Alan Turing", "Katherine Johnson", "Ada Lovelace"]
    );
    // Alan holds the first week until Wednesday 2 December 10:00 PST: 150 of its 168 hours.
    assert_eq!(weeks[0]["shares"][0]["hours"], 150.0);
    assert_eq!(weeks[0]["shares"][1]["user"]["name"], "Katherine Johnson");
    assert_eq!(weeks[0]["schedule_name"], "Captain On-Call");

    // An override counts: Grace covers Alan's whole first week.
    let (_, users) = app.get("/api/v1/users").await;
    let grace = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "Grace Hopper")
        .unwrap()["id"]
        .clone();
    app.post(
        "/api/v1/schedules/1/overrides",
        json!({"start": "2026-11-26T12:00:00Z", "end": "2026-12-02T18:00:00Z", "user_id": grace}),
    )
    .await;
    let (_, weeks) = app.get("/api/v1/duty-weeks?team=User-facing&weeks=1").await;
    assert_eq!(weeks[0]["on_duty"]["name"], "Grace Hopper");

    let (status, content_type, csv) = app
        .text_with_token("/api/v1/duty-weeks?weeks=2&format=csv")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/csv; charset=utf-8");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "team,week_start,week_end,on_duty,email,hours");
    assert_eq!(lines.len(), 1 + 3 * 2, "three teams, two weeks: {csv}");
    assert!(lines[1].starts_with("User-facing,2026-11-26T12:00:00Z,2026-12-03T12:00:00Z,Grace Hopper,grace@demo.watchbill.test,"), "{csv}");

    let (status, error) = app.get("/api/v1/duty-weeks?weeks=99").await;
    assert_eq!(
        (status, error["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("weeks"))
    );
    let (status, error) = app.get("/api/v1/duty-weeks?format=xml").await;
    assert_eq!(
        (status, error["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("format"))
    );
}

//! The web pages over real HTTP, on SQLite and on PostgreSQL: signing in and out, sessions,
//! CSRF and origin checks, sign-in limits, roles, escaping, kiosk links and live updates.
//! The browser's side (scripts, clicks, screenshots) is tested in headless Chromium by
//! `web/tests/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::peers::Receiver;
use common::TestApp;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{redirect, Method, StatusCode};
use serde_json::{json, Value};
use watchbill_store::Backend;

on_both_backends!(
    signing_in_starts_a_session_and_signing_out_ends_it,
    forms_need_the_session_token_and_this_origin,
    failed_sign_ins_are_limited_per_address,
    viewers_see_no_actions_and_are_refused_anyway,
    user_text_is_shown_as_text,
    a_storm_shows_its_newest_alerts_and_says_so,
    changing_the_password_ends_other_sessions,
    kiosk_links_show_the_wall_until_revoked,
    open_walls_hear_of_changes,
    overrides_are_made_from_the_schedule_page,
    contact_methods_are_tested_from_the_person_page,
    photos_are_resized_and_shown_on_the_wall,
    policies_are_built_level_by_level_on_their_page,
    integrations_are_added_and_rotated_on_the_service_page,
    admins_add_people_and_managers_change_teams,
    tickets_are_found_edited_and_bulk_changed_from_their_pages,
    planning_balance_and_reports_have_their_pages,
    follow_ups_saved_filters_csv_attachments_and_settings_have_forms,
    mail_addresses_are_managed_and_received_mail_listed,
    post_mortems_are_written_reviewed_and_published_from_their_pages,
);

const NOW: &str = "2026-11-25T12:00:00Z";
const PASSWORD: &str = "correct horse battery";

/// A browser without a cookie jar of its own: the test carries the session cookie.
struct Browser {
    http: reqwest::Client,
    base: String,
    cookie: Option<String>,
}

struct Page {
    status: StatusCode,
    location: Option<String>,
    set_cookie: Option<String>,
    body: String,
}

impl Browser {
    fn new(app: &TestApp) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(redirect::Policy::none())
                .build()
                .unwrap(),
            base: app.url.clone(),
            cookie: None,
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        form: Option<&[(&str, &str)]>,
        origin: Option<&str>,
    ) -> Page {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(cookie) = &self.cookie {
            request = request.header(COOKIE, cookie);
        }
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        if let Some(form) = form {
            let body: String = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form)
                .finish();
            request = request
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body);
        }
        let response = request.send().await.unwrap();
        let header = |name| {
            response
                .headers()
                .get(name)
                .map(|v: &reqwest::header::HeaderValue| v.to_str().unwrap().to_owned())
        };
        Page {
            status: response.status(),
            location: header(LOCATION),
            set_cookie: header(SET_COOKIE),
            body: response.text().await.unwrap(),
        }
    }

    async fn get(&self, path: &str) -> Page {
        self.send(Method::GET, path, None, None).await
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let origin = self.base.clone();
        self.send(Method::POST, path, Some(form), Some(&origin))
            .await
    }

    async fn sign_in(&mut self, email: &str, password: &str) -> Page {
        let page = self
            .post(
                "/login",
                &[("email", email), ("password", password), ("next", "/now")],
            )
            .await;
        if let Some(cookie) = &page.set_cookie {
            self.cookie = cookie.split(';').next().map(str::to_owned);
        }
        page
    }

    /// Posts a multipart upload, as a page's file form does.
    fn upload(
        &self,
        path: String,
        (content_type, body): (String, Vec<u8>),
    ) -> impl std::future::Future<Output = reqwest::Result<reqwest::Response>> {
        self.http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie.clone().unwrap_or_default())
            .header("content-type", content_type)
            .body(body)
            .send()
    }

    /// The CSRF token in a page's forms.
    async fn csrf(&self, path: &str) -> String {
        let page = self.get(path).await;
        let start = page.body.find("name=\"csrf\" value=\"").expect("a form") + 19;
        page.body[start..start + page.body[start..].find('"').unwrap()].to_owned()
    }
}

/// A person with a password and a role; returns (id, email).
async fn person(app: &TestApp, name: &str, role: &str) -> (i64, String) {
    let email = format!("{}@example.test", name.to_lowercase());
    let (status, body) = app
        .post(
            "/api/v1/users",
            json!({"name": name, "email": email, "time_zone": "Europe/Berlin", "role": role}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_i64().unwrap();
    let (status, body) = app
        .put(
            &format!("/api/v1/users/{id}/password"),
            json!({"password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    (id, email)
}

/// A team with a weekly schedule, a service and an Events API key; returns (team, schedule, key).
async fn product(app: &TestApp, members: &[i64]) -> (i64, i64, String) {
    let team = app.team("User-facing", members).await;
    let (status, schedule) = app
        .post(
            "/api/v1/schedules",
            json!({"team_id": team, "name": "Captain On-Call", "time_zone": "America/Los_Angeles",
                   "layers": [{"name": "Weekly", "participants": members, "turn": "1w",
                               "handoff": "Wednesday 10:00", "start": "2026-01-07T10:00:00-08:00"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{schedule}");
    let (status, service) = app
        .post(
            "/api/v1/services",
            json!({"team_id": team, "name": "Course platform"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{service}");
    let (_, integration) = app
        .post(
            &format!("/api/v1/services/{}/integrations", service["id"]),
            json!({"kind": "events_v2"}),
        )
        .await;
    (
        team,
        schedule["id"].as_i64().unwrap(),
        integration["key"].as_str().unwrap().to_owned(),
    )
}

/// Opens an incident through the Events API and returns its number.
async fn incident(app: &TestApp, key: &str, summary: &str) -> i64 {
    let (status, body) = app
        .request(
            Method::POST,
            "/v2/enqueue",
            None,
            Some(json!({"routing_key": key, "event_action": "trigger",
                        "payload": {"summary": summary, "source": "web-1", "severity": "critical"}})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (_, list) = app.get("/api/v1/incidents?status=open").await;
    list[0]["id"].as_i64().unwrap()
}

/// Reads a wall's event stream until it announces an activity revision above `before`, which
/// only a change committed after `before` was read can give. An announcement of the revision
/// the wall started at does not count.
async fn hear_change(events: &mut reqwest::Response, before: i64) -> i64 {
    tokio::time::timeout(Duration::from_secs(10), async {
        let mut seen = String::new();
        loop {
            let chunk = events
                .chunk()
                .await
                .unwrap()
                .expect("the stream stays open");
            seen.push_str(&String::from_utf8_lossy(&chunk));
            let heard = seen
                .split("event: changed\ndata: ")
                .skip(1)
                .filter_map(|rest| rest.lines().next()?.trim().parse::<i64>().ok())
                .max();
            if let Some(revision) = heard.filter(|r| *r > before) {
                return revision;
            }
        }
    })
    .await
    .expect("the wall heard of the change within 10 s")
}

/// The store's activity revision now.
async fn activity(app: &TestApp) -> i64 {
    let mut tx = app.store.read().await.unwrap();
    tx.activity_revision().await.unwrap()
}

async fn signing_in_starts_a_session_and_signing_out_ends_it(backend: Backend) {
    let app = TestApp::start(backend, NOW).await;
    let (_, email) = person(&app, "Ada", "responder").await;
    let mut browser = Browser::new(&app);

    let page = browser.get("/now").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location.as_deref(), Some("/login?next=%2Fnow"));

    let page = browser.sign_in(&email, "not the password").await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(page.body.contains("do not match"), "{}", page.body);
    assert!(browser.cookie.is_none());

    let page = browser.sign_in(&email.to_uppercase(), PASSWORD).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location.as_deref(), Some("/now"));
    let cookie = page.set_cookie.unwrap();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP gets no Secure cookie: {cookie}"
    );

    let page = browser.get("/now").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Ada"), "{}", page.body);

    let csrf = browser.csrf("/now").await;
    let page = browser.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(page.set_cookie.unwrap().contains("Max-Age=0"));
    assert_eq!(
        browser.get("/now").await.status,
        StatusCode::SEE_OTHER,
        "the old cookie no longer works"
    );

    // Sign-in never redirects off the site.
    let page = browser
        .post(
            "/login",
            &[
                ("email", &email),
                ("password", PASSWORD),
                ("next", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!(page.location.as_deref(), Some("/now"));
}

async fn forms_need_the_session_token_and_this_origin(backend: Backend) {
    let app = TestApp::start(backend, NOW).await;
    let (ada, email) = person(&app, "Ada", "responder").await;
    let (_, _, key) = product(&app, &[ada]).await;
    let number = incident(&app, &key, "Checkout is down").await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&email, PASSWORD).await;
    let path = format!("/incidents/{number}/acknowledge");

    let page = browser.post(&path, &[("csrf", "forged")]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let csrf = browser.csrf(&format!("/incidents/{number}")).await;
    let page = browser
        .send(
            Method::POST,
            &path,
            Some(&[("csrf", &csrf)]),
            Some("https://evil.example"),
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let (_, shown) = app.get(&format!("/api/v1/incidents/{number}")).await;
    assert_eq!(
        shown["status"], "triggered",
        "a refused form changes nothing"
    );

    let page = browser.post(&path, &[("csrf", &csrf)]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let (_, shown) = app.get(&format!("/api/v1/incidents/{number}")).await;
    assert_eq!(shown["status"], "acknowledged");
    assert!(
        shown["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["actor"] == "Ada"),
        "{shown}"
    );

    let page = browser
        .post(
            &format!("/incidents/{number}/notes"),
            &[("csrf", &csrf), ("text", "Rolled back the deploy")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let page = browser.get(&format!("/incidents/{number}")).await;
    assert!(page.body.contains("Rolled back the deploy"));
    let page = browser
        .post(
            &format!("/incidents/{number}/notes"),
            &[("csrf", &csrf), ("text", "  ")],
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("a note needs"), "{}", page.body);
}

async fn failed_sign_ins_are_limited_per_address(backend: Backend) {
    let app = TestApp::start(backend, NOW).await;
    let (_, email) = person(&app, "Ada", "responder").await;
    let (_, other) = person(&app, "Grace", "responder").await;
    let mut browser = Browser::new(&app);
    for _ in 0..5 {
        assert_eq!(
            browser.sign_in(&email, "guess").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let page = browser.sign_in(&email, PASSWORD).await;
    assert_eq!(
        page.status,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    assert!(page.body.contains("Too many failed sign-ins"));
    assert_eq!(
        browser.sign_in(&other, PASSWORD).await.status,
        StatusCode::SEE_OTHER,
        "others are not locked out"
    );

    app.advance(16 * 60);
    assert_eq!(
        browser.sign_in(&email, PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
}

async fn viewers_see_no_actions_and_are_refused_anyway(backend: Backend) {
    let app = TestApp::start(backend, NOW).await;
    let (ada, _) = person(&app, "Ada", "responder").await;
    let (_, email) = person(&app, "Vera", "viewer").await;
    let (_, schedule, key) = product(&app, &[ada]).await;
    let number = incident(&app, &key, "Checkout is down").await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&email, PASSWORD).await;

    let page = browser.get(&format!("/incidents/{number}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Checkout is down"));
    assert!(
        !page.body.contains(">Acknowledge<"),
        "no action buttons for a viewer"
    );
    let csrf = browser.csrf("/now").await;
    let page = browser
        .post(
            &format!("/incidents/{number}/acknowledge"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let (_, shown) = app.get(&format!("/api/v1/incidents/{number}")).await;
    assert_eq!(shown["status"], "triggered");

    let page = browser.get(&format!("/schedules/{schedule}")).await;
    assert!(!page.body.contains("override-form"));
    assert_eq!(browser.get("/audit").await.status, StatusCode::FORBIDDEN);
}

async fn user_text_is_shown_as_text(backend: Backend) {
    let app = TestApp::start(backend, NOW).await;
    let (ada, email) = person(&app, "Ada", "responder").await;
    let (_, _, key) = product(&app, &[ada]).await;
    let number = incident(
        &app,
        &key,
        "<script>alert('owned')</script><img src=x onerror=alert(1)>",
    )
    .await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&email, PASSWORD).await;
    for path in [
        format!("/incidents/{number}"),
        "/incidents".to_owned(),
        "/wall".to_owned(),
        "/now".to_owned(),
    ] {
        let page = browser.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(
            !page.body.contains("<script>alert"),
            "{path} runs user text"
        );
        assert!(!page.body.contains("<img src=x"), "{path} runs user text");
    }
    let page = browser.get(&format!("/incidents/{number}")).await;
    assert!(
        page.body
            .contains("&#60;script&#62;alert(&#39;owned&#39;)&#60;/script&#62;"),
        "{}",
        page.body
    );
}

/// An incident with more alerts than its page lists says how many it has in all.
async fn a_storm_shows_its_newest_alerts_and_says_so(backend: Backend) {
    let app = TestApp::start(backend, NOW).await;
    let (ada, email) = person(&app, "Ada", "responder").await;
    product(&app, &[ada]).await;
    let (_, services) = app.get("/api/v1/services").await;
    let (_, integration) = app
        .post(
            &format!("/api/v1/services/{}/integrations", services[0]["id"]),
            json!({"kind": "alertmanager"}),
        )
        .await;
    let alerts: Vec<Value> = (0..510)
        .map(|n| {
            json!({"status": "firing", "labels": {"alertname": "Disk"},
                   "annotations": {"summary": format!("Disk full ({n})")}, "fingerprint": "disk"})
        })
        .collect();
    let (status, body) = app
        .request(
            Method::POST,
            &format!(
                "/integrations/alertmanager?key={}",
                integration["key"].as_str().unwrap()
            ),
            None,
            Some(json!({"version": "4", "status": "firing", "alerts": alerts})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let mut browser = Browser::new(&app);
    browser.sign_in(&email, PASSWORD).await;
    let page = browser.get("/incidents/1").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains(
            "The newest 500 events of this incident, oldest first; it has 510 alert(s) in all."
        ),
        "{}",
        page.body
    );
    assert!(page.body.contains("Disk full (509)"));
    assert!(
        !page.body.contains("Disk full (9)<"),
        "the oldest are left out"
    );
}

async fn changing_the_password_ends_other_sessions(backend: Backend) {
    let app = TestApp::start(backend, NOW).await;
    let (_, email) = person(&app, "Ada", "responder").await;
    let mut laptop = Browser::new(&app);
    let mut phone = Browser::new(&app);
    laptop.sign_in(&email, PASSWORD).await;
    phone.sign_in(&email, PASSWORD).await;
    let csrf = laptop.csrf("/password").await;

    let page = laptop
        .post(
            "/password",
            &[
                ("csrf", &csrf),
                ("current", "wrong one"),
                ("new", "a much longer secret"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let page = laptop
        .post(
            "/password",
            &[("csrf", &csrf), ("current", PASSWORD), ("new", "short")],
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("at least 10 characters"));
    let page = laptop
        .post(
            "/password",
            &[
                ("csrf", &csrf),
                ("current", PASSWORD),
                ("new", "a much longer secret"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Your password is changed"));

    assert_eq!(
        laptop.get("/now").await.status,
        StatusCode::OK,
        "this session stays"
    );
    assert_eq!(
        phone.get("/now").await.status,
        StatusCode::SEE_OTHER,
        "others end"
    );
    let mut again = Browser::new(&app);
    assert_eq!(
        again.sign_in(&email, PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        again.sign_in(&email, "a much longer secret").await.status,
        StatusCode::SEE_OTHER
    );
}

async fn kiosk_links_show_the_wall_until_revoked(backend: Backend) {
    let app = TestApp::start(backend, NOW).await;
    let (ada, _) = person(&app, "Ada", "responder").await;
    let (_, email) = person(&app, "Root", "admin").await;
    product(&app, &[ada]).await;
    let mut admin = Browser::new(&app);
    admin.sign_in(&email, PASSWORD).await;
    let csrf = admin.csrf("/audit").await;
    let page = admin
        .post("/wall/links", &[("csrf", &csrf), ("name", "Lunch line TV")])
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let start = page.body.find("/kiosk/").unwrap();
    let path = page.body[start..start + page.body[start..].find('<').unwrap()].to_owned();

    let tv = Browser::new(&app);
    let wall = tv.get(&path).await;
    assert_eq!(wall.status, StatusCode::OK);
    assert!(
        wall.body.contains("Captain On-Call") && wall.body.contains("Ada"),
        "{}",
        wall.body
    );
    assert!(
        !wall.body.contains("/now"),
        "a kiosk has no way into the app"
    );
    assert_eq!(
        tv.get(&format!("{path}/board")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        tv.get("/kiosk/not-a-token").await.status,
        StatusCode::NOT_FOUND
    );

    let links = admin.get("/audit").await;
    let id_at = links.body.find("/wall/links/").unwrap() + 12;
    let id = &links.body[id_at..id_at + links.body[id_at..].find('/').unwrap()];
    let page = admin
        .post(&format!("/wall/links/{id}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(tv.get(&path).await.status, StatusCode::NOT_FOUND);
}

async fn open_walls_hear_of_changes(backend: Backend) {
    let app = TestApp::start(backend, NOW).await;
    let (ada, email) = person(&app, "Ada", "responder").await;
    let (grace, _) = person(&app, "Grace", "responder").await;
    let (_, schedule, _) = product(&app, &[ada, grace]).await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&email, PASSWORD).await;
    let mut events = browser
        .http
        .get(format!("{}/wall/events", app.url))
        .header(COOKIE, browser.cookie.clone().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), StatusCode::OK);
    assert!(events.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let before = activity(&app).await;
    let (status, body) = app
        .post(
            &format!("/api/v1/schedules/{schedule}/overrides"),
            json!({"start": "2026-11-25T00:00:00Z", "end": "2026-11-27T00:00:00Z", "user_id": grace}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    hear_change(&mut events, before).await;
    let board = browser.get("/wall/board").await;
    let captain = board.body.find("Captain On-Call").unwrap();
    assert!(board.body[captain..].contains("Grace"), "{}", board.body);
}

async fn overrides_are_made_from_the_schedule_page(backend: Backend) {
    let app = TestApp::start(backend, NOW).await;
    let (ada, email) = person(&app, "Ada", "responder").await;
    let (grace, _) = person(&app, "Grace", "responder").await;
    let (_, schedule, _) = product(&app, &[ada, grace]).await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&email, PASSWORD).await;
    let path = format!("/schedules/{schedule}");
    let page = browser.get(&path).await;
    assert!(page.body.contains("Final schedule") && page.body.contains("Layer: Weekly"));
    let csrf = browser.csrf(&path).await;
    let grace_id = grace.to_string();

    let page = browser
        .post(
            &format!("{path}/overrides"),
            &[
                ("csrf", &csrf),
                ("start", "2026-11-27T09:00"),
                ("end", "2026-11-26T09:00"),
                ("user_id", &grace_id),
                ("swap_with", ""),
                ("note", ""),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(
        page.body.contains("the end must be after the start"),
        "{}",
        page.body
    );

    let page = browser
        .post(
            &format!("{path}/overrides"),
            &[
                ("csrf", &csrf),
                ("start", "2026-11-27T09:00"),
                ("end", "2026-11-28T09:00"),
                ("user_id", &grace_id),
                ("swap_with", ""),
                ("note", "Dentist"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let (_, overrides) = app
        .get(&format!(
            "/api/v1/schedules/{schedule}/overrides?from=2026-11-20&to=2026-12-10"
        ))
        .await;
    assert_eq!(
        overrides[0]["start"], "2026-11-27T17:00:00Z",
        "09:00 in Los Angeles"
    );
    assert_eq!(overrides[0]["user_id"], grace);
    assert_eq!(overrides[0]["note"], "Dentist");
}

async fn contact_methods_are_tested_from_the_person_page(backend: Backend) {
    let app = TestApp::start(backend, NOW).await;
    let receiver = Receiver::start().await;
    let (ada, email) = person(&app, "Ada", "responder").await;
    let (grace, _) = person(&app, "Grace", "responder").await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&email, PASSWORD).await;
    let path = format!("/people/{ada}");
    let csrf = browser.csrf(&path).await;
    let hook = format!("{}/pages/ada", receiver.url);
    let page = browser
        .post(
            &format!("{path}/contact-methods"),
            &[
                ("csrf", &csrf),
                ("kind", "webhook"),
                ("address", &hook),
                ("label", "pager app"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let page = browser
        .post(
            &format!("{path}/contact-methods"),
            &[
                ("csrf", &csrf),
                ("kind", "sms"),
                ("address", "not a number"),
                ("label", ""),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(
        page.body.contains("is not a valid sms address"),
        "{}",
        page.body
    );
    browser
        .post(
            &format!("{path}/contact-methods"),
            &[
                ("csrf", &csrf),
                ("kind", "email"),
                ("address", "ada@example.test"),
                ("label", ""),
            ],
        )
        .await;
    let (_, methods) = app
        .get(&format!("/api/v1/users/{ada}/contact-methods"))
        .await;
    let webhook = methods
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["kind"] == "webhook")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let mail = methods
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["kind"] == "email")
        .unwrap()["id"]
        .as_i64()
        .unwrap();

    let page = browser
        .post(
            &format!("{path}/contact-methods/{webhook}/test"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("Test notification sent"),
        "{}",
        page.body
    );
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert!(
        got[0].body.contains("Test notification from watchbill"),
        "{}",
        got[0].body
    );
    let page = browser
        .post(
            &format!("{path}/contact-methods/{mail}/test"),
            &[("csrf", &csrf)],
        )
        .await;
    assert!(
        page.body
            .contains("The test notification failed: no SMTP relay is configured"),
        "{}",
        page.body
    );

    let page = browser
        .post(
            &format!("{path}/rules"),
            &[
                ("csrf", &csrf),
                ("contact_method_id", &webhook.to_string()),
                ("delay_minutes", "5"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let (_, rules) = app
        .get(&format!("/api/v1/users/{ada}/notification-rules"))
        .await;
    assert_eq!(rules[0]["delay_seconds"], 300);
    assert!(browser.get(&path).await.body.contains("after 5 min"));

    // Someone else's contact methods are not Ada's to change, nor to test.
    let other = format!("/people/{grace}");
    assert!(!browser.get(&other).await.body.contains("method-form"));
    let page = browser
        .post(
            &format!("{other}/contact-methods"),
            &[
                ("csrf", &csrf),
                ("kind", "email"),
                ("address", "x@example.test"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
}

/// A multipart body with the CSRF token and one file.
fn upload(csrf: &str, file: &[u8]) -> (String, Vec<u8>) {
    upload_as(csrf, "photo", "me.png", "image/png", file)
}

/// A multipart body with the CSRF token and one file in `field`.
fn upload_as(
    csrf: &str,
    field: &str,
    name: &str,
    content_type: &str,
    file: &[u8],
) -> (String, Vec<u8>) {
    let boundary = "watchbill-test-boundary";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\nContent-Type: {content_type}\r\n\r\n").as_bytes());
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn photos_are_resized_and_shown_on_the_wall(backend: Backend) {
    let app = TestApp::start(backend, NOW).await;
    let (ada, email) = person(&app, "Ada", "responder").await;
    let (grace, _) = person(&app, "Grace", "responder").await;
    product(&app, &[ada]).await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&email, PASSWORD).await;
    let csrf = browser.csrf(&format!("/people/{ada}")).await;
    let picture = image::RgbImage::from_fn(640, 400, |x, _| image::Rgb([(x % 256) as u8, 80, 160]));
    let mut png = Vec::new();
    picture
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let send = |path: String, upload: (String, Vec<u8>)| browser.upload(path, upload);

    let refused = send(
        format!("/people/{ada}/photo"),
        upload(&csrf, b"not an image"),
    )
    .await
    .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let refused = send(format!("/people/{grace}/photo"), upload(&csrf, &png))
        .await
        .unwrap();
    assert_eq!(
        refused.status(),
        StatusCode::FORBIDDEN,
        "only one's own photo"
    );
    let refused = send(format!("/people/{ada}/photo"), upload("forged", &png))
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let done = send(format!("/people/{ada}/photo"), upload(&csrf, &png))
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);

    let (_, user) = app.get(&format!("/api/v1/users/{ada}")).await;
    let url = user["photo_url"].as_str().unwrap().to_owned();
    assert!(url.starts_with("/photos/"), "{url}");
    // The photo needs no session: kiosk screens show it.
    let stranger = Browser::new(&app);
    let response = stranger
        .http
        .get(format!("{}{url}", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "image/jpeg");
    let stored = image::load_from_memory(&response.bytes().await.unwrap()).unwrap();
    assert_eq!((stored.width(), stored.height()), (256, 256));
    let wall = browser.get("/wall/board").await;
    assert!(
        wall.body.contains(&format!("src=\"{url}\"")),
        "{}",
        wall.body
    );
    assert_eq!(
        stranger.get("/photos/nope").await.status,
        StatusCode::NOT_FOUND
    );
}

async fn policies_are_built_level_by_level_on_their_page(backend: Backend) {
    let app = TestApp::start(backend, NOW).await;
    let (ada, email) = person(&app, "Mia", "manager").await;
    let (_, responder) = person(&app, "Rob", "responder").await;
    let (team, schedule, _) = product(&app, &[ada]).await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&email, PASSWORD).await;
    let csrf = browser.csrf("/policies").await;
    let target = format!("schedule:{schedule}");
    let page = browser
        .post(
            "/policies",
            &[
                ("csrf", &csrf),
                ("team_id", &team.to_string()),
                ("name", "Product"),
                ("target", &target),
                ("delay_minutes", "5"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let (_, policies) = app.get("/api/v1/escalation-policies").await;
    let id = policies[0]["id"].as_i64().unwrap();
    let user_target = format!("user:{ada}");
    browser
        .post(
            &format!("/policies/{id}/levels"),
            &[
                ("csrf", &csrf),
                ("target", &user_target),
                ("delay_minutes", "10"),
            ],
        )
        .await;
    browser
        .post(
            &format!("/policies/{id}/repeat"),
            &[("csrf", &csrf), ("repeat", "2")],
        )
        .await;
    let (_, policy) = app.get(&format!("/api/v1/escalation-policies/{id}")).await;
    assert_eq!(policy["repeat"], 2);
    assert_eq!(
        policy["levels"][0]["targets"][0],
        json!({"kind": "schedule", "id": schedule})
    );
    assert_eq!(policy["levels"][0]["delay_seconds"], 300);
    assert_eq!(
        policy["levels"][1]["targets"][0],
        json!({"kind": "user", "id": ada})
    );
    let page = browser.get("/policies").await;
    assert!(
        page.body.contains("whoever is on call on Captain On-Call")
            && page.body.contains("Repeats 2 more time(s).")
    );

    let page = browser
        .post(
            &format!("/policies/{id}/levels/0/delete"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let (_, policy) = app.get(&format!("/api/v1/escalation-policies/{id}")).await;
    assert_eq!(policy["levels"].as_array().unwrap().len(), 1);
    let page = browser
        .post(
            &format!("/policies/{id}/levels/0/delete"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(
        page.status,
        StatusCode::BAD_REQUEST,
        "a policy keeps at least one level: {}",
        page.body
    );

    let mut rob = Browser::new(&app);
    rob.sign_in(&responder, PASSWORD).await;
    assert!(!rob.get("/policies").await.body.contains("Add level"));
    let csrf = rob.csrf("/policies").await;
    let page = rob
        .post(
            &format!("/policies/{id}/levels"),
            &[("csrf", &csrf), ("target", &target), ("delay_minutes", "5")],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
}

async fn integrations_are_added_and_rotated_on_the_service_page(backend: Backend) {
    let app = TestApp::start(backend, NOW).await;
    let (mia, email) = person(&app, "Mia", "manager").await;
    let (_, viewer) = person(&app, "Vera", "viewer").await;
    product(&app, &[mia]).await;
    let (_, services) = app.get("/api/v1/services").await;
    let service = services[0]["id"].as_i64().unwrap();
    let mut browser = Browser::new(&app);
    browser.sign_in(&email, PASSWORD).await;
    let path = format!("/services/{service}");
    let csrf = browser.csrf(&path).await;
    let page = browser
        .post(
            &format!("{path}/integrations"),
            &[
                ("csrf", &csrf),
                ("kind", "alertmanager"),
                ("name", "Prometheus"),
                ("interval_seconds", ""),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let page = browser.get(&path).await;
    assert!(
        page.body.contains("webhook_configs:") && page.body.contains("send_resolved: true"),
        "{}",
        page.body
    );
    assert!(page.body.contains("curl -X POST"));
    let (_, integrations) = app
        .get(&format!("/api/v1/services/{service}/integrations"))
        .await;
    let alertmanager = integrations
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "alertmanager")
        .unwrap()
        .clone();
    let page = browser
        .post(
            &format!("{path}/integrations/{}/rotate", alertmanager["id"]),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let (_, after) = app
        .get(&format!("/api/v1/services/{service}/integrations"))
        .await;
    let rotated = after
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == alertmanager["id"])
        .unwrap();
    assert_ne!(rotated["key"], alertmanager["key"]);
    let page = browser
        .post(
            &format!("{path}/integrations"),
            &[
                ("csrf", &csrf),
                ("kind", "heartbeat"),
                ("name", ""),
                ("interval_seconds", "soon"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);

    let mut vera = Browser::new(&app);
    vera.sign_in(&viewer, PASSWORD).await;
    let page = vera.get(&path).await;
    assert!(
        !page.body.contains(rotated["key"].as_str().unwrap()),
        "a viewer sees no key"
    );
}

async fn admins_add_people_and_managers_change_teams(backend: Backend) {
    let app = TestApp::start(backend, NOW).await;
    let (_, admin) = person(&app, "Root", "admin").await;
    let (ada, _) = person(&app, "Ada", "responder").await;
    let team = app.team("User-facing", &[ada]).await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&admin, PASSWORD).await;
    let csrf = browser.csrf("/people").await;
    let page = browser
        .post(
            "/people",
            &[
                ("csrf", &csrf),
                ("name", "Grace Hopper"),
                ("email", "grace@example.test"),
                ("time_zone", "America/New_York"),
                ("role", "responder"),
                ("password", "grace's long password"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let page = browser
        .post(
            "/people",
            &[
                ("csrf", &csrf),
                ("name", "Bad Zone"),
                ("email", "bad@example.test"),
                ("time_zone", "Mars/Olympus"),
                ("role", "responder"),
                ("password", ""),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    let mut grace = Browser::new(&app);
    assert_eq!(
        grace
            .sign_in("grace@example.test", "grace's long password")
            .await
            .status,
        StatusCode::SEE_OTHER
    );

    let (_, users) = app.get("/api/v1/users").await;
    let grace_id = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "grace@example.test")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let page = browser
        .post(
            &format!("/teams/{team}/members"),
            &[("csrf", &csrf), ("user_id", &grace_id.to_string())],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let (_, shown) = app.get(&format!("/api/v1/teams/{team}")).await;
    assert_eq!(shown["members"], json!([ada, grace_id]));
    browser
        .post(
            &format!("/teams/{team}/members/{ada}/delete"),
            &[("csrf", &csrf)],
        )
        .await;
    let (_, shown) = app.get(&format!("/api/v1/teams/{team}")).await;
    assert_eq!(shown["members"], json!([grace_id]));

    let csrf = grace.csrf("/people").await;
    let page = grace
        .post(
            "/people",
            &[
                ("csrf", &csrf),
                ("name", "Eve"),
                ("email", "eve@example.test"),
                ("time_zone", "UTC"),
                ("role", "admin"),
                ("password", ""),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "only admins add people");
}

/// Several servers share one PostgreSQL database (one SQLite file has one server): a wall
/// served by one hears of a change committed through the other.
#[tokio::test]
async fn postgres_walls_on_one_server_hear_of_changes_made_on_another() {
    let app = TestApp::start(Backend::Postgres, NOW).await;
    let second = app.another_server().await;
    let (ada, email) = person(&app, "Ada", "responder").await;
    let (grace, _) = person(&app, "Grace", "responder").await;
    let (_, schedule, _) = product(&app, &[ada, grace]).await;
    let mut browser = Browser::new(&second);
    browser.sign_in(&email, PASSWORD).await;
    let board = browser.get("/wall/board").await.body;
    let next_change = &board[board.find("data-next-change=\"").unwrap() + 18..];
    let next_change: i64 = next_change[..next_change.find('"').unwrap()]
        .parse()
        .unwrap();
    assert_eq!(
        jiff::Timestamp::from_second(next_change)
            .unwrap()
            .to_string(),
        "2026-11-25T18:00:00Z",
        "the page knows the next handoff: this Wednesday at 10:00 in Los Angeles"
    );
    let mut events = browser
        .http
        .get(format!("{}/wall/events", second.url))
        .header(COOKIE, browser.cookie.clone().unwrap())
        .send()
        .await
        .unwrap();
    let before = activity(&app).await;
    let (status, _) = app
        .post(
            &format!("/api/v1/schedules/{schedule}/overrides"),
            json!({"start": "2026-11-25T00:00:00Z", "end": "2026-11-27T00:00:00Z", "user_id": grace}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    hear_change(&mut events, before).await;
}

async fn tickets_are_found_edited_and_bulk_changed_from_their_pages(backend: Backend) {
    let app = TestApp::start(backend, NOW).await;
    let (ada, email) = person(&app, "Ada", "responder").await;
    let (team, _, _) = product(&app, &[ada]).await;
    let (status, body) = app
        .put(
            &format!("/api/v1/teams/{team}/ticket-settings"),
            json!({"prefix": "UF"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for (title, priority, due) in [
        ("Upload fails", "Highest", "2026-11-20"),
        ("Old export", "Low", "2026-12-20"),
    ] {
        let (status, body) = app
            .post("/api/v1/tickets", json!({"team_id": team, "title": title, "priority": priority, "due": due,
                                            "labels": ["product-maintenance-duty"],
                                            "description": "**Steps**\n\n[log](javascript:alert(1)) <img src=x onerror=alert(1)>"}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let mut browser = Browser::new(&app);
    browser.sign_in(&email, PASSWORD).await;

    let page = browser
        .get("/tickets?filter=priority%20%3D%20Highest")
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("data-key=\"UF-1\"") && !page.body.contains("data-key=\"UF-2\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("overdue"), "UF-1 was due on 20 November");
    let page = browser
        .get("/tickets?filter=priority%20%3D%3D%20High")
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(
        page.body.contains("column"),
        "the error points at a position: {}",
        page.body
    );

    let page = browser.get("/tickets/UF-1").await;
    assert!(page.body.contains("<strong>Steps</strong>"));
    assert!(
        !page.body.contains("javascript:") && !page.body.contains("<img src=x"),
        "{}",
        page.body
    );

    let csrf = browser.csrf("/tickets").await;
    // An unknown assignee changes nothing at all.
    let filter = "label = product-maintenance-duty";
    let page = browser
        .post(
            "/tickets/bulk",
            &[
                ("csrf", &csrf),
                ("filter", filter),
                ("assignee", "nobody@example.test"),
                ("priority", "High"),
                ("add_labels", ""),
                ("remove_labels", ""),
            ],
        )
        .await;
    assert!(page.status.is_client_error(), "{}", page.status);
    assert!(page.body.contains("nobody@example.test"), "{}", page.body);
    let (_, ticket) = app.get("/api/v1/tickets/UF-2").await;
    assert_eq!(ticket["priority"], "Low");
    let page = browser
        .post(
            "/tickets/bulk",
            &[
                ("csrf", &csrf),
                ("filter", filter),
                ("assignee", &email),
                ("priority", "High"),
                ("add_labels", "q4"),
                ("remove_labels", ""),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(page.location.unwrap().contains("Changed+2+ticket"));
    for key in ["UF-1", "UF-2"] {
        let (_, ticket) = app.get(&format!("/api/v1/tickets/{key}")).await;
        assert_eq!(
            (ticket["priority"].as_str(), ticket["assignee_id"].as_i64()),
            (Some("High"), Some(ada))
        );
        assert!(ticket["labels"].as_array().unwrap().contains(&json!("q4")));
    }

    let page = browser
        .post(
            "/tickets/UF-1",
            &[
                ("csrf", &csrf),
                ("status", "resolved"),
                ("priority", "High"),
                ("assignee_id", &ada.to_string()),
                ("due", "2026-11-20"),
                ("labels", "product-maintenance-duty q4"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let page = browser
        .post(
            "/tickets/UF-1/comments",
            &[("csrf", &csrf), ("body", "Fixed in **v2.3**")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let page = browser.get("/tickets/UF-1").await;
    assert!(page.body.contains("Fixed in <strong>v2.3</strong>"));
    assert!(
        page.body.contains("changed status from open to resolved"),
        "{}",
        page.body
    );

    // The duty queue: Ada holds the duty; the resolved ticket has left the queue.
    let page = browser.get("/duty").await;
    assert!(page.body.contains("that is you"), "{}", page.body);
    assert!(page.body.contains("data-key=\"UF-2\"") && !page.body.contains("data-key=\"UF-1\""));

    let page = browser
        .post(
            "/tickets",
            &[
                ("csrf", &csrf),
                ("team_id", &team.to_string()),
                ("title", "New from the page"),
                ("description", ""),
                ("type", "bug"),
                ("priority", "Medium"),
                ("labels", ""),
                ("due", ""),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location.as_deref(), Some("/tickets/UF-3"));
}

async fn planning_balance_and_reports_have_their_pages(backend: Backend) {
    let app = TestApp::start(backend, NOW).await;
    let (ada, email) = person(&app, "Ada", "responder").await;
    let (grace, _) = person(&app, "Grace", "responder").await;
    let (team, _, _) = product(&app, &[ada, grace]).await;
    app.put(
        &format!("/api/v1/teams/{team}/ticket-settings"),
        json!({"prefix": "UF"}),
    )
    .await;
    let (_, ticket) = app
        .post(
            "/api/v1/tickets",
            json!({"team_id": team, "title": "Fix the export", "type": "bug",
                                        "labels": ["product-maintenance-duty"]}),
        )
        .await;
    app.request(
        Method::PATCH,
        &format!("/api/v1/tickets/{}", ticket["key"].as_str().unwrap()),
        Some(common::ADMIN_TOKEN),
        Some(json!({"status": "resolved"})),
    )
    .await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&email, PASSWORD).await;

    let page = browser.get("/planning").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<th>User-facing</th>"), "{}", page.body);
    // Handoff to handoff: the week from 18 November is Grace's, the next Ada's, and so on.
    let rows: Vec<&str> = page.body.split("<tr><td>from ").skip(1).collect();
    assert_eq!(rows.len(), 8);
    assert!(rows[0].starts_with("Wed 18 Nov 19:00 CET"), "{}", rows[0]);
    let first: Vec<bool> = rows.iter().map(|r| r.contains("<td>Ada</td>")).collect();
    assert_eq!(
        first,
        [false, true, false, true, false, true, false, true],
        "{rows:?}"
    );

    let page = browser.get(&format!("/teams/{team}/balance")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<svg class=\"chart\""));
    assert!(
        page.body.contains("1 bug(s) closed in the week of 18 Nov"),
        "{}",
        page.body
    );

    let page = browser.get(&format!("/teams/{team}/reports")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("The week to Wed 18 Nov 19:00 CET (as of now)"),
        "{}",
        page.body
    );
    assert_eq!(
        browser.get("/teams/999/balance").await.status,
        StatusCode::NOT_FOUND
    );
}

async fn follow_ups_saved_filters_csv_attachments_and_settings_have_forms(backend: Backend) {
    let app = TestApp::start(backend, NOW).await;
    let (ada, email) = person(&app, "Mia", "manager").await;
    let (team, _, key) = product(&app, &[ada]).await;
    app.put(
        &format!("/api/v1/teams/{team}/ticket-settings"),
        json!({"prefix": "UF"}),
    )
    .await;
    let number = incident(&app, &key, "Checkout is down").await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&email, PASSWORD).await;
    let csrf = browser.csrf("/tickets").await;
    let send = |path: String, upload: (String, Vec<u8>)| browser.upload(path, upload);

    // A follow-up ticket from the incident's page, linked both ways.
    let page = browser
        .post(
            &format!("/incidents/{number}/follow-up"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location.as_deref(), Some("/tickets/UF-1"));
    let page = browser.get("/tickets/UF-1").await;
    assert!(
        page.body.contains(&format!("href=\"/incidents/{number}\"")),
        "{}",
        page.body
    );
    assert!(browser
        .get(&format!("/incidents/{number}"))
        .await
        .body
        .contains("href=\"/tickets/UF-1\""));

    // A Jira CSV imported from a file; a bad row changes nothing.
    let csv = "Issue key,Summary,Labels,Priority,Due date,Status\nOLD-1,Renew the certificate,product-maintenance-duty,High,2026-12-01,Open\n";
    let done = send(
        format!("/teams/{team}/tickets/import"),
        upload_as(&csrf, "file", "jira.csv", "text/csv", csv.as_bytes()),
    )
    .await
    .unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert!(done.headers()["location"]
        .to_str()
        .unwrap()
        .contains("Imported+1+ticket"));
    let bad = "Issue key,Summary,Priority\nOLD-2,Fine,High\nOLD-3,Broken,Urgentest\n";
    let refused = send(
        format!("/teams/{team}/tickets/import"),
        upload_as(&csrf, "file", "jira.csv", "text/csv", bad.as_bytes()),
    )
    .await
    .unwrap();
    assert!(refused.status().is_client_error());
    assert!(
        refused.text().await.unwrap().contains("row"),
        "the refusal names the row"
    );
    let (_, all) = app.get("/api/v1/tickets").await;
    assert_eq!(all.as_array().unwrap().len(), 2, "nothing half-imported");

    // The list's filter saved, and downloaded as CSV.
    let filter = "label = product-maintenance-duty";
    let page = browser
        .post(
            "/tickets/filters",
            &[
                ("csrf", &csrf),
                ("name", "Duty"),
                ("query", filter),
                ("team_id", ""),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(browser.get("/tickets").await.body.contains(">Duty</a>"));
    let csv = browser
        .get("/tickets.csv?filter=label%20%3D%20product-maintenance-duty")
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.body.starts_with("Issue key,Summary"), "{}", csv.body);
    assert!(
        csv.body.contains("Renew the certificate") && csv.body.contains("Follow up INC-1"),
        "{}",
        csv.body
    );

    // A file attached from the ticket's page and downloaded back, never shown inline.
    let done = send(
        "/tickets/UF-2/attachments".to_owned(),
        upload_as(&csrf, "file", "trace.txt", "text/plain", b"stack trace"),
    )
    .await
    .unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let page = browser.get("/tickets/UF-2").await;
    let at = page.body.find("/tickets/UF-2/attachments/").unwrap();
    let link = &page.body[at..at + page.body[at..].find('"').unwrap()];
    let file = browser
        .http
        .get(format!("{}{link}", app.url))
        .header(COOKIE, browser.cookie.clone().unwrap())
        .send()
        .await
        .unwrap();
    assert!(file.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    assert_eq!(file.text().await.unwrap(), "stack trace");

    // The team's ticket settings from the duty page.
    let page = browser
        .post(
            &format!("/teams/{team}/ticket-settings"),
            &[
                ("csrf", &csrf),
                ("prefix", "UF"),
                (
                    "duty_filter",
                    "label = product-maintenance-duty ORDER BY due ASC",
                ),
                ("assign_to_captain", "on"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let (_, settings) = app
        .get(&format!("/api/v1/teams/{team}/ticket-settings"))
        .await;
    assert_eq!(settings["assign_to_captain"], true);
    assert_eq!(
        settings["duty_filter"],
        "label = product-maintenance-duty ORDER BY due ASC"
    );
}

async fn mail_addresses_are_managed_and_received_mail_listed(backend: Backend) {
    let app = TestApp::start(backend, NOW).await;
    let (mia, email) = person(&app, "Mia", "manager").await;
    let (_, viewer) = person(&app, "Vera", "viewer").await;
    let (team, _, _) = product(&app, &[mia]).await;
    app.put(
        &format!("/api/v1/teams/{team}/ticket-settings"),
        json!({"prefix": "UF"}),
    )
    .await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&email, PASSWORD).await;
    let csrf = browser.csrf("/mail").await;
    let page = browser
        .post(
            "/mail/addresses",
            &[
                ("csrf", &csrf),
                ("address", "Maintenance@Demo.test"),
                ("team_id", &team.to_string()),
                ("mode", "maintenance"),
                ("service_id", ""),
                ("priority", "Low"),
                ("labels", "from-mail"),
                ("due_days", "3"),
                ("allow", "courses.example"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let page = browser
        .post(
            "/mail/addresses",
            &[
                ("csrf", &csrf),
                ("address", "urgent@demo.test"),
                ("team_id", &team.to_string()),
                ("mode", "urgent"),
                ("service_id", ""),
                ("priority", ""),
                ("labels", ""),
                ("due_days", ""),
                ("allow", ""),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("name the service"), "{}", page.body);

    let sent = tokio::process::Command::new("swaks")
        .args([
            "--server",
            &app.smtp,
            "--to",
            "maintenance@demo.test",
            "--from",
            "ops@courses.example",
        ])
        .args([
            "--header",
            "Subject: <b>Export</b> is slow",
            "--body",
            "It takes a minute.",
        ])
        .output()
        .await
        .unwrap();
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stdout)
    );
    let page = browser.get("/mail").await;
    assert!(
        page.body
            .contains("<code class=\"copy\">maintenance@demo.test</code>"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("Low, from-mail, due in 3 d") && page.body.contains("courses.example")
    );
    assert!(
        page.body.contains("&#60;b&#62;Export&#60;/b&#62; is slow"),
        "the subject is text"
    );
    assert!(
        page.body.contains("href=\"/tickets/UF-1\""),
        "{}",
        page.body
    );

    let mut vera = Browser::new(&app);
    vera.sign_in(&viewer, PASSWORD).await;
    assert!(!vera.get("/mail").await.body.contains("new-address"));
    let csrf_vera = vera.csrf("/mail").await;
    let (_, addresses) = app.get("/api/v1/mail-addresses").await;
    let id = addresses[0]["id"].as_i64().unwrap();
    let page = vera
        .post(
            &format!("/mail/addresses/{id}/delete"),
            &[("csrf", &csrf_vera)],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let page = browser
        .post(&format!("/mail/addresses/{id}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let (_, addresses) = app.get("/api/v1/mail-addresses").await;
    assert!(addresses.as_array().unwrap().is_empty());
}

async fn post_mortems_are_written_reviewed_and_published_from_their_pages(backend: Backend) {
    let app = TestApp::start(backend, NOW).await;
    let (mia, email) = person(&app, "Mia", "manager").await;
    let (noor, noor_email) = person(&app, "Noor", "responder").await;
    let (team, _, key) = product(&app, &[mia, noor]).await;
    app.put(
        &format!("/api/v1/teams/{team}/ticket-settings"),
        json!({"prefix": "UF"}),
    )
    .await;
    let number = incident(&app, &key, "Video CDN timeouts").await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&email, PASSWORD).await;
    let csrf = browser.csrf("/post-mortems").await;

    // The team's template, changed on its page, shapes the next post-mortem.
    let page = browser
        .get(&format!("/teams/{team}/post-mortem-settings"))
        .await;
    assert!(
        page.body.contains("## How to tackle it next time"),
        "{}",
        page.body
    );
    let template = "## What broke\r\n\r\n## Timeline\r\n\r\n{{timeline}}\r\n\r\n## How to tackle it next time\r\n";
    let saved = browser
        .post(
            &format!("/teams/{team}/post-mortem-settings"),
            &[
                ("csrf", &csrf),
                ("template", template),
                ("distribution", "eng@example.test\r\nops@example.test"),
                ("remind_after_hours", "24"),
                ("draft_reminder_days", "5"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    let (_, settings) = app
        .get(&format!("/api/v1/teams/{team}/post-mortem-settings"))
        .await;
    assert_eq!(
        settings["distribution"],
        json!(["eng@example.test", "ops@example.test"])
    );
    assert_eq!(settings["remind_after_seconds"], 86_400);

    // Resolved: the incident's page offers a post-mortem, which starts from the template.
    app.post(&format!("/api/v1/incidents/{number}/resolve"), json!({}))
        .await;
    let page = browser.get(&format!("/incidents/{number}")).await;
    assert!(page.body.contains("Write a post-mortem"), "{}", page.body);
    let written = browser
        .post(
            "/post-mortems",
            &[("csrf", &csrf), ("incidents", &format!("INC-{number}"))],
        )
        .await;
    assert_eq!(written.status, StatusCode::SEE_OTHER);
    assert_eq!(written.location.as_deref(), Some("/post-mortems/1"));
    let page = browser.get("/post-mortems/1").await;
    assert!(page.body.contains("<h2>What broke</h2>"), "{}", page.body);
    assert!(page.body.contains("written"));
    assert!(page.body.contains("by Mia"), "the author by name");
    let page = browser.get(&format!("/incidents/{number}")).await;
    assert!(
        page.body.contains("href=\"/post-mortems/1\""),
        "linked from its incident"
    );
    assert!(!page.body.contains("Write a post-mortem"));

    // Preview shows the text without saving it; Save keeps it.
    let text = "## What broke\r\n\r\nThe edge cache.\r\n\r\n## How to tackle it next time\r\n\r\nPurge it.\r\n";
    let preview = browser
        .post(
            "/post-mortems/1",
            &[
                ("csrf", &csrf),
                ("title", "Video CDN timeouts"),
                ("tags", "cdn video"),
                ("body", text),
                ("intent", "preview"),
            ],
        )
        .await;
    assert_eq!(preview.status, StatusCode::OK);
    assert!(
        preview.body.contains("id=\"pm-preview\""),
        "{}",
        preview.body
    );
    assert!(preview.body.contains("<p>The edge cache.</p>"));
    let (_, stored) = app.get("/api/v1/post-mortems/PM-1").await;
    assert!(
        !stored["body"].as_str().unwrap().contains("edge cache"),
        "not saved by a preview"
    );
    let saved = browser
        .post(
            "/post-mortems/1",
            &[
                ("csrf", &csrf),
                ("title", "Video CDN timeouts"),
                ("tags", "cdn video"),
                ("body", text),
                ("intent", "save"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    let (_, stored) = app.get("/api/v1/post-mortems/PM-1").await;
    assert_eq!(stored["body"], text.replace("\r\n", "\n"));
    assert_eq!(stored["tags"], json!(["cdn", "video"]));

    // Comments, an action item, review and publication, each from its form.
    let commented = browser
        .post(
            "/post-mortems/1/comments",
            &[("csrf", &csrf), ("body", "Which purge **command**?")],
        )
        .await;
    assert_eq!(commented.status, StatusCode::SEE_OTHER);
    let filed = browser
        .post(
            "/post-mortems/1/action-items",
            &[
                ("csrf", &csrf),
                ("title", "Alert on cache expiry"),
                ("priority", "Highest"),
                ("due", "2026-12-02"),
            ],
        )
        .await;
    assert_eq!(filed.status, StatusCode::SEE_OTHER);
    let page = browser.get("/post-mortems/1").await;
    assert!(
        page.body.contains("<strong>command</strong>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("href=\"/tickets/UF-1\""));
    assert!(page.body.contains("0 of 1 done"));
    let refused = browser
        .post(
            "/post-mortems/1/status",
            &[("csrf", &csrf), ("status", "in_review"), ("reviewers", "")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("reviewer"), "{}", refused.body);
    let reviewed = browser
        .post(
            "/post-mortems/1/status",
            &[
                ("csrf", &csrf),
                ("status", "in_review"),
                ("reviewers", &noor_email),
            ],
        )
        .await;
    assert_eq!(reviewed.status, StatusCode::SEE_OTHER);
    let published = browser
        .post(
            "/post-mortems/1/status",
            &[("csrf", &csrf), ("status", "published")],
        )
        .await;
    assert_eq!(published.status, StatusCode::SEE_OTHER);
    let page = browser.get("/post-mortems/1").await;
    assert!(page.body.contains(">published<"), "{}", page.body);
    assert!(page.body.contains("Noor"), "the reviewer is named");
    assert!(
        !page.body.contains("id=\"pm-complete\""),
        "its action item is open"
    );
    app.request(
        Method::PATCH,
        "/api/v1/tickets/UF-1",
        Some(common::ADMIN_TOKEN),
        Some(json!({"status": "resolved"})),
    )
    .await;
    assert!(browser
        .get("/post-mortems/1")
        .await
        .body
        .contains("id=\"pm-complete\""));
    let page = browser.get("/tickets/UF-1").await;
    assert!(
        page.body.contains("href=\"/post-mortems/1\""),
        "linked back: {}",
        page.body
    );

    // The library finds it by words and tag; the Markdown downloads with the session.
    let page = browser.get("/post-mortems?q=edge+cache").await;
    assert!(
        page.body.contains("href=\"/post-mortems/1\""),
        "{}",
        page.body
    );
    let page = browser.get("/post-mortems?q=kubernetes").await;
    assert!(page.body.contains("0 post-mortem(s)"), "{}", page.body);
    let page = browser
        .get("/post-mortems?tag=video&status=published")
        .await;
    assert!(page.body.contains("1 post-mortem(s)"), "{}", page.body);
    let page = browser.get("/post-mortems?status=finished").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    let page = browser.get("/post-mortems/1/markdown").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.starts_with("# PM-1: Video CDN timeouts"),
        "{}",
        page.body
    );
}

//! Mail intake with real SMTP clients — swaks and Python's smtplib — against the running
//! server, on SQLite and on PostgreSQL. Each outcome is checked through the API.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Output;

use tokio::process::Command;

use common::peers::Receiver;
use common::{TestApp, SMTP_MAX_SIZE};
use reqwest::StatusCode;
use serde_json::{json, Value};
use watchbill_store::Backend;

on_both_backends!(
    maintenance_mail_files_a_duty_ticket,
    urgent_mail_files_a_ticket_and_pages,
    html_charsets_encoded_headers_long_lines_and_attachments_read_well,
    replies_comment_and_ack_acts_without_paging_again,
    automatic_mail_and_floods_do_not_page,
    unknown_recipients_strangers_and_oversize_mail_are_refused,
    addresses_are_applied_and_exported,
);

const NOW: &str = "2026-11-25T20:00:00Z";

/// A team with a Captain On-Call, a paging policy, a service, ticket prefix UF, and the two
/// designated addresses; Ada is reached by webhook. Returns the service id.
async fn mailroom(app: &TestApp, receiver: &Receiver) -> i64 {
    let ada = app.user("Ada").await;
    let team = app.team("User-facing", &[ada]).await;
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
    app.post(
        &format!("/api/v1/users/{ada}/contact-methods"),
        json!({"kind": "webhook", "address": format!("{}/pages/ada", receiver.url)}),
    )
    .await;
    let (status, body) = app
        .post(
            "/api/v1/mail-addresses",
            json!({"address": "urgent@demo.test", "team_id": team, "mode": "urgent",
                                                "service_id": service["id"], "due_days": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .post("/api/v1/mail-addresses", json!({"address": "maintenance@demo.test", "team_id": team, "mode": "maintenance",
                                                "priority": "High", "labels": ["from-mail"], "due_days": 7}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .post(
            "/api/v1/mail-addresses",
            json!({"address": "partners@demo.test", "team_id": team, "mode": "maintenance",
                                                "allow": ["partner.example", "boss@example.com"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    service["id"].as_i64().unwrap()
}

/// The clients run as child processes awaited on the runtime, which keeps serving meanwhile.
async fn swaks(app: &TestApp, args: &[&str]) -> Output {
    Command::new("swaks")
        .args(["--server", &app.smtp, "--hide-all", "--silent", "1"])
        .args(args)
        .output()
        .await
        .expect("swaks runs (apt-get install swaks)")
}

/// Sends with swaks and shows its whole dialogue.
async fn swaks_dialogue(app: &TestApp, args: &[&str]) -> (bool, String) {
    let output = Command::new("swaks")
        .args(["--server", &app.smtp])
        .args(args)
        .output()
        .await
        .expect("swaks runs (apt-get install swaks)");
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

/// Runs a Python smtplib script with `server` (host, port) and `message` (bytes) defined.
async fn smtplib(app: &TestApp, script: &str) -> String {
    let (host, port) = app.smtp.split_once(':').unwrap();
    let program = format!(
        "import smtplib, sys\nfrom email.message import EmailMessage\nfrom email.mime.text import MIMEText\nfrom email.header import Header\n\
         server = smtplib.SMTP('{host}', {port}, timeout=20)\n{script}\nserver.quit()\n"
    );
    let output = Command::new("python3")
        .args(["-c", &program])
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The pages (not reminders or other notices) the webhook receiver got.
fn pages(receiver: &Receiver) -> Vec<String> {
    receiver
        .received()
        .into_iter()
        .map(|r| r.body)
        .filter(|body| body.contains("\"event\":\"incident.page\""))
        .collect()
}

async fn tickets(app: &TestApp) -> Vec<Value> {
    let (_, list) = app.get("/api/v1/tickets?limit=100").await;
    list.as_array().unwrap().clone()
}

async fn maintenance_mail_files_a_duty_ticket(backend: Backend) {
    let app = TestApp::start(backend, NOW).await;
    let receiver = Receiver::start().await;
    mailroom(&app, &receiver).await;
    app.post(
        "/api/v1/users",
        json!({"name": "Rita", "email": "rita@courses.example", "time_zone": "UTC"}),
    )
    .await;
    let (ok, dialogue) = swaks_dialogue(
        &app,
        &[
            "--to",
            "maintenance@demo.test",
            "--from",
            "rita@courses.example",
            "--header",
            "Subject: The quiz timer drifts",
            "--body",
            "On slow phones the timer loses a second a minute.",
        ],
    )
    .await;
    assert!(ok, "{dialogue}");
    assert!(
        dialogue.contains("250-PIPELINING") && dialogue.contains("250-SIZE 1048576"),
        "{dialogue}"
    );
    assert!(
        dialogue.contains("250 2.0.0 Accepted: ticket (UF-1)"),
        "{dialogue}"
    );
    let (_, ticket) = app.get("/api/v1/tickets/UF-1").await;
    assert_eq!(ticket["title"], "The quiz timer drifts");
    assert!(ticket["description"]
        .as_str()
        .unwrap()
        .contains("loses a second a minute"));
    assert_eq!(ticket["priority"], "High");
    assert_eq!(ticket["type"], "maintenance");
    assert_eq!(
        ticket["labels"],
        json!(["from-mail", "product-maintenance-duty"])
    );
    assert_eq!(ticket["due"], "2026-12-02");
    let (_, users) = app.get("/api/v1/users").await;
    let rita = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "Rita")
        .unwrap();
    assert_eq!(
        ticket["reporter_id"], rita["id"],
        "the sender is the reporter"
    );
    let (_, incidents) = app.get("/api/v1/incidents").await;
    assert!(
        incidents.as_array().unwrap().is_empty(),
        "maintenance mail pages nobody"
    );
}

async fn urgent_mail_files_a_ticket_and_pages(backend: Backend) {
    let app = TestApp::start(backend, NOW).await;
    let receiver = Receiver::start().await;
    mailroom(&app, &receiver).await;
    let reply = smtplib(
        &app,
        "message = EmailMessage()\nmessage['From'] = 'ops@courses.example'\nmessage['To'] = 'urgent@demo.test'\n\
         message['Subject'] = 'Checkout is down'\nmessage['Message-ID'] = '<urgent-1@courses.example>'\n\
         message.set_content('Nobody can pay since 12:03.')\nprint(server.send_message(message))",
    ).await;
    assert_eq!(reply.trim(), "{}", "every recipient accepted");
    let (_, incidents) = app.get("/api/v1/incidents").await;
    let incident = &incidents[0];
    assert_eq!(incident["title"], "Checkout is down");
    assert_eq!(incident["status"], "triggered");
    let (_, detail) = app
        .get(&format!("/api/v1/incidents/{}", incident["id"]))
        .await;
    assert_eq!(
        detail["tickets"],
        json!(["UF-1"]),
        "the ticket and the incident are linked"
    );
    app.settle().await;
    let paged = pages(&receiver);
    assert_eq!(paged.len(), 1, "the captain is paged");
    assert!(paged[0].contains("Checkout is down"));
    let (_, ticket) = app.get("/api/v1/tickets/UF-1").await;
    assert_eq!(
        (ticket["priority"].as_str(), ticket["type"].as_str()),
        (Some("Highest"), Some("bug"))
    );
}

async fn html_charsets_encoded_headers_long_lines_and_attachments_read_well(backend: Backend) {
    let app = TestApp::start(backend, NOW).await;
    let receiver = Receiver::start().await;
    mailroom(&app, &receiver).await;
    // HTML only, in ISO-8859-1, with an encoded subject.
    smtplib(
        &app,
        "body = MIMEText('<html><body><p>Le caf\\u00e9 est <b>ferm\\u00e9</b>.</p><script>x()</script></body></html>', 'html', 'iso-8859-1')\n\
         body['Subject'] = Header('R\\u00e9servations \\u00e9chouent', 'utf-8').encode()\nbody['From'] = 'a@courses.example'\nbody['To'] = 'maintenance@demo.test'\n\
         server.sendmail('a@courses.example', ['maintenance@demo.test'], body.as_bytes())",
    ).await;
    // Shift_JIS, body and encoded subject, as a Japanese mail program writes it.
    smtplib(
        &app,
        "import base64\nsubject = base64.b64encode('\\u30ed\\u30b0\\u30a4\\u30f3'.encode('shift_jis')).decode()\n\
         raw = ('From: b@courses.example\\r\\nTo: maintenance@demo.test\\r\\nSubject: =?Shift_JIS?B?' + subject + '?=\\r\\n'\n\
                'MIME-Version: 1.0\\r\\nContent-Type: text/plain; charset=Shift_JIS\\r\\nContent-Transfer-Encoding: 8bit\\r\\n\\r\\n').encode()\n\
         raw += '\\u30ed\\u30b0\\u30a4\\u30f3\\u3067\\u304d\\u307e\\u305b\\u3093'.encode('shift_jis') + b'\\r\\n'\n\
         server.sendmail('b@courses.example', ['maintenance@demo.test'], raw)",
    )
    .await;
    // Multipart with an attachment, and a very long line.
    let long = "x".repeat(20_000);
    let (ok, dialogue) = swaks_dialogue(
        &app,
        &[
            "--to",
            "maintenance@demo.test",
            "--from",
            "c@courses.example",
            "--header",
            "Subject: Logs attached",
            "--body",
            &format!("See the log.\n{long}\nEnd."),
            "--attach-type",
            "text/plain",
            "--attach-name",
            "trace.log",
            "--attach",
            "@/etc/hostname",
        ],
    )
    .await;
    assert!(ok, "{dialogue}");
    let all = tickets(&app).await;
    let by_title = |title: &str| {
        all.iter()
            .find(|t| t["title"] == title)
            .unwrap_or_else(|| panic!("{title}: {all:?}"))
            .clone()
    };
    let cafe = by_title("Réservations échouent");
    let text = cafe["description"].as_str().unwrap();
    assert!(text.contains("Le café est fermé."), "{text}");
    assert!(!text.contains("<b>") && !text.contains("x()"), "{text}");
    let login = by_title("ログイン");
    assert!(login["description"]
        .as_str()
        .unwrap()
        .contains("ログインできません"));
    let logs = by_title("Logs attached");
    assert!(logs["description"].as_str().unwrap().contains(&long));
    let (_, attachments) = app
        .get(&format!(
            "/api/v1/tickets/{}/attachments",
            logs["key"].as_str().unwrap()
        ))
        .await;
    assert_eq!(attachments[0]["filename"], "trace.log");
}

async fn replies_comment_and_ack_acts_without_paging_again(backend: Backend) {
    let app = TestApp::start(backend, NOW).await;
    let receiver = Receiver::start().await;
    mailroom(&app, &receiver).await;
    let (_, users) = app.get("/api/v1/users").await;
    let ada_email = users[0]["email"].as_str().unwrap().to_owned();
    swaks(
        &app,
        &[
            "--to",
            "urgent@demo.test",
            "--from",
            "ops@courses.example",
            "--header",
            "Subject: Video CDN timeouts",
            "--header",
            "Message-ID: <first@courses.example>",
            "--body",
            "Videos stall.",
        ],
    )
    .await;
    app.settle().await;
    assert_eq!(pages(&receiver).len(), 1);
    // A follow-up from the reporter, threaded to their first message: a comment, no new page.
    let (ok, dialogue) = swaks_dialogue(
        &app,
        &[
            "--to",
            "urgent@demo.test",
            "--from",
            "ops@courses.example",
            "--header",
            "Subject: Re: Video CDN timeouts",
            "--header",
            "In-Reply-To: <first@courses.example>",
            "--body",
            "It is worse in Europe.",
        ],
    )
    .await;
    assert!(
        ok && dialogue.contains("Accepted: comment (UF-1, INC-1)"),
        "{dialogue}"
    );
    // The paged person answers the page's thread (to the reply address) with `ack`.
    let (ok, dialogue) = swaks_dialogue(
        &app,
        &[
            "--to",
            "watchbill@example.test",
            "--from",
            &ada_email,
            "--header",
            "Subject: Re: [watchbill] INC-1 triggered",
            "--header",
            "References: <incident.1@watchbill>",
            "--body",
            "ack\n\n> INC-1 triggered: Video CDN timeouts",
        ],
    )
    .await;
    assert!(
        ok && dialogue.contains("Accepted: acknowledged"),
        "{dialogue}"
    );
    app.settle().await;
    assert_eq!(pages(&receiver).len(), 1, "no page again");
    let (_, incident) = app.get("/api/v1/incidents/1").await;
    assert_eq!(incident["status"], "acknowledged");
    assert!(incident["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["message"]
            .as_str()
            .unwrap()
            .contains("It is worse in Europe")));
    let (_, ticket) = app.get("/api/v1/tickets/UF-1").await;
    assert!(ticket["comments"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["body"] == "It is worse in Europe."));
    // A requester's reply to watchbill's mail about their ticket lands on the ticket.
    let (ok, dialogue) = swaks_dialogue(
        &app,
        &[
            "--to",
            "watchbill@example.test",
            "--from",
            "ops@courses.example",
            "--header",
            "Subject: Re: [UF-1] Video CDN timeouts",
            "--header",
            "References: <ticket.UF-1@watchbill>",
            "--body",
            "Thanks, it works again here.",
        ],
    )
    .await;
    assert!(
        ok && dialogue.contains("Accepted: comment (UF-1)"),
        "{dialogue}"
    );
    let (_, ticket) = app.get("/api/v1/tickets/UF-1").await;
    assert!(ticket["comments"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["body"] == "Thanks, it works again here."));
    // The reporter has no account; watchbill's answers go to the address the report came from,
    // in the ticket's thread.
    app.post(
        "/api/v1/tickets/UF-1/comments",
        json!({"body": "A fix is rolling out."}),
    )
    .await;
    let mut tx = app.store.read().await.unwrap();
    let told = tx.notices("requester:UF-1:comment:", 10).await.unwrap();
    drop(tx);
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].input.address, "ops@courses.example");
    assert_eq!(
        told[0].input.thread.as_deref(),
        Some("<ticket.UF-1@watchbill>")
    );
    // `resolve` from someone watchbill does not know is only a comment.
    swaks(
        &app,
        &[
            "--to",
            "watchbill@example.test",
            "--from",
            "stranger@else.example",
            "--header",
            "References: <incident.1@watchbill>",
            "--body",
            "resolve",
        ],
    )
    .await;
    let (_, incident) = app.get("/api/v1/incidents/1").await;
    assert_eq!(incident["status"], "acknowledged");
    // Mail to the reply address that answers nothing is refused.
    let (ok, dialogue) = swaks_dialogue(
        &app,
        &[
            "--to",
            "watchbill@example.test",
            "--from",
            "x@else.example",
            "--body",
            "hello",
        ],
    )
    .await;
    assert!(
        !ok && dialogue.contains("550 5.7.1 watchbill@example.test takes only replies"),
        "{dialogue}"
    );
}

async fn automatic_mail_and_floods_do_not_page(backend: Backend) {
    let app = TestApp::start(backend, NOW).await;
    let receiver = Receiver::start().await;
    mailroom(&app, &receiver).await;
    let (ok, dialogue) = swaks_dialogue(
        &app,
        &[
            "--to",
            "urgent@demo.test",
            "--from",
            "ops@courses.example",
            "--header",
            "Subject: Out of office",
            "--header",
            "Auto-Submitted: auto-replied",
            "--body",
            "I am away.",
        ],
    )
    .await;
    assert!(
        ok && dialogue.contains("Accepted: auto-reply"),
        "{dialogue}"
    );
    let (ok, dialogue) = swaks_dialogue(
        &app,
        &[
            "--to",
            "urgent@demo.test",
            "--from",
            "<>",
            "--header",
            "Subject: Undeliverable",
            "--body",
            "bounce",
        ],
    )
    .await;
    assert!(
        ok && dialogue.contains("Accepted: auto-reply"),
        "{dialogue}"
    );
    assert!(
        tickets(&app).await.is_empty(),
        "automatic mail files nothing"
    );
    for n in 0..3 {
        swaks(
            &app,
            &[
                "--to",
                "urgent@demo.test",
                "--from",
                "monitor@courses.example",
                "--header",
                &format!("Subject: Disk full ({n})"),
                "--body",
                "disk",
            ],
        )
        .await;
    }
    app.settle().await;
    let (_, incidents) = app.get("/api/v1/incidents").await;
    assert_eq!(
        incidents.as_array().unwrap().len(),
        1,
        "a flood is one incident"
    );
    assert_eq!(incidents[0]["alert_count"], 3);
    assert_eq!(pages(&receiver).len(), 1, "paged once");
    assert_eq!(tickets(&app).await.len(), 1);
}

async fn unknown_recipients_strangers_and_oversize_mail_are_refused(backend: Backend) {
    let app = TestApp::start(backend, NOW).await;
    let receiver = Receiver::start().await;
    mailroom(&app, &receiver).await;
    let (ok, dialogue) = swaks_dialogue(
        &app,
        &[
            "--to",
            "nobody@demo.test",
            "--from",
            "a@b.example",
            "--body",
            "x",
        ],
    )
    .await;
    assert!(
        !ok && dialogue.contains("550 5.7.1 nobody@demo.test: no such address here"),
        "{dialogue}"
    );
    let (ok, dialogue) = swaks_dialogue(
        &app,
        &[
            "--to",
            "partners@demo.test",
            "--from",
            "eve@else.example",
            "--body",
            "x",
        ],
    )
    .await;
    assert!(
        !ok && dialogue.contains("550 5.7.1 eve@else.example may not write to partners@demo.test"),
        "{dialogue}"
    );
    let (ok, dialogue) = swaks_dialogue(
        &app,
        &[
            "--to",
            "partners@demo.test",
            "--from",
            "sam@partner.example",
            "--body",
            "x",
        ],
    )
    .await;
    assert!(ok, "an allowed domain: {dialogue}");
    let (ok, _) = swaks_dialogue(
        &app,
        &[
            "--to",
            "partners@demo.test",
            "--from",
            "boss@example.com",
            "--body",
            "x",
        ],
    )
    .await;
    assert!(ok, "an allowed address");
    // Too big: refused at MAIL when SIZE says so, and after DATA when it does not.
    let big = "y".repeat(SMTP_MAX_SIZE + 10);
    let reply = smtplib(
        &app,
        &format!("try:\n    server.sendmail('a@courses.example', ['maintenance@demo.test'], b'Subject: big\\r\\n\\r\\n' + b'y' * {})\nexcept smtplib.SMTPException as e:\n    print(repr(e))", big.len()),
    ).await;
    assert!(reply.contains("552"), "{reply}");
    let file = std::env::temp_dir().join(format!(
        "watchbill-big-{}-{}.txt",
        std::process::id(),
        app.smtp.replace(':', "-")
    ));
    std::fs::write(&file, &big).unwrap();
    let body = format!("@{}", file.display());
    let (ok, dialogue) = swaks_dialogue(
        &app,
        &[
            "--to",
            "maintenance@demo.test",
            "--from",
            "a@courses.example",
            "--body",
            &body,
        ],
    )
    .await;
    let _ = std::fs::remove_file(&file);
    let tail = &dialogue[dialogue.len().saturating_sub(2000)..];
    assert!(
        !ok && tail.contains("552 5.3.4 The message is larger than 1048576 bytes"),
        "{tail}"
    );
    assert_eq!(
        tickets(&app).await.len(),
        2,
        "only the two allowed partners' mail"
    );
}

async fn addresses_are_applied_and_exported(backend: Backend) {
    let app = TestApp::start(backend, NOW).await;
    let receiver = Receiver::start().await;
    mailroom(&app, &receiver).await;
    let (_, exported) = app.get("/api/v1/export").await;
    assert_eq!(
        exported["mail_addresses"].as_array().unwrap().len(),
        3,
        "{exported}"
    );
    assert_eq!(exported["mail_addresses"][0]["service"], "Course platform");
    let (status, report) = app.post("/api/v1/apply", exported.clone()).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert!(
        report["changes"].as_array().unwrap().is_empty(),
        "applying the export changes nothing: {report}"
    );

    let mut changed = exported.clone();
    changed["mail_addresses"][2]["allow"] = json!(["partner.example"]);
    changed["mail_addresses"].as_array_mut().unwrap().push(json!(
        {"address": "ops@demo.test", "team": "User-facing", "mode": "maintenance", "labels": ["ops"]}));
    let (status, report) = app.post("/api/v1/apply", changed).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        report["changes"],
        json!([
            "updated mail address partners@demo.test",
            "created mail address ops@demo.test"
        ])
    );
    let (_, addresses) = app.get("/api/v1/mail-addresses").await;
    assert_eq!(addresses.as_array().unwrap().len(), 4);

    let mut wrong = exported;
    wrong["mail_addresses"][0]["service"] = json!("No such service");
    let (status, error) = app.post("/api/v1/apply", wrong).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["field"], "mail_addresses[0].service");
}

//! The `watchbill` binary as a person uses it: `serve` on a real port, and the client
//! commands against it, on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use watchbill_store::testing::TestDatabase;
use watchbill_store::Backend;

const BIN: &str = env!("CARGO_BIN_EXE_watchbill");

/// A `watchbill serve` process; killed when dropped.
struct Server {
    child: Child,
    url: String,
    banner: Vec<String>,
    _db: TestDatabase,
}

impl Server {
    fn start(backend: Backend, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let db = runtime.block_on(TestDatabase::new(backend)).unwrap();
        let mut command = Command::new(BIN);
        command
            .env("WATCHBILL_SMTP_LISTEN", "127.0.0.1:0")
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--database-url",
                &db.url,
            ])
            .args(extra)
            .env_remove("WATCHBILL_BOOTSTRAP_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let mut banner = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut url = None;
        // The banner's last line is always the same.
        while Instant::now() < deadline {
            let Some(Ok(line)) = lines.next() else { break };
            if let Some(rest) = line
                .strip_prefix("watchbill ")
                .and_then(|l| l.split(" is listening on ").nth(1))
            {
                url = Some(rest.trim().to_owned());
            }
            if line == "Press Ctrl-C to stop." {
                break;
            }
            banner.push(line);
        }
        std::thread::spawn(move || for _ in lines {});
        Server {
            child,
            url: url.expect("the server printed its URL"),
            banner,
            _db: db,
        }
    }

    fn banner_value(&self, label: &str) -> Option<String> {
        self.banner.iter().find_map(|line| {
            line.trim()
                .strip_prefix(label)
                .map(|rest| rest.trim().to_owned())
        })
    }

    fn run(&self, token: &str, args: &[&str]) -> Output {
        Command::new(BIN)
            .env("WATCHBILL_SMTP_LISTEN", "127.0.0.1:0")
            .args(args)
            .env("WATCHBILL_URL", &self.url)
            .env("WATCHBILL_TOKEN", token)
            .output()
            .unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn temp_file(name: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("{}-{name}", watchbill_store::new_secret()));
    std::fs::write(&path, text).unwrap();
    path
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name(watchbill_store::Backend::Sqlite); } )*
        }
        mod postgres {
            $( #[test] fn $name() { super::$name(watchbill_store::Backend::Postgres); } )*
        }
    };
}

on_both_backends!(
    demo_answers_who_is_on_call,
    apply_reports_file_line_and_field,
    export_then_apply_changes_nothing,
    incidents_are_paged_acknowledged_and_resolved_from_the_cli,
    tickets_are_listed_and_shown_from_the_cli,
    post_mortems_are_written_reviewed_and_published_from_the_cli,
);

fn post_mortems_are_written_reviewed_and_published_from_the_cli(backend: Backend) {
    let server = Server::start(backend, &["--demo"], &[]);
    let token = server.banner_value("demo admin token:").unwrap();
    let ok = |args: &[&str]| {
        let output = server.run(&token, args);
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        stdout(&output)
    };
    let template = temp_file(
        "template.md",
        "## What broke\n\n{{timeline}}\n\n## How to tackle it next time\n",
    );
    let settings = ok(&[
        "post-mortem",
        "settings",
        "--team",
        "1",
        "--template",
        template.to_str().unwrap(),
        "--distribute-to",
        "eng@example.com",
        "--draft-reminder-days",
        "3",
    ]);
    assert!(settings.starts_with("Distribution: eng@example.com\nReminders: 172800 s after a high-urgency resolution without one; drafts after 3 days\nTemplate:\n## What broke\n"), "{settings}");
    let output = server.run(
        &token,
        &[
            "post-mortem",
            "settings",
            "--team",
            "1",
            "--distribute-to",
            "not-mail",
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("distribution[0]"),
        "{}",
        stderr(&output)
    );
    ok(&["page", "--service", "Course platform", "Video CDN timeouts"]);
    ok(&["resolve", "INC-1"]);

    assert_eq!(
        ok(&["post-mortem", "new", "INC-1", "--tag", "cdn"]),
        "PM-1 written: Video CDN timeouts\n"
    );
    let draft = ok(&["post-mortem", "show", "PM-1"]);
    assert!(
        draft.contains("\n## What broke\n"),
        "the team's template: {draft}"
    );
    let body = temp_file(
        "pm.md",
        "## Summary\n\nVideos stalled.\n\n## How to tackle it next time\n\nPurge the edge cache.\n",
    );
    assert_eq!(
        ok(&["post-mortem", "edit", "PM-1", body.to_str().unwrap()]),
        "PM-1 saved.\n"
    );
    ok(&["post-mortem", "comment", "PM-1", "Name the purge command."]);
    let filed = ok(&[
        "post-mortem",
        "action",
        "PM-1",
        "Alert on edge cache expiry",
        "--due",
        "2026-12-09",
    ]);
    assert!(filed.starts_with("Filed UF-"), "{filed}");
    let output = server.run(
        &token,
        &[
            "post-mortem",
            "review",
            "PM-1",
            "--reviewer",
            "nobody@example.com",
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("nobody@example.com"),
        "{}",
        stderr(&output)
    );
    assert_eq!(
        ok(&[
            "post-mortem",
            "review",
            "PM-1",
            "--reviewer",
            "grace@demo.watchbill.test"
        ]),
        "PM-1 is in review.\n"
    );
    assert_eq!(
        ok(&["post-mortem", "publish", "PM-1"]),
        "PM-1 is published and on its way round.\n"
    );
    let shown = ok(&["post-mortem", "show", "PM-1"]);
    assert!(shown.starts_with("PM-1  Video CDN timeouts\n  published · incidents INC-1\n  action items: 0 of 1 done\n"), "{shown}");
    assert!(shown.contains("Purge the edge cache."), "{shown}");
    let listed = ok(&["post-mortem", "list", "edge cache"]);
    assert!(
        listed.starts_with("PM-1    published  Video CDN timeouts  (INC-1)  [cdn]"),
        "{listed}"
    );
    assert_eq!(
        ok(&["post-mortem", "list", "kubernetes"]),
        "No post-mortems.\n"
    );
    let exported = ok(&["post-mortem", "export", "PM-1"]);
    assert!(
        exported.starts_with("# PM-1: Video CDN timeouts\n"),
        "{exported}"
    );
    ok(&[
        "page",
        "--service",
        "Course platform",
        "Video CDN timeouts again",
    ]);
    let seen = ok(&["post-mortem", "seen-before", "INC-2"]);
    assert_eq!(
        seen,
        "PM-1 \"Video CDN timeouts\"\n  how to tackle it: Purge the edge cache.\n"
    );
    let output = server.run(&token, &["post-mortem", "show", "PM-9"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("PM-9"), "{}", stderr(&output));
}

fn tickets_are_listed_and_shown_from_the_cli(backend: Backend) {
    let server = Server::start(backend, &["--demo"], &[]);
    let token = server.banner_value("demo admin token:").unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let settings = client
            .put(format!("{}/api/v1/teams/1/ticket-settings", server.url))
            .bearer_auth(&token)
            .json(&serde_json::json!({"prefix": "UF"}))
            .send()
            .await
            .unwrap();
        assert!(settings.status().is_success());
        for (title, labels) in [("Quiz timer drifts", vec!["product-maintenance-duty"]), ("Dark mode", vec![])] {
            let created = client
                .post(format!("{}/api/v1/tickets", server.url))
                .bearer_auth(&token)
                .json(&serde_json::json!({"team_id": 1, "title": title, "labels": labels, "due": "2026-12-04"}))
                .send()
                .await
                .unwrap();
            assert!(created.status().is_success());
        }
    });
    // The demo files UF-1 to UF-6 for the duty week; these are UF-7 and UF-8.
    let output = server.run(&token, &["tickets", "label = product-maintenance-duty AND title ~ \"Quiz timer drifts\" AND due > 2026-12-01"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        "UF-7     Medium   open        Quiz timer drifts  due 2026-12-04\n"
    );
    let output = server.run(&token, &["tickets", "--show", "UF-7"]);
    let text = stdout(&output);
    assert!(
        text.starts_with("UF-7  Quiz timer drifts\n  task · Medium · open · due 2026-12-04\n"),
        "{text}"
    );
    assert!(text.contains(": created → Quiz timer drifts"), "{text}");
    let output = server.run(&token, &["tickets", "lable = x"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("filter: unknown field `lable` at column 1"),
        "{}",
        stderr(&output)
    );

    // Filing, changing and commenting from the CLI.
    let output = server.run(
        &token,
        &[
            "ticket",
            "new",
            "--team",
            "1",
            "Broken quiz link",
            "--priority",
            "high",
            "--label",
            "product-maintenance-duty",
            "--due",
            "2026-12-02",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "Filed UF-9: Broken quiz link\n");
    let output = server.run(
        &token,
        &[
            "ticket", "set", "UF-9", "--status", "closed", "--due", "none",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "UF-9  Broken quiz link · High · closed\n");
    let output = server.run(&token, &["ticket", "comment", "UF-9", "Fixed the link."]);
    assert!(output.status.success(), "{}", stderr(&output));
    let output = server.run(&token, &["tickets", "--show", "UF-9"]);
    let text = stdout(&output);
    assert!(text.contains("commented: Fixed the link."), "{text}");
    assert!(
        !text.contains("due 2026-12-02"),
        "the due date was cleared: {text}"
    );
    let output = server.run(&token, &["ticket", "set", "UF-9", "--status", "done"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("status"), "{}", stderr(&output));
    let output = server.run(&token, &["ticket", "set", "UF-9"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("say what to change"),
        "{}",
        stderr(&output)
    );
}

fn incidents_are_paged_acknowledged_and_resolved_from_the_cli(backend: Backend) {
    let server = Server::start(backend, &["--demo"], &[]);
    let token = server.banner_value("demo admin token:").unwrap();
    assert!(
        server
            .banner
            .iter()
            .any(|l| l.contains("Course platform events_v2 key:")),
        "{:?}",
        server.banner
    );

    let output = server.run(
        &token,
        &[
            "page",
            "--service",
            "Course platform",
            "Quiz submissions fail",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        "INC-1 opened on Course platform: Quiz submissions fail\n"
    );
    let output = server.run(&token, &["incidents"]);
    let listed = stdout(&output);
    assert!(listed.starts_with("INC-1    triggered    high"), "{listed}");
    assert!(
        listed.contains("Course platform: Quiz submissions fail"),
        "{listed}"
    );

    let output = server.run(&token, &["ack", "INC-1"]);
    assert_eq!(
        stdout(&output),
        "INC-1 is acknowledged: Quiz submissions fail\n",
        "{}",
        stderr(&output)
    );
    let output = server.run(&token, &["resolve", "INC-1"]);
    assert_eq!(
        stdout(&output),
        "INC-1 is resolved: Quiz submissions fail\n"
    );
    let output = server.run(&token, &["incidents"]);
    assert_eq!(stdout(&output), "No open incidents.\n");
    let output = server.run(&token, &["ack", "INC-1"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("INC-1 is resolved"),
        "{}",
        stderr(&output)
    );
    let output = server.run(&token, &["page", "--service", "Nonexistent", "x"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("no service is named `Nonexistent`"));
}

fn demo_answers_who_is_on_call(backend: Backend) {
    let server = Server::start(backend, &["--demo"], &[]);
    let token = server
        .banner_value("demo admin token:")
        .expect("the demo prints a token");
    assert!(server
        .banner
        .iter()
        .any(|l| l.contains("demo admin: admin@demo.watchbill.test")));

    let output = server.run(
        &token,
        &[
            "oncall",
            "--at",
            "2026-11-26T12:00:00Z",
            "--tz",
            "America/Los_Angeles",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "User-facing");
    assert!(
        lines[1].contains("Captain On-Call") && lines[1].contains("Alan Turing"),
        "{text}"
    );
    assert!(
        lines[1].ends_with("until Wed 2 Dec 10:00 PST, then Katherine Johnson"),
        "{text}"
    );
    assert!(
        lines[2].contains("First-mate") && lines[2].contains("Katherine Johnson"),
        "{text}"
    );
    assert_eq!(
        lines.iter().filter(|l| !l.starts_with(' ')).count(),
        3,
        "three teams: {text}"
    );

    let output = server.run(
        &token,
        &[
            "oncall",
            "--team",
            "Analytics",
            "--at",
            "2026-11-26T12:00:00Z",
        ],
    );
    assert!(output.status.success());
    assert!(stdout(&output).starts_with("Analytics\n"));

    let output = server.run(
        &token,
        &[
            "schedule",
            "show",
            "User-facing/Captain On-Call",
            "--from",
            "2026-10-27",
            "--to",
            "2026-11-06",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains("Wed 28 Oct 10:00 PDT → Wed 4 Nov 10:00 PST  Alan Turing  layer Weekly"),
        "{text}"
    );

    let output = server.run(&token, &["schedule", "show", "Captain On-Call"]);
    assert!(!output.status.success(), "an ambiguous name is refused");
    assert!(
        stderr(&output).contains("use TEAM/NAME"),
        "{}",
        stderr(&output)
    );

    let output = server.run("wb_wrong", &["oncall"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).starts_with("error: unknown or revoked API token"),
        "{}",
        stderr(&output)
    );
}

const ORG: &str = r#"[[users]]
name = "Ada"
email = "ada@example.test"

[[users]]
name = "Grace"
email = "grace@example.test"

[[teams]]
name = "User-facing"
members = ["ada@example.test", "grace@example.test"]

[[schedules]]
team = "User-facing"
name = "Captain On-Call"
time_zone = "America/Los_Angeles"

[[schedules.layers]]
name = "Weekly"
participants = ["ada@example.test", "grace@example.test"]
turn = "1w"
handoff = "Wednesday 10:00"
start = 2026-01-07T18:00:00Z
"#;

fn apply_reports_file_line_and_field(backend: Backend) {
    let server = Server::start(
        backend,
        &[],
        &[("WATCHBILL_BOOTSTRAP_TOKEN", "cli-test-bootstrap-token")],
    );
    let token = "cli-test-bootstrap-token";

    let unknown = temp_file(
        "org.toml",
        &ORG.replace(
            "\"ada@example.test\", \"grace@example.test\"]\nturn",
            "\"ada@example.test\", \"linus@example.test\"]\nturn",
        ),
    );
    let output = server.run(token, &["apply", unknown.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains("org.toml:20: schedules[0].layers[0].participants[1]: no user has the email `linus@example.test`"), "{message}");

    let malformed = temp_file("org.toml", &ORG.replace("turn = \"1w\"", "turn = \"1w"));
    let output = server.run(token, &["apply", malformed.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("org.toml:21:"),
        "{}",
        stderr(&output)
    );

    let bad_zone = temp_file(
        "org.toml",
        &ORG.replace("America/Los_Angeles", "America/Atlantis"),
    );
    let output = server.run(token, &["apply", bad_zone.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("org.toml:16: schedules[0].time_zone: unknown time zone"),
        "{}",
        stderr(&output)
    );

    let output = server.run(token, &["export"]);
    assert!(output.status.success());
    assert_eq!(
        stdout(&output),
        "users = []\nteams = []\nschedules = []\n",
        "the failed applies wrote nothing"
    );

    let good = temp_file("org.toml", ORG);
    let output = server.run(token, &["apply", "--dry-run", good.to_str().unwrap()]);
    assert!(
        stdout(&output).contains("would change 4 thing(s)"),
        "{}",
        stdout(&output)
    );
    let output = server.run(token, &["apply", good.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("changed 4 thing(s)"),
        "{}",
        stdout(&output)
    );
    let output = server.run(token, &["apply", good.to_str().unwrap()]);
    assert!(
        stdout(&output).ends_with("nothing to change\n"),
        "{}",
        stdout(&output)
    );
    for file in [unknown, malformed, bad_zone, good] {
        let _ = std::fs::remove_file(file);
    }
}

fn export_then_apply_changes_nothing(backend: Backend) {
    let server = Server::start(backend, &["--demo"], &[]);
    let token = server.banner_value("demo admin token:").unwrap();
    let output = server.run(&token, &["export"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let exported = temp_file("export.toml", &stdout(&output));
    assert!(stdout(&output).contains("follows = \"Captain On-Call\""));
    let output = server.run(&token, &["apply", exported.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).ends_with("nothing to change\n"),
        "{}",
        stdout(&output)
    );
    let _ = std::fs::remove_file(exported);
}

#[test]
fn first_start_prints_a_bootstrap_token_that_works() {
    let server = Server::start(Backend::Sqlite, &[], &[]);
    let token = server
        .banner_value("admin bootstrap token (shown once):")
        .expect("a bootstrap token");
    assert!(token.starts_with("wb_"));
    let output = server.run(&token, &["schedule", "list"]);
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn configuration_errors_stop_the_server_with_a_clear_message() {
    let config = temp_file(
        "watchbill.toml",
        "listen = \"127.0.0.1:0\"\nlisten_port = 80\n",
    );
    let output = Command::new(BIN)
        .env("WATCHBILL_SMTP_LISTEN", "127.0.0.1:0")
        .args(["serve", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains("watchbill.toml:2: unknown field `listen_port`"),
        "{message}"
    );
    let _ = std::fs::remove_file(config);

    let output = Command::new(BIN)
        .env("WATCHBILL_SMTP_LISTEN", "127.0.0.1:0")
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            "mysql://localhost/x",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("unsupported database URL"),
        "{}",
        stderr(&output)
    );

    let output = Command::new(BIN)
        .env("WATCHBILL_SMTP_LISTEN", "127.0.0.1:0")
        .args(["oncall"])
        .env_remove("WATCHBILL_TOKEN")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("no API token"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn migrate_is_idempotent() {
    let db = TestDatabase::sqlite();
    let first = Command::new(BIN)
        .env("WATCHBILL_SMTP_LISTEN", "127.0.0.1:0")
        .args(["migrate", "--database-url", &db.url])
        .output()
        .unwrap();
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(stdout(&first).contains("Applied: 0001_foundation"));
    let second = Command::new(BIN)
        .env("WATCHBILL_SMTP_LISTEN", "127.0.0.1:0")
        .args(["migrate", "--database-url", &db.url])
        .output()
        .unwrap();
    assert!(
        stdout(&second).contains("up to date"),
        "{}",
        stdout(&second)
    );
}

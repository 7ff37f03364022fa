//! IMAP polling against Debian's dovecot-imapd, run here with a certificate of the test's own:
//! messages waiting in the mailbox are filed as tickets and moved to the processed folder only
//! then, and a message arriving later is picked up at once through IDLE. On SQLite and
//! PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::TestApp;
use serde_json::json;
use watchbill_server::mail::imap::{poll_imap, ImapConfig};
use watchbill_store::Backend;

on_both_backends!(mailbox_messages_are_filed_then_moved);

/// A dovecot of the test's own on a free port, with one user `intake` and TLS only.
struct Dovecot {
    child: Child,
    dir: std::path::PathBuf,
    port: u16,
}

impl Dovecot {
    fn start() -> Dovecot {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir =
            std::env::temp_dir().join(format!("watchbill-dovecot-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["run", "state", "mail", "home"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        // Dovecot's mail processes run as its own user.
        Command::new("chmod")
            .args(["-R", "777", dir.to_str().unwrap()])
            .status()
            .unwrap();
        let d = dir.display();
        let made = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "2",
            ])
            .args([
                "-keyout",
                &format!("{d}/key.pem"),
                "-out",
                &format!("{d}/cert.pem"),
                "-subj",
                "/CN=127.0.0.1",
            ])
            .args([
                "-addext",
                "subjectAltName=IP:127.0.0.1",
                "-addext",
                "basicConstraints=critical,CA:FALSE",
            ])
            .output()
            .unwrap();
        assert!(made.status.success());
        std::fs::write(dir.join("passwd"), "intake:{PLAIN}secret-pass\n").unwrap();
        std::fs::write(
            dir.join("dovecot.conf"),
            format!(
                "protocols = imap\nlisten = 127.0.0.1\nbase_dir = {d}/run\nstate_dir = {d}/state\nlog_path = {d}/dovecot.log\n\
                 ssl = required\nssl_cert = <{d}/cert.pem\nssl_key = <{d}/key.pem\nauth_mechanisms = plain login\n\
                 passdb {{\n  driver = passwd-file\n  args = {d}/passwd\n}}\n\
                 userdb {{\n  driver = static\n  args = uid=dovecot gid=dovecot home={d}/home/%u\n}}\n\
                 mail_location = maildir:{d}/mail/%u\nfirst_valid_uid = 1\n\
                 service imap-login {{\n  inet_listener imap {{\n    port = 0\n  }}\n  inet_listener imaps {{\n    port = {port}\n  }}\n}}\n"
            ),
        )
        .unwrap();
        let child = Command::new("dovecot")
            .args(["-F", "-c", dir.join("dovecot.conf").to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dovecot runs (apt-get install dovecot-imapd)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "dovecot did not listen: {}",
                std::fs::read_to_string(dir.join("dovecot.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Dovecot { child, dir, port }
    }

    /// Runs Python's imaplib against the server: `imap` is logged in.
    async fn python(&self, script: &str) -> String {
        let program = format!(
            "import imaplib, ssl\nctx = ssl.create_default_context(cafile='{}/cert.pem')\n\
             imap = imaplib.IMAP4_SSL('127.0.0.1', {}, ssl_context=ctx)\nimap.login('intake', 'secret-pass')\n{script}\nimap.logout()\n",
            self.dir.display(),
            self.port
        );
        let output = tokio::process::Command::new("python3")
            .args(["-c", &program])
            .output()
            .await
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    async fn append(&self, subject: &str) {
        self.python(&format!(
            "imap.append('INBOX', None, None, b'From: ops@courses.example\\r\\nTo: maintenance@demo.test\\r\\nSubject: {subject}\\r\\n\\r\\nSent to the mailbox.\\r\\n')"
        ))
        .await;
    }

    /// How many messages a folder holds.
    async fn count(&self, folder: &str) -> String {
        self.python(&format!("print(imap.select('{folder}')[1][0].decode())"))
            .await
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn wait_for_tickets(app: &TestApp, n: usize) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, list) = app.get("/api/v1/tickets").await;
        let list = list.as_array().unwrap().clone();
        if list.len() >= n {
            return list;
        }
        assert!(
            Instant::now() < deadline,
            "{n} tickets did not appear: {list:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn mailbox_messages_are_filed_then_moved(backend: Backend) {
    let app = TestApp::start(backend, "2026-11-25T20:00:00Z").await;
    let ada = app.user("Ada").await;
    let team = app.team("User-facing", &[ada]).await;
    app.put(
        &format!("/api/v1/teams/{team}/ticket-settings"),
        json!({"prefix": "UF"}),
    )
    .await;
    app.post(
        "/api/v1/mail-addresses",
        json!({"address": "maintenance@demo.test", "team_id": team, "mode": "maintenance"}),
    )
    .await;
    let dovecot = Dovecot::start();
    dovecot.append("First in the mailbox").await;
    dovecot.append("Second in the mailbox").await;

    let mut config = ImapConfig::parse(
        &format!(
            "imaps://intake:secret-pass@127.0.0.1:{}/INBOX",
            dovecot.port
        ),
        "maintenance@demo.test",
    )
    .unwrap();
    config.ca_file = Some(dovecot.dir.join("cert.pem").display().to_string());
    // Far longer than the test: a later message can only be seen through IDLE.
    config.poll = Duration::from_secs(600);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(poll_imap(app.state.clone(), config, async {
        let _ = stopped.await;
    }));

    let tickets = wait_for_tickets(&app, 2).await;
    let titles: Vec<&str> = tickets
        .iter()
        .map(|t| t["title"].as_str().unwrap())
        .collect();
    assert!(
        titles.contains(&"First in the mailbox") && titles.contains(&"Second in the mailbox"),
        "{titles:?}"
    );
    assert!(tickets
        .iter()
        .all(|t| t["labels"] == json!(["product-maintenance-duty"])));
    // Moved only once filed.
    let deadline = Instant::now() + Duration::from_secs(10);
    while dovecot.count("INBOX").await != "0" {
        assert!(Instant::now() < deadline, "the messages were not moved");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(dovecot.count("Processed").await, "2");

    dovecot.append("Third, while idle").await;
    let tickets = wait_for_tickets(&app, 3).await;
    assert!(tickets.iter().any(|t| t["title"] == "Third, while idle"));
    let _ = stop.send(());
}

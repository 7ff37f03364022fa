//! HTTPS without a proxy: `watchbill serve --tls-cert --tls-key` with a certificate made by
//! OpenSSL, reached by a client that trusts only that certificate. Sign-in cookies are then
//! marked Secure. A certificate that cannot be read stops the server with a clear message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::process::Command;

use reqwest::{redirect, StatusCode};
use serde_json::json;
use support::{Server, TempDir, BIN, TOKEN};

/// A self-signed certificate for 127.0.0.1 and its key: (cert, key) paths.
fn certificate(dir: &TempDir) -> (String, String) {
    let cert = dir.file("cert.pem").display().to_string();
    let key = dir.file("key.pem").display().to_string();
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ])
        .args([
            "-keyout",
            &key,
            "-out",
            &cert,
            "-days",
            "2",
            "-subj",
            "/CN=watchbill test",
        ])
        .args([
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
        ])
        .output()
        .expect("openssl runs");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    (cert, key)
}

#[tokio::test]
async fn the_listener_speaks_https_and_cookies_are_secure() {
    let dir = TempDir::new("watchbill-tls");
    let (cert, key) = certificate(&dir);
    let database = format!("sqlite://{}", dir.file("tls.db").display());
    let server = tokio::task::spawn_blocking(move || {
        Server::start_with(
            &database,
            &["--demo", "--tls-cert", &cert, "--tls-key", &key],
        )
    })
    .await
    .unwrap();
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );

    let trusted =
        reqwest::Certificate::from_pem(&std::fs::read(dir.file("cert.pem")).unwrap()).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(trusted)
        .redirect(redirect::Policy::none())
        .build()
        .unwrap();
    let health = client
        .get(format!("{}/health", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);

    let api = |method: reqwest::Method, path: &str| {
        client
            .request(method, format!("{}{path}", server.url))
            .bearer_auth(TOKEN)
    };
    let user: serde_json::Value = api(reqwest::Method::POST, "/api/v1/users")
        .json(&json!({"name": "Ada", "email": "ada@example.test", "time_zone": "UTC"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let set = api(
        reqwest::Method::PUT,
        &format!("/api/v1/users/{}/password", user["id"]),
    )
    .json(&json!({"password": "a long enough secret"}))
    .send()
    .await
    .unwrap();
    assert_eq!(set.status(), StatusCode::NO_CONTENT);
    let signed_in = client
        .post(format!("{}/login", server.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("email=ada%40example.test&password=a+long+enough+secret")
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.contains("; Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );

    // Mail intake offers STARTTLS with the same certificate, and takes mail over it.
    let smtp = server
        .banner
        .lines()
        .find_map(|l| l.strip_prefix("  mail intake (SMTP) on "))
        .expect("the banner names the SMTP address")
        .to_owned();
    let sent = tokio::process::Command::new("swaks")
        .args([
            "--server",
            &smtp,
            "--tls",
            "--to",
            "maintenance@demo.watchbill.test",
        ])
        .args([
            "--from",
            "ops@example.com",
            "--header",
            "Subject: Over TLS",
            "--body",
            "Sealed.",
        ])
        .output()
        .await
        .expect("swaks runs");
    let dialogue = String::from_utf8_lossy(&sent.stdout);
    assert!(sent.status.success(), "{dialogue}");
    assert!(
        dialogue.contains("250-STARTTLS") && dialogue.contains("TLS started"),
        "{dialogue}"
    );
    assert!(dialogue.contains("Accepted: ticket (UF-7)"), "{dialogue}");

    // Plain HTTP on the same port gets no answer a browser would take.
    let plain = server.url.replace("https://", "http://");
    let answer = reqwest::Client::new()
        .get(format!("{plain}/health"))
        .send()
        .await;
    assert!(answer.map(|r| r.status() != StatusCode::OK).unwrap_or(true));
}

#[test]
fn an_unreadable_certificate_stops_the_server_with_a_clear_message() {
    let dir = TempDir::new("watchbill-tls-bad");
    let missing = dir.file("missing.pem").display().to_string();
    let database = format!("sqlite://{}", dir.file("bad.db").display());
    let output = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &database,
        ])
        .args(["--tls-cert", &missing, "--tls-key", &missing])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot read the TLS certificate") && stderr.contains("missing.pem"),
        "{stderr}"
    );

    let output = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &database,
            "--tls-cert",
            &missing,
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("TLS needs both tls_cert and tls_key"));

    // IMAP polling's settings are checked the same way.
    let output = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--smtp-listen",
            "",
            "--database-url",
            &database,
        ])
        .args(["--imap-url", "imaps://intake:secret@mail.example.com/INBOX"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr)
        .contains("IMAP polling needs both imap_url and imap_address"));
    let output = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--smtp-listen",
            "",
            "--database-url",
            &database,
        ])
        .args([
            "--imap-url",
            "pop3://x",
            "--imap-address",
            "urgent@demo.test",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr)
        .contains("imap_url: `pop3://x` is not an imaps:// or imap:// URL"));
}

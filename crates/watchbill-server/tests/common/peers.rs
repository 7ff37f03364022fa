//! The other side of a page: a webhook receiver and a real SMTP server (Python's aiosmtpd),
//! both on 127.0.0.1, recording what they receive.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;

/// One request a receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: String,
}

/// An HTTP server that records every POST and answers 200.
pub struct Receiver {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        async fn record(
            State(received): State<Arc<Mutex<Vec<Received>>>>,
            uri: axum::http::Uri,
            headers: HeaderMap,
            body: Bytes,
        ) -> &'static str {
            received.lock().unwrap().push(Received {
                path: uri.path().to_owned(),
                headers,
                body: String::from_utf8_lossy(&body).into_owned(),
            });
            "ok"
        }
        let app = Router::new()
            .route("/{*path}", post(record))
            .with_state(received.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, received }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

/// Python's aiosmtpd SMTP server printing each message it accepts.
pub struct SmtpSink {
    pub port: u16,
    child: Child,
    output: Arc<Mutex<String>>,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new("python3")
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Debugging",
                "stdout",
            ])
            .env("PYTHONUNBUFFERED", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m aiosmtpd runs (pip install aiosmtpd)");
        let output: Arc<Mutex<String>> = Arc::default();
        let stdout = child.stdout.take().unwrap();
        let sink = output.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let mut text = sink.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        SmtpSink {
            port,
            child,
            output,
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Everything received so far, as aiosmtpd printed it.
    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// The messages received so far, each whole as it came (headers and encoded body).
    pub fn messages(&self) -> Vec<String> {
        self.output()
            .split("---------- MESSAGE FOLLOWS ----------\n")
            .skip(1)
            .map(|m| {
                m.split("------------ END MESSAGE ------------")
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect()
    }

    /// Waits until the output contains `text`.
    pub async fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let output = self.output();
            if output.contains(text) {
                return output;
            }
            assert!(
                Instant::now() < deadline,
                "no mail containing {text:?} arrived; got:\n{output}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

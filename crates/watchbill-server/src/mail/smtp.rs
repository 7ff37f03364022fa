//! The SMTP listener: enough of RFC 5321 for relays and clients — EHLO/HELO, MAIL, RCPT,
//! DATA, RSET, NOOP, QUIT, VRFY, with SIZE, 8BITMIME, PIPELINING and STARTTLS (RFC 3207) when a
//! certificate is configured. Recipients are checked at RCPT time (unknown address, or a
//! sender the address does not allow: 550); the message is answered 250 only after it is
//! committed, 451 when it could not be, 552 when it is too big.
//!
//! The dialogue is written here rather than taken from a crate: it is a small line protocol,
//! and the crates that offer a server side either want to own the listener and the message
//! store or are not kept up; MIME is mail-parser's (`message.rs`).

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::deliver::{allows, deliver, Envelope, Refusal};
use crate::state::AppState;

/// How the listener behaves.
#[derive(Clone)]
pub struct SmtpConfig {
    /// The name in the greeting and EHLO reply.
    pub hostname: String,
    /// The largest message accepted, in bytes (announced with SIZE).
    pub max_size: usize,
    /// Offered as STARTTLS when set.
    pub tls: Option<TlsAcceptor>,
    /// How long the server waits for a client's next line.
    pub timeout: Duration,
    /// The address watchbill's own mail carries as Reply-To: it takes replies only.
    pub reply_address: Option<String>,
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("hostname", &self.hostname)
            .field("max_size", &self.max_size)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

/// The longest command line read (RFC 5321 asks for at least 512 octets).
const LINE_LIMIT: usize = 4096;
/// The most recipients of one message.
const RECIPIENT_LIMIT: usize = 100;
/// Unrecognised or out-of-order commands before the connection is closed.
const ERROR_LIMIT: usize = 20;

/// Accepts connections until `shutdown` completes.
pub async fn serve_smtp(
    listener: TcpListener,
    state: AppState,
    config: SmtpConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let config = Arc::new(config);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                // Replies are small and each waits for the client's next command.
                let _ = stream.set_nodelay(true);
                let (state, config) = (state.clone(), config.clone());
                tokio::spawn(async move {
                    if let Err(error) = connection(stream, state, config).await {
                        tracing::debug!(%error, %peer, "SMTP connection ended");
                    }
                });
            }
            Err(error) => {
                tracing::warn!(%error, "accepting an SMTP connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn connection(
    stream: tokio::net::TcpStream,
    state: AppState,
    config: Arc<SmtpConfig>,
) -> std::io::Result<()> {
    let mut session = Session::new(&state, &config, false);
    session.greet = true;
    match session.run(stream).await? {
        Some(plain) => {
            // STARTTLS: the same connection, now encrypted, with a fresh session.
            let Some(acceptor) = config.tls.clone() else {
                return Ok(());
            };
            let tls = tokio::time::timeout(config.timeout, acceptor.accept(plain))
                .await
                .map_err(|_| {
                    std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS handshake")
                })??;
            let mut session = Session::new(&state, &config, true);
            session.run(tls).await?;
            Ok(())
        }
        None => Ok(()),
    }
}

struct Session<'a> {
    state: &'a AppState,
    config: &'a SmtpConfig,
    tls: bool,
    greet: bool,
    helo: bool,
    sender: Option<String>,
    recipients: Vec<String>,
    errors: usize,
}

/// What a command line asks of the session.
enum Next {
    Continue,
    Quit,
    StartTls,
}

impl<'a> Session<'a> {
    fn new(state: &'a AppState, config: &'a SmtpConfig, tls: bool) -> Session<'a> {
        Session {
            state,
            config,
            tls,
            greet: false,
            helo: false,
            sender: None,
            recipients: Vec::new(),
            errors: 0,
        }
    }

    /// Runs the dialogue; answers the plain stream back when the client asked for STARTTLS.
    async fn run<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        stream: S,
    ) -> std::io::Result<Option<S>> {
        let mut io = BufReader::new(stream);
        if self.greet {
            reply(
                &mut io,
                &format!("220 {} ESMTP watchbill", self.config.hostname),
            )
            .await?;
        }
        loop {
            let line = match self.read_line(&mut io).await? {
                Line::Text(line) => line,
                Line::TooLong => {
                    reply(&mut io, "500 5.5.2 Line too long").await?;
                    continue;
                }
                Line::Closed => return Ok(None),
                Line::TimedOut => {
                    reply(&mut io, "421 4.4.2 Timed out; closing").await?;
                    return Ok(None);
                }
            };
            match self.command(&mut io, &line).await? {
                Next::Continue => {}
                Next::Quit => return Ok(None),
                Next::StartTls => {
                    // Anything the client pipelined after STARTTLS is dropped, as RFC 3207
                    // requires.
                    return Ok(Some(io.into_inner()));
                }
            }
            if self.errors >= ERROR_LIMIT {
                reply(&mut io, "421 4.7.0 Too many errors; closing").await?;
                return Ok(None);
            }
        }
    }

    async fn read_line<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        io: &mut BufReader<S>,
    ) -> std::io::Result<Line> {
        let mut buffer = Vec::new();
        let read = tokio::time::timeout(
            self.config.timeout,
            (&mut *io)
                .take(LINE_LIMIT as u64 + 2)
                .read_until(b'\n', &mut buffer),
        )
        .await;
        match read {
            Err(_) => Ok(Line::TimedOut),
            Ok(Err(error)) => Err(error),
            Ok(Ok(0)) => Ok(Line::Closed),
            Ok(Ok(_)) if !buffer.ends_with(b"\n") => {
                // Skip the rest of the overlong line.
                let mut rest = Vec::new();
                let _ = tokio::time::timeout(self.config.timeout, io.read_until(b'\n', &mut rest))
                    .await;
                Ok(Line::TooLong)
            }
            Ok(Ok(_)) => {
                let text = String::from_utf8_lossy(&buffer);
                Ok(Line::Text(text.trim_end_matches(['\r', '\n']).to_owned()))
            }
        }
    }

    fn reset(&mut self) {
        self.sender = None;
        self.recipients.clear();
    }

    async fn command<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        io: &mut BufReader<S>,
        line: &str,
    ) -> std::io::Result<Next> {
        let (verb, rest) = line
            .split_once(' ')
            .map_or((line, ""), |(v, r)| (v, r.trim()));
        match verb.to_ascii_uppercase().as_str() {
            "EHLO" => {
                self.helo = true;
                self.reset();
                let mut lines = vec![
                    format!(
                        "250-{} greets {}",
                        self.config.hostname,
                        if rest.is_empty() { "you" } else { rest }
                    ),
                    format!("250-SIZE {}", self.config.max_size),
                    "250-8BITMIME".to_owned(),
                    "250-PIPELINING".to_owned(),
                    "250-ENHANCEDSTATUSCODES".to_owned(),
                ];
                if self.config.tls.is_some() && !self.tls {
                    lines.push("250-STARTTLS".to_owned());
                }
                lines.push("250 SMTPUTF8".to_owned());
                reply(io, &lines.join("\r\n")).await?;
            }
            "HELO" => {
                self.helo = true;
                self.reset();
                reply(io, &format!("250 {}", self.config.hostname)).await?;
            }
            "STARTTLS" if self.config.tls.is_some() && !self.tls => {
                reply(io, "220 2.0.0 Ready to start TLS").await?;
                return Ok(Next::StartTls);
            }
            "STARTTLS" => {
                self.errors += 1;
                reply(io, "502 5.5.1 STARTTLS is not available").await?;
            }
            "MAIL" => self.mail(io, rest).await?,
            "RCPT" => self.rcpt(io, rest).await?,
            "DATA" => self.data(io).await?,
            "RSET" => {
                self.reset();
                reply(io, "250 2.0.0 OK").await?;
            }
            "NOOP" => reply(io, "250 2.0.0 OK").await?,
            "VRFY" => reply(io, "252 2.1.5 Send some mail and see").await?,
            "QUIT" => {
                reply(io, "221 2.0.0 Bye").await?;
                return Ok(Next::Quit);
            }
            _ => {
                self.errors += 1;
                reply(io, "500 5.5.2 Command not recognised").await?;
            }
        }
        Ok(Next::Continue)
    }

    async fn mail<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        io: &mut BufReader<S>,
        rest: &str,
    ) -> std::io::Result<()> {
        if !self.helo {
            self.errors += 1;
            return reply(io, "503 5.5.1 Say EHLO first").await;
        }
        if self.sender.is_some() {
            self.errors += 1;
            return reply(io, "503 5.5.1 A sender is already given; RSET first").await;
        }
        let Some((address, params)) = path(rest, "FROM:") else {
            self.errors += 1;
            return reply(io, "501 5.5.4 Syntax: MAIL FROM:<address>").await;
        };
        for param in params.split_whitespace() {
            if let Some(size) = param.to_ascii_uppercase().strip_prefix("SIZE=") {
                if size
                    .parse::<usize>()
                    .is_ok_and(|size| size > self.config.max_size)
                {
                    return reply(
                        io,
                        &format!(
                            "552 5.3.4 The message is larger than {} bytes",
                            self.config.max_size
                        ),
                    )
                    .await;
                }
            }
        }
        self.sender = Some(address.to_lowercase());
        reply(io, "250 2.1.0 OK").await
    }

    async fn rcpt<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        io: &mut BufReader<S>,
        rest: &str,
    ) -> std::io::Result<()> {
        let Some(sender) = self.sender.clone() else {
            self.errors += 1;
            return reply(io, "503 5.5.1 Say MAIL FROM first").await;
        };
        let Some((address, _)) = path(rest, "TO:") else {
            self.errors += 1;
            return reply(io, "501 5.5.4 Syntax: RCPT TO:<address>").await;
        };
        if self.recipients.len() >= RECIPIENT_LIMIT {
            return reply(io, "452 4.5.3 Too many recipients").await;
        }
        let address = address.to_lowercase();
        match self.check_recipient(&sender, &address).await {
            Ok(()) => {
                self.recipients.push(address);
                reply(io, "250 2.1.5 OK").await
            }
            Err(Refusal::Permanent(reason)) => reply(io, &format!("550 5.7.1 {reason}")).await,
            Err(Refusal::Temporary(reason)) => reply(io, &format!("451 4.3.0 {reason}")).await,
        }
    }

    /// A known address, and a sender it allows; or watchbill's reply address.
    async fn check_recipient(&self, sender: &str, address: &str) -> Result<(), Refusal> {
        if self
            .config
            .reply_address
            .as_deref()
            .is_some_and(|reply| reply.eq_ignore_ascii_case(address))
        {
            return Ok(());
        }
        let mut tx = self.state.store.read().await?;
        let Some(found) = tx.find_mail_address(address).await? else {
            return Err(Refusal::Permanent(format!(
                "{address}: no such address here"
            )));
        };
        if !allows(&found.input.allow, sender) {
            return Err(Refusal::Permanent(format!(
                "{} may not write to {address}; ask its team to allow you",
                if sender.is_empty() {
                    "the null sender"
                } else {
                    sender
                }
            )));
        }
        Ok(())
    }

    async fn data<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        io: &mut BufReader<S>,
    ) -> std::io::Result<()> {
        if self.sender.is_none() {
            self.errors += 1;
            return reply(io, "503 5.5.1 Say MAIL FROM first").await;
        }
        if self.recipients.is_empty() {
            self.errors += 1;
            return reply(io, "554 5.5.1 No valid recipients").await;
        }
        reply(io, "354 End data with <CR><LF>.<CR><LF>").await?;
        let mut message = Vec::new();
        let mut too_big = false;
        loop {
            let mut line = Vec::new();
            let read =
                tokio::time::timeout(self.config.timeout, io.read_until(b'\n', &mut line)).await;
            let n = match read {
                Err(_) => {
                    reply(io, "421 4.4.2 Timed out; closing").await?;
                    return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "DATA"));
                }
                Ok(result) => result?,
            };
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "DATA",
                ));
            }
            if line == b".\r\n" || line == b".\n" {
                break;
            }
            // Dot-stuffing: a line that starts with a dot was sent with one more.
            let line = if line.starts_with(b".") {
                &line[1..]
            } else {
                &line[..]
            };
            if message.len() + line.len() > self.config.max_size {
                too_big = true;
                continue;
            }
            message.extend_from_slice(line);
        }
        let envelope = Envelope {
            sender: self.sender.take().unwrap_or_default(),
            recipients: std::mem::take(&mut self.recipients),
        };
        if too_big {
            return reply(
                io,
                &format!(
                    "552 5.3.4 The message is larger than {} bytes",
                    self.config.max_size
                ),
            )
            .await;
        }
        match deliver(self.state, &envelope, &message).await {
            Ok(delivered) => {
                let summary: Vec<String> = delivered.iter().map(|d| d.summary()).collect();
                reply(io, &format!("250 2.0.0 Accepted: {}", summary.join("; "))).await
            }
            Err(Refusal::Permanent(reason)) => reply(io, &format!("550 5.7.1 {reason}")).await,
            Err(Refusal::Temporary(reason)) => reply(io, &format!("451 4.3.0 {reason}")).await,
        }
    }
}

enum Line {
    Text(String),
    TooLong,
    Closed,
    TimedOut,
}

/// Reads `FROM:<a@b> PARAMS` (or `TO:`): the address inside the brackets and the parameters.
/// The null path `<>` is an empty address.
fn path<'l>(rest: &'l str, prefix: &str) -> Option<(&'l str, &'l str)> {
    let head = rest.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = rest[prefix.len()..].trim_start();
    let rest = rest.strip_prefix('<')?;
    let (address, params) = rest.split_once('>')?;
    // A source route (`<@relay:user@host>`) is ignored, as RFC 5321 allows.
    let address = address.rsplit(':').next().unwrap_or(address);
    if address.contains(char::is_whitespace) {
        return None;
    }
    Some((address, params.trim()))
}

/// Writes one reply (lines separated by CRLF) and flushes it.
async fn reply<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut BufReader<S>,
    text: &str,
) -> std::io::Result<()> {
    // One write per reply: two small writes would wait on each other under Nagle's algorithm.
    let mut bytes = Vec::with_capacity(text.len() + 2);
    bytes.extend_from_slice(text.as_bytes());
    bytes.extend_from_slice(b"\r\n");
    let stream = io.get_mut();
    stream.write_all(&bytes).await?;
    stream.flush().await
}

#[cfg(test)]
mod tests {
    use super::path;

    #[test]
    fn paths_read_like_relays_write_them() {
        assert_eq!(
            path("FROM:<ops@example.com> SIZE=1200 BODY=8BITMIME", "FROM:"),
            Some(("ops@example.com", "SIZE=1200 BODY=8BITMIME"))
        );
        assert_eq!(
            path("from: <ops@example.com>", "FROM:"),
            Some(("ops@example.com", ""))
        );
        assert_eq!(path("FROM:<>", "FROM:"), Some(("", "")));
        assert_eq!(
            path("TO:<@relay.example:urgent@demo.test>", "TO:"),
            Some(("urgent@demo.test", ""))
        );
        assert_eq!(path("TO:urgent@demo.test", "TO:"), None);
        assert_eq!(path("TO:<a b@c>", "TO:"), None);
        assert_eq!(path("", "TO:"), None);
    }
}

//! IMAP polling, for a company whose mail cannot be routed to watchbill: a mailbox is read
//! over TLS, each message is filed exactly as one received over SMTP for the designated address
//! the mailbox stands for, and only after its transaction commits is it moved to a processed
//! folder. A message the database could not take now stays for the next round. The server is
//! watched with IDLE when it offers it, and polled otherwise.

use std::sync::Arc;
use std::time::Duration;

use async_imap::Client;
use futures_util::TryStreamExt;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

use super::deliver::{deliver, Envelope, Refusal};
use super::message::read;
use crate::state::AppState;

/// Where and how to read mail.
#[derive(Debug, Clone)]
pub struct ImapConfig {
    pub host: String,
    pub port: u16,
    /// `imaps://` (TLS from the first byte); `imap://` only for a server on this host.
    pub tls: bool,
    pub user: String,
    pub password: String,
    pub mailbox: String,
    /// The designated address the mailbox stands for.
    pub address: String,
    /// Where filed messages go.
    pub processed: String,
    /// A PEM certificate to trust besides the public roots (a private CA).
    pub ca_file: Option<String>,
    /// How often to look without IDLE; with IDLE, how long one IDLE lasts at most.
    pub poll: Duration,
}

impl ImapConfig {
    /// Reads `imaps://user:password@host:port/mailbox` (the port defaults to 993, 143 for
    /// `imap://`; the mailbox to INBOX).
    pub fn parse(url: &str, address: &str) -> Result<ImapConfig, String> {
        let (tls, rest) = if let Some(rest) = url.strip_prefix("imaps://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("imap://") {
            (false, rest)
        } else {
            return Err(format!("`{url}` is not an imaps:// or imap:// URL"));
        };
        let (credentials, rest) = rest
            .rsplit_once('@')
            .ok_or_else(|| "the IMAP URL needs user:password@".to_owned())?;
        let (user, password) = credentials
            .split_once(':')
            .ok_or_else(|| "the IMAP URL needs user:password@".to_owned())?;
        let decode = percent_decode;
        let (authority, mailbox) = rest.split_once('/').unwrap_or((rest, "INBOX"));
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (
                host,
                port.parse::<u16>()
                    .map_err(|_| format!("`{port}` is not a port"))?,
            ),
            None => (authority, if tls { 993 } else { 143 }),
        };
        if host.is_empty() {
            return Err("the IMAP URL names no host".to_owned());
        }
        if !address.contains('@') {
            return Err(format!(
                "imap_address `{address}` is not the designated address the mailbox stands for"
            ));
        }
        Ok(ImapConfig {
            host: host.to_owned(),
            port,
            tls,
            user: decode(user),
            password: decode(password),
            mailbox: if mailbox.is_empty() {
                "INBOX".to_owned()
            } else {
                decode(mailbox)
            },
            address: address.to_lowercase(),
            processed: "Processed".to_owned(),
            ca_file: None,
            poll: Duration::from_secs(30),
        })
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(byte) = u8::from_str_radix(&text[i + 1..i + 3], 16) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

type ImapError = Box<dyn std::error::Error + Send + Sync>;

/// Reads the mailbox until `shutdown` completes, reconnecting after failures.
pub async fn poll_imap(
    state: AppState,
    config: ImapConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    tokio::pin!(shutdown);
    loop {
        let session = run(&state, &config);
        tokio::select! {
            () = &mut shutdown => return,
            result = session => {
                if let Err(error) = result {
                    tracing::warn!(%error, host = %config.host, "reading the IMAP mailbox failed; trying again in 10 s");
                }
            }
        }
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(Duration::from_secs(10)) => {}
        }
    }
}

async fn run(state: &AppState, config: &ImapConfig) -> Result<(), ImapError> {
    let tcp = TcpStream::connect((config.host.as_str(), config.port)).await?;
    let _ = tcp.set_nodelay(true);
    if config.tls {
        let connector = connector(config)?;
        let name = ServerName::try_from(config.host.clone())?;
        let tls = connector.connect(name, tcp).await?;
        session(state, config, tls).await
    } else {
        session(state, config, tcp).await
    }
}

fn connector(config: &ImapConfig) -> Result<TlsConnector, ImapError> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = &config.ca_file {
        for certificate in CertificateDer::pem_file_iter(path)? {
            roots.add(certificate?)?;
        }
    }
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let tls = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(tls)))
}

async fn session<T>(state: &AppState, config: &ImapConfig, stream: T) -> Result<(), ImapError>
where
    T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    let mut client = Client::new(stream);
    client.read_response().await?;
    let mut session = client
        .login(&config.user, &config.password)
        .await
        .map_err(|(error, _)| error)?;
    let idle = session.capabilities().await?.has_str("IDLE");
    // The processed folder may exist already.
    let _ = session.create(&config.processed).await;
    session.select(&config.mailbox).await?;
    loop {
        let mut uids: Vec<u32> = session.uid_search("ALL").await?.into_iter().collect();
        uids.sort_unstable();
        for uid in uids {
            let fetched: Vec<_> = session
                .uid_fetch(uid.to_string(), "BODY.PEEK[]")
                .await?
                .try_collect()
                .await?;
            let Some(raw) = fetched.first().and_then(|f| f.body()).map(<[u8]>::to_vec) else {
                continue;
            };
            let envelope = Envelope {
                sender: read(&raw).from.unwrap_or_default(),
                recipients: vec![config.address.clone()],
            };
            match deliver(state, &envelope, &raw).await {
                Ok(_) => {}
                Err(Refusal::Permanent(reason)) => {
                    // Refused for good (a sender the address does not allow, say): it is kept
                    // in the processed folder, not read again.
                    tracing::info!(uid, %reason, "an IMAP message was refused");
                }
                Err(Refusal::Temporary(reason)) => {
                    tracing::warn!(uid, %reason, "an IMAP message could not be filed now; it stays");
                    break;
                }
            }
            session.uid_mv(uid.to_string(), &config.processed).await?;
        }
        if idle {
            let mut handle = session.idle();
            handle.init().await?;
            let (wait, _stop) = handle.wait_with_timeout(config.poll);
            wait.await?;
            session = handle.done().await?;
        } else {
            tokio::time::sleep(config.poll).await;
            session.noop().await?;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::ImapConfig;

    #[test]
    fn urls_read_with_defaults() {
        let c = ImapConfig::parse(
            "imaps://intake%40corp:p%3Ass@mail.example.com/Support",
            "urgent@x.test",
        )
        .unwrap();
        assert_eq!(
            (c.host.as_str(), c.port, c.tls),
            ("mail.example.com", 993, true)
        );
        assert_eq!(
            (c.user.as_str(), c.password.as_str(), c.mailbox.as_str()),
            ("intake@corp", "p:ss", "Support")
        );
        let c = ImapConfig::parse("imap://u:p@127.0.0.1:1143", "m@x.test").unwrap();
        assert_eq!((c.port, c.tls, c.mailbox.as_str()), (1143, false, "INBOX"));
        assert!(ImapConfig::parse("http://u:p@x", "m@x.test").is_err());
        assert!(ImapConfig::parse("imaps://x", "m@x.test").is_err());
        assert!(ImapConfig::parse("imaps://u:p@x:port", "m@x.test").is_err());
    }
}

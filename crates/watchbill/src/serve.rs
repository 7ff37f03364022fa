//! `watchbill serve` and `watchbill migrate`: wiring the store, the HTTP server and set-up.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use watchbill_core::{Clock, SystemClock};
use watchbill_server::paging::channels::{SmsSettings, SmtpSettings};
use watchbill_server::setup::{bootstrap, demo, demo_tickets, DEMO_ADMIN_EMAIL};
use watchbill_server::{AppState, Facing, PagingConfig};
use watchbill_store::{redact, Store};

use crate::config::{unknown_variables, ServeConfig};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot open the database {url}: {source}")]
    Database {
        url: String,
        source: watchbill_store::StoreError,
    },
    #[error("{0}")]
    Store(#[from] watchbill_store::StoreError),
    #[error("{0}")]
    Setup(#[from] watchbill_server::setup::SetupError),
    #[error("cannot listen on {listen}: {source}")]
    Listen {
        listen: String,
        source: std::io::Error,
    },
    #[error("the server stopped: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Config(String),
}

async fn open_store(
    config: &ServeConfig,
    clock: Arc<dyn Clock>,
) -> Result<Arc<dyn Store>, ServeError> {
    let store = watchbill_store::connect(&config.database_url, clock)
        .await
        .map_err(|source| ServeError::Database {
            url: redact(&config.database_url),
            source,
        })?;
    let report = store.migrate().await?;
    for name in &report.applied {
        tracing::info!(migration = %name, "applied migration");
    }
    for warning in &report.warnings {
        tracing::warn!("{warning}");
    }
    Ok(store)
}

pub async fn migrate(config: ServeConfig) -> Result<(), ServeError> {
    let store = watchbill_store::connect(&config.database_url, Arc::new(SystemClock))
        .await
        .map_err(|source| ServeError::Database {
            url: redact(&config.database_url),
            source,
        })?;
    let report = store.migrate().await?;
    if report.applied.is_empty() {
        println!(
            "The database is up to date ({} migration(s)).",
            report.already_applied
        );
    } else {
        println!("Applied: {}", report.applied.join(", "));
    }
    Ok(())
}

pub async fn serve(config: ServeConfig) -> Result<(), ServeError> {
    for name in unknown_variables(std::env::vars()) {
        tracing::warn!(variable = %name, "unknown WATCHBILL_ variable is ignored; check its spelling");
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = open_store(&config, clock.clone()).await?;
    let listener =
        TcpListener::bind(&config.listen)
            .await
            .map_err(|source| ServeError::Listen {
                listen: config.listen.clone(),
                source,
            })?;
    let address = listener.local_addr()?;
    // The certificate is read before anything else starts, so a bad one stops the server at once.
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => Some(
            watchbill_server::tls::acceptor(cert, key)
                .map_err(|e| ServeError::Config(e.to_string()))?,
        ),
        (None, None) => None,
        _ => {
            return Err(ServeError::Config(
                "TLS needs both tls_cert and tls_key".to_owned(),
            ))
        }
    };
    let smtp_listener = match &config.smtp_listen {
        Some(address) => {
            Some(
                TcpListener::bind(address)
                    .await
                    .map_err(|source| ServeError::Listen {
                        listen: format!("{address} (SMTP)"),
                        source,
                    })?,
            )
        }
        None => None,
    };
    let imap = match (&config.imap_url, &config.imap_address) {
        (Some(url), Some(address)) => {
            let mut imap = watchbill_server::mail::imap::ImapConfig::parse(url, address)
                .map_err(|e| ServeError::Config(format!("imap_url: {e}")))?;
            imap.ca_file = config.imap_ca.clone();
            Some(imap)
        }
        (None, None) => None,
        _ => {
            return Err(ServeError::Config(
                "IMAP polling needs both imap_url and imap_address".to_owned(),
            ))
        }
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let public_url = if config.public_url.ends_with(":0") {
        format!("{scheme}://{address}")
    } else {
        config.public_url.clone()
    };

    let bootstrap_secret = std::env::var("WATCHBILL_BOOTSTRAP_TOKEN").ok();
    let setup = bootstrap(store.as_ref(), bootstrap_secret.as_deref()).await?;
    let demo_setup = if config.demo {
        let setup = demo(store.as_ref()).await?;
        if setup.demo_created {
            demo_tickets(store.as_ref()).await?;
        }
        Some(setup)
    } else {
        None
    };

    println!(
        "watchbill {} is listening on {public_url}",
        env!("CARGO_PKG_VERSION")
    );
    println!("  database: {}", redact(&config.database_url));
    if let Some(smtp) = &smtp_listener {
        println!("  mail intake (SMTP) on {}", smtp.local_addr()?);
    }
    if let Some(token) = setup
        .admin_token
        .as_ref()
        .filter(|_| !setup.token_from_environment)
    {
        if demo_setup.is_none() {
            println!("  admin bootstrap token (shown once): {token}");
        }
    }
    if let Some(demo) = &demo_setup {
        if demo.demo_created {
            println!(
                "  demo organisation created: teams User-facing, Infrastructure and Analytics"
            );
        }
        if let Some(token) = &demo.admin_token {
            println!("  demo admin: {DEMO_ADMIN_EMAIL}");
            println!("  demo admin token: {token}");
            if let Some(password) = &demo.admin_password {
                println!(
                    "  sign in at {public_url}/login as {DEMO_ADMIN_EMAIL} with password {password}"
                );
                println!("  the on-call wall: {public_url}/wall");
            }
            println!("  try: curl -H 'Authorization: Bearer {token}' {public_url}/api/v1/oncall");
        }
        for (service, kind, key) in &demo.integrations {
            println!("  {service} {kind} key: {key}");
        }
        if let Some((_, _, key)) = demo
            .integrations
            .iter()
            .find(|(_, kind, _)| kind == "events_v2")
        {
            println!(
                "  page someone: curl -X POST {public_url}/v2/enqueue -H 'Content-Type: application/json' \\\n    -d '{{\"routing_key\":\"{key}\",\"event_action\":\"trigger\",\"payload\":{{\"summary\":\"Test page\",\"source\":\"demo\",\"severity\":\"critical\"}}}}'"
            );
        }
    }
    println!("Press Ctrl-C to stop.");
    let facing = Facing {
        secure_cookies: tls.is_some(),
        reply_address: config
            .smtp_listen
            .as_ref()
            .map(|_| config.smtp_from.to_lowercase()),
    };
    let (state, engine) =
        AppState::start(store, clock, public_url, paging_config(&config)?, facing).await?;
    // On PostgreSQL two engine workers share the work, each claiming different rows, so one
    // can fire escalations while the other waits on a claim's sends; more only split the
    // claims into smaller ones. On SQLite, whose single writer serialises them anyway, one is
    // enough.
    let workers = match state.store.backend() {
        watchbill_store::Backend::Sqlite => 1,
        watchbill_store::Backend::Postgres => 2,
    };
    let (stop_engine, engine_stopped) = tokio::sync::watch::channel(false);
    let mut engines = Vec::new();
    for _ in 0..workers {
        let mut stopped = engine_stopped.clone();
        engines.push(tokio::spawn(engine.clone().run(
            Duration::from_secs(1),
            async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            },
        )));
    }
    let (stop_mail, mail_stopped) = tokio::sync::watch::channel(false);
    let mail = match smtp_listener {
        Some(smtp) => {
            let config = watchbill_server::mail::smtp::SmtpConfig {
                hostname: host_of(&state.public_url),
                max_size: config.smtp_max_size,
                tls: tls.clone(),
                timeout: Duration::from_secs(300),
                reply_address: Some(config.smtp_from.to_lowercase()),
            };
            let mut stopped = mail_stopped.clone();
            Some(tokio::spawn(watchbill_server::mail::smtp::serve_smtp(
                smtp,
                state.clone(),
                config,
                async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                },
            )))
        }
        None => None,
    };
    let imap_task = imap.map(|imap| {
        println!(
            "  mail intake (IMAP) reads {} on {} for {}",
            imap.mailbox, imap.host, imap.address
        );
        let mut stopped = mail_stopped.clone();
        tokio::spawn(watchbill_server::mail::imap::poll_imap(
            state.clone(),
            imap,
            async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            },
        ))
    });
    match tls {
        Some(acceptor) => {
            watchbill_server::serve_tls(listener, acceptor, state, shutdown_signal()).await?
        }
        None => watchbill_server::serve(listener, state, shutdown_signal()).await?,
    }
    let _ = stop_mail.send(true);
    if let Some(mail) = mail {
        let _ = mail.await;
    }
    if let Some(imap) = imap_task {
        let _ = imap.await;
    }
    let _ = stop_engine.send(true);
    for engine in engines {
        let _ = engine.await;
    }
    println!("watchbill stopped");
    Ok(())
}

/// How pages leave: the SMTP relay and the SMS provider, if configured.
fn paging_config(config: &ServeConfig) -> Result<PagingConfig, ServeError> {
    let smtp = match &config.smtp_url {
        Some(url) => Some(SmtpSettings::parse(url, &config.smtp_from).map_err(ServeError::Config)?),
        None => None,
    };
    let sms = match (
        &config.sms_url,
        &config.sms_account,
        &config.sms_token,
        &config.sms_from,
    ) {
        (None, _, _, _) => None,
        (Some(url), Some(account), Some(token), Some(from)) => Some(SmsSettings {
            base_url: url.clone(),
            account: account.clone(),
            token: token.clone(),
            from: from.clone(),
        }),
        (Some(_), _, _, _) => {
            return Err(ServeError::Config(
                "sms_url needs sms_account, sms_token and sms_from as well".to_owned(),
            ))
        }
    };
    Ok(PagingConfig { smtp, sms })
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}

/// The host part of a URL, for the SMTP greeting.
fn host_of(url: &str) -> String {
    url.split_once("://")
        .map_or(url, |(_, rest)| rest)
        .split(['/', ':'])
        .next()
        .filter(|host| !host.is_empty())
        .unwrap_or("watchbill")
        .to_owned()
}

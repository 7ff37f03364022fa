//! What every request handler can reach.

use std::sync::Arc;

use watchbill_core::Clock;
use watchbill_store::Store;

use tokio::sync::Notify;
use watchbill_store::StoreError;

use crate::paging::channels::{Channels, SmsSettings, SmtpSettings};
use crate::paging::engine::Engine;
use crate::paging::intake::Intake;
use crate::paging::links::LinkSigner;
use crate::roster::RosterCache;
use crate::web::live::LiveFeed;

/// How pages leave the server.
#[derive(Debug, Clone, Default)]
pub struct PagingConfig {
    pub smtp: Option<SmtpSettings>,
    pub sms: Option<SmsSettings>,
}

/// What every request handler can reach, behind one shared pointer: the router hands each
/// request its own copy of the state, so a copy is one reference count, not one per field.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// How the server faces the people who use it, known when it starts listening.
#[derive(Debug, Clone, Default)]
pub struct Facing {
    /// The address watchbill's own mail replies go to (mail intake takes replies there).
    pub reply_address: Option<String>,
    /// Whether session cookies are marked `Secure` (the listener speaks TLS).
    pub secure_cookies: bool,
}

/// The parts of [`AppState`].
#[derive(Debug)]
pub struct Shared {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    /// The URL people reach this server at, used in links such as calendar feeds.
    pub public_url: String,
    pub roster: Arc<RosterCache>,
    pub intake: Intake,
    /// Wakes the engine when there is work it should not wait a tick for.
    pub wake: Arc<Notify>,
    pub signer: LinkSigner,
    /// Tells open walls when something they show has changed.
    pub live: LiveFeed,
    /// The delivery channels, for test notifications sent while the person waits.
    pub channels: Channels,
    /// Mail intake's group-commit queue.
    pub mail: crate::mail::deliver::MailQueue,
    /// The address watchbill's own mail replies go to (mail intake takes replies there).
    pub reply_address: Option<String>,
    /// Whether session cookies are marked `Secure` (the listener speaks TLS).
    pub secure_cookies: bool,
}

impl AppState {
    /// The state, with intake writers running, and the engine ready to run.
    pub async fn start(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        public_url: String,
        paging: PagingConfig,
        facing: Facing,
    ) -> Result<(AppState, Engine), StoreError> {
        let key = {
            let mut tx = store.write().await?;
            let key = tx
                .server_secret("signing_key", &watchbill_store::new_secret())
                .await?;
            tx.commit().await?;
            key
        };
        let signer = LinkSigner::new(&key);
        let wake = Arc::new(Notify::new());
        let roster: Arc<RosterCache> = Arc::default();
        let intake = Intake::start(store.clone(), wake.clone());
        let channels = Channels::new(paging.smtp, paging.sms, signer.clone());
        let engine = Engine::new(
            store.clone(),
            roster.clone(),
            channels.clone(),
            signer.clone(),
            public_url.clone(),
            wake.clone(),
        );
        // The mail queue's writer needs the finished state; it receives it through this cell.
        let cell: Arc<std::sync::OnceLock<AppState>> = Arc::default();
        let mail = crate::mail::deliver::MailQueue::start(cell.clone());
        let state = AppState(Arc::new(Shared {
            mail,
            clock,
            public_url,
            roster,
            intake,
            live: LiveFeed::start(store.clone()),
            store,
            wake,
            signer,
            channels,
            reply_address: facing.reply_address,
            secure_cookies: facing.secure_cookies,
        }));
        let _ = cell.set(state.clone());
        Ok((state, engine))
    }
}

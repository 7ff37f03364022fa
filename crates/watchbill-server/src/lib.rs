//! watchbill's HTTP server: the REST API under `/api/v1` with its OpenAPI document, the web
//! pages with the on-call wall, the health check, and the calendar feeds.
//!
//! Handlers translate between HTTP and the store and core; they hold no business rules.

mod act;
pub mod api;
pub mod auth;
mod batching;
pub mod error;
pub mod extract;
mod health;
mod ics;
pub mod mail;
pub mod org;
pub mod paging;
pub mod post_mortems;
mod resolve;
pub mod retrying;
pub mod roster;
pub mod setup;
pub mod state;
mod sync;
pub mod tls;
pub mod web;

use std::future::Future;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

use crate::error::{ApiError, ErrorCode};
pub use crate::state::{AppState, Facing, PagingConfig};

/// The largest request body the API accepts.
const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    let (api, _) = api::router();
    api.merge(web::routes())
        .fallback(|| async { ApiError::new(ErrorCode::NotFound, "no such route") })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// The OpenAPI document, for tools and tests.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api::router().1
}

/// Serves `app` on `listener` until `shutdown` completes, then finishes in-flight requests.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Like [`serve`], over TLS: every connection is HTTPS.
pub async fn serve_tls(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tls::TlsListener::new(listener, acceptor)?;
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}

//! `/act/{token}`: the acknowledge and resolve links in pages. Opening one shows what it will
//! do; confirming (a POST) does it. The token is the credential: no sign-in needed.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Html;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::incidents::ACTION_TRIES;
use crate::paging::actions::{self, ActionError};
use crate::paging::links::{Link, LinkAction};
use crate::retrying::with_retries;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(show_link, use_link))
}

fn page(status: StatusCode, title: &str, body: &str) -> (StatusCode, Html<String>) {
    (
        status,
        Html(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
             <title>{title}</title></head><body style=\"font-family:sans-serif;max-width:32em;margin:3em auto\">\
             <h1>{title}</h1>{body}</body></html>",
            title = escape(title)
        )),
    )
}

pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn verb(action: LinkAction) -> &'static str {
    match action {
        LinkAction::Acknowledge => "Acknowledge",
        LinkAction::Resolve => "Resolve",
    }
}

/// The link a token stands for, or the page that says why it does not work.
fn verify(state: &AppState, token: &str) -> Result<Link, (StatusCode, Html<String>)> {
    state
        .signer
        .verify(token, state.clock.now())
        .map_err(|reason| {
            page(
                StatusCode::BAD_REQUEST,
                "This link does not work",
                &format!("<p>{}.</p>", escape(reason)),
            )
        })
}

/// Shows what an acknowledge or resolve link will do, with a button to confirm.
#[utoipa::path(get, path = "/act/{token}", tag = "incidents",
    params(("token" = String, Path, description = "The signed token from a page")),
    responses((status = 200, description = "A confirmation page", content_type = "text/html"),
              (status = 400, description = "The link is invalid or expired", content_type = "text/html")))]
async fn show_link(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> (StatusCode, Html<String>) {
    let link = match verify(&state, &token) {
        Ok(link) => link,
        Err(refusal) => return refusal,
    };
    let title = match state.store.read().await {
        Ok(mut tx) => tx
            .incident(link.incident)
            .await
            .map(|i| i.title)
            .unwrap_or_default(),
        Err(_) => String::new(),
    };
    page(
        StatusCode::OK,
        &format!("{} INC-{}?", verb(link.action), link.incident),
        &format!(
            "<p>{}</p><form method=\"post\"><button type=\"submit\" style=\"font-size:1.5em;padding:.5em 1em\">{}</button></form>",
            escape(&title),
            verb(link.action)
        ),
    )
}

/// Acknowledges or resolves the incident a link names.
#[utoipa::path(post, path = "/act/{token}", tag = "incidents",
    params(("token" = String, Path, description = "The signed token from a page")),
    responses((status = 200, description = "Done", content_type = "text/html"),
              (status = 400, description = "The link is invalid or expired", content_type = "text/html")))]
async fn use_link(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> (StatusCode, Html<String>) {
    let link = match verify(&state, &token) {
        Ok(link) => link,
        Err(refusal) => return refusal,
    };
    let result = with_retries(ACTION_TRIES, || async {
        let mut tx = state.store.write().await?;
        let actor = format!("{} (link)", tx.user(link.user).await?.name);
        let changed = match link.action {
            LinkAction::Acknowledge => {
                actions::acknowledge(tx.as_mut(), link.incident, &actor).await?
            }
            LinkAction::Resolve => actions::resolve(tx.as_mut(), link.incident, &actor).await?,
        };
        tx.commit().await?;
        Ok::<_, ActionError>(if changed {
            "Done.".to_owned()
        } else {
            "Nothing to do: it already was.".to_owned()
        })
    })
    .await;
    match result {
        Ok(message) => {
            state.wake.notify_one();
            page(
                StatusCode::OK,
                &format!(
                    "INC-{}: {}",
                    link.incident,
                    verb(link.action).to_lowercase() + "d"
                ),
                &format!("<p>{message}</p>"),
            )
        }
        Err(ActionError::Resolved(_)) => page(
            StatusCode::OK,
            &format!("INC-{} is resolved", link.incident),
            "<p>Nothing to do.</p>",
        ),
        Err(error) => {
            tracing::warn!(%error, "an acknowledge link failed");
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Something went wrong",
                "<p>Try again in a moment.</p>",
            )
        }
    }
}

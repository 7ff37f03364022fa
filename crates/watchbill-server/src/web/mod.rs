//! The web pages: server-rendered HTML (askama templates under `templates/`), a little
//! JavaScript for the live wall, and every asset compiled into the binary.
//!
//! Pages call the same functions the REST API does; a page handler only reads its input,
//! calls one, and renders. Signing in is in [`session`]; the wall's live updates in [`live`].

mod account;
mod directory;
mod format;
mod incidents;
pub mod live;
mod mail;
pub(crate) mod markdown;
mod now;
mod person;
mod planning;
mod policies;
mod post_mortems;
mod schedules;
pub mod session;
mod tickets;
mod wall;

use askama::Template;
use axum::extract::DefaultBodyLimit;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use watchbill_core::Role;

use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;
pub use session::{Posted, Viewer};

/// Every page route.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/now") }))
        .route("/login", get(account::login_page).post(account::login))
        .route("/logout", post(account::logout))
        .route(
            "/password",
            get(account::password_page).post(account::change_password),
        )
        .route("/now", get(now::page))
        .route("/wall", get(wall::page))
        .route("/wall/board", get(wall::board))
        .route("/wall/events", get(wall::events))
        .route("/wall/links", post(wall::create_link))
        .route("/wall/links/{id}/delete", post(wall::delete_link))
        .route("/kiosk/{token}", get(wall::kiosk_page))
        .route("/kiosk/{token}/board", get(wall::kiosk_board))
        .route("/kiosk/{token}/events", get(wall::kiosk_events))
        .route("/incidents", get(incidents::list))
        .route("/incidents/{id}", get(incidents::show))
        .route("/incidents/{id}/{action}", post(incidents::act))
        .route("/schedules", get(schedules::list))
        .route("/schedules/{id}", get(schedules::show))
        .route(
            "/schedules/{id}/overrides",
            post(schedules::add_override_form),
        )
        .route("/services", get(directory::services))
        .route(
            "/services/{id}",
            get(directory::service).post(directory::edit_service),
        )
        .route(
            "/people",
            get(directory::people).post(directory::add_person),
        )
        .route("/teams/{id}/members", post(directory::add_member))
        .route(
            "/teams/{id}/members/{user}/delete",
            post(directory::remove_member),
        )
        .route("/policies", get(policies::page).post(policies::create))
        .route("/policies/{id}/levels", post(policies::add_level))
        .route(
            "/policies/{id}/levels/{position}/delete",
            post(policies::remove_level),
        )
        .route("/policies/{id}/repeat", post(policies::set_repeat))
        .route(
            "/services/{id}/integrations",
            post(directory::add_integration),
        )
        .route(
            "/services/{id}/integrations/{integration}/rotate",
            post(directory::rotate_key),
        )
        .route("/people/{id}", get(person::show))
        .route(
            "/people/{id}/photo",
            post(person::upload_photo).layer(DefaultBodyLimit::max(person::PHOTO_LIMIT)),
        )
        .route("/people/{id}/contact-methods", post(person::create_method))
        .route(
            "/people/{id}/contact-methods/{method}/delete",
            post(person::delete_method),
        )
        .route(
            "/people/{id}/contact-methods/{method}/test",
            post(person::test_method),
        )
        .route("/people/{id}/rules", post(person::create_rule))
        .route(
            "/people/{id}/rules/{rule}/delete",
            post(person::delete_rule),
        )
        .route("/photos/{token}", get(person::photo))
        .route("/audit", get(directory::audit))
        .route("/mail", get(mail::page))
        .route("/mail/addresses", post(mail::add))
        .route("/mail/addresses/{id}/delete", post(mail::remove))
        .route("/tickets", get(tickets::list).post(tickets::create))
        .route("/tickets/bulk", post(tickets::bulk))
        .route("/tickets/filters", post(tickets::save_filter))
        .route("/tickets.csv", get(tickets::export_csv))
        .route("/tickets/{key}/attachments", post(tickets::attach))
        .route("/tickets/{key}/attachments/{id}", get(tickets::attachment))
        .route("/teams/{id}/tickets/import", post(tickets::import))
        .route("/teams/{id}/ticket-settings", post(tickets::save_settings))
        .route("/incidents/{id}/follow-up", post(tickets::follow_up_form))
        .route("/tickets/{key}", get(tickets::show).post(tickets::edit))
        .route("/tickets/{key}/comments", post(tickets::comment))
        .route("/duty", get(tickets::duty))
        .route(
            "/post-mortems",
            get(post_mortems::library).post(post_mortems::create),
        )
        .route(
            "/post-mortems/{id}",
            get(post_mortems::show).post(post_mortems::edit),
        )
        .route("/post-mortems/{id}/markdown", get(post_mortems::export))
        .route("/post-mortems/{id}/status", post(post_mortems::move_on))
        .route("/post-mortems/{id}/comments", post(post_mortems::comment))
        .route(
            "/post-mortems/{id}/action-items",
            post(post_mortems::action_item),
        )
        .route(
            "/teams/{id}/post-mortem-settings",
            get(post_mortems::settings).post(post_mortems::save_settings),
        )
        .route("/planning", get(planning::planning))
        .route("/teams/{id}/balance", get(planning::team_balance))
        .route("/teams/{id}/reports", get(planning::reports))
        .route("/assets/app.css", get(stylesheet))
        .route("/assets/app.js", get(script))
        .layer(axum::middleware::map_response(page_headers))
}

/// Headers on every page: scripts only from this server, no framing, no sniffing.
async fn page_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' https: data:; style-src 'self' 'unsafe-inline'; \
             script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    response
}

async fn stylesheet() -> impl IntoResponse {
    asset(
        "text/css; charset=utf-8",
        include_str!("../../assets/app.css"),
    )
}

async fn script() -> impl IntoResponse {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../assets/app.js"),
    )
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            ),
        ],
        body,
    )
}

/// Why a page could not be shown.
#[derive(Debug)]
pub enum WebError {
    /// Nobody is signed in: go to the sign-in page, then back to this path.
    SignIn(String),
    /// Anything the API layer refuses, shown as a page with the same status.
    Api(ApiError),
}

impl From<ApiError> for WebError {
    fn from(error: ApiError) -> WebError {
        WebError::Api(error)
    }
}

impl From<watchbill_store::StoreError> for WebError {
    fn from(error: watchbill_store::StoreError) -> WebError {
        WebError::Api(error.into())
    }
}

pub type WebResult<T> = Result<T, WebError>;

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        match self {
            WebError::SignIn(next) => {
                let next: String = form_urlencoded::byte_serialize(next.as_bytes()).collect();
                Redirect::to(&format!("/login?next={next}")).into_response()
            }
            WebError::Api(error) => {
                let title = match error.code {
                    ErrorCode::NotFound => "Not found",
                    ErrorCode::Forbidden => "Not allowed",
                    ErrorCode::InvalidInput | ErrorCode::UnknownReference => "That did not work",
                    ErrorCode::Conflict => "That cannot be done now",
                    ErrorCode::RateLimited => "Too many attempts",
                    _ => "Something went wrong",
                };
                let page = Plain {
                    title,
                    error: Some(error.message.to_string()),
                    message: None,
                    show_login: false,
                    next: String::new(),
                    email: String::new(),
                };
                (error.code.status(), render(&page)).into_response()
            }
        }
    }
}

/// The page shell: who is signed in, their form token, and which tab is current.
pub struct Shell {
    pub user_name: String,
    pub csrf: String,
    pub is_admin: bool,
    pub nav: &'static str,
    pub notice: Option<String>,
}

impl Shell {
    pub fn new(viewer: &Viewer, nav: &'static str) -> Shell {
        Shell {
            user_name: viewer.user.name.clone(),
            csrf: viewer.csrf.clone(),
            is_admin: viewer.can(Role::Admin),
            nav,
            notice: None,
        }
    }
}

/// A page without the shell: sign-in, and errors.
#[derive(Template)]
#[template(path = "plain.html")]
pub struct Plain<'a> {
    pub title: &'a str,
    pub error: Option<String>,
    pub message: Option<String>,
    pub show_login: bool,
    pub next: String,
    pub email: String,
}

/// Renders a template; a template that fails to render is our fault, and says nothing more.
pub fn render(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(error) => {
            tracing::error!(%error, "template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// A redirect after a form was handled (303, so the browser follows with GET).
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

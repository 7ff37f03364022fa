//! Signing in to the web pages: passwords (argon2id), sessions kept in the database behind an
//! HttpOnly cookie, a CSRF token per session that every form carries, and a limit on failed
//! sign-ins per address.

use std::sync::OnceLock;
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{COOKIE, HOST, ORIGIN, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use jiff::SignedDuration;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use watchbill_core::Role;
use watchbill_store::model::User;
use watchbill_store::{hash_secret, new_secret, Tx};

use super::WebError;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::state::AppState;

/// The session cookie's name.
pub const COOKIE_NAME: &str = "watchbill_session";

/// How long a sign-in lasts.
pub const SESSION_LENGTH: SignedDuration = SignedDuration::from_hours(24 * 7);

/// Failed sign-ins for one address within [`FAILURE_WINDOW`] before further attempts are
/// refused until the window has passed.
pub const MAX_FAILURES: i64 = 5;
pub const FAILURE_WINDOW: SignedDuration = SignedDuration::from_mins(15);

/// The largest form body a page accepts.
const FORM_LIMIT: usize = 64 * 1024;

/// The shortest password accepted.
pub const MIN_PASSWORD: usize = 10;

/// A signed-in person, taken from the session cookie. Pages that need one redirect to the
/// sign-in page without it.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub user: User,
    pub csrf: String,
    /// The hash of the cookie's secret, naming this session in the store.
    pub session: String,
}

impl Viewer {
    pub fn caller(&self) -> Caller {
        Caller::person(&self.user)
    }

    pub fn can(&self, role: Role) -> bool {
        self.user.role.allows(role)
    }
}

/// The secret in the request's session cookie, if any.
fn cookie_secret(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        let next = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let Some(secret) = cookie_secret(&parts.headers) else {
            return Err(WebError::SignIn(next));
        };
        let session = hash_secret(&secret);
        let mut tx = state.store.read().await.map_err(ApiError::from)?;
        let Some(found) = tx.session(&session).await.map_err(ApiError::from)? else {
            return Err(WebError::SignIn(next));
        };
        let user = tx.user(found.user_id).await.map_err(ApiError::from)?;
        Ok(Viewer {
            user,
            csrf: found.csrf,
            session,
        })
    }
}

/// A form posted by a signed-in person, with its CSRF token checked and a cross-site origin
/// refused. `T` is read from the same body; it need not mention the token.
pub struct Posted<T> {
    pub viewer: Viewer,
    pub form: T,
}

#[derive(Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for Posted<T> {
    type Rejection = WebError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, WebError> {
        let (mut parts, body) = request.into_parts();
        same_origin(&parts.headers)?;
        let viewer = Viewer::from_request_parts(&mut parts, state).await?;
        let bytes = axum::body::to_bytes(body, FORM_LIMIT).await.map_err(|_| {
            ApiError::new(ErrorCode::PayloadTooLarge, "the form is larger than 64 KiB")
        })?;
        let token: CsrfField = serde_urlencoded::from_bytes(&bytes)
            .map_err(|_| ApiError::new(ErrorCode::InvalidInput, "the form could not be read"))?;
        if !constant_time_eq(token.csrf.as_bytes(), viewer.csrf.as_bytes()) {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "this form has expired or did not come from watchbill; reload the page and try again",
            )
            .into());
        }
        let form = read_form(&bytes)?;
        Ok(Posted { viewer, form })
    }
}

/// Reads a urlencoded form, naming the field at fault.
pub fn read_form<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(bytes));
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let field = error.path().to_string();
        ApiError::invalid(field, error.into_inner().to_string())
    })
}

/// Refuses a form posted from another site: browsers send `Origin` with every POST, and it
/// must name the host the request was sent to.
pub fn same_origin(headers: &HeaderMap) -> Result<(), WebError> {
    let Some(origin) = headers.get(ORIGIN).and_then(|o| o.to_str().ok()) else {
        return Ok(());
    };
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let origin_host = origin
        .split_once("://")
        .map_or(origin, |(_, rest)| rest)
        .trim_end_matches('/');
    if origin == "null" || origin_host != host {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "this form was posted from another site",
        )
        .into());
    }
    Ok(())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Hashes a password with argon2id and a random salt, off the async threads (it takes tens
/// of milliseconds by design).
pub async fn hash_password(password: String) -> ApiResult<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
    })
    .await
    .map_err(|_| ApiError::new(ErrorCode::Internal, "internal error"))?
    .map_err(|error| {
        tracing::error!(%error, "password hashing failed");
        ApiError::new(ErrorCode::Internal, "internal error")
    })
}

/// Whether `password` matches the stored `hash`. Without a stored hash, a stand-in hash is
/// checked anyway, so that the answer takes as long for an unknown address.
pub async fn verify_password(password: String, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || match hash {
        Some(hash) => check(&password, &hash),
        None => {
            let _ = check(&password, stand_in_hash());
            false
        }
    })
    .await
    .unwrap_or(false)
}

fn check(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// The argon2id hash of a random secret nobody knows, made once per process.
fn stand_in_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        Argon2::default()
            .hash_password(new_secret().as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .unwrap_or_default()
    })
}

/// Checks a new password's length.
pub fn acceptable_password(password: &str) -> ApiResult<()> {
    let length = password.chars().count();
    if length < MIN_PASSWORD {
        return Err(ApiError::invalid(
            "password",
            format!("a password needs at least {MIN_PASSWORD} characters"),
        ));
    }
    if password.len() > 1024 {
        return Err(ApiError::invalid(
            "password",
            "a password may have at most 1024 bytes",
        ));
    }
    Ok(())
}

/// The outcome of a sign-in attempt.
pub enum SignIn {
    /// The session's cookie secret.
    Welcome(String),
    Refused,
    /// Too many failures lately: try again later.
    Throttled,
}

/// Checks an address and password and, when they match, starts a session in one
/// transaction. Failures are recorded per address, and past [`MAX_FAILURES`] in
/// [`FAILURE_WINDOW`] nothing is checked at all.
pub async fn sign_in(state: &AppState, email: &str, password: &str) -> ApiResult<SignIn> {
    let key = email.trim().to_lowercase();
    let mut tx = state.store.write().await?;
    let since = tx.now() - FAILURE_WINDOW;
    if tx.login_failures(&key, since).await? >= MAX_FAILURES {
        return Ok(SignIn::Throttled);
    }
    let user = tx.find_user_by_email(&key).await?;
    let hash = match &user {
        Some(user) => tx.password_hash(user.id).await?,
        None => None,
    };
    // The transaction is not held across the slow hash check.
    drop(tx);
    let matches = verify_password(password.to_owned(), hash).await;
    let mut tx = state.store.write().await?;
    let Some(user) = user.filter(|_| matches) else {
        tx.record_login_failure(&key).await?;
        tx.commit().await?;
        return Ok(SignIn::Refused);
    };
    tx.clear_login_failures(&key).await?;
    let secret = new_secret();
    let expires = tx.now() + SESSION_LENGTH;
    tx.insert_session(&hash_secret(&secret), user.id, &new_secret(), expires)
        .await?;
    tx.record_audit(&Caller::person(&user).label, "session.create", "signed in")
        .await?;
    tx.commit().await?;
    Ok(SignIn::Welcome(secret))
}

/// Ends the session.
pub async fn sign_out(tx: &mut dyn Tx, viewer: &Viewer) -> ApiResult<()> {
    tx.delete_session(&viewer.session).await?;
    Ok(())
}

/// The `Set-Cookie` value that starts a session, or (with `None`) ends it.
pub fn session_cookie(secret: Option<&str>, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = match secret {
        Some(secret) => format!(
            "{COOKIE_NAME}={secret}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
            SESSION_LENGTH.as_secs()
        ),
        None => format!("{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"),
    };
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A redirect that also sets (or clears) the session cookie.
pub fn redirect_with_cookie(to: &str, cookie: HeaderValue) -> Response {
    let mut response = Redirect::to(to).into_response();
    response.headers_mut().insert(SET_COOKIE, cookie);
    response
}

/// Only local paths are followed after sign-in, so the sign-in page cannot send anyone
/// elsewhere.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => {
            path.to_owned()
        }
        _ => "/now".to_owned(),
    }
}

/// A pause before answering a refused sign-in, so guessing is slow even below the limit.
pub const REFUSAL_DELAY: Duration = Duration::from_millis(300);

/// A file posted from a page's form (multipart), with the form's CSRF token checked.
pub struct Uploaded {
    pub viewer: Viewer,
    pub bytes: axum::body::Bytes,
    /// The name the browser gave the file, if any.
    pub filename: Option<String>,
    /// The type the browser gave the file, if any.
    pub content_type: Option<String>,
}

/// Reads the multipart form of a signed-in person: the CSRF token and the one file field
/// `field` (an empty file counts as none). `limit` names the size in refusals.
pub async fn read_upload(
    state: &AppState,
    request: Request,
    field: &'static str,
    limit: &str,
) -> Result<Uploaded, WebError> {
    let (mut parts, body) = request.into_parts();
    same_origin(&parts.headers)?;
    let viewer = Viewer::from_request_parts(&mut parts, state).await?;
    let request = Request::from_parts(parts, body);
    let mut multipart = axum::extract::Multipart::from_request(request, state)
        .await
        .map_err(|_| ApiError::invalid(field, "send the form as multipart/form-data"))?;
    let bad = |_| ApiError::invalid(field, "the upload could not be read");
    let (mut csrf, mut file) = (String::new(), None);
    while let Some(part) = multipart.next_field().await.map_err(bad)? {
        match part.name() {
            Some("csrf") => csrf = part.text().await.map_err(bad)?,
            Some(name) if name == field => {
                let filename = part.file_name().map(str::to_owned);
                let content_type = part.content_type().map(str::to_owned);
                let bytes = part.bytes().await.map_err(|_| {
                    ApiError::new(
                        ErrorCode::PayloadTooLarge,
                        format!("a file may be at most {limit}"),
                    )
                })?;
                file = Some((bytes, filename, content_type));
            }
            _ => {}
        }
    }
    if !constant_time_eq(csrf.as_bytes(), viewer.csrf.as_bytes()) {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "this form has expired or did not come from watchbill; reload the page and try again",
        )
        .into());
    }
    let (bytes, filename, content_type) = file
        .filter(|(bytes, _, _)| !bytes.is_empty())
        .ok_or_else(|| ApiError::invalid(field, "choose a file to upload"))?;
    Ok(Uploaded {
        viewer,
        bytes,
        filename,
        content_type,
    })
}

//! Sign-in, sign-out and password change pages.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::session::{
    self, read_form, redirect_with_cookie, safe_next, same_origin, session_cookie, SignIn, Viewer,
    MIN_PASSWORD, REFUSAL_DELAY,
};
use super::{render, Plain, Posted, Shell, WebResult};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

pub async fn login_page(Query(query): Query<NextQuery>) -> Response {
    render(&login_form(
        None,
        safe_next(query.next.as_deref()),
        String::new(),
    ))
}

fn login_form(error: Option<String>, next: String, email: String) -> Plain<'static> {
    Plain {
        title: "Sign in",
        error,
        message: None,
        show_login: true,
        next,
        email,
    }
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    next: Option<String>,
}

pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> WebResult<Response> {
    same_origin(&headers)?;
    let form: LoginForm = read_form(&body)?;
    let next = safe_next(form.next.as_deref());
    match session::sign_in(&state, &form.email, &form.password).await? {
        SignIn::Welcome(secret) => Ok(redirect_with_cookie(
            &next,
            session_cookie(Some(&secret), state.secure_cookies),
        )),
        SignIn::Refused => {
            tokio::time::sleep(REFUSAL_DELAY).await;
            Ok((
                StatusCode::UNAUTHORIZED,
                render(&login_form(
                    Some("That email and password do not match.".to_owned()),
                    next,
                    form.email,
                )),
            )
                .into_response())
        }
        SignIn::Throttled => Ok((
            StatusCode::TOO_MANY_REQUESTS,
            render(&login_form(
                Some(format!(
                    "Too many failed sign-ins for this address; try again in {} minutes.",
                    session::FAILURE_WINDOW.as_mins()
                )),
                next,
                form.email,
            )),
        )
            .into_response()),
    }
}

#[derive(Debug, Deserialize)]
pub struct Empty {}

pub async fn logout(
    State(state): State<AppState>,
    Posted { viewer, .. }: Posted<Empty>,
) -> WebResult<Response> {
    let mut tx = state.store.write().await?;
    session::sign_out(tx.as_mut(), &viewer).await?;
    tx.commit().await?;
    Ok(redirect_with_cookie(
        "/login",
        session_cookie(None, state.secure_cookies),
    ))
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    shell: Shell,
    error: Option<String>,
    min_length: usize,
}

pub async fn password_page(viewer: Viewer) -> Response {
    render(&PasswordPage {
        shell: Shell::new(&viewer, ""),
        error: None,
        min_length: MIN_PASSWORD,
    })
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    current: String,
    new: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    Posted { viewer, form }: Posted<PasswordForm>,
) -> WebResult<Response> {
    let refuse = |viewer: &Viewer, status: StatusCode, error: String| {
        (
            status,
            render(&PasswordPage {
                shell: Shell::new(viewer, ""),
                error: Some(error),
                min_length: MIN_PASSWORD,
            }),
        )
            .into_response()
    };
    if let Err(error) = session::acceptable_password(&form.new) {
        return Ok(refuse(
            &viewer,
            StatusCode::BAD_REQUEST,
            error.message.into(),
        ));
    }
    let stored = {
        let mut tx = state.store.read().await?;
        tx.password_hash(viewer.user.id).await?
    };
    if !session::verify_password(form.current, stored).await {
        tokio::time::sleep(REFUSAL_DELAY).await;
        return Ok(refuse(
            &viewer,
            StatusCode::FORBIDDEN,
            "The current password is not right.".to_owned(),
        ));
    }
    let hash = session::hash_password(form.new).await?;
    let mut tx = state.store.write().await?;
    tx.set_password(viewer.user.id, &hash).await?;
    tx.delete_other_sessions(viewer.user.id, &viewer.session)
        .await?;
    tx.record_audit(
        &viewer.caller().label,
        "user.password",
        &format!("user {}", viewer.user.id),
    )
    .await?;
    tx.commit().await?;
    let mut page = PasswordPage {
        shell: Shell::new(&viewer, ""),
        error: None,
        min_length: MIN_PASSWORD,
    };
    page.shell.notice = Some("Your password is changed.".to_owned());
    Ok(render(&page))
}

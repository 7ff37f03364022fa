//! A person's page: their photo, contact methods with a test button, and notification rules.
//! People edit their own; managers and admins anyone's (the API's rule, checked there).

use std::io::Cursor;

use askama::Template;
use axum::extract::{Path, Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use image::{ImageReader, Limits};
use serde::Deserialize;
use watchbill_core::{Role, UserId};
use watchbill_store::model::UserInput;
use watchbill_store::new_secret;

use super::format::initials;
use super::session::{read_upload, Uploaded};
use super::{render, see_other, Posted, Shell, Viewer, WebResult};
use crate::api::contacts::{
    add_method, add_rule, remove_method, remove_rule, send_test, ContactMethodBody, RuleBody, KINDS,
};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::state::AppState;

/// The side of the square a photo is stored at.
const PHOTO_SIDE: u32 = 256;
/// The largest photo accepted for upload.
pub const PHOTO_LIMIT: usize = 8 * 1024 * 1024;

struct MethodRow {
    id: i64,
    kind: String,
    address: String,
    label: String,
}

#[derive(Template)]
#[template(path = "person.html")]
struct PersonPage {
    shell: Shell,
    id: i64,
    name: String,
    email: String,
    role: String,
    zone: String,
    photo: Option<String>,
    initials: String,
    can_edit: bool,
    methods: Vec<MethodRow>,
    rules: Vec<(i64, String)>,
    kinds: [&'static str; 5],
    /// The outcome of a test notification: (delivered, what happened).
    result: Option<(bool, String)>,
}

/// Whether `viewer` may change `id`'s contact details (the API checks again).
fn may_edit(viewer: &Viewer, id: i64) -> bool {
    (viewer.user.id == UserId(id) && viewer.can(Role::Responder)) || viewer.can(Role::Manager)
}

async fn person_page(
    state: &AppState,
    viewer: &Viewer,
    id: i64,
    result: Option<(bool, String)>,
) -> ApiResult<PersonPage> {
    let mut tx = state.store.read().await?;
    let user = tx.user(UserId(id)).await?;
    let methods = tx.contact_methods(user.id).await?;
    let rules = tx
        .rules(user.id)
        .await?
        .into_iter()
        .map(|r| {
            let method = methods
                .iter()
                .find(|m| m.id == r.contact_method_id)
                .map(|m| format!("{} {}", m.kind, m.address))
                .unwrap_or_default();
            let when = match r.delay_seconds {
                0 => "at once".to_owned(),
                s if s % 60 == 0 => format!("after {} min", s / 60),
                s => format!("after {s} s"),
            };
            (r.id, format!("{method}, {when}"))
        })
        .collect();
    Ok(PersonPage {
        shell: Shell::new(viewer, "people"),
        id,
        initials: initials(&user.name),
        name: user.name,
        email: user.email,
        role: user.role.to_string(),
        zone: user.time_zone,
        photo: user.photo_url,
        can_edit: may_edit(viewer, id),
        methods: methods
            .into_iter()
            .map(|m| MethodRow {
                id: m.id,
                kind: m.kind,
                address: m.address,
                label: m.label,
            })
            .collect(),
        rules,
        kinds: KINDS,
        result,
    })
}

pub async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    Ok(render(&person_page(&state, &viewer, id, None).await?))
}

#[derive(Debug, Deserialize)]
pub struct MethodForm {
    kind: String,
    address: String,
    #[serde(default)]
    label: String,
}

pub async fn create_method(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Posted { viewer, form }: Posted<MethodForm>,
) -> WebResult<Response> {
    let body = ContactMethodBody {
        kind: form.kind,
        address: form.address,
        label: form.label.trim().to_owned(),
    };
    add_method(&state, &viewer.caller(), id, &body).await?;
    Ok(see_other(&format!("/people/{id}")))
}

pub async fn delete_method(
    State(state): State<AppState>,
    Path((id, method)): Path<(i64, i64)>,
    Posted { viewer, .. }: Posted<super::account::Empty>,
) -> WebResult<Response> {
    remove_method(&state, &viewer.caller(), id, method).await?;
    Ok(see_other(&format!("/people/{id}")))
}

/// Sends a test notification and shows how it went.
pub async fn test_method(
    State(state): State<AppState>,
    Path((id, method)): Path<(i64, i64)>,
    Posted { viewer, .. }: Posted<super::account::Empty>,
) -> WebResult<Response> {
    let outcome = send_test(&state, &viewer.caller(), id, method).await?;
    let result = if outcome.delivered {
        (true, format!("Test notification sent: {}.", outcome.detail))
    } else {
        (
            false,
            format!("The test notification failed: {}.", outcome.detail),
        )
    };
    Ok(render(
        &person_page(&state, &viewer, id, Some(result)).await?,
    ))
}

#[derive(Debug, Deserialize)]
pub struct RuleForm {
    contact_method_id: i64,
    #[serde(default)]
    delay_minutes: i64,
}

pub async fn create_rule(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Posted { viewer, form }: Posted<RuleForm>,
) -> WebResult<Response> {
    let body = RuleBody {
        contact_method_id: form.contact_method_id,
        delay_seconds: form.delay_minutes.saturating_mul(60),
    };
    add_rule(&state, &viewer.caller(), id, &body).await?;
    Ok(see_other(&format!("/people/{id}")))
}

pub async fn delete_rule(
    State(state): State<AppState>,
    Path((id, rule)): Path<(i64, i64)>,
    Posted { viewer, .. }: Posted<super::account::Empty>,
) -> WebResult<Response> {
    remove_rule(&state, &viewer.caller(), id, rule).await?;
    Ok(see_other(&format!("/people/{id}")))
}

/// Decodes a PNG or JPEG (refusing huge dimensions before decoding them), crops it to a
/// centred square and stores it as a 256-pixel JPEG.
fn shrink(bytes: Vec<u8>) -> ApiResult<Vec<u8>> {
    let unreadable = |_| {
        ApiError::invalid(
            "photo",
            "the photo could not be read; upload a PNG or JPEG image",
        )
    };
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(unreadable)?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(10_000);
    limits.max_image_height = Some(10_000);
    limits.max_alloc = Some(256 * 1024 * 1024);
    reader.limits(limits);
    let image = reader.decode().map_err(|e| {
        ApiError::invalid(
            "photo",
            format!("the photo could not be read ({e}); upload a PNG or JPEG image"),
        )
    })?;
    let square = image
        .resize_to_fill(
            PHOTO_SIDE,
            PHOTO_SIDE,
            image::imageops::FilterType::Triangle,
        )
        .to_rgb8();
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode_image(&square)
        .map_err(|e| {
            tracing::error!(%e, "encoding a photo failed");
            ApiError::new(ErrorCode::Internal, "internal error")
        })?;
    Ok(out)
}

/// Takes an uploaded photo (multipart, with the form's CSRF token), resizes it and makes it
/// the person's face on the wall.
pub async fn upload_photo(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    request: Request,
) -> WebResult<Response> {
    let Uploaded {
        viewer,
        bytes: photo,
        ..
    } = read_upload(&state, request, "photo", "8 MiB").await?;
    if !may_edit(&viewer, id) {
        return Err(
            ApiError::new(ErrorCode::Forbidden, "you may change only your own photo").into(),
        );
    }
    let jpeg = tokio::task::spawn_blocking(move || shrink(photo.to_vec()))
        .await
        .map_err(|_| ApiError::new(ErrorCode::Internal, "internal error"))??;
    let token = new_secret();
    let mut tx = state.store.write().await?;
    let user = tx.user(UserId(id)).await?;
    tx.set_photo(user.id, &token, "image/jpeg", &jpeg).await?;
    tx.update_user(
        user.id,
        &UserInput {
            name: user.name.clone(),
            email: user.email.clone(),
            time_zone: user.time_zone.clone(),
            photo_url: Some(format!("/photos/{token}")),
            role: user.role,
        },
    )
    .await?;
    tx.record_audit(&viewer.caller().label, "user.photo", &format!("user {id}"))
        .await?;
    tx.commit().await?;
    Ok(see_other(&format!("/people/{id}")))
}

/// Serves a photo at its secret URL; a new upload gets a new URL, so it may be cached long.
pub async fn photo(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> WebResult<Response> {
    let mut tx = state.store.read().await?;
    let photo = tx
        .photo_by_token(&token)
        .await?
        .ok_or_else(|| ApiError::not_found("this photo"))?;
    let content_type = HeaderValue::from_str(&photo.content_type)
        .unwrap_or(HeaderValue::from_static("image/jpeg"));
    Ok((
        [
            (CONTENT_TYPE, content_type),
            (
                CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=86400"),
            ),
        ],
        photo.data,
    )
        .into_response())
}

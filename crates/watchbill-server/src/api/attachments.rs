//! `/api/v1/tickets/{key}/attachments`: files attached to a ticket (logs, screenshots), kept in
//! the database beside it.
//!
//! A download is always served as an attachment with `nosniff`, so an uploaded HTML or SVG file
//! never runs as a page of watchbill's origin.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use watchbill_core::tickets::TicketKey;
use watchbill_core::Role;
use watchbill_store::tickets::Attachment;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiBytes, ApiPath, ApiQuery};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload, list))
        .routes(routes!(download))
}

/// The largest file accepted.
pub const ATTACHMENT_LIMIT: usize = 10 * 1024 * 1024;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttachmentView {
    pub id: i64,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub uploaded_by: String,
    pub created_at: Timestamp,
}

impl From<Attachment> for AttachmentView {
    fn from(a: Attachment) -> AttachmentView {
        AttachmentView {
            id: a.id,
            filename: a.filename,
            content_type: a.content_type,
            size: a.size,
            uploaded_by: a.uploaded_by,
            created_at: a.created_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The file's name, without directories.
    pub filename: String,
}

fn key(text: &str) -> ApiResult<TicketKey> {
    text.parse()
        .map_err(|e: String| ApiError::invalid("key", e))
}

/// A file name as people see it: no directories, no control characters, at most 255 bytes.
fn filename(text: &str) -> ApiResult<String> {
    let name = text.trim();
    let fine = !name.is_empty()
        && name.len() <= 255
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control());
    if fine {
        Ok(name.to_owned())
    } else {
        Err(ApiError::invalid(
            "filename",
            "a file name is 1 to 255 bytes, without `/`, `\\` or control characters",
        ))
    }
}

/// Attaches the request body to the ticket as a file (responder). The body's Content-Type is
/// kept; the name comes from `?filename=`.
#[utoipa::path(post, path = "/api/v1/tickets/{key}/attachments", tag = "tickets",
    params(("key" = String, Path, description = "`UF-123`"), UploadQuery),
    request_body(content = Vec<u8>, description = "The file's bytes", content_type = "application/octet-stream"),
    responses((status = 201, body = AttachmentView), (status = 400, body = ApiError), (status = 404, body = ApiError), (status = 413, body = ApiError)),
    security(("token" = [])))]
pub(crate) async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(text): ApiPath<String>,
    ApiQuery(query): ApiQuery<UploadQuery>,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> ApiResult<(StatusCode, Json<AttachmentView>)> {
    caller.require(Role::Responder)?;
    let key = key(&text)?;
    let name = filename(&query.filename)?;
    if body.is_empty() {
        return Err(ApiError::invalid("body", "the file is empty"));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 255)
        .unwrap_or("application/octet-stream");
    let mut tx = state.store.write().await?;
    let ticket = tx.ticket_by_key(&key).await?;
    let attachment = tx
        .add_attachment(ticket.id, &name, content_type, &body, &caller.label)
        .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(attachment.into())))
}

/// A ticket's attachments, oldest first.
#[utoipa::path(get, path = "/api/v1/tickets/{key}/attachments", tag = "tickets",
    params(("key" = String, Path, description = "`UF-123`")),
    responses((status = 200, body = [AttachmentView]), (status = 404, body = ApiError)), security(("token" = [])))]
async fn list(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(text): ApiPath<String>,
) -> ApiResult<Json<Vec<AttachmentView>>> {
    let key = key(&text)?;
    let mut tx = state.store.read().await?;
    let ticket = tx.ticket_by_key(&key).await?;
    let list = tx.attachments(ticket.id).await?;
    Ok(Json(list.into_iter().map(AttachmentView::from).collect()))
}

/// Downloads an attachment, as an attachment.
#[utoipa::path(get, path = "/api/v1/tickets/{key}/attachments/{id}", tag = "tickets",
    params(("key" = String, Path, description = "`UF-123`"), ("id" = i64, Path, description = "Attachment id")),
    responses((status = 200, description = "The file", content_type = "application/octet-stream"), (status = 404, body = ApiError)),
    security(("token" = [])))]
pub(crate) async fn download(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath((text, id)): ApiPath<(String, i64)>,
) -> ApiResult<Response> {
    let key = key(&text)?;
    let mut tx = state.store.read().await?;
    let ticket = tx.ticket_by_key(&key).await?;
    let (attachment, data) = tx.attachment(ticket.id, id).await?;
    let content_type = HeaderValue::from_str(&attachment.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    // The name is quoted, with quotes and backslashes escaped, and non-ASCII replaced; the
    // full name is in the listing.
    let quoted: String = attachment
        .filename
        .chars()
        .map(|c| match c {
            '"' | '\\' => '_',
            c if c.is_ascii() => c,
            _ => '_',
        })
        .collect();
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{quoted}\""))
        .unwrap_or(HeaderValue::from_static("attachment"));
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_DISPOSITION, disposition),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        data,
    )
        .into_response())
}

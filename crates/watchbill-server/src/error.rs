//! The one error type of the HTTP layer, and its stable error codes.
//!
//! Every failure a client can see is an [`ApiError`] rendered as `{code, message, field?}`. The
//! codes are part of the API and never change meaning; the messages are for people. A 500
//! says nothing about its cause: the details go to the log.

use std::borrow::Cow;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use watchbill_store::{DatabaseError, StoreError};

/// The stable error codes, with the HTTP status each one is sent with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: the request is malformed or a value is out of range.
    InvalidInput,
    /// 401: no token, or an unknown one.
    Unauthorized,
    /// 403: the token's role does not allow this.
    Forbidden,
    /// 404: the thing named does not exist.
    NotFound,
    /// 409: a unique name is taken, or the thing is still in use.
    Conflict,
    /// 413: the body is larger than the limit.
    PayloadTooLarge,
    /// 422: a reference points at nothing.
    UnknownReference,
    /// 429: too many requests for this key; retry later.
    RateLimited,
    /// 500: something failed on our side; see the server log.
    Internal,
    /// 503: the database is unreachable; retry later.
    Unavailable,
}

impl ErrorCode {
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::InvalidInput => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UnknownReference => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// The body of every error response.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: Cow<'static, str>,
    /// The input field at fault, as a path such as `layers[0].participants[1]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<Cow<'static, str>>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            field: None,
        }
    }

    pub fn invalid(
        field: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> ApiError {
        ApiError {
            code: ErrorCode::InvalidInput,
            message: message.into(),
            field: Some(field.into()),
        }
    }

    pub fn not_found(message: impl Into<Cow<'static, str>>) -> ApiError {
        ApiError::new(ErrorCode::NotFound, message)
    }

    /// Puts `prefix` in front of the field path, for errors from nested input.
    pub fn within(mut self, prefix: &str) -> ApiError {
        self.field = Some(match self.field {
            Some(field) if field.starts_with('[') => format!("{prefix}{field}").into(),
            Some(field) => format!("{prefix}.{field}").into(),
            None => prefix.to_owned().into(),
        });
        self
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        match error {
            StoreError::NotFound { what } => {
                ApiError::new(ErrorCode::NotFound, format!("{what} not found"))
            }
            StoreError::Conflict { what } => {
                ApiError::new(ErrorCode::Conflict, format!("{what} already exists"))
            }
            StoreError::Changed { what } => ApiError::new(
                ErrorCode::Conflict,
                format!("{what} changed meanwhile; try again"),
            ),
            StoreError::Reference {
                message,
                field: Some(field),
            } => ApiError {
                code: ErrorCode::UnknownReference,
                message,
                field: Some(field),
            },
            StoreError::Reference {
                message,
                field: None,
            } => ApiError::new(ErrorCode::Conflict, message),
            StoreError::Database(error) => {
                tracing::error!(%error, "database error");
                let unreachable = matches!(
                    error,
                    DatabaseError::PoolTimedOut | DatabaseError::PoolClosed | DatabaseError::Io(_)
                );
                // A retryable failure (busy, deadlock) or an unreachable database is the
                // client's cue to try again; anything else is our fault.
                let retryable = StoreError::Database(error).is_retryable();
                if retryable || unreachable {
                    ApiError::new(
                        ErrorCode::Unavailable,
                        "the database is unavailable; try again shortly",
                    )
                } else {
                    ApiError::new(ErrorCode::Internal, "internal error")
                }
            }
            StoreError::Migration(message) | StoreError::Corrupt(message) => {
                tracing::error!(%message, "store error");
                ApiError::new(ErrorCode::Internal, "internal error")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.code.status(), Json(self)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

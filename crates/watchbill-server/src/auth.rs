//! Bearer-token authentication and role checks.
//!
//! Tokens are random secrets shown once; the store keeps only their SHA-256. Every API route
//! takes a [`Caller`], so a route cannot forget to authenticate; each handler then states the
//! role it needs with [`Caller::require`].

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use watchbill_core::{Role, UserId};
use watchbill_store::hash_secret;
use watchbill_store::model::User;

use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// Who is making the request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub role: Role,
    pub user: Option<UserId>,
    /// How the audit log names this caller, e.g. `token:3 (ci)`.
    pub label: String,
}

impl Caller {
    /// A person signed in to the web pages acts with their own role.
    pub fn person(user: &User) -> Caller {
        Caller {
            role: user.role,
            user: Some(user.id),
            label: format!("user:{} ({})", user.id, user.email),
        }
    }

    /// Refuses the request unless the caller's role includes `role`.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role.allows(role) {
            Ok(())
        } else {
            Err(ApiError::new(
                ErrorCode::Forbidden,
                format!("this needs the {role} role; you have {}", self.role),
            ))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::Unauthorized,
                    "send an API token as `Authorization: Bearer <token>`",
                )
            })?;
        let secret = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|secret| !secret.is_empty())
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::Unauthorized,
                    "the Authorization header must be `Bearer <token>`",
                )
            })?;
        let mut tx = state.store.read().await?;
        let token = tx
            .find_token_by_hash(&hash_secret(secret))
            .await?
            .ok_or_else(|| {
                ApiError::new(ErrorCode::Unauthorized, "unknown or revoked API token")
            })?;
        Ok(Caller {
            role: token.role,
            user: token.user_id,
            label: format!("token:{} ({})", token.id, token.name),
        })
    }
}

//! `POST /integrations/code/{id}`: push webhooks from GitHub, GitLab and Gitea. Each commit is
//! recorded for the service's team and linked to the tickets its message names, so a ticket
//! shows the commits that worked on it and the handoff report can count what the captain's
//! commits touched.
//!
//! The three forges describe a push with the same shape (`commits[]` with `id`, `message`,
//! `timestamp`, `author.email`, `added`, `modified`), and differ in how they prove who sent it:
//! GitHub signs the body with HMAC-SHA256 in `X-Hub-Signature-256: sha256=<hex>`, Gitea in
//! `X-Gitea-Signature: <hex>`, and GitLab sends the secret itself in `X-Gitlab-Token`. The
//! secret is the integration's key.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use watchbill_core::code::ticket_keys_in;
use watchbill_core::IntegrationId;
use watchbill_store::paging::{Integration, IntegrationKind};
use watchbill_store::tickets::Commit;

use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::extract::{ApiBytes, ApiPath};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(push))
}

/// The largest push body accepted; GitHub caps its payloads at 25 MB, but a push of
/// ordinary commits stays well under this.
pub const PUSH_BODY_LIMIT: usize = 8 * 1024 * 1024;

/// The most commits one push may carry; GitHub itself sends at most 2048.
const MAX_COMMITS: usize = 5_000;

#[derive(Debug, Serialize, ToSchema)]
pub struct PushAnswer {
    /// The commits the push carried; a commit delivered twice is recorded once.
    pub commits: usize,
    /// The ticket keys linked to a commit, as `UF-12`.
    pub linked: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct PushBody {
    #[serde(default)]
    repository: Option<Repository>,
    /// GitLab names the repository as a project.
    #[serde(default)]
    project: Option<Project>,
    #[serde(default)]
    commits: Vec<PushedCommit>,
}

#[derive(Debug, Deserialize)]
struct Repository {
    #[serde(default)]
    full_name: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Project {
    path_with_namespace: String,
}

#[derive(Debug, Deserialize)]
struct PushedCommit {
    id: String,
    message: String,
    timestamp: Timestamp,
    author: Author,
    #[serde(default)]
    added: Vec<String>,
    #[serde(default)]
    modified: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Author {
    #[serde(default)]
    email: String,
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(ErrorCode::Unauthorized, message.to_owned())
}

/// Equal without revealing, through timing, how much of a guess was right.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks the forge's proof that the sender knows the integration's key.
fn authenticate(headers: &HeaderMap, secret: &str, body: &[u8]) -> ApiResult<()> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let signature = header("x-hub-signature-256")
        .map(|v| v.strip_prefix("sha256=").unwrap_or(v))
        .or_else(|| header("x-gitea-signature"));
    if let Some(signature) = signature {
        let signature = hex::decode(signature.trim())
            .map_err(|_| unauthorized("the signature is not hexadecimal"))?;
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
            .map_err(|_| unauthorized("the signature cannot be checked"))?;
        mac.update(body);
        return mac
            .verify_slice(&signature)
            .map_err(|_| unauthorized("the signature does not match the integration's key"));
    }
    if let Some(token) = header("x-gitlab-token") {
        return if same_secret(token.as_bytes(), secret.as_bytes()) {
            Ok(())
        } else {
            Err(unauthorized(
                "X-Gitlab-Token does not match the integration's key",
            ))
        };
    }
    Err(unauthorized(
        "sign the push with the integration's key: X-Hub-Signature-256 (GitHub), X-Gitea-Signature (Gitea) or X-Gitlab-Token (GitLab)",
    ))
}

/// Whether the delivery is a push; pings and other events are acknowledged and ignored.
fn is_push(headers: &HeaderMap) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    match (
        header("x-github-event"),
        header("x-gitea-event"),
        header("x-gitlab-event"),
    ) {
        (Some(event), _, _) | (None, Some(event), _) => event == "push",
        (None, None, Some(event)) => event == "Push Hook",
        (None, None, None) => true,
    }
}

/// Receives a push from GitHub, GitLab or Gitea and links its commits to tickets.
#[utoipa::path(post, path = "/integrations/code/{id}", tag = "intake", params(("id" = i64, Path, description = "Integration id")),
    request_body(content = String, description = "A GitHub, GitLab or Gitea push event", content_type = "application/json"),
    responses((status = 202, body = PushAnswer), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 404, body = ApiError)))]
async fn push(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> ApiResult<(StatusCode, Json<PushAnswer>)> {
    let integration: Integration = {
        let mut tx = state.store.read().await?;
        tx.integrations(None)
            .await?
            .into_iter()
            .find(|i| i.id == IntegrationId(id) && i.kind == IntegrationKind::CodePush)
            .ok_or_else(|| ApiError::not_found(format!("code integration {id}")))?
    };
    authenticate(&headers, &integration.secret, &body)?;
    if !is_push(&headers) {
        return Ok((
            StatusCode::ACCEPTED,
            Json(PushAnswer {
                commits: 0,
                linked: Vec::new(),
            }),
        ));
    }
    let push: PushBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidInput,
            format!("the body is not a push event: {e}"),
        )
    })?;
    if push.commits.len() > MAX_COMMITS {
        return Err(ApiError::invalid(
            "commits",
            format!("a push may carry at most {MAX_COMMITS} commits"),
        ));
    }
    let repository = push
        .project
        .map(|p| p.path_with_namespace)
        .or_else(|| push.repository.and_then(|r| r.full_name.or(r.name)))
        .ok_or_else(|| ApiError::invalid("repository", "the push names no repository"))?;

    let mut tx = state.store.write().await?;
    let team = tx.service(integration.service_id).await?.team_id;
    let (mut recorded, mut linked) = (0, Vec::new());
    for pushed in push.commits {
        let keys = ticket_keys_in(&pushed.message);
        let commit = Commit {
            repository: repository.clone(),
            sha: pushed.id,
            author_email: pushed.author.email,
            message: pushed.message,
            committed_at: pushed.timestamp,
            added: pushed.added,
            modified: pushed.modified,
        };
        let found = tx.record_commit(team, &commit, &keys).await?;
        recorded += 1;
        for key in found {
            let key = key.to_string();
            if !linked.contains(&key) {
                linked.push(key);
            }
        }
    }
    tx.commit().await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(PushAnswer {
            commits: recorded,
            linked,
        }),
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn checks_each_forges_proof() {
        let body = br#"{"commits":[]}"#;
        let mut mac = Hmac::<Sha256>::new_from_slice(b"key").unwrap();
        mac.update(body);
        let good = hex::encode(mac.finalize().into_bytes());
        let mut github = HeaderMap::new();
        github.insert(
            "x-hub-signature-256",
            format!("sha256={good}").parse().unwrap(),
        );
        assert!(authenticate(&github, "key", body).is_ok());
        assert!(authenticate(&github, "other", body).is_err());
        let mut gitea = HeaderMap::new();
        gitea.insert("x-gitea-signature", good.parse().unwrap());
        assert!(authenticate(&gitea, "key", body).is_ok());
        assert!(authenticate(&gitea, "key", b"tampered").is_err());
        let mut gitlab = HeaderMap::new();
        gitlab.insert("x-gitlab-token", "key".parse().unwrap());
        assert!(authenticate(&gitlab, "key", body).is_ok());
        assert!(authenticate(&gitlab, "kez", body).is_err());
        assert!(authenticate(&HeaderMap::new(), "key", body).is_err());
    }
}

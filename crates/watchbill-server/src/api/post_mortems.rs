//! `/api/v1/post-mortems`: a write-up of one or more incidents. Writing one starts from a
//! template whose timeline is filled from the incidents' timelines, with the figures (time to
//! acknowledge and resolve, pages, people paged, out of hours) computed, not typed. It moves
//! from draft through review to published, and exports as Markdown.

use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use watchbill_core::Role;
use watchbill_store::post_mortems::{PostMortem, PostMortemInput};

use super::incidents::parse_incident;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_post_mortems, create_post_mortem))
        .routes(routes!(get_post_mortem, update_post_mortem))
        .routes(routes!(export_markdown))
}

/// The statuses, in order.
const STATUSES: [&str; 3] = ["draft", "in_review", "published"];

/// What the incidents of a post-mortem measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct Figures {
    pub incidents: usize,
    /// Pages sent (notifications), and the distinct people they went to.
    pub pages: usize,
    pub people_paged: usize,
    /// Incidents opened outside 08:00–18:00 on weekdays (UTC).
    pub out_of_hours: usize,
    /// The longest time to acknowledge and to resolve, in minutes.
    pub minutes_to_acknowledge: Option<f64>,
    pub minutes_to_resolve: Option<f64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PostMortemView {
    pub id: i64,
    /// `PM-12`.
    pub number: String,
    pub team_id: i64,
    pub title: String,
    /// Markdown.
    pub body: String,
    pub status: String,
    pub figures: Figures,
    /// `INC-42`.
    pub incidents: Vec<String>,
    pub created_by: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub published_at: Option<Timestamp>,
}

impl From<PostMortem> for PostMortemView {
    fn from(p: PostMortem) -> PostMortemView {
        PostMortemView {
            id: p.id,
            number: format!("PM-{}", p.id),
            team_id: p.input.team_id.0,
            title: p.input.title,
            body: p.input.body,
            status: p.status,
            figures: serde_json::from_str(&p.input.figures).unwrap_or_default(),
            incidents: p
                .input
                .incidents
                .iter()
                .map(|i| format!("INC-{i}"))
                .collect(),
            created_by: p.input.created_by,
            created_at: p.created_at,
            updated_at: p.updated_at,
            published_at: p.published_at,
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPostMortemBody {
    /// `INC-42` or `42`; at least one, all of one team.
    pub incidents: Vec<String>,
    /// Default: the first incident's title.
    #[serde(default)]
    pub title: Option<String>,
}

fn minutes(from: Timestamp, to: Timestamp) -> f64 {
    (to.as_second() - from.as_second()) as f64 / 60.0
}

fn out_of_hours(at: Timestamp) -> bool {
    let local = at.to_zoned(jiff::tz::TimeZone::UTC);
    let weekend = matches!(
        local.weekday(),
        jiff::civil::Weekday::Saturday | jiff::civil::Weekday::Sunday
    );
    weekend || !(8..18).contains(&local.hour())
}

/// Writes a post-mortem of incidents (responder): the template's sections, the timeline filled
/// from the incidents' timelines, and the figures computed from them.
#[utoipa::path(post, path = "/api/v1/post-mortems", tag = "post-mortems", request_body = NewPostMortemBody,
    responses((status = 201, body = PostMortemView), (status = 400, body = ApiError), (status = 404, body = ApiError)),
    security(("token" = [])))]
async fn create_post_mortem(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewPostMortemBody>,
) -> ApiResult<(StatusCode, Json<PostMortemView>)> {
    caller.require(Role::Responder)?;
    if body.incidents.is_empty() {
        return Err(ApiError::invalid("incidents", "name at least one incident"));
    }
    let ids = body
        .incidents
        .iter()
        .enumerate()
        .map(|(i, text)| parse_incident(text, &format!("incidents[{i}]")))
        .collect::<ApiResult<BTreeSet<_>>>()?;
    let mut tx = state.store.write().await?;
    let mut team = None;
    let mut figures = Figures::default();
    let (mut people, mut timeline) = (BTreeSet::new(), Vec::new());
    let mut first_title = None;
    for id in &ids {
        let incident = tx.incident(*id).await?;
        let service = tx.service(incident.service_id).await?;
        match team {
            None => team = Some(service.team_id),
            Some(team) if team != service.team_id => {
                return Err(ApiError::invalid(
                    "incidents",
                    "the incidents belong to different teams; write one post-mortem per team",
                ))
            }
            Some(_) => {}
        }
        first_title.get_or_insert_with(|| incident.title.clone());
        figures.incidents += 1;
        if out_of_hours(incident.created_at) {
            figures.out_of_hours += 1;
        }
        let longest =
            |current: Option<f64>, value: f64| Some(current.map_or(value, |c| c.max(value)));
        if let Some(at) = incident.acknowledged_at {
            figures.minutes_to_acknowledge = longest(
                figures.minutes_to_acknowledge,
                minutes(incident.created_at, at),
            );
        }
        if let Some(at) = incident.resolved_at {
            figures.minutes_to_resolve =
                longest(figures.minutes_to_resolve, minutes(incident.created_at, at));
        }
        for notification in tx.notifications(*id).await? {
            figures.pages += 1;
            people.insert(notification.input.user_id);
        }
        for entry in tx.incident_log(*id).await? {
            timeline.push((entry.at, format!("INC-{id}"), entry.kind, entry.message));
        }
    }
    figures.people_paged = people.len();
    timeline.sort();
    let team = team.ok_or_else(|| ApiError::invalid("incidents", "name at least one incident"))?;
    let title = body
        .title
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .or(first_title)
        .unwrap_or_default();
    let lines: Vec<String> = timeline
        .iter()
        .map(|(at, number, kind, message)| {
            format!(
                "- {} — {number} {kind}: {message}",
                at.strftime("%Y-%m-%d %H:%M UTC")
            )
        })
        .collect();
    let body_text = format!(
        "## Summary\n\n\n## Impact\n\n\n## Timeline\n\n{}\n\n## Root cause\n\n\n## What went well\n\n\n\
         ## What went wrong\n\n\n## Action items\n\n\n## How to tackle it next time\n\n",
        lines.join("\n")
    );
    let created = tx
        .insert_post_mortem(&PostMortemInput {
            team_id: team,
            title,
            body: body_text,
            figures: serde_json::to_string(&figures).unwrap_or_default(),
            incidents: ids.into_iter().collect(),
            created_by: caller.label.clone(),
        })
        .await?;
    tx.record_audit(
        &caller.label,
        "post_mortem.create",
        &format!("PM-{}", created.id),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// Lists post-mortems, newest first.
#[utoipa::path(get, path = "/api/v1/post-mortems", tag = "post-mortems",
    responses((status = 200, body = [PostMortemView])), security(("token" = [])))]
async fn list_post_mortems(
    State(state): State<AppState>,
    _caller: Caller,
) -> ApiResult<Json<Vec<PostMortemView>>> {
    let mut tx = state.store.read().await?;
    Ok(Json(
        tx.post_mortems(None)
            .await?
            .into_iter()
            .map(PostMortemView::from)
            .collect(),
    ))
}

fn number(text: &str) -> ApiResult<i64> {
    text.trim()
        .trim_start_matches("PM-")
        .trim_start_matches("pm-")
        .parse()
        .map_err(|_| ApiError::invalid("id", format!("`{text}` is not a post-mortem such as PM-3")))
}

/// Shows a post-mortem.
#[utoipa::path(get, path = "/api/v1/post-mortems/{id}", tag = "post-mortems",
    params(("id" = String, Path, description = "`PM-3` or `3`")),
    responses((status = 200, body = PostMortemView), (status = 404, body = ApiError)), security(("token" = [])))]
async fn get_post_mortem(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<PostMortemView>> {
    let mut tx = state.store.read().await?;
    Ok(Json(tx.post_mortem(number(&id)?).await?.into()))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostMortemPatch {
    #[serde(default)]
    pub title: Option<String>,
    /// Markdown.
    #[serde(default)]
    pub body: Option<String>,
    /// `draft`, `in_review` or `published`; it moves forward only.
    #[serde(default)]
    pub status: Option<String>,
}

/// Edits a post-mortem, or moves it on (responder).
#[utoipa::path(patch, path = "/api/v1/post-mortems/{id}", tag = "post-mortems", request_body = PostMortemPatch,
    params(("id" = String, Path, description = "`PM-3` or `3`")),
    responses((status = 200, body = PostMortemView), (status = 400, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)),
    security(("token" = [])))]
async fn update_post_mortem(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(patch): ApiJson<PostMortemPatch>,
) -> ApiResult<Json<PostMortemView>> {
    caller.require(Role::Responder)?;
    let id = number(&id)?;
    let mut tx = state.store.write().await?;
    let current = tx.post_mortem(id).await?;
    let status = patch.status.as_deref().unwrap_or(&current.status);
    let rank = |s: &str| STATUSES.iter().position(|x| *x == s);
    let (Some(from), Some(to)) = (rank(&current.status), rank(status)) else {
        return Err(ApiError::invalid(
            "status",
            format!("`{status}` is not a status; use draft, in_review or published"),
        ));
    };
    if to < from {
        return Err(ApiError::new(
            crate::error::ErrorCode::Conflict,
            format!(
                "a post-mortem that is {} cannot go back to {status}",
                current.status
            ),
        ));
    }
    let title = patch
        .title
        .as_deref()
        .unwrap_or(&current.input.title)
        .trim()
        .to_owned();
    if title.is_empty() || title.len() > 500 {
        return Err(ApiError::invalid("title", "a title of 1 to 500 characters"));
    }
    let body = patch.body.as_deref().unwrap_or(&current.input.body);
    if body.len() > 200_000 {
        return Err(ApiError::invalid("body", "at most 200,000 characters"));
    }
    let updated = tx.update_post_mortem(id, &title, body, status).await?;
    tx.record_audit(
        &caller.label,
        "post_mortem.update",
        &format!("PM-{id} {status}"),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(updated.into()))
}

/// The post-mortem as one Markdown document: title, figures and body.
#[utoipa::path(get, path = "/api/v1/post-mortems/{id}/markdown", tag = "post-mortems",
    params(("id" = String, Path, description = "`PM-3` or `3`")),
    responses((status = 200, description = "Markdown", content_type = "text/markdown"), (status = 404, body = ApiError)),
    security(("token" = [])))]
async fn export_markdown(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    let mut tx = state.store.read().await?;
    let view = PostMortemView::from(tx.post_mortem(number(&id)?).await?);
    let f = &view.figures;
    let minutes = |m: Option<f64>| m.map_or_else(|| "-".to_owned(), |m| format!("{m:.0} min"));
    let text = format!(
        "# {}: {}\n\nIncidents: {}. Status: {}.\n\n\
         | figure | value |\n|---|---|\n| incidents | {} |\n| pages | {} |\n| people paged | {} |\n\
         | out of hours | {} |\n| longest time to acknowledge | {} |\n| longest time to resolve | {} |\n\n{}",
        view.number,
        view.title,
        view.incidents.join(", "),
        view.status,
        f.incidents,
        f.pages,
        f.people_paged,
        f.out_of_hours,
        minutes(f.minutes_to_acknowledge),
        minutes(f.minutes_to_resolve),
        view.body
    );
    Ok(([(CONTENT_TYPE, "text/markdown; charset=utf-8")], text).into_response())
}

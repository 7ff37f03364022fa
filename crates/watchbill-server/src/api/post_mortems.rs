//! `/api/v1/post-mortems`: a write-up of one or more incidents. Writing one starts from the
//! team's template whose timeline is filled from the incidents' timelines, with the figures
//! (time to acknowledge and resolve, pages, people paged, out of hours) computed, not typed.
//! It moves from draft through review (reviewers named) to published, which sends it round;
//! the library searches them all, ranked. Comments, action items, team settings and the "seen
//! before" lookup are in `post_mortem_work.rs`.

use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use watchbill_core::post_mortem::fill_template;
use watchbill_core::tickets::TicketStatus;
use watchbill_core::{Role, ServiceId, TeamId, UserId};
use watchbill_store::post_mortems::{
    PostMortem, PostMortemInput, PostMortemQuery, PostMortemUpdate,
};
use watchbill_store::Tx;

use super::incidents::parse_incident;
use super::oncall::PersonView;
use super::post_mortem_work::ActionItemView;
use super::tickets::CommentView;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::post_mortems::{markdown, number, sending, Figures};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_post_mortems, create_post_mortem))
        .routes(routes!(get_post_mortem, update_post_mortem))
        .routes(routes!(export_markdown))
}

/// The statuses, in order.
const STATUSES: [&str; 3] = ["draft", "in_review", "published"];

/// A post-mortem in a list: everything but its body and discussion.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PostMortemSummary {
    pub id: i64,
    /// `PM-12`.
    pub number: String,
    pub team_id: i64,
    pub title: String,
    pub status: String,
    pub tags: Vec<String>,
    /// `INC-42`.
    pub incidents: Vec<String>,
    pub created_by: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub published_at: Option<Timestamp>,
    /// How well it matched the search text (higher is better; 0 without text).
    pub rank: f64,
}

impl PostMortemSummary {
    pub fn new(pm: &PostMortem, rank: f64) -> PostMortemSummary {
        PostMortemSummary {
            id: pm.id,
            number: number(pm.id),
            team_id: pm.input.team_id.0,
            title: pm.input.title.clone(),
            status: pm.status.clone(),
            tags: pm.input.tags.clone(),
            incidents: pm
                .input
                .incidents
                .iter()
                .map(|i| format!("INC-{i}"))
                .collect(),
            created_by: pm.input.created_by.clone(),
            created_at: pm.created_at,
            updated_at: pm.updated_at,
            published_at: pm.published_at,
            rank,
        }
    }
}

/// A post-mortem with its body, figures, reviewers, comments and action items.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PostMortemView {
    #[serde(flatten)]
    pub summary: PostMortemSummary,
    /// Markdown.
    pub body: String,
    pub figures: Figures,
    pub owner_id: Option<i64>,
    pub reviewers: Vec<PersonView>,
    pub comments: Vec<CommentView>,
    pub action_items: Vec<ActionItemView>,
    /// Action items resolved or closed.
    pub action_items_done: usize,
    /// Published, with every action item resolved or closed.
    pub complete: bool,
}

/// Everything about a post-mortem, read in `tx`.
pub(crate) async fn view(tx: &mut dyn Tx, pm: PostMortem) -> ApiResult<PostMortemView> {
    let mut reviewers = Vec::with_capacity(pm.reviewers.len());
    for id in &pm.reviewers {
        let user = tx.user(*id).await?;
        reviewers.push(PersonView {
            id: user.id.0,
            name: user.name,
            email: user.email,
            photo_url: user.photo_url,
        });
    }
    let comments = tx
        .post_mortem_comments(pm.id)
        .await?
        .into_iter()
        .map(CommentView::from)
        .collect();
    let action_items: Vec<ActionItemView> = tx
        .post_mortem_tickets(pm.id)
        .await?
        .into_iter()
        .map(ActionItemView::from)
        .collect();
    let done = action_items
        .iter()
        .filter(|a| {
            a.status == TicketStatus::Resolved.as_str() || a.status == TicketStatus::Closed.as_str()
        })
        .count();
    Ok(PostMortemView {
        summary: PostMortemSummary::new(&pm, 0.0),
        figures: Figures::of(&pm),
        owner_id: pm.input.owner.map(|u| u.0),
        complete: pm.status == "published" && done == action_items.len(),
        action_items_done: done,
        action_items,
        reviewers,
        comments,
        body: pm.input.body,
    })
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPostMortemBody {
    /// `INC-42` or `42`; at least one, all of one team.
    pub incidents: Vec<String>,
    /// Default: the first incident's title.
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
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

/// Tags: lower-case words of letters, digits and dashes, at most 20.
pub(crate) fn tags(list: &[String]) -> ApiResult<Vec<String>> {
    if list.len() > 20 {
        return Err(ApiError::invalid("tags", "at most 20 tags"));
    }
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for (i, tag) in list.iter().enumerate() {
        let tag = tag.trim().to_lowercase();
        let fine = !tag.is_empty()
            && tag.len() <= 40
            && tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !fine {
            return Err(ApiError::invalid(
                format!("tags[{i}]"),
                format!("`{tag}` is not a tag: letters, digits and dashes, at most 40"),
            ));
        }
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    Ok(out)
}

/// Writes a post-mortem of incidents (responder): the team's template, the timeline filled
/// from the incidents' timelines, and the figures computed from them.
#[utoipa::path(post, path = "/api/v1/post-mortems", tag = "post-mortems", request_body = NewPostMortemBody,
    responses((status = 201, body = PostMortemView), (status = 400, body = ApiError), (status = 404, body = ApiError)),
    security(("token" = [])))]
pub(crate) async fn create_post_mortem(
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
    let tags = tags(&body.tags)?;
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
    let template = crate::post_mortems::settings(tx.as_mut(), team)
        .await?
        .template;
    let created = tx
        .insert_post_mortem(&PostMortemInput {
            team_id: team,
            title,
            body: fill_template(&template, &lines.join("\n")),
            figures: serde_json::to_string(&figures).unwrap_or_default(),
            incidents: ids.into_iter().collect(),
            tags,
            created_by: caller.label.clone(),
            owner: caller.user,
        })
        .await?;
    tx.record_audit(&caller.label, "post_mortem.create", &number(created.id))
        .await?;
    let view = view(tx.as_mut(), created).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// What the library searches for.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PostMortemSearch {
    /// Free text: every word must match (as a prefix) the title, tags or body; ranked.
    pub q: Option<String>,
    pub team: Option<i64>,
    /// Post-mortems of an incident on this service.
    pub service: Option<i64>,
    pub tag: Option<String>,
    /// `draft`, `in_review` or `published`.
    pub status: Option<String>,
    /// Written at or after (RFC 3339 or a date).
    pub since: Option<String>,
    /// Written before (RFC 3339 or a date).
    pub until: Option<String>,
    /// At most this many (default 50, at most 500).
    pub limit: Option<i64>,
}

impl PostMortemSearch {
    pub fn query(&self, now: Timestamp) -> ApiResult<PostMortemQuery> {
        let limit = self.limit.unwrap_or(50);
        if !(1..=500).contains(&limit) {
            return Err(ApiError::invalid("limit", "between 1 and 500"));
        }
        let status = self.status.as_deref().filter(|s| !s.is_empty());
        if let Some(status) = status {
            if !STATUSES.contains(&status) {
                return Err(ApiError::invalid(
                    "status",
                    format!("`{status}` is not a status; use draft, in_review or published"),
                ));
            }
        }
        let instant =
            |text: &Option<String>, field: &str| match text.as_deref().filter(|s| !s.is_empty()) {
                Some(text) => super::instant(Some(text), now, field).map(Some),
                None => Ok(None),
            };
        let tag = match self.tag.as_deref().filter(|s| !s.is_empty()) {
            Some(tag) => tags(&[tag.to_owned()])
                .map_err(|e| ApiError::invalid("tag", e.message))?
                .pop(),
            None => None,
        };
        Ok(PostMortemQuery {
            text: self.q.clone().filter(|q| !q.trim().is_empty()),
            team: self.team.map(TeamId),
            service: self.service.map(ServiceId),
            tag,
            status: status.map(str::to_owned),
            since: instant(&self.since, "since")?,
            until: instant(&self.until, "until")?,
            limit,
        })
    }
}

/// Searches the library: ranked by how well the text matches (titles weigh most, then tags,
/// then the body), newest first without text.
#[utoipa::path(get, path = "/api/v1/post-mortems", tag = "post-mortems", params(PostMortemSearch),
    responses((status = 200, body = [PostMortemSummary]), (status = 400, body = ApiError)), security(("token" = [])))]
pub(crate) async fn list_post_mortems(
    State(state): State<AppState>,
    _caller: Caller,
    ApiQuery(search): ApiQuery<PostMortemSearch>,
) -> ApiResult<Json<Vec<PostMortemSummary>>> {
    let query = search.query(state.clock.now())?;
    let mut tx = state.store.read().await?;
    Ok(Json(
        tx.search_post_mortems(&query)
            .await?
            .iter()
            .map(|hit| PostMortemSummary::new(&hit.post_mortem, hit.rank))
            .collect(),
    ))
}

pub(crate) fn parse_number(text: &str) -> ApiResult<i64> {
    let trimmed = text.trim();
    trimmed
        .strip_prefix("PM-")
        .or_else(|| trimmed.strip_prefix("pm-"))
        .unwrap_or(trimmed)
        .parse()
        .map_err(|_| ApiError::invalid("id", format!("`{text}` is not a post-mortem such as PM-3")))
}

/// Shows a post-mortem with its reviewers, comments and action items.
#[utoipa::path(get, path = "/api/v1/post-mortems/{id}", tag = "post-mortems",
    params(("id" = String, Path, description = "`PM-3` or `3`")),
    responses((status = 200, body = PostMortemView), (status = 404, body = ApiError)), security(("token" = [])))]
pub(crate) async fn get_post_mortem(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<PostMortemView>> {
    let mut tx = state.store.read().await?;
    let pm = tx.post_mortem(parse_number(&id)?).await?;
    Ok(Json(view(tx.as_mut(), pm).await?))
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostMortemPatch {
    #[serde(default)]
    pub title: Option<String>,
    /// Markdown.
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// `draft`, `in_review` or `published`; it moves forward only. Review needs reviewers.
    #[serde(default)]
    pub status: Option<String>,
    /// Reviewers by email or id; replaces the list.
    #[serde(default)]
    pub reviewers: Option<Vec<String>>,
}

/// The people a list of emails or ids names, each checked.
pub(crate) async fn people(
    tx: &mut dyn Tx,
    list: &[String],
    field: &str,
) -> ApiResult<Vec<UserId>> {
    let mut found = Vec::with_capacity(list.len());
    for (i, text) in list.iter().enumerate() {
        let text = text.trim();
        let user = match text.parse::<i64>() {
            Ok(id) => tx.user(UserId(id)).await.ok(),
            Err(_) => tx.find_user_by_email(&text.to_lowercase()).await?,
        };
        match user {
            Some(user) => found.push(user.id),
            None => {
                return Err(ApiError::invalid(
                    format!("{field}[{i}]"),
                    format!("`{text}` is nobody here; name a person by email or id"),
                ))
            }
        }
    }
    Ok(found)
}

/// Edits a post-mortem, names its reviewers, or moves it on (responder). Moving it to review
/// tells the reviewers; publishing sends it to the team, the team's distribution list and the
/// webhooks that ask for `post_mortem.published`.
#[utoipa::path(patch, path = "/api/v1/post-mortems/{id}", tag = "post-mortems", request_body = PostMortemPatch,
    params(("id" = String, Path, description = "`PM-3` or `3`")),
    responses((status = 200, body = PostMortemView), (status = 400, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)),
    security(("token" = [])))]
pub(crate) async fn update_post_mortem(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(patch): ApiJson<PostMortemPatch>,
) -> ApiResult<Json<PostMortemView>> {
    caller.require(Role::Responder)?;
    let id = parse_number(&id)?;
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
            ErrorCode::Conflict,
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
    if title.is_empty() || title.chars().count() > 500 {
        return Err(ApiError::invalid("title", "a title of 1 to 500 characters"));
    }
    let body = patch
        .body
        .clone()
        .unwrap_or_else(|| current.input.body.clone());
    if body.len() > 200_000 {
        return Err(ApiError::invalid("body", "at most 200,000 characters"));
    }
    let tags = match &patch.tags {
        Some(list) => tags(list)?,
        None => current.input.tags.clone(),
    };
    let reviewers = match &patch.reviewers {
        Some(list) => people(tx.as_mut(), list, "reviewers").await?,
        None => current.reviewers.clone(),
    };
    if status == "in_review" && reviewers.is_empty() {
        return Err(ApiError::invalid(
            "reviewers",
            "name at least one reviewer to send a post-mortem for review",
        ));
    }
    if patch.reviewers.is_some() {
        tx.set_post_mortem_reviewers(id, &reviewers).await?;
    }
    let updated = tx
        .update_post_mortem(
            id,
            &PostMortemUpdate {
                title,
                body,
                tags,
                status: status.to_owned(),
            },
        )
        .await?;
    if updated.status != current.status {
        match updated.status.as_str() {
            "in_review" => {
                sending::queue_review(tx.as_mut(), &updated, &state.public_url).await?;
            }
            "published" => {
                sending::queue_published(tx.as_mut(), &updated, &state.public_url).await?;
            }
            _ => {}
        }
    }
    tx.record_audit(
        &caller.label,
        "post_mortem.update",
        &format!("{} {status}", number(id)),
    )
    .await?;
    let view = view(tx.as_mut(), updated).await?;
    tx.commit().await?;
    state.wake.notify_one();
    Ok(Json(view))
}

/// The post-mortem as one Markdown document: title, figures and body.
#[utoipa::path(get, path = "/api/v1/post-mortems/{id}/markdown", tag = "post-mortems",
    params(("id" = String, Path, description = "`PM-3` or `3`")),
    responses((status = 200, description = "Markdown", content_type = "text/markdown"), (status = 404, body = ApiError)),
    security(("token" = [])))]
pub(crate) async fn export_markdown(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    let mut tx = state.store.read().await?;
    let pm = tx.post_mortem(parse_number(&id)?).await?;
    Ok((
        [(CONTENT_TYPE, "text/markdown; charset=utf-8")],
        markdown(&pm),
    )
        .into_response())
}

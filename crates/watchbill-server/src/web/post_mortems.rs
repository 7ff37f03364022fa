//! Post-mortems: the library with its ranked search, a post-mortem's page (the write-up
//! rendered sanitised, its figures, reviewers, comments and action items, and the editor with
//! a preview), writing one from incidents, and each team's template. Each form goes through
//! the API's own handler.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use watchbill_core::tickets::Priority;
use watchbill_core::Role;

use super::format::{when, words, zone};
use super::markdown;
use super::{render, see_other, Posted, Shell, Viewer, WebResult};
use crate::api::post_mortem_work::{
    add_action_item, add_comment, get_settings, put_settings, ActionItemBody, ActionItemView,
    PostMortemSettingsBody,
};
use crate::api::post_mortems::{
    create_post_mortem, export_markdown, get_post_mortem, list_post_mortems, update_post_mortem,
    NewPostMortemBody, PostMortemPatch, PostMortemSearch, PostMortemView,
};
use crate::api::tickets::CommentBody;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;

/// One row of the library.
pub struct LibraryRow {
    id: i64,
    number: String,
    title: String,
    status: String,
    tags: Vec<String>,
    incidents: String,
    written: String,
}

#[derive(Template)]
#[template(path = "post_mortems.html")]
struct LibraryPage {
    shell: Shell,
    search: LibraryQuery,
    teams: Vec<(i64, String)>,
    services: Vec<(i64, String)>,
    rows: Vec<LibraryRow>,
    can_act: bool,
}

/// The library's search form; empty fields ask for nothing.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct LibraryQuery {
    q: String,
    team: String,
    service: String,
    tag: String,
    status: String,
    since: String,
    until: String,
}

fn optional(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn optional_id(text: &str, field: &str) -> WebResult<Option<i64>> {
    match optional(text) {
        Some(text) => Ok(Some(text.parse().map_err(|_| {
            ApiError::invalid(field.to_owned(), "choose one from the list")
        })?)),
        None => Ok(None),
    }
}

/// The library: every post-mortem, searched and ranked.
pub async fn library(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<LibraryQuery>,
) -> WebResult<Response> {
    let search = PostMortemSearch {
        q: optional(&query.q),
        team: optional_id(&query.team, "team")?,
        service: optional_id(&query.service, "service")?,
        tag: optional(&query.tag),
        status: optional(&query.status),
        since: optional(&query.since),
        until: optional(&query.until),
        limit: Some(100),
    };
    let axum::Json(found) =
        list_post_mortems(State(state.clone()), viewer.caller(), ApiQuery(search)).await?;
    let zone = zone(&viewer.user.time_zone);
    let (teams, services) = {
        let mut tx = state.store.read().await?;
        let teams = tx
            .teams()
            .await?
            .into_iter()
            .map(|t| (t.id.0, t.name))
            .collect();
        let services = tx
            .services()
            .await?
            .into_iter()
            .map(|s| (s.id.0, s.name))
            .collect();
        (teams, services)
    };
    Ok(render(&LibraryPage {
        shell: Shell::new(&viewer, "post-mortems"),
        search: query,
        teams,
        services,
        rows: found
            .into_iter()
            .map(|pm| LibraryRow {
                id: pm.id,
                number: pm.number,
                title: pm.title,
                status: pm.status,
                tags: pm.tags,
                incidents: pm.incidents.join(", "),
                written: when(pm.created_at, &zone),
            })
            .collect(),
        can_act: viewer.can(Role::Responder),
    }))
}

#[derive(Debug, Deserialize)]
pub struct NewForm {
    incidents: String,
    #[serde(default)]
    title: String,
}

/// Writes a post-mortem of the incidents named (`INC-1, INC-2`).
pub async fn create(
    State(state): State<AppState>,
    Posted { viewer, form }: Posted<NewForm>,
) -> WebResult<Response> {
    let body = NewPostMortemBody {
        incidents: words(&form.incidents),
        title: optional(&form.title),
        tags: Vec::new(),
    };
    let (_, axum::Json(created)) =
        create_post_mortem(State(state), viewer.caller(), ApiJson(body)).await?;
    Ok(see_other(&format!("/post-mortems/{}", created.summary.id)))
}

pub struct CommentRow {
    author: String,
    at: String,
    html: String,
}

#[derive(Template)]
#[template(path = "post_mortem.html")]
struct PostMortemPage {
    shell: Shell,
    pm: PostMortemView,
    body_html: String,
    /// The editor's text: the stored body, or the text being previewed.
    draft: String,
    draft_title: String,
    draft_tags: String,
    preview_html: Option<String>,
    /// The reviewers' addresses, as the review form takes them, and their names.
    reviewers: String,
    reviewer_names: String,
    comments: Vec<CommentRow>,
    actions: Vec<ActionItemView>,
    incidents: Vec<(String, String)>,
    written: String,
    author: String,
    can_act: bool,
    priorities: Vec<&'static str>,
    minutes_to_acknowledge: String,
    minutes_to_resolve: String,
}

async fn page(
    state: AppState,
    viewer: Viewer,
    id: String,
    edit: Option<EditForm>,
) -> WebResult<Response> {
    let axum::Json(pm) =
        get_post_mortem(State(state.clone()), viewer.caller(), ApiPath(id)).await?;
    let zone = zone(&viewer.user.time_zone);
    let author = match pm.owner_id {
        Some(owner) => {
            let mut tx = state.store.read().await?;
            tx.user(watchbill_core::UserId(owner)).await?.name
        }
        None => pm.summary.created_by.clone(),
    };
    let (draft, draft_title, draft_tags, preview_html) = match edit {
        Some(form) => (
            form.body.clone(),
            form.title,
            form.tags,
            Some(markdown::render(&form.body)),
        ),
        None => (
            pm.body.clone(),
            pm.summary.title.clone(),
            pm.summary.tags.join(" "),
            None,
        ),
    };
    let minutes = |m: Option<f64>| m.map_or_else(|| "-".to_owned(), |m| format!("{m:.0} min"));
    Ok(render(&PostMortemPage {
        shell: Shell::new(&viewer, "post-mortems"),
        body_html: markdown::render(&pm.body),
        draft,
        draft_title,
        draft_tags,
        preview_html,
        reviewers: pm
            .reviewers
            .iter()
            .map(|r| r.email.clone())
            .collect::<Vec<_>>()
            .join(", "),
        reviewer_names: pm
            .reviewers
            .iter()
            .map(|r| r.name.clone())
            .collect::<Vec<_>>()
            .join(", "),
        comments: pm
            .comments
            .iter()
            .map(|c| CommentRow {
                author: c.author.clone(),
                at: when(c.at, &zone),
                html: markdown::render(&c.body),
            })
            .collect(),
        actions: pm.action_items.clone(),
        incidents: pm
            .summary
            .incidents
            .iter()
            .map(|n| (n.clone(), n.trim_start_matches("INC-").to_owned()))
            .collect(),
        written: when(pm.summary.created_at, &zone),
        author,
        can_act: viewer.can(Role::Responder),
        priorities: Priority::ALL.iter().map(|p| p.as_str()).collect(),
        minutes_to_acknowledge: minutes(pm.figures.minutes_to_acknowledge),
        minutes_to_resolve: minutes(pm.figures.minutes_to_resolve),
        pm,
    }))
}

/// A post-mortem's page.
pub async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> WebResult<Response> {
    page(state, viewer, id, None).await
}

/// The post-mortem as one Markdown document, for people signed in to the pages.
pub async fn export(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> WebResult<Response> {
    Ok(export_markdown(State(state), viewer.caller(), ApiPath(id)).await?)
}

#[derive(Debug, Deserialize)]
pub struct EditForm {
    title: String,
    #[serde(default)]
    tags: String,
    body: String,
    /// `preview` shows the text rendered without saving it; anything else saves.
    #[serde(default)]
    intent: String,
}

/// Saves the editor, or shows its preview.
pub async fn edit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { viewer, form }: Posted<EditForm>,
) -> WebResult<Response> {
    if form.intent == "preview" {
        return page(state, viewer, id, Some(form)).await;
    }
    let patch = PostMortemPatch {
        title: Some(form.title),
        // Browsers send a textarea's lines with CRLF; the stored Markdown keeps plain LF.
        body: Some(form.body.replace("\r\n", "\n")),
        tags: Some(words(&form.tags)),
        ..PostMortemPatch::default()
    };
    let axum::Json(updated) =
        update_post_mortem(State(state), viewer.caller(), ApiPath(id), ApiJson(patch)).await?;
    Ok(see_other(&format!("/post-mortems/{}", updated.summary.id)))
}

#[derive(Debug, Deserialize)]
pub struct StatusForm {
    status: String,
    #[serde(default)]
    reviewers: Option<String>,
}

/// Sends a draft for review (with its reviewers) or publishes it.
pub async fn move_on(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { viewer, form }: Posted<StatusForm>,
) -> WebResult<Response> {
    let patch = PostMortemPatch {
        status: Some(form.status),
        reviewers: form.reviewers.as_deref().map(words),
        ..PostMortemPatch::default()
    };
    let axum::Json(updated) =
        update_post_mortem(State(state), viewer.caller(), ApiPath(id), ApiJson(patch)).await?;
    Ok(see_other(&format!("/post-mortems/{}", updated.summary.id)))
}

#[derive(Debug, Deserialize)]
pub struct CommentForm {
    body: String,
}

pub async fn comment(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { viewer, form }: Posted<CommentForm>,
) -> WebResult<Response> {
    let _added = add_comment(
        State(state),
        viewer.caller(),
        ApiPath(id.clone()),
        ApiJson(CommentBody { body: form.body }),
    )
    .await?;
    Ok(see_other(&format!("/post-mortems/{id}")))
}

#[derive(Debug, Deserialize)]
pub struct ActionForm {
    title: String,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    due: String,
}

pub async fn action_item(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { viewer, form }: Posted<ActionForm>,
) -> WebResult<Response> {
    let body = ActionItemBody {
        title: form.title,
        priority: optional(&form.priority),
        due: optional(&form.due),
        assignee: None,
        description: None,
    };
    let _filed = add_action_item(
        State(state),
        viewer.caller(),
        ApiPath(id.clone()),
        ApiJson(body),
    )
    .await?;
    Ok(see_other(&format!("/post-mortems/{id}")))
}

#[derive(Template)]
#[template(path = "post_mortem_settings.html")]
struct SettingsPage {
    shell: Shell,
    team_id: i64,
    team_name: String,
    template: String,
    distribution: String,
    remind_after_hours: i64,
    draft_reminder_days: i64,
    can_manage: bool,
}

/// A team's post-mortem template, distribution list and reminders.
pub async fn settings(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(team): Path<i64>,
) -> WebResult<Response> {
    let axum::Json(settings) =
        get_settings(State(state.clone()), viewer.caller(), ApiPath(team)).await?;
    let team_name = state
        .store
        .read()
        .await?
        .team(watchbill_core::TeamId(team))
        .await?
        .name;
    Ok(render(&SettingsPage {
        shell: Shell::new(&viewer, "post-mortems"),
        team_id: team,
        team_name,
        template: settings.template,
        distribution: settings.distribution.join("\n"),
        remind_after_hours: settings.remind_after_seconds / 3600,
        draft_reminder_days: settings.draft_reminder_days,
        can_manage: viewer.can(Role::Manager),
    }))
}

#[derive(Debug, Deserialize)]
pub struct SettingsForm {
    template: String,
    #[serde(default)]
    distribution: String,
    remind_after_hours: i64,
    draft_reminder_days: i64,
}

pub async fn save_settings(
    State(state): State<AppState>,
    Path(team): Path<i64>,
    Posted { viewer, form }: Posted<SettingsForm>,
) -> WebResult<Response> {
    let body = PostMortemSettingsBody {
        template: Some(form.template.replace("\r\n", "\n")),
        distribution: Some(words(&form.distribution)),
        remind_after_seconds: Some(form.remind_after_hours.saturating_mul(3600)),
        draft_reminder_days: Some(form.draft_reminder_days),
    };
    let _saved = put_settings(State(state), viewer.caller(), ApiPath(team), ApiJson(body)).await?;
    Ok(see_other(&format!("/teams/{team}/post-mortem-settings")))
}

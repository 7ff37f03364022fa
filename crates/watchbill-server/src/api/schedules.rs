//! `/api/v1/schedules`: schedules, their layers, and the rendered final schedule.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use watchbill_core::schedule::{Shift, Source};
use watchbill_core::{LayerId, Role, ScheduleId, TeamId, UserId};
use watchbill_store::model::{
    Follows, Layer, LayerInput, RestrictionInput, Schedule, ScheduleInput,
};
use watchbill_store::Tx;

use super::Window;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::resolve::{core_schedule, validate_layers, zone};
use crate::state::AppState;
use crate::sync::sync_layers;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_schedules, create_schedule))
        .routes(routes!(get_schedule, update_schedule, delete_schedule))
        .routes(routes!(create_layer))
        .routes(routes!(update_layer, delete_layer))
        .routes(routes!(schedule_shifts))
        .routes(routes!(schedule_gaps))
}

/// A restriction: on each of `days`, active from `start` to `end` local time (an `end` at or
/// before `start` runs past midnight; equal means the whole day).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RestrictionBody {
    pub days: Vec<String>,
    pub start: String,
    pub end: String,
}

/// A layer: a rotation of people.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LayerBody {
    pub name: String,
    /// User ids in rotation order.
    pub participants: Vec<i64>,
    /// `12h`, `1d`, `1w`, `2w`…
    pub turn: String,
    /// Local wall-clock handoff, e.g. `Wednesday 10:00` or `09:00`.
    pub handoff: String,
    pub start: Timestamp,
    #[serde(default)]
    pub end: Option<Timestamp>,
    #[serde(default)]
    pub restrictions: Vec<RestrictionBody>,
    /// Start this many people along the rotation.
    #[serde(default)]
    pub offset: u32,
}

impl LayerBody {
    pub fn input(&self) -> LayerInput {
        LayerInput {
            name: self.name.trim().to_owned(),
            participants: self.participants.iter().copied().map(UserId).collect(),
            turn: self.turn.trim().to_owned(),
            handoff: self.handoff.trim().to_owned(),
            // Times are kept to the second.
            start: whole_seconds(self.start),
            end: self.end.map(whole_seconds),
            restrictions: self
                .restrictions
                .iter()
                .map(|r| RestrictionInput {
                    days: r.days.clone(),
                    start: r.start.clone(),
                    end: r.end.clone(),
                })
                .collect(),
            offset: self.offset,
        }
    }
}

pub fn whole_seconds(at: Timestamp) -> Timestamp {
    Timestamp::from_second(at.as_second()).unwrap_or(at)
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowsBody {
    /// The schedule whose layers this one takes.
    pub schedule_id: i64,
    /// How many people along; 1 makes the seed's First-mate from the Captain's rotation.
    #[serde(default = "one")]
    pub offset: u32,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleBody {
    pub team_id: i64,
    pub name: String,
    pub time_zone: String,
    #[serde(default)]
    pub follows: Option<FollowsBody>,
    /// Lowest first; the highest layer with someone wins. On update, omit to keep the layers.
    #[serde(default)]
    pub layers: Option<Vec<LayerBody>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LayerView {
    pub id: i64,
    pub position: i32,
    pub name: String,
    pub participants: Vec<i64>,
    pub turn: String,
    pub handoff: String,
    pub start: Timestamp,
    pub end: Option<Timestamp>,
    pub restrictions: Vec<RestrictionBody>,
    pub offset: u32,
}

impl From<Layer> for LayerView {
    fn from(layer: Layer) -> LayerView {
        LayerView {
            id: layer.id.0,
            position: layer.position,
            name: layer.input.name,
            participants: layer.input.participants.into_iter().map(|u| u.0).collect(),
            turn: layer.input.turn,
            handoff: layer.input.handoff,
            start: layer.input.start,
            end: layer.input.end,
            restrictions: layer
                .input
                .restrictions
                .into_iter()
                .map(|r| RestrictionBody {
                    days: r.days,
                    start: r.start,
                    end: r.end,
                })
                .collect(),
            offset: layer.input.offset,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScheduleView {
    pub id: i64,
    pub team_id: i64,
    pub name: String,
    pub time_zone: String,
    pub follows: Option<FollowsBody>,
    pub layers: Vec<LayerView>,
    /// A secret calendar-feed URL with this schedule's shifts.
    pub ics_url: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl ScheduleView {
    pub fn new(schedule: Schedule, public_url: &str) -> ScheduleView {
        ScheduleView {
            id: schedule.id.0,
            team_id: schedule.team_id.0,
            ics_url: format!("{public_url}/ics/schedules/{}.ics", schedule.ics_token),
            name: schedule.name,
            time_zone: schedule.time_zone,
            follows: schedule.follows.map(|f| FollowsBody {
                schedule_id: f.schedule_id.0,
                offset: f.offset,
            }),
            layers: schedule.layers.into_iter().map(LayerView::from).collect(),
            created_at: schedule.created_at,
            updated_at: schedule.updated_at,
        }
    }
}

fn schedule_input(body: &ScheduleBody) -> ApiResult<(ScheduleInput, Option<Vec<LayerInput>>)> {
    let name = body.name.trim();
    if name.is_empty() {
        return Err(ApiError::invalid("name", "a schedule needs a name"));
    }
    let tz = zone(&body.time_zone, "time_zone")?;
    let layers = body
        .layers
        .as_ref()
        .map(|layers| layers.iter().map(LayerBody::input).collect::<Vec<_>>());
    if let Some(layers) = &layers {
        if body.follows.is_some() && !layers.is_empty() {
            return Err(ApiError::invalid(
                "layers",
                "a schedule that follows another has no layers of its own",
            ));
        }
        validate_layers(layers, &tz)?;
    }
    Ok((
        ScheduleInput {
            team_id: TeamId(body.team_id),
            name: name.to_owned(),
            time_zone: body.time_zone.clone(),
            follows: body.follows.map(|f| Follows {
                schedule_id: ScheduleId(f.schedule_id),
                offset: f.offset,
            }),
        },
        layers,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ScheduleFilter {
    /// Only this team's schedules.
    team: Option<i64>,
}

/// Lists schedules, optionally of one team.
#[utoipa::path(get, path = "/api/v1/schedules", tag = "schedules", params(ScheduleFilter),
    responses((status = 200, body = [ScheduleView])),
    security(("token" = [])))]
async fn list_schedules(
    State(state): State<AppState>,
    _caller: Caller,
    ApiQuery(filter): ApiQuery<ScheduleFilter>,
) -> ApiResult<Json<Vec<ScheduleView>>> {
    let mut tx = state.store.read().await?;
    let schedules = tx.schedules(filter.team.map(TeamId)).await?;
    Ok(Json(
        schedules
            .into_iter()
            .map(|s| ScheduleView::new(s, &state.public_url))
            .collect(),
    ))
}

/// Creates a schedule with its layers (manager).
#[utoipa::path(post, path = "/api/v1/schedules", tag = "schedules", request_body = ScheduleBody,
    responses((status = 201, body = ScheduleView), (status = 400, body = ApiError), (status = 409, body = ApiError), (status = 422, body = ApiError)),
    security(("token" = [])))]
async fn create_schedule(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<ScheduleBody>,
) -> ApiResult<(StatusCode, Json<ScheduleView>)> {
    caller.require(Role::Manager)?;
    let (input, layers) = schedule_input(&body)?;
    let mut tx = state.store.write().await?;
    let schedule = tx.insert_schedule(&input).await?;
    for (i, layer) in layers.unwrap_or_default().iter().enumerate() {
        tx.insert_layer(schedule.id, layer)
            .await
            .map_err(|e| ApiError::from(e).within(&format!("layers[{i}]")))?;
    }
    let schedule = tx.schedule(schedule.id).await?;
    tx.record_audit(
        &caller.label,
        "schedule.create",
        &format!("schedule {} {}", schedule.id, schedule.name),
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(ScheduleView::new(schedule, &state.public_url)),
    ))
}

/// Shows one schedule with its layers.
#[utoipa::path(get, path = "/api/v1/schedules/{id}", tag = "schedules",
    params(("id" = i64, Path, description = "Schedule id")),
    responses((status = 200, body = ScheduleView), (status = 404, body = ApiError)),
    security(("token" = [])))]
async fn get_schedule(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ScheduleView>> {
    let mut tx = state.store.read().await?;
    Ok(Json(ScheduleView::new(
        tx.schedule(ScheduleId(id)).await?,
        &state.public_url,
    )))
}

/// Replaces a schedule's settings, and its layers when `layers` is given (manager).
#[utoipa::path(put, path = "/api/v1/schedules/{id}", tag = "schedules", request_body = ScheduleBody,
    params(("id" = i64, Path, description = "Schedule id")),
    responses((status = 200, body = ScheduleView), (status = 400, body = ApiError), (status = 404, body = ApiError)),
    security(("token" = [])))]
async fn update_schedule(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<ScheduleBody>,
) -> ApiResult<Json<ScheduleView>> {
    caller.require(Role::Manager)?;
    let (input, layers) = schedule_input(&body)?;
    let id = ScheduleId(id);
    let mut tx = state.store.write().await?;
    let existing = tx.schedule(id).await?;
    if input.follows.is_some() && layers.is_none() && !existing.layers.is_empty() {
        return Err(ApiError::invalid(
            "follows",
            "a schedule that follows another has no layers of its own; send `layers: []` to remove them",
        ));
    }
    if let Some(layers) = &layers {
        sync_layers(tx.as_mut(), id, &existing.layers, layers).await?;
    }
    tx.update_schedule(id, &input).await?;
    let schedule = tx.schedule(id).await?;
    tx.record_audit(
        &caller.label,
        "schedule.update",
        &format!("schedule {} {}", schedule.id, schedule.name),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(ScheduleView::new(schedule, &state.public_url)))
}

/// Deletes a schedule, its layers and overrides (manager).
#[utoipa::path(delete, path = "/api/v1/schedules/{id}", tag = "schedules",
    params(("id" = i64, Path, description = "Schedule id")),
    responses((status = 204), (status = 404, body = ApiError), (status = 409, body = ApiError)),
    security(("token" = [])))]
async fn delete_schedule(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Manager)?;
    let mut tx = state.store.write().await?;
    tx.delete_schedule(ScheduleId(id)).await?;
    tx.record_audit(&caller.label, "schedule.delete", &format!("schedule {id}"))
        .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Checks one layer against its schedule's zone and the schedule's other layers.
async fn checked_layer(
    tx: &mut dyn Tx,
    schedule: ScheduleId,
    body: &LayerBody,
    replacing: Option<LayerId>,
) -> ApiResult<LayerInput> {
    let owner = tx.schedule(schedule).await?;
    let tz = zone(&owner.time_zone, "time_zone")?;
    let input = body.input();
    let mut all: Vec<LayerInput> = owner
        .layers
        .iter()
        .filter(|l| Some(l.id) != replacing)
        .map(|l| l.input.clone())
        .collect();
    all.push(input.clone());
    let index = all.len() - 1;
    validate_layers(&all, &tz).map_err(|e| {
        let prefix = format!("layers[{index}]");
        match e.field.as_deref().and_then(|f| f.strip_prefix(&prefix)) {
            Some(rest) => ApiError {
                field: Some(rest.trim_start_matches('.').to_owned().into())
                    .filter(|f: &std::borrow::Cow<'static, str>| !f.is_empty()),
                ..e
            },
            None => e,
        }
    })?;
    Ok(input)
}

/// Adds a layer on top of a schedule's others (manager).
#[utoipa::path(post, path = "/api/v1/schedules/{id}/layers", tag = "schedules", request_body = LayerBody,
    params(("id" = i64, Path, description = "Schedule id")),
    responses((status = 201, body = LayerView), (status = 400, body = ApiError), (status = 404, body = ApiError), (status = 422, body = ApiError)),
    security(("token" = [])))]
async fn create_layer(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<LayerBody>,
) -> ApiResult<(StatusCode, Json<LayerView>)> {
    caller.require(Role::Manager)?;
    let mut tx = state.store.write().await?;
    let input = checked_layer(tx.as_mut(), ScheduleId(id), &body, None).await?;
    let layer = tx.insert_layer(ScheduleId(id), &input).await?;
    tx.record_audit(
        &caller.label,
        "layer.create",
        &format!("schedule {id} layer {}", layer.id),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(layer.into())))
}

/// Replaces a layer (manager).
#[utoipa::path(put, path = "/api/v1/schedules/{id}/layers/{layer_id}", tag = "schedules", request_body = LayerBody,
    params(("id" = i64, Path, description = "Schedule id"), ("layer_id" = i64, Path, description = "Layer id")),
    responses((status = 200, body = LayerView), (status = 400, body = ApiError), (status = 404, body = ApiError)),
    security(("token" = [])))]
async fn update_layer(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, layer_id)): ApiPath<(i64, i64)>,
    ApiJson(body): ApiJson<LayerBody>,
) -> ApiResult<Json<LayerView>> {
    caller.require(Role::Manager)?;
    let mut tx = state.store.write().await?;
    let owner = tx.schedule(ScheduleId(id)).await?;
    if !owner.layers.iter().any(|l| l.id == LayerId(layer_id)) {
        return Err(ApiError::not_found(format!(
            "layer {layer_id} of schedule {id}"
        )));
    }
    let input = checked_layer(tx.as_mut(), ScheduleId(id), &body, Some(LayerId(layer_id))).await?;
    let layer = tx.update_layer(LayerId(layer_id), &input).await?;
    tx.record_audit(
        &caller.label,
        "layer.update",
        &format!("schedule {id} layer {layer_id}"),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(layer.into()))
}

/// Removes a layer (manager).
#[utoipa::path(delete, path = "/api/v1/schedules/{id}/layers/{layer_id}", tag = "schedules",
    params(("id" = i64, Path, description = "Schedule id"), ("layer_id" = i64, Path, description = "Layer id")),
    responses((status = 204), (status = 404, body = ApiError)),
    security(("token" = [])))]
async fn delete_layer(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, layer_id)): ApiPath<(i64, i64)>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Manager)?;
    let mut tx = state.store.write().await?;
    let owner = tx.schedule(ScheduleId(id)).await?;
    if !owner.layers.iter().any(|l| l.id == LayerId(layer_id)) {
        return Err(ApiError::not_found(format!(
            "layer {layer_id} of schedule {id}"
        )));
    }
    tx.delete_layer(LayerId(layer_id)).await?;
    tx.record_audit(
        &caller.label,
        "layer.delete",
        &format!("schedule {id} layer {layer_id}"),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One stretch of a rendered schedule.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShiftView {
    pub start: Timestamp,
    pub end: Timestamp,
    /// Nobody is on call when absent: a coverage gap.
    pub user_id: Option<i64>,
    pub user_name: Option<String>,
    /// `layer` or `override`; absent in a gap.
    pub source: Option<String>,
    /// The layer's name, when the shift comes from a layer.
    pub layer: Option<String>,
    pub override_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShiftsView {
    pub schedule_id: i64,
    pub time_zone: String,
    pub from: Timestamp,
    pub to: Timestamp,
    pub shifts: Vec<ShiftView>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ShiftsQuery {
    /// Start of the window (RFC 3339, a date, or `now`); default now.
    from: Option<String>,
    /// End of the window; default two weeks after `from`.
    to: Option<String>,
    /// Render only the layer at this position (0 is the lowest) instead of the final schedule.
    layer: Option<usize>,
}

impl ShiftsQuery {
    pub fn window(&self) -> (Option<&str>, Option<&str>) {
        (self.from.as_deref(), self.to.as_deref())
    }
}

/// The window a query asks for, with dates read in the schedule's zone.
async fn schedule_window(
    tx: &mut dyn Tx,
    id: ScheduleId,
    query: &ShiftsQuery,
    now: Timestamp,
) -> ApiResult<Window> {
    let record = tx.schedule(id).await?;
    let tz = zone(&record.time_zone, "time_zone")?;
    Window::parse_in(query.from.as_deref(), query.to.as_deref(), now, 14, &tz)
}

/// A schedule resolved for reading: the record, the resolver's form, and user names.
pub struct Resolved {
    pub record: Schedule,
    pub schedule: watchbill_core::schedule::Schedule,
    pub layer_names: Vec<String>,
    pub names: HashMap<UserId, String>,
}

/// Loads a schedule with what the resolver needs over `[from, to)`.
pub async fn resolve_one(
    tx: &mut dyn Tx,
    id: ScheduleId,
    from: Timestamp,
    to: Timestamp,
) -> ApiResult<Resolved> {
    let record = tx.schedule(id).await?;
    let source = match record.follows {
        Some(follows) => Some(tx.schedule(follows.schedule_id).await?),
        None => None,
    };
    let overrides = tx.overrides(Some(&[id]), from, to).await?;
    let mut by_id: HashMap<ScheduleId, &Schedule> = HashMap::new();
    by_id.insert(record.id, &record);
    if let Some(source) = &source {
        by_id.insert(source.id, source);
    }
    let schedule = core_schedule(&record, &by_id, &overrides)?;
    let layer_names = source
        .as_ref()
        .unwrap_or(&record)
        .layers
        .iter()
        .map(|l| l.input.name.clone())
        .collect();
    let names = tx
        .users()
        .await?
        .into_iter()
        .map(|u| (u.id, u.name))
        .collect();
    Ok(Resolved {
        record,
        schedule,
        layer_names,
        names,
    })
}

pub fn shift_view(
    shift: &Shift,
    layer_names: &[String],
    names: &HashMap<UserId, String>,
) -> ShiftView {
    ShiftView {
        start: shift.start,
        end: shift.end,
        user_id: shift.user.map(|u| u.0),
        user_name: shift.user.and_then(|u| names.get(&u).cloned()),
        source: shift.source.map(|s| match s {
            Source::Layer(_) => "layer".to_owned(),
            Source::Override(_) => "override".to_owned(),
        }),
        layer: match shift.source {
            Some(Source::Layer(i)) => layer_names.get(i).cloned(),
            _ => None,
        },
        override_id: match shift.source {
            Some(Source::Override(id)) => Some(id.0),
            _ => None,
        },
    }
}

/// The final schedule over a window: shifts that tile it, with gaps as shifts with nobody.
#[utoipa::path(get, path = "/api/v1/schedules/{id}/shifts", tag = "schedules",
    params(("id" = i64, Path, description = "Schedule id"), ShiftsQuery),
    responses((status = 200, body = ShiftsView), (status = 400, body = ApiError), (status = 404, body = ApiError)),
    security(("token" = [])))]
async fn schedule_shifts(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<ShiftsQuery>,
) -> ApiResult<Json<ShiftsView>> {
    let mut tx = state.store.read().await?;
    let window = schedule_window(tx.as_mut(), ScheduleId(id), &query, state.clock.now()).await?;
    let resolved = resolve_one(tx.as_mut(), ScheduleId(id), window.from, window.to).await?;
    let shifts = match query.layer {
        Some(index) if index >= resolved.schedule.layers().len() => {
            return Err(ApiError::invalid(
                "layer",
                format!("the schedule has no layer at position {index}"),
            ));
        }
        Some(index) => resolved
            .schedule
            .render_layer(index, window.from, window.to),
        None => resolved.schedule.render(window.from, window.to),
    };
    Ok(Json(ShiftsView {
        schedule_id: id,
        time_zone: resolved.record.time_zone.clone(),
        from: window.from,
        to: window.to,
        shifts: shifts
            .iter()
            .map(|s| shift_view(s, &resolved.layer_names, &resolved.names))
            .collect(),
    }))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GapView {
    pub start: Timestamp,
    pub end: Timestamp,
}

/// The stretches of a window in which nobody is on call.
#[utoipa::path(get, path = "/api/v1/schedules/{id}/gaps", tag = "schedules",
    params(("id" = i64, Path, description = "Schedule id"), ShiftsQuery),
    responses((status = 200, body = [GapView]), (status = 400, body = ApiError), (status = 404, body = ApiError)),
    security(("token" = [])))]
async fn schedule_gaps(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<ShiftsQuery>,
) -> ApiResult<Json<Vec<GapView>>> {
    let mut tx = state.store.read().await?;
    let window = schedule_window(tx.as_mut(), ScheduleId(id), &query, state.clock.now()).await?;
    let resolved = resolve_one(tx.as_mut(), ScheduleId(id), window.from, window.to).await?;
    Ok(Json(
        resolved
            .schedule
            .gaps(window.from, window.to)
            .into_iter()
            .map(|(start, end)| GapView { start, end })
            .collect(),
    ))
}

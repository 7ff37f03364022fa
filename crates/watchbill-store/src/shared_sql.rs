//! The SQL that SQLite and PostgreSQL share, written once.
//!
//! Both backends accept `$1`-style parameters, `RETURNING`, and the same column types as this
//! crate uses them (64-bit integers and text), so most statements are identical. The
//! [`shared_tx_impl`] macro instantiates them for a backend's transaction type; each backend
//! module keeps what differs (connecting, pragmas, migrations, locking).

use jiff::Timestamp;
use watchbill_core::Role;

use crate::model::{OverrideKind, RestrictionInput};
use crate::StoreError;

pub(crate) fn seconds(at: Timestamp) -> i64 {
    at.as_second()
}

pub(crate) fn timestamp(seconds: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_second(seconds)
        .map_err(|e| StoreError::Corrupt(format!("timestamp {seconds}: {e}")))
}

pub(crate) fn role(text: &str) -> Result<Role, StoreError> {
    text.parse()
        .map_err(|_| StoreError::Corrupt(format!("role `{text}`")))
}

pub(crate) fn restrictions(text: &str) -> Result<Vec<RestrictionInput>, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("restrictions: {e}")))
}

pub(crate) fn restrictions_text(restrictions: &[RestrictionInput]) -> String {
    serde_json::to_string(restrictions).unwrap_or_else(|_| "[]".to_owned())
}

/// The `(kind, user_id, other_user_id)` columns of an override.
pub(crate) fn override_columns(kind: &OverrideKind) -> (&'static str, i64, Option<i64>) {
    match kind {
        OverrideKind::Cover { user } => ("cover", user.0, None),
        OverrideKind::Swap { first, second } => ("swap", first.0, Some(second.0)),
    }
}

pub(crate) fn override_kind(
    kind: &str,
    user: i64,
    other: Option<i64>,
) -> Result<OverrideKind, StoreError> {
    use watchbill_core::UserId;
    match (kind, other) {
        ("cover", _) => Ok(OverrideKind::Cover { user: UserId(user) }),
        ("swap", Some(other)) => Ok(OverrideKind::Swap {
            first: UserId(user),
            second: UserId(other),
        }),
        _ => Err(StoreError::Corrupt(format!("override kind `{kind}`"))),
    }
}

/// Implements [`crate::Tx`] for `$tx`, a struct with fields `tx: sqlx::Transaction<'static, $db>`,
/// `now: Timestamp` and `bumped: bool`.
macro_rules! shared_tx_impl {
    ($tx:ident, $db:ty, $row:ty) => {
        use std::collections::BTreeMap;

        use jiff::Timestamp;
        use sqlx::Row as _;
        use watchbill_core::{LayerId, OverrideId, ScheduleId, TeamId, TokenId, UserId};

        use crate::model::*;
        use crate::shared_sql::{
            override_columns, override_kind, restrictions, restrictions_text, role, seconds, timestamp,
        };
        use crate::{Result, StoreError};

        const USER_COLUMNS: &str =
            "id, name, email, time_zone, photo_url, role, ics_token, created_at, updated_at";
        const SCHEDULE_COLUMNS: &str = "id, team_id, name, time_zone, follows_schedule_id, follows_offset, ics_token, created_at, updated_at";
        const LAYER_COLUMNS: &str = "id, schedule_id, position, name, turn, handoff, start_at, end_at, restrictions, participant_offset";
        const OVERRIDE_COLUMNS: &str =
            "id, schedule_id, start_at, end_at, kind, user_id, other_user_id, note, created_at";
        const TOKEN_COLUMNS: &str = "id, name, role, user_id, created_at";

        fn user_from(row: &$row) -> Result<User> {
            Ok(User {
                id: UserId(row.try_get("id")?),
                name: row.try_get("name")?,
                email: row.try_get("email")?,
                time_zone: row.try_get("time_zone")?,
                photo_url: row.try_get("photo_url")?,
                role: role(row.try_get("role")?)?,
                ics_token: row.try_get("ics_token")?,
                created_at: timestamp(row.try_get("created_at")?)?,
                updated_at: timestamp(row.try_get("updated_at")?)?,
            })
        }

        fn schedule_from(row: &$row) -> Result<Schedule> {
            let follows: Option<i64> = row.try_get("follows_schedule_id")?;
            let offset: i64 = row.try_get("follows_offset")?;
            Ok(Schedule {
                id: ScheduleId(row.try_get("id")?),
                team_id: TeamId(row.try_get("team_id")?),
                name: row.try_get("name")?,
                time_zone: row.try_get("time_zone")?,
                follows: follows.map(|id| Follows {
                    schedule_id: ScheduleId(id),
                    offset: u32::try_from(offset).unwrap_or(0),
                }),
                ics_token: row.try_get("ics_token")?,
                layers: Vec::new(),
                created_at: timestamp(row.try_get("created_at")?)?,
                updated_at: timestamp(row.try_get("updated_at")?)?,
            })
        }

        fn layer_from(row: &$row) -> Result<Layer> {
            let end: Option<i64> = row.try_get("end_at")?;
            let offset: i64 = row.try_get("participant_offset")?;
            let position: i64 = row.try_get("position")?;
            Ok(Layer {
                id: LayerId(row.try_get("id")?),
                schedule_id: ScheduleId(row.try_get("schedule_id")?),
                position: i32::try_from(position).unwrap_or(i32::MAX),
                input: LayerInput {
                    name: row.try_get("name")?,
                    participants: Vec::new(),
                    turn: row.try_get("turn")?,
                    handoff: row.try_get("handoff")?,
                    start: timestamp(row.try_get("start_at")?)?,
                    end: end.map(timestamp).transpose()?,
                    restrictions: restrictions(row.try_get("restrictions")?)?,
                    offset: u32::try_from(offset).unwrap_or(0),
                },
            })
        }

        fn override_from(row: &$row) -> Result<Override> {
            Ok(Override {
                id: OverrideId(row.try_get("id")?),
                schedule_id: ScheduleId(row.try_get("schedule_id")?),
                start: timestamp(row.try_get("start_at")?)?,
                end: timestamp(row.try_get("end_at")?)?,
                kind: override_kind(
                    row.try_get("kind")?,
                    row.try_get("user_id")?,
                    row.try_get("other_user_id")?,
                )?,
                note: row.try_get("note")?,
                created_at: timestamp(row.try_get("created_at")?)?,
            })
        }

        fn token_from(row: &$row) -> Result<ApiToken> {
            let user: Option<i64> = row.try_get("user_id")?;
            Ok(ApiToken {
                id: TokenId(row.try_get("id")?),
                name: row.try_get("name")?,
                role: role(row.try_get("role")?)?,
                user_id: user.map(UserId),
                created_at: timestamp(row.try_get("created_at")?)?,
            })
        }

        impl $tx {
            /// Marks the roster as changed, once per transaction.
            async fn bump_roster(&mut self) -> Result<()> {
                if !self.bumped {
                    sqlx::query("UPDATE roster_revision SET value = value + 1 WHERE id = 1")
                        .execute(&mut *self.tx)
                        .await?;
                    self.bumped = true;
                }
                Ok(())
            }

            async fn require_user(&mut self, id: UserId, field: String) -> Result<()> {
                let found = sqlx::query("SELECT 1 AS one FROM users WHERE id = $1")
                    .bind(id.0)
                    .fetch_optional(&mut *self.tx)
                    .await?;
                match found {
                    Some(_) => Ok(()),
                    None => Err(StoreError::reference(format!("user {id} does not exist"), field)),
                }
            }

            async fn set_members(&mut self, team: TeamId, members: &[UserId]) -> Result<()> {
                sqlx::query("DELETE FROM team_members WHERE team_id = $1")
                    .bind(team.0)
                    .execute(&mut *self.tx)
                    .await?;
                let mut unique = members.to_vec();
                unique.sort_unstable();
                unique.dedup();
                for (i, user) in unique.iter().enumerate() {
                    self.require_user(*user, format!("members[{i}]")).await?;
                    sqlx::query("INSERT INTO team_members (team_id, user_id) VALUES ($1, $2)")
                        .bind(team.0)
                        .bind(user.0)
                        .execute(&mut *self.tx)
                        .await?;
                }
                Ok(())
            }

            async fn set_participants(&mut self, layer: LayerId, participants: &[UserId]) -> Result<()> {
                sqlx::query("DELETE FROM layer_participants WHERE layer_id = $1")
                    .bind(layer.0)
                    .execute(&mut *self.tx)
                    .await?;
                for (i, user) in participants.iter().enumerate() {
                    self.require_user(*user, format!("participants[{i}]")).await?;
                    sqlx::query(
                        "INSERT INTO layer_participants (layer_id, position, user_id) VALUES ($1, $2, $3)",
                    )
                    .bind(layer.0)
                    .bind(i as i64)
                    .bind(user.0)
                    .execute(&mut *self.tx)
                    .await?;
                }
                Ok(())
            }

            async fn require_schedule_follows(&mut self, input: &ScheduleInput, own: Option<ScheduleId>) -> Result<()> {
                let Some(follows) = input.follows else {
                    return Ok(());
                };
                if Some(follows.schedule_id) == own {
                    return Err(StoreError::reference("a schedule cannot follow itself", "follows"));
                }
                let target = sqlx::query("SELECT follows_schedule_id FROM schedules WHERE id = $1")
                    .bind(follows.schedule_id.0)
                    .fetch_optional(&mut *self.tx)
                    .await?;
                match target {
                    None => Err(StoreError::reference(
                        format!("schedule {} does not exist", follows.schedule_id),
                        "follows",
                    )),
                    Some(row) => {
                        let chained: Option<i64> = row.try_get("follows_schedule_id")?;
                        if chained.is_some() {
                            return Err(StoreError::reference(
                                "a schedule can only follow a schedule with layers of its own",
                                "follows",
                            ));
                        }
                        Ok(())
                    }
                }
            }

            /// Loads the layers (with participants) of the given schedules.
            async fn attach_layers(&mut self, schedules: &mut [Schedule]) -> Result<()> {
                if schedules.is_empty() {
                    return Ok(());
                }
                let ids: Vec<i64> = schedules.iter().map(|s| s.id.0).collect();
                let list = id_list(&ids);
                let layer_rows = sqlx::query(&format!(
                    "SELECT {LAYER_COLUMNS} FROM layers WHERE schedule_id IN ({list}) ORDER BY position, id"
                ))
                .fetch_all(&mut *self.tx)
                .await?;
                let participant_rows = sqlx::query(&format!(
                    "SELECT p.layer_id, p.user_id FROM layer_participants p \
                     JOIN layers l ON l.id = p.layer_id WHERE l.schedule_id IN ({list}) \
                     ORDER BY p.layer_id, p.position"
                ))
                .fetch_all(&mut *self.tx)
                .await?;
                let mut participants: BTreeMap<i64, Vec<UserId>> = BTreeMap::new();
                for row in &participant_rows {
                    let layer: i64 = row.try_get("layer_id")?;
                    participants.entry(layer).or_default().push(UserId(row.try_get("user_id")?));
                }
                let index: BTreeMap<i64, usize> =
                    schedules.iter().enumerate().map(|(i, s)| (s.id.0, i)).collect();
                for row in &layer_rows {
                    let mut layer = layer_from(row)?;
                    layer.input.participants = participants.remove(&layer.id.0).unwrap_or_default();
                    if let Some(i) = index.get(&layer.schedule_id.0) {
                        schedules[*i].layers.push(layer);
                    }
                }
                Ok(())
            }

            async fn layer_by_id(&mut self, id: LayerId) -> Result<Layer> {
                let row = sqlx::query(&format!("SELECT {LAYER_COLUMNS} FROM layers WHERE id = $1"))
                    .bind(id.0)
                    .fetch_optional(&mut *self.tx)
                    .await?
                    .ok_or_else(|| StoreError::not_found(format!("layer {id}")))?;
                let mut layer = layer_from(&row)?;
                let rows = sqlx::query("SELECT user_id FROM layer_participants WHERE layer_id = $1 ORDER BY position")
                    .bind(id.0)
                    .fetch_all(&mut *self.tx)
                    .await?;
                layer.input.participants = rows
                    .iter()
                    .map(|row| row.try_get("user_id").map(UserId))
                    .collect::<std::result::Result<_, _>>()?;
                Ok(layer)
            }

            async fn touch_schedule(&mut self, id: ScheduleId) -> Result<()> {
                sqlx::query("UPDATE schedules SET updated_at = $1 WHERE id = $2")
                    .bind(seconds(self.now))
                    .bind(id.0)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }
        }

        /// A comma-separated list of integers for an `IN (…)` clause. Only integers are ever
        /// formatted into SQL this way; every other value is bound as a parameter.
        fn id_list(ids: &[i64]) -> String {
            ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
        }

        #[async_trait::async_trait]
        impl crate::Tx for $tx {
            async fn commit_before_flush(self: Box<Self>) -> Result<crate::Flush> {
                crate::Finish::finish(self.tx).await
            }

            fn now(&self) -> Timestamp {
                self.now
            }
        }

        #[async_trait::async_trait]
        impl crate::RosterTx for $tx {

            async fn roster_revision(&mut self) -> Result<i64> {
                let row = sqlx::query("SELECT value FROM roster_revision WHERE id = 1")
                    .fetch_one(&mut *self.tx)
                    .await?;
                Ok(row.try_get("value")?)
            }

            async fn insert_user(&mut self, input: &UserInput) -> Result<User> {
                self.bump_roster().await?;
                let row = sqlx::query(
                    "INSERT INTO users (name, email, time_zone, photo_url, role, ics_token, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
                )
                .bind(&input.name)
                .bind(input.email.to_lowercase())
                .bind(&input.time_zone)
                .bind(&input.photo_url)
                .bind(input.role.as_str())
                .bind(crate::new_secret())
                .bind(seconds(self.now))
                .fetch_one(&mut *self.tx)
                .await
                .map_err(|e| StoreError::from_sqlx(e, "a user with this email"))?;
                self.user(UserId(row.try_get("id")?)).await
            }

            async fn update_user(&mut self, id: UserId, input: &UserInput) -> Result<User> {
                self.bump_roster().await?;
                let done = sqlx::query(
                    "UPDATE users SET name = $1, email = $2, time_zone = $3, photo_url = $4, role = $5, updated_at = $6 \
                     WHERE id = $7",
                )
                .bind(&input.name)
                .bind(input.email.to_lowercase())
                .bind(&input.time_zone)
                .bind(&input.photo_url)
                .bind(input.role.as_str())
                .bind(seconds(self.now))
                .bind(id.0)
                .execute(&mut *self.tx)
                .await
                .map_err(|e| StoreError::from_sqlx(e, "a user with this email"))?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::not_found(format!("user {id}")));
                }
                self.user(id).await
            }

            async fn delete_user(&mut self, id: UserId) -> Result<()> {
                self.bump_roster().await?;
                let in_use = sqlx::query(
                    "SELECT (SELECT COUNT(*) FROM layer_participants WHERE user_id = $1) \
                          + (SELECT COUNT(*) FROM overrides WHERE user_id = $1 OR other_user_id = $1) AS uses",
                )
                .bind(id.0)
                .fetch_one(&mut *self.tx)
                .await?;
                let uses: i64 = in_use.try_get("uses")?;
                if uses > 0 {
                    return Err(StoreError::Reference {
                        message: format!("user {id} is still in a rotation or an override; remove them there first").into(),
                        field: None,
                    });
                }
                sqlx::query("DELETE FROM team_members WHERE user_id = $1")
                    .bind(id.0)
                    .execute(&mut *self.tx)
                    .await?;
                let done = sqlx::query("DELETE FROM users WHERE id = $1")
                    .bind(id.0)
                    .execute(&mut *self.tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::not_found(format!("user {id}")));
                }
                Ok(())
            }

            async fn user(&mut self, id: UserId) -> Result<User> {
                let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
                    .bind(id.0)
                    .fetch_optional(&mut *self.tx)
                    .await?
                    .ok_or_else(|| StoreError::not_found(format!("user {id}")))?;
                user_from(&row)
            }

            async fn find_user_by_email(&mut self, email: &str) -> Result<Option<User>> {
                let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1"))
                    .bind(email.to_lowercase())
                    .fetch_optional(&mut *self.tx)
                    .await?;
                row.as_ref().map(user_from).transpose()
            }

            async fn find_user_by_ics_token(&mut self, token: &str) -> Result<Option<User>> {
                let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE ics_token = $1"))
                    .bind(token)
                    .fetch_optional(&mut *self.tx)
                    .await?;
                row.as_ref().map(user_from).transpose()
            }

            async fn users(&mut self) -> Result<Vec<User>> {
                let rows = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY id"))
                    .fetch_all(&mut *self.tx)
                    .await?;
                rows.iter().map(user_from).collect()
            }

            async fn insert_team(&mut self, input: &TeamInput) -> Result<Team> {
                self.bump_roster().await?;
                let row = sqlx::query(
                    "INSERT INTO teams (name, description, created_at, updated_at) VALUES ($1, $2, $3, $3) RETURNING id",
                )
                .bind(&input.name)
                .bind(&input.description)
                .bind(seconds(self.now))
                .fetch_one(&mut *self.tx)
                .await
                .map_err(|e| StoreError::from_sqlx(e, "a team with this name"))?;
                let id = TeamId(row.try_get("id")?);
                self.set_members(id, &input.members).await?;
                self.team(id).await
            }

            async fn update_team(&mut self, id: TeamId, input: &TeamInput) -> Result<Team> {
                self.bump_roster().await?;
                let done = sqlx::query("UPDATE teams SET name = $1, description = $2, updated_at = $3 WHERE id = $4")
                    .bind(&input.name)
                    .bind(&input.description)
                    .bind(seconds(self.now))
                    .bind(id.0)
                    .execute(&mut *self.tx)
                    .await
                    .map_err(|e| StoreError::from_sqlx(e, "a team with this name"))?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::not_found(format!("team {id}")));
                }
                self.set_members(id, &input.members).await?;
                self.team(id).await
            }

            async fn delete_team(&mut self, id: TeamId) -> Result<()> {
                self.bump_roster().await?;
                let row = sqlx::query("SELECT COUNT(*) AS n FROM schedules WHERE team_id = $1")
                    .bind(id.0)
                    .fetch_one(&mut *self.tx)
                    .await?;
                let schedules: i64 = row.try_get("n")?;
                if schedules > 0 {
                    return Err(StoreError::Reference {
                        message: format!("team {id} still has {schedules} schedule(s); delete them first").into(),
                        field: None,
                    });
                }
                let done = sqlx::query("DELETE FROM teams WHERE id = $1")
                    .bind(id.0)
                    .execute(&mut *self.tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::not_found(format!("team {id}")));
                }
                Ok(())
            }

            async fn team(&mut self, id: TeamId) -> Result<Team> {
                let row = sqlx::query("SELECT id, name, description, created_at, updated_at FROM teams WHERE id = $1")
                    .bind(id.0)
                    .fetch_optional(&mut *self.tx)
                    .await?
                    .ok_or_else(|| StoreError::not_found(format!("team {id}")))?;
                let members = sqlx::query("SELECT user_id FROM team_members WHERE team_id = $1 ORDER BY user_id")
                    .bind(id.0)
                    .fetch_all(&mut *self.tx)
                    .await?;
                Ok(Team {
                    id,
                    name: row.try_get("name")?,
                    description: row.try_get("description")?,
                    members: members
                        .iter()
                        .map(|m| m.try_get("user_id").map(UserId))
                        .collect::<std::result::Result<_, _>>()?,
                    created_at: timestamp(row.try_get("created_at")?)?,
                    updated_at: timestamp(row.try_get("updated_at")?)?,
                })
            }

            async fn teams(&mut self) -> Result<Vec<Team>> {
                let rows = sqlx::query("SELECT id, name, description, created_at, updated_at FROM teams ORDER BY id")
                    .fetch_all(&mut *self.tx)
                    .await?;
                let members = sqlx::query("SELECT team_id, user_id FROM team_members ORDER BY team_id, user_id")
                    .fetch_all(&mut *self.tx)
                    .await?;
                let mut by_team: BTreeMap<i64, Vec<UserId>> = BTreeMap::new();
                for m in &members {
                    by_team.entry(m.try_get("team_id")?).or_default().push(UserId(m.try_get("user_id")?));
                }
                rows.iter()
                    .map(|row| {
                        let id: i64 = row.try_get("id")?;
                        Ok(Team {
                            id: TeamId(id),
                            name: row.try_get("name")?,
                            description: row.try_get("description")?,
                            members: by_team.remove(&id).unwrap_or_default(),
                            created_at: timestamp(row.try_get("created_at")?)?,
                            updated_at: timestamp(row.try_get("updated_at")?)?,
                        })
                    })
                    .collect()
            }

            async fn insert_schedule(&mut self, input: &ScheduleInput) -> Result<Schedule> {
                self.bump_roster().await?;
                self.team(input.team_id).await.map_err(|_| {
                    StoreError::reference(format!("team {} does not exist", input.team_id), "team_id")
                })?;
                self.require_schedule_follows(input, None).await?;
                let row = sqlx::query(
                    "INSERT INTO schedules (team_id, name, time_zone, follows_schedule_id, follows_offset, ics_token, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
                )
                .bind(input.team_id.0)
                .bind(&input.name)
                .bind(&input.time_zone)
                .bind(input.follows.map(|f| f.schedule_id.0))
                .bind(input.follows.map_or(0, |f| i64::from(f.offset)))
                .bind(crate::new_secret())
                .bind(seconds(self.now))
                .fetch_one(&mut *self.tx)
                .await
                .map_err(|e| StoreError::from_sqlx(e, "a schedule with this name in this team"))?;
                self.schedule(ScheduleId(row.try_get("id")?)).await
            }

            async fn update_schedule(&mut self, id: ScheduleId, input: &ScheduleInput) -> Result<Schedule> {
                self.bump_roster().await?;
                self.team(input.team_id).await.map_err(|_| {
                    StoreError::reference(format!("team {} does not exist", input.team_id), "team_id")
                })?;
                self.require_schedule_follows(input, Some(id)).await?;
                if input.follows.is_some() {
                    let followers = sqlx::query("SELECT COUNT(*) AS n FROM schedules WHERE follows_schedule_id = $1")
                        .bind(id.0)
                        .fetch_one(&mut *self.tx)
                        .await?;
                    let n: i64 = followers.try_get("n")?;
                    if n > 0 {
                        return Err(StoreError::reference(
                            "other schedules follow this one, so it cannot follow another",
                            "follows",
                        ));
                    }
                }
                let done = sqlx::query(
                    "UPDATE schedules SET team_id = $1, name = $2, time_zone = $3, follows_schedule_id = $4, \
                     follows_offset = $5, updated_at = $6 WHERE id = $7",
                )
                .bind(input.team_id.0)
                .bind(&input.name)
                .bind(&input.time_zone)
                .bind(input.follows.map(|f| f.schedule_id.0))
                .bind(input.follows.map_or(0, |f| i64::from(f.offset)))
                .bind(seconds(self.now))
                .bind(id.0)
                .execute(&mut *self.tx)
                .await
                .map_err(|e| StoreError::from_sqlx(e, "a schedule with this name in this team"))?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::not_found(format!("schedule {id}")));
                }
                self.schedule(id).await
            }

            async fn delete_schedule(&mut self, id: ScheduleId) -> Result<()> {
                self.bump_roster().await?;
                let followers = sqlx::query("SELECT COUNT(*) AS n FROM schedules WHERE follows_schedule_id = $1")
                    .bind(id.0)
                    .fetch_one(&mut *self.tx)
                    .await?;
                let n: i64 = followers.try_get("n")?;
                if n > 0 {
                    return Err(StoreError::Reference {
                        message: format!("{n} schedule(s) follow schedule {id}; delete or change them first").into(),
                        field: None,
                    });
                }
                let done = sqlx::query("DELETE FROM schedules WHERE id = $1")
                    .bind(id.0)
                    .execute(&mut *self.tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::not_found(format!("schedule {id}")));
                }
                Ok(())
            }

            async fn schedule(&mut self, id: ScheduleId) -> Result<Schedule> {
                let row = sqlx::query(&format!("SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE id = $1"))
                    .bind(id.0)
                    .fetch_optional(&mut *self.tx)
                    .await?
                    .ok_or_else(|| StoreError::not_found(format!("schedule {id}")))?;
                let mut schedules = vec![schedule_from(&row)?];
                self.attach_layers(&mut schedules).await?;
                schedules.pop().ok_or_else(|| StoreError::not_found(format!("schedule {id}")))
            }

            async fn schedules(&mut self, team: Option<TeamId>) -> Result<Vec<Schedule>> {
                let rows = match team {
                    Some(team) => {
                        sqlx::query(&format!(
                            "SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE team_id = $1 ORDER BY id"
                        ))
                        .bind(team.0)
                        .fetch_all(&mut *self.tx)
                        .await?
                    }
                    None => {
                        sqlx::query(&format!("SELECT {SCHEDULE_COLUMNS} FROM schedules ORDER BY id"))
                            .fetch_all(&mut *self.tx)
                            .await?
                    }
                };
                let mut schedules = rows.iter().map(schedule_from).collect::<Result<Vec<_>>>()?;
                self.attach_layers(&mut schedules).await?;
                Ok(schedules)
            }

            async fn find_schedule_by_ics_token(&mut self, token: &str) -> Result<Option<Schedule>> {
                let row = sqlx::query("SELECT id FROM schedules WHERE ics_token = $1")
                    .bind(token)
                    .fetch_optional(&mut *self.tx)
                    .await?;
                match row {
                    Some(row) => Ok(Some(self.schedule(ScheduleId(row.try_get("id")?)).await?)),
                    None => Ok(None),
                }
            }

            async fn insert_layer(&mut self, schedule: ScheduleId, input: &LayerInput) -> Result<Layer> {
                self.bump_roster().await?;
                let owner = self.schedule(schedule).await?;
                if owner.follows.is_some() {
                    return Err(StoreError::reference(
                        "this schedule follows another and has no layers of its own",
                        "layers",
                    ));
                }
                let position = owner.layers.iter().map(|l| l.position).max().map_or(0, |p| p + 1);
                let row = sqlx::query(
                    "INSERT INTO layers (schedule_id, position, name, turn, handoff, start_at, end_at, restrictions, participant_offset) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                )
                .bind(schedule.0)
                .bind(i64::from(position))
                .bind(&input.name)
                .bind(&input.turn)
                .bind(&input.handoff)
                .bind(seconds(input.start))
                .bind(input.end.map(seconds))
                .bind(restrictions_text(&input.restrictions))
                .bind(i64::from(input.offset))
                .fetch_one(&mut *self.tx)
                .await
                .map_err(|e| StoreError::from_sqlx(e, "a layer with this name in this schedule"))?;
                let id = LayerId(row.try_get("id")?);
                self.set_participants(id, &input.participants).await?;
                self.touch_schedule(schedule).await?;
                self.layer_by_id(id).await
            }

            async fn update_layer(&mut self, id: LayerId, input: &LayerInput) -> Result<Layer> {
                self.bump_roster().await?;
                let existing = self.layer_by_id(id).await?;
                sqlx::query(
                    "UPDATE layers SET name = $1, turn = $2, handoff = $3, start_at = $4, end_at = $5, \
                     restrictions = $6, participant_offset = $7 WHERE id = $8",
                )
                .bind(&input.name)
                .bind(&input.turn)
                .bind(&input.handoff)
                .bind(seconds(input.start))
                .bind(input.end.map(seconds))
                .bind(restrictions_text(&input.restrictions))
                .bind(i64::from(input.offset))
                .bind(id.0)
                .execute(&mut *self.tx)
                .await
                .map_err(|e| StoreError::from_sqlx(e, "a layer with this name in this schedule"))?;
                self.set_participants(id, &input.participants).await?;
                self.touch_schedule(existing.schedule_id).await?;
                self.layer_by_id(id).await
            }

            async fn delete_layer(&mut self, id: LayerId) -> Result<()> {
                self.bump_roster().await?;
                let existing = self.layer_by_id(id).await?;
                sqlx::query("DELETE FROM layers WHERE id = $1")
                    .bind(id.0)
                    .execute(&mut *self.tx)
                    .await?;
                self.touch_schedule(existing.schedule_id).await
            }

            async fn insert_override(&mut self, input: &OverrideInput) -> Result<Override> {
                self.bump_roster().await?;
                self.schedule(input.schedule_id).await?;
                let (kind, user, other) = override_columns(&input.kind);
                self.require_user(watchbill_core::UserId(user), "user".to_owned()).await?;
                if let Some(other) = other {
                    self.require_user(watchbill_core::UserId(other), "with".to_owned()).await?;
                }
                let row = sqlx::query(
                    "INSERT INTO overrides (schedule_id, start_at, end_at, kind, user_id, other_user_id, note, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                )
                .bind(input.schedule_id.0)
                .bind(seconds(input.start))
                .bind(seconds(input.end))
                .bind(kind)
                .bind(user)
                .bind(other)
                .bind(&input.note)
                .bind(seconds(self.now))
                .fetch_one(&mut *self.tx)
                .await?;
                self.touch_schedule(input.schedule_id).await?;
                self.override_by_id(OverrideId(row.try_get("id")?)).await
            }

            async fn delete_override(&mut self, id: OverrideId) -> Result<()> {
                self.bump_roster().await?;
                let existing = self.override_by_id(id).await?;
                sqlx::query("DELETE FROM overrides WHERE id = $1")
                    .bind(id.0)
                    .execute(&mut *self.tx)
                    .await?;
                self.touch_schedule(existing.schedule_id).await
            }

            async fn override_by_id(&mut self, id: OverrideId) -> Result<Override> {
                let row = sqlx::query(&format!("SELECT {OVERRIDE_COLUMNS} FROM overrides WHERE id = $1"))
                    .bind(id.0)
                    .fetch_optional(&mut *self.tx)
                    .await?
                    .ok_or_else(|| StoreError::not_found(format!("override {id}")))?;
                override_from(&row)
            }

            async fn overrides(
                &mut self,
                schedules: Option<&[ScheduleId]>,
                from: Timestamp,
                to: Timestamp,
            ) -> Result<Vec<Override>> {
                let filter = match schedules {
                    Some([]) => return Ok(Vec::new()),
                    Some(ids) => {
                        let ids: Vec<i64> = ids.iter().map(|s| s.0).collect();
                        format!("AND schedule_id IN ({})", id_list(&ids))
                    }
                    None => String::new(),
                };
                let rows = sqlx::query(&format!(
                    "SELECT {OVERRIDE_COLUMNS} FROM overrides WHERE end_at > $1 AND start_at < $2 {filter} ORDER BY id"
                ))
                .bind(seconds(from))
                .bind(seconds(to))
                .fetch_all(&mut *self.tx)
                .await?;
                rows.iter().map(override_from).collect()
            }

            async fn insert_token(&mut self, input: &TokenInput) -> Result<ApiToken> {
                if let Some(user) = input.user_id {
                    self.require_user(user, "user_id".to_owned()).await?;
                }
                let row = sqlx::query(
                    "INSERT INTO api_tokens (name, role, user_id, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(&input.name)
                .bind(input.role.as_str())
                .bind(input.user_id.map(|u| u.0))
                .bind(&input.secret_hash)
                .bind(seconds(self.now))
                .fetch_one(&mut *self.tx)
                .await
                .map_err(|e| StoreError::from_sqlx(e, "a token with this secret"))?;
                let id: i64 = row.try_get("id")?;
                let row = sqlx::query(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = $1"))
                    .bind(id)
                    .fetch_one(&mut *self.tx)
                    .await?;
                token_from(&row)
            }

            async fn find_token_by_hash(&mut self, secret_hash: &str) -> Result<Option<ApiToken>> {
                let row = sqlx::query(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE secret_hash = $1"))
                    .bind(secret_hash)
                    .fetch_optional(&mut *self.tx)
                    .await?;
                row.as_ref().map(token_from).transpose()
            }

            async fn tokens(&mut self) -> Result<Vec<ApiToken>> {
                let rows = sqlx::query(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY id"))
                    .fetch_all(&mut *self.tx)
                    .await?;
                rows.iter().map(token_from).collect()
            }

            async fn delete_token(&mut self, id: TokenId) -> Result<()> {
                let done = sqlx::query("DELETE FROM api_tokens WHERE id = $1")
                    .bind(id.0)
                    .execute(&mut *self.tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::not_found(format!("token {id}")));
                }
                Ok(())
            }

            async fn record_audit(&mut self, actor: &str, action: &str, subject: &str) -> Result<()> {
                sqlx::query("INSERT INTO audit_log (at, actor, action, subject) VALUES ($1, $2, $3, $4)")
                    .bind(seconds(self.now))
                    .bind(actor)
                    .bind(action)
                    .bind(subject)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn audit_log(&mut self, limit: i64) -> Result<Vec<AuditEntry>> {
                let rows = sqlx::query("SELECT id, at, actor, action, subject FROM audit_log ORDER BY id DESC LIMIT $1")
                    .bind(limit)
                    .fetch_all(&mut *self.tx)
                    .await?;
                rows.iter()
                    .map(|row| {
                        Ok(AuditEntry {
                            id: row.try_get("id")?,
                            at: timestamp(row.try_get("at")?)?,
                            actor: row.try_get("actor")?,
                            action: row.try_get("action")?,
                            subject: row.try_get("subject")?,
                        })
                    })
                    .collect()
            }
        }
    };
}

pub(crate) use shared_tx_impl;

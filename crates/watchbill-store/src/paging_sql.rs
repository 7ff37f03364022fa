//! The paging SQL both dialects share, written once like `shared_sql.rs`. The one difference,
//! how a claim locks rows, is a parameter: PostgreSQL adds `FOR UPDATE SKIP LOCKED` so that
//! servers sharing the database never claim the same row; SQLite has a single writer, whose
//! transaction already excludes every other.

use jiff::Timestamp;
use watchbill_core::paging::{IncidentStatus, Step, Urgency};

use crate::StoreError;

pub(crate) fn urgency(text: &str) -> Result<Urgency, StoreError> {
    text.parse().map_err(StoreError::Corrupt)
}

pub(crate) fn status(text: &str) -> Result<IncidentStatus, StoreError> {
    text.parse().map_err(StoreError::Corrupt)
}

pub(crate) fn step(level: i64, pass: i64) -> Step {
    Step {
        level: usize::try_from(level).unwrap_or(0),
        pass: u32::try_from(pass).unwrap_or(0),
    }
}

pub(crate) fn optional_timestamp(seconds: Option<i64>) -> Result<Option<Timestamp>, StoreError> {
    seconds.map(crate::shared_sql::timestamp).transpose()
}

/// Rows per multi-row statement. SQLite's driver looks each numbered parameter up by name,
/// which grows with the statement, so a few dozen rows a statement beats hundreds.
pub(crate) const ROWS_PER_STATEMENT: usize = 64;

/// An incident's columns as they are on its row. A read asks for the backend's
/// `INCIDENT_READ`, which on SQLite adds the alerts its row does not count yet.
pub(crate) const INCIDENT_COLUMNS: &str =
    "id, service_id, dedup_key, title, status, urgency, alert_count, created_at, \
    last_alert_at, acknowledged_at, resolved_at, escalation_level, escalation_pass";

/// Implements [`crate::PagingTx`] for `$tx` (see `shared_tx_impl`); `$lock` is appended to
/// claiming queries.
macro_rules! paging_tx_impl {
    ($tx:ident, $row:ty, $lock:literal) => {
        use watchbill_core::paging::{IncidentStatus, Step};
        use watchbill_core::{IncidentId, IntegrationId, PolicyId, ServiceId};

        use crate::paging::*;
        use crate::paging_sql::{optional_timestamp, status, step, urgency, INCIDENT_COLUMNS};

        const SERVICE_COLUMNS: &str =
            "id, team_id, name, description, escalation_policy_id, default_urgency, low_urgency_tickets, created_at, updated_at";
        const INTEGRATION_COLUMNS: &str = "id, service_id, kind, name, secret, rate_per_minute, created_at";
        const POLICY_COLUMNS: &str = "id, team_id, name, repeat_count, levels, created_at, updated_at";
        const NOTIFICATION_COLUMNS: &str = "id, idempotency_key, incident_id, user_id, kind, address, status, attempts, \
            due_at, last_error, created_at, sent_at";

        fn service_from(row: &$row) -> Result<Service> {
            service_from_columns(row, "")
        }

        /// A service from columns named with `prefix` (for a row that joins it to another).
        fn service_from_columns(row: &$row, prefix: &str) -> Result<Service> {
            let column = |name: &str| format!("{prefix}{name}");
            let policy: Option<i64> = row.try_get(column("escalation_policy_id").as_str())?;
            Ok(Service {
                id: ServiceId(row.try_get(column("id").as_str())?),
                team_id: TeamId(row.try_get(column("team_id").as_str())?),
                name: row.try_get(column("name").as_str())?,
                description: row.try_get(column("description").as_str())?,
                escalation_policy_id: policy.map(PolicyId),
                default_urgency: urgency(row.try_get(column("default_urgency").as_str())?)?,
                low_urgency_tickets: row.try_get::<i64, _>(column("low_urgency_tickets").as_str())? != 0,
                created_at: timestamp(row.try_get(column("created_at").as_str())?)?,
                updated_at: timestamp(row.try_get(column("updated_at").as_str())?)?,
            })
        }

        fn integration_from(row: &$row) -> Result<Integration> {
            let kind: String = row.try_get("kind")?;
            Ok(Integration {
                id: IntegrationId(row.try_get("id")?),
                service_id: ServiceId(row.try_get("service_id")?),
                kind: IntegrationKind::parse(&kind)
                    .ok_or_else(|| StoreError::Corrupt(format!("integration kind `{kind}`")))?,
                name: row.try_get("name")?,
                secret: row.try_get("secret")?,
                rate_per_minute: row.try_get("rate_per_minute")?,
                created_at: timestamp(row.try_get("created_at")?)?,
            })
        }

        impl $tx {
            /// The query of [`PagingTx::intake_route`], for the integrations `condition` picks
            /// (`$2` is the moment maintenance is asked about).
            pub(crate) fn intake_route_sql(condition: &str) -> String {
                let service_columns: Vec<String> = SERVICE_COLUMNS
                    .split(", ")
                    .map(|column| format!("s.{column} AS service_{column}"))
                    .collect();
                let integration_columns: Vec<String> =
                    INTEGRATION_COLUMNS.split(", ").map(|column| format!("i.{column}")).collect();
                format!(
                    "SELECT {}, {}, EXISTS (SELECT 1 FROM maintenance_windows m WHERE m.service_id = s.id \
                     AND m.start_at <= $2 AND (m.end_at IS NULL OR m.end_at > $2)) AS in_maintenance, \
                     (SELECT MIN(CASE WHEN m.start_at > $2 THEN m.start_at ELSE m.end_at END) \
                     FROM maintenance_windows m WHERE m.service_id = s.id \
                     AND (m.start_at > $2 OR m.end_at > $2)) AS maintenance_changes_at \
                     FROM integrations i JOIN services s ON s.id = i.service_id WHERE {condition}",
                    integration_columns.join(", "),
                    service_columns.join(", ")
                )
            }

            /// A row of [`Self::intake_route_sql`].
            pub(crate) fn intake_route_from(row: &$row) -> Result<IntakeRoute> {
                Ok(IntakeRoute {
                    integration: integration_from(row)?,
                    service: service_from_columns(row, "service_")?,
                    in_maintenance: row.try_get::<bool, _>("in_maintenance")?,
                    maintenance_changes_at: row
                        .try_get::<Option<i64>, _>("maintenance_changes_at")?
                        .map(timestamp)
                        .transpose()?,
                })
            }
        }

        fn policy_from(row: &$row) -> Result<EscalationPolicy> {
            let levels: String = row.try_get("levels")?;
            let repeat: i64 = row.try_get("repeat_count")?;
            Ok(EscalationPolicy {
                id: PolicyId(row.try_get("id")?),
                team_id: TeamId(row.try_get("team_id")?),
                name: row.try_get("name")?,
                repeat: u32::try_from(repeat).unwrap_or(0),
                levels: serde_json::from_str(&levels)
                    .map_err(|e| StoreError::Corrupt(format!("policy levels: {e}")))?,
                created_at: timestamp(row.try_get("created_at")?)?,
                updated_at: timestamp(row.try_get("updated_at")?)?,
            })
        }

        fn incident_from(row: &$row) -> Result<Incident> {
            Ok(Incident {
                id: IncidentId(row.try_get("id")?),
                service_id: ServiceId(row.try_get("service_id")?),
                dedup_key: row.try_get("dedup_key")?,
                title: row.try_get("title")?,
                status: status(row.try_get("status")?)?,
                urgency: urgency(row.try_get("urgency")?)?,
                alert_count: row.try_get("alert_count")?,
                created_at: timestamp(row.try_get("created_at")?)?,
                last_alert_at: timestamp(row.try_get("last_alert_at")?)?,
                acknowledged_at: optional_timestamp(row.try_get("acknowledged_at")?)?,
                resolved_at: optional_timestamp(row.try_get("resolved_at")?)?,
                step: step(row.try_get("escalation_level")?, row.try_get("escalation_pass")?),
                assignees: Vec::new(),
            })
        }

        fn notification_from(row: &$row) -> Result<Notification> {
            Ok(Notification {
                id: row.try_get("id")?,
                input: NotificationInput {
                    idempotency_key: row.try_get("idempotency_key")?,
                    incident_id: IncidentId(row.try_get("incident_id")?),
                    user_id: UserId(row.try_get("user_id")?),
                    kind: row.try_get("kind")?,
                    address: row.try_get("address")?,
                    due_at: timestamp(row.try_get("due_at")?)?,
                },
                status: row.try_get("status")?,
                attempts: row.try_get("attempts")?,
                last_error: row.try_get("last_error")?,
                created_at: timestamp(row.try_get("created_at")?)?,
                sent_at: optional_timestamp(row.try_get("sent_at")?)?,
            })
        }

        const DELIVERY_COLUMNS: &str = "id, idempotency_key, subscription_id, event, incident_id, payload, status, attempts, \
            last_error, created_at, sent_at";

        fn delivery_from(row: &$row) -> Result<WebhookDelivery> {
            let incident: Option<i64> = row.try_get("incident_id")?;
            Ok(WebhookDelivery {
                id: row.try_get("id")?,
                idempotency_key: row.try_get("idempotency_key")?,
                subscription_id: row.try_get("subscription_id")?,
                event: row.try_get("event")?,
                incident_id: incident.map(IncidentId),
                payload: row.try_get("payload")?,
                status: row.try_get("status")?,
                attempts: row.try_get("attempts")?,
                last_error: row.try_get("last_error")?,
                created_at: timestamp(row.try_get("created_at")?)?,
                sent_at: optional_timestamp(row.try_get("sent_at")?)?,
            })
        }

        use crate::paging_sql::ROWS_PER_STATEMENT;

        fn levels_text(levels: &[LevelInput]) -> String {
            serde_json::to_string(levels).unwrap_or_else(|_| "[]".to_owned())
        }

        impl $tx {
            async fn attach_assignees(&mut self, incidents: &mut [Incident]) -> Result<()> {
                if incidents.is_empty() {
                    return Ok(());
                }
                let rows = if let [one] = incidents {
                    sqlx::query("SELECT incident_id, user_id FROM incident_assignees WHERE incident_id = $1 ORDER BY user_id")
                        .bind(one.id.0)
                        .fetch_all(&mut *self.tx)
                        .await?
                } else {
                    let ids: Vec<i64> = incidents.iter().map(|i| i.id.0).collect();
                    sqlx::query(&format!(
                        "SELECT incident_id, user_id FROM incident_assignees WHERE incident_id {} ORDER BY user_id",
                        $tx::in_ids(1)
                    ))
                    .bind($tx::ids_param(&ids))
                    .fetch_all(&mut *self.tx)
                    .await?
                };
                for row in &rows {
                    let incident: i64 = row.try_get("incident_id")?;
                    if let Some(found) = incidents.iter_mut().find(|i| i.id.0 == incident) {
                        found.assignees.push(UserId(row.try_get("user_id")?));
                    }
                }
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl crate::PagingTx for $tx {
            async fn insert_service(&mut self, input: &ServiceInput) -> Result<Service> {
                let row = sqlx::query(
                    "INSERT INTO services (team_id, name, description, escalation_policy_id, default_urgency, low_urgency_tickets, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $7, $6, $6) RETURNING id",
                )
                .bind(input.team_id.0)
                .bind(&input.name)
                .bind(&input.description)
                .bind(input.escalation_policy_id.map(|p| p.0))
                .bind(input.default_urgency.as_str())
                .bind(seconds(self.now))
                .bind(i64::from(input.low_urgency_tickets))
                .fetch_one(&mut *self.tx)
                .await
                .map_err(|e| StoreError::from_sqlx(e, "a service with this name"))?;
                self.bump_roster().await?;
                self.service(ServiceId(row.try_get("id")?)).await
            }

            async fn update_service(&mut self, id: ServiceId, input: &ServiceInput) -> Result<Service> {
                let done = sqlx::query(
                    "UPDATE services SET team_id = $1, name = $2, description = $3, escalation_policy_id = $4, \
                     default_urgency = $5, updated_at = $6, low_urgency_tickets = $8 WHERE id = $7",
                )
                .bind(input.team_id.0)
                .bind(&input.name)
                .bind(&input.description)
                .bind(input.escalation_policy_id.map(|p| p.0))
                .bind(input.default_urgency.as_str())
                .bind(seconds(self.now))
                .bind(id.0)
                .bind(i64::from(input.low_urgency_tickets))
                .execute(&mut *self.tx)
                .await
                .map_err(|e| StoreError::from_sqlx(e, "a service with this name"))?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::not_found(format!("service {id}")));
                }
                self.bump_roster().await?;
                self.service(id).await
            }

            async fn delete_service(&mut self, id: ServiceId) -> Result<()> {
                let row = sqlx::query("SELECT COUNT(*) AS n FROM incidents WHERE service_id = $1")
                    .bind(id.0)
                    .fetch_one(&mut *self.tx)
                    .await?;
                let incidents: i64 = row.try_get("n")?;
                if incidents > 0 {
                    return Err(StoreError::Reference {
                        message: format!("service {id} has {incidents} incident(s) and is kept for their history").into(),
                        field: None,
                    });
                }
                let done = sqlx::query("DELETE FROM services WHERE id = $1").bind(id.0).execute(&mut *self.tx).await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::not_found(format!("service {id}")));
                }
                self.bump_roster().await?;
                Ok(())
            }

            async fn service(&mut self, id: ServiceId) -> Result<Service> {
                let row = sqlx::query(&format!("SELECT {SERVICE_COLUMNS} FROM services WHERE id = $1"))
                    .bind(id.0)
                    .fetch_optional(&mut *self.tx)
                    .await?
                    .ok_or_else(|| StoreError::not_found(format!("service {id}")))?;
                service_from(&row)
            }

            async fn services(&mut self) -> Result<Vec<Service>> {
                let rows = sqlx::query(&format!("SELECT {SERVICE_COLUMNS} FROM services ORDER BY id"))
                    .fetch_all(&mut *self.tx)
                    .await?;
                rows.iter().map(service_from).collect()
            }

            async fn insert_integration(&mut self, input: &IntegrationInput) -> Result<Integration> {
                self.service(input.service_id).await?;
                let row = sqlx::query(
                    "INSERT INTO integrations (service_id, kind, name, secret, rate_per_minute, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                )
                .bind(input.service_id.0)
                .bind(input.kind.as_str())
                .bind(&input.name)
                .bind(crate::new_secret())
                .bind(input.rate_per_minute)
                .bind(seconds(self.now))
                .fetch_one(&mut *self.tx)
                .await?;
                let id: i64 = row.try_get("id")?;
                let row = sqlx::query(&format!("SELECT {INTEGRATION_COLUMNS} FROM integrations WHERE id = $1"))
                    .bind(id)
                    .fetch_one(&mut *self.tx)
                    .await?;
                integration_from(&row)
            }

            async fn integrations(&mut self, service: Option<ServiceId>) -> Result<Vec<Integration>> {
                let rows = match service {
                    Some(service) => {
                        sqlx::query(&format!(
                            "SELECT {INTEGRATION_COLUMNS} FROM integrations WHERE service_id = $1 ORDER BY id"
                        ))
                        .bind(service.0)
                        .fetch_all(&mut *self.tx)
                        .await?
                    }
                    None => {
                        sqlx::query(&format!("SELECT {INTEGRATION_COLUMNS} FROM integrations ORDER BY id"))
                            .fetch_all(&mut *self.tx)
                            .await?
                    }
                };
                rows.iter().map(integration_from).collect()
            }

            async fn intake_route(&mut self, secret: &str, at: Timestamp) -> Result<Option<IntakeRoute>> {
                // Every batch of events asks this; its text is written once.
                static SQL: std::sync::LazyLock<String> =
                    std::sync::LazyLock::new(|| $tx::intake_route_sql("i.secret = $1"));
                let row = sqlx::query(SQL.as_str())
                .bind(secret)
                .bind(seconds(at))
                .fetch_optional(&mut *self.tx)
                .await?;
                row.as_ref().map($tx::intake_route_from).transpose()
            }

            async fn rotate_integration_secret(&mut self, id: IntegrationId) -> Result<Integration> {
                let done = sqlx::query("UPDATE integrations SET secret = $1 WHERE id = $2")
                    .bind(crate::new_secret())
                    .bind(id.0)
                    .execute(&mut *self.tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::not_found(format!("integration {id}")));
                }
                let row = sqlx::query(&format!("SELECT {INTEGRATION_COLUMNS} FROM integrations WHERE id = $1"))
                    .bind(id.0)
                    .fetch_one(&mut *self.tx)
                    .await?;
                integration_from(&row)
            }

            async fn delete_integration(&mut self, id: IntegrationId) -> Result<()> {
                let done = sqlx::query("DELETE FROM integrations WHERE id = $1").bind(id.0).execute(&mut *self.tx).await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::not_found(format!("integration {id}")));
                }
                Ok(())
            }

            async fn insert_policy(&mut self, input: &PolicyInput) -> Result<EscalationPolicy> {
                let row = sqlx::query(
                    "INSERT INTO escalation_policies (team_id, name, repeat_count, levels, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
                )
                .bind(input.team_id.0)
                .bind(&input.name)
                .bind(i64::from(input.repeat))
                .bind(levels_text(&input.levels))
                .bind(seconds(self.now))
                .fetch_one(&mut *self.tx)
                .await
                .map_err(|e| StoreError::from_sqlx(e, "a policy with this name in this team"))?;
                self.bump_roster().await?;
                self.policy(PolicyId(row.try_get("id")?)).await
            }

            async fn update_policy(&mut self, id: PolicyId, input: &PolicyInput) -> Result<EscalationPolicy> {
                let done = sqlx::query(
                    "UPDATE escalation_policies SET team_id = $1, name = $2, repeat_count = $3, levels = $4, updated_at = $5 \
                     WHERE id = $6",
                )
                .bind(input.team_id.0)
                .bind(&input.name)
                .bind(i64::from(input.repeat))
                .bind(levels_text(&input.levels))
                .bind(seconds(self.now))
                .bind(id.0)
                .execute(&mut *self.tx)
                .await
                .map_err(|e| StoreError::from_sqlx(e, "a policy with this name in this team"))?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::not_found(format!("escalation policy {id}")));
                }
                self.bump_roster().await?;
                self.policy(id).await
            }

            async fn delete_policy(&mut self, id: PolicyId) -> Result<()> {
                let row = sqlx::query("SELECT COUNT(*) AS n FROM services WHERE escalation_policy_id = $1")
                    .bind(id.0)
                    .fetch_one(&mut *self.tx)
                    .await?;
                let users: i64 = row.try_get("n")?;
                if users > 0 {
                    return Err(StoreError::Reference {
                        message: format!("{users} service(s) use escalation policy {id}").into(),
                        field: None,
                    });
                }
                let done = sqlx::query("DELETE FROM escalation_policies WHERE id = $1")
                    .bind(id.0)
                    .execute(&mut *self.tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::not_found(format!("escalation policy {id}")));
                }
                self.bump_roster().await?;
                Ok(())
            }

            async fn policy(&mut self, id: PolicyId) -> Result<EscalationPolicy> {
                let row = sqlx::query(&format!("SELECT {POLICY_COLUMNS} FROM escalation_policies WHERE id = $1"))
                    .bind(id.0)
                    .fetch_optional(&mut *self.tx)
                    .await?
                    .ok_or_else(|| StoreError::not_found(format!("escalation policy {id}")))?;
                policy_from(&row)
            }

            async fn policies(&mut self) -> Result<Vec<EscalationPolicy>> {
                let rows = sqlx::query(&format!("SELECT {POLICY_COLUMNS} FROM escalation_policies ORDER BY id"))
                    .fetch_all(&mut *self.tx)
                    .await?;
                rows.iter().map(policy_from).collect()
            }

            async fn insert_maintenance(
                &mut self,
                service: ServiceId,
                start: Timestamp,
                end: Option<Timestamp>,
                description: &str,
            ) -> Result<MaintenanceWindow> {
                self.service(service).await?;
                let row = sqlx::query(
                    "INSERT INTO maintenance_windows (service_id, start_at, end_at, description) VALUES ($1, $2, $3, $4) RETURNING id",
                )
                .bind(service.0)
                .bind(seconds(start))
                .bind(end.map(seconds))
                .bind(description)
                .fetch_one(&mut *self.tx)
                .await?;
                Ok(MaintenanceWindow {
                    id: row.try_get("id")?,
                    service_id: service,
                    start,
                    end,
                    description: description.to_owned(),
                })
            }

            async fn maintenance_windows(&mut self, service: ServiceId) -> Result<Vec<MaintenanceWindow>> {
                let rows = sqlx::query(
                    "SELECT id, service_id, start_at, end_at, description FROM maintenance_windows WHERE service_id = $1 ORDER BY start_at",
                )
                .bind(service.0)
                .fetch_all(&mut *self.tx)
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok(MaintenanceWindow {
                            id: row.try_get("id")?,
                            service_id: ServiceId(row.try_get("service_id")?),
                            start: timestamp(row.try_get("start_at")?)?,
                            end: optional_timestamp(row.try_get("end_at")?)?,
                            description: row.try_get("description")?,
                        })
                    })
                    .collect()
            }

            async fn delete_maintenance(&mut self, id: i64) -> Result<()> {
                let done = sqlx::query("DELETE FROM maintenance_windows WHERE id = $1").bind(id).execute(&mut *self.tx).await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::not_found(format!("maintenance window {id}")));
                }
                Ok(())
            }

            async fn in_maintenance(&mut self, service: ServiceId, at: Timestamp) -> Result<bool> {
                let row = sqlx::query(
                    "SELECT 1 AS one FROM maintenance_windows WHERE service_id = $1 AND start_at <= $2 \
                     AND (end_at IS NULL OR end_at > $2) LIMIT 1",
                )
                .bind(service.0)
                .bind(seconds(at))
                .fetch_optional(&mut *self.tx)
                .await?;
                Ok(row.is_some())
            }

            async fn insert_contact_method(&mut self, user: UserId, kind: &str, address: &str, label: &str) -> Result<ContactMethod> {
                self.require_user(user, "user_id".to_owned()).await?;
                let row = sqlx::query(
                    "INSERT INTO contact_methods (user_id, kind, address, label) VALUES ($1, $2, $3, $4) RETURNING id",
                )
                .bind(user.0)
                .bind(kind)
                .bind(address)
                .bind(label)
                .fetch_one(&mut *self.tx)
                .await
                .map_err(|e| StoreError::from_sqlx(e, "this contact method"))?;
                self.bump_roster().await?;
                Ok(ContactMethod {
                    id: row.try_get("id")?,
                    user_id: user,
                    kind: kind.to_owned(),
                    address: address.to_owned(),
                    label: label.to_owned(),
                })
            }

            async fn contact_methods(&mut self, user: UserId) -> Result<Vec<ContactMethod>> {
                let rows = sqlx::query("SELECT id, user_id, kind, address, label FROM contact_methods WHERE user_id = $1 ORDER BY id")
                    .bind(user.0)
                    .fetch_all(&mut *self.tx)
                    .await?;
                rows.iter()
                    .map(|row| {
                        Ok(ContactMethod {
                            id: row.try_get("id")?,
                            user_id: UserId(row.try_get("user_id")?),
                            kind: row.try_get("kind")?,
                            address: row.try_get("address")?,
                            label: row.try_get("label")?,
                        })
                    })
                    .collect()
            }

            async fn delete_contact_method(&mut self, id: i64) -> Result<()> {
                let done = sqlx::query("DELETE FROM contact_methods WHERE id = $1").bind(id).execute(&mut *self.tx).await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::not_found(format!("contact method {id}")));
                }
                self.bump_roster().await?;
                Ok(())
            }

            async fn insert_rule(&mut self, user: UserId, contact_method: i64, delay_seconds: i64) -> Result<NotificationRule> {
                let owner = sqlx::query("SELECT user_id FROM contact_methods WHERE id = $1")
                    .bind(contact_method)
                    .fetch_optional(&mut *self.tx)
                    .await?;
                let owned = match owner {
                    Some(row) => row.try_get::<i64, _>("user_id")? == user.0,
                    None => false,
                };
                if !owned {
                    return Err(StoreError::reference(
                        format!("user {user} has no contact method {contact_method}"),
                        "contact_method_id",
                    ));
                }
                let row = sqlx::query(
                    "INSERT INTO notification_rules (user_id, contact_method_id, delay_seconds) VALUES ($1, $2, $3) RETURNING id",
                )
                .bind(user.0)
                .bind(contact_method)
                .bind(delay_seconds)
                .fetch_one(&mut *self.tx)
                .await?;
                self.bump_roster().await?;
                Ok(NotificationRule {
                    id: row.try_get("id")?,
                    user_id: user,
                    contact_method_id: contact_method,
                    delay_seconds,
                })
            }

            async fn rules(&mut self, user: UserId) -> Result<Vec<NotificationRule>> {
                let rows = sqlx::query(
                    "SELECT id, user_id, contact_method_id, delay_seconds FROM notification_rules WHERE user_id = $1 ORDER BY delay_seconds, id",
                )
                .bind(user.0)
                .fetch_all(&mut *self.tx)
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok(NotificationRule {
                            id: row.try_get("id")?,
                            user_id: UserId(row.try_get("user_id")?),
                            contact_method_id: row.try_get("contact_method_id")?,
                            delay_seconds: row.try_get("delay_seconds")?,
                        })
                    })
                    .collect()
            }

            async fn delete_rule(&mut self, id: i64) -> Result<()> {
                let done = sqlx::query("DELETE FROM notification_rules WHERE id = $1").bind(id).execute(&mut *self.tx).await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::not_found(format!("notification rule {id}")));
                }
                self.bump_roster().await?;
                Ok(())
            }

            async fn open_incident_by_dedup(&mut self, service: ServiceId, dedup_key: &str) -> Result<Option<Incident>> {
                let columns = $tx::INCIDENT_READ;
                let row = sqlx::query(&format!(
                    "SELECT {columns} FROM incidents WHERE service_id = $1 AND dedup_key = $2 AND status <> 'resolved'"
                ))
                .bind(service.0)
                .bind(dedup_key)
                .fetch_optional(&mut *self.tx)
                .await?;
                row.as_ref().map(incident_from).transpose()
            }

            async fn insert_incident(&mut self, input: &NewIncident) -> Result<Incident> {
                let row = sqlx::query(&format!(
                    "INSERT INTO incidents (service_id, dedup_key, title, status, urgency, alert_count, created_at, last_alert_at) \
                     VALUES ($1, $2, $3, 'triggered', $4, 1, $5, $5) RETURNING {INCIDENT_COLUMNS}"
                ))
                .bind(input.service_id.0)
                .bind(&input.dedup_key)
                .bind(&input.title)
                .bind(input.urgency.as_str())
                .bind(seconds(self.now))
                .fetch_one(&mut *self.tx)
                .await
                .map_err(|e| StoreError::from_sqlx(e, "an open incident with this dedup key"))?;
                incident_from(&row)
            }

            async fn add_alert(&mut self, id: IncidentId) -> Result<()> {
                sqlx::query("UPDATE incidents SET alert_count = alert_count + 1, last_alert_at = $1 WHERE id = $2")
                    .bind(seconds(self.now))
                    .bind(id.0)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn set_incident_status(&mut self, id: IncidentId, status: IncidentStatus) -> Result<()> {
                let sql = match status {
                    IncidentStatus::Triggered => "UPDATE incidents SET status = 'triggered', acknowledged_at = NULL WHERE id = $2 AND $1 = $1",
                    IncidentStatus::Acknowledged => "UPDATE incidents SET status = 'acknowledged', acknowledged_at = $1 WHERE id = $2",
                    IncidentStatus::Resolved => "UPDATE incidents SET status = 'resolved', resolved_at = $1 WHERE id = $2",
                };
                let done = sqlx::query(sql).bind(seconds(self.now)).bind(id.0).execute(&mut *self.tx).await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::not_found(format!("incident INC-{id}")));
                }
                Ok(())
            }

            async fn incident(&mut self, id: IncidentId) -> Result<Incident> {
                let columns = $tx::INCIDENT_READ;
                let row = sqlx::query(&format!("SELECT {columns} FROM incidents WHERE id = $1"))
                    .bind(id.0)
                    .fetch_optional(&mut *self.tx)
                    .await?
                    .ok_or_else(|| StoreError::not_found(format!("incident INC-{id}")))?;
                let mut incidents = vec![incident_from(&row)?];
                self.attach_assignees(&mut incidents).await?;
                incidents.pop().ok_or_else(|| StoreError::not_found(format!("incident INC-{id}")))
            }

            async fn incidents(&mut self, filter: &IncidentFilter) -> Result<Vec<Incident>> {
                let mut conditions = vec!["1 = 1".to_owned()];
                if !filter.statuses.is_empty() {
                    // Statuses come from a closed enum, never from input text.
                    let list: Vec<String> = filter.statuses.iter().map(|s| format!("'{}'", s.as_str())).collect();
                    conditions.push(format!("status IN ({})", list.join(",")));
                }
                if let Some(service) = filter.service {
                    conditions.push(format!("service_id = {}", service.0));
                }
                if let Some(team) = filter.team {
                    conditions.push(format!("service_id IN (SELECT id FROM services WHERE team_id = {})", team.0));
                }
                if let Some(urgency) = filter.urgency {
                    conditions.push(format!("urgency = '{}'", urgency.as_str()));
                }
                if let Some(user) = filter.assignee {
                    conditions.push(format!("id IN (SELECT incident_id FROM incident_assignees WHERE user_id = {})", user.0));
                }
                if let Some(since) = filter.since {
                    conditions.push(format!("created_at >= {}", since.as_second()));
                }
                if let Some(before) = filter.before {
                    conditions.push(format!("id < {}", before.0));
                }
                let rows = sqlx::query(&format!(
                    "SELECT {} FROM incidents WHERE {} ORDER BY id DESC LIMIT $1",
                    $tx::INCIDENT_READ,
                    conditions.join(" AND ")
                ))
                .bind(filter.limit.clamp(1, 1000))
                .fetch_all(&mut *self.tx)
                .await?;
                let mut incidents = rows.iter().map(incident_from).collect::<Result<Vec<_>>>()?;
                self.attach_assignees(&mut incidents).await?;
                Ok(incidents)
            }

            async fn open_incidents_by_keys(&mut self, service: ServiceId, keys: &[String]) -> Result<Vec<OpenAlerts>> {
                // Each backend asks in the form its planner turns into one index probe per key.
                let rows = self
                    .open_incident_rows($tx::OPEN_ALERTS_READ, service.0, keys)
                    .await?;
                rows.iter()
                    .map(|row| {
                        Ok(OpenAlerts {
                            id: IncidentId(row.try_get("id")?),
                            dedup_key: row.try_get("dedup_key")?,
                            alert_count: row.try_get("alert_count")?,
                            last_alert_at: timestamp(row.try_get("last_alert_at")?)?,
                        })
                    })
                    .collect()
            }

            async fn insert_incidents(&mut self, incidents: &[(NewIncident, i64)]) -> Result<Vec<Incident>> {
                let mut inserted = Vec::with_capacity(incidents.len());
                for chunk in incidents.chunks(ROWS_PER_STATEMENT) {
                    // Six parameters a row: service, key, title, urgency, alert count, time.
                    let values: Vec<String> = (0..chunk.len())
                        .map(|i| {
                            let b = i * 6;
                            format!("(${}, ${}, ${}, 'triggered', ${}, ${}, ${}, ${})", b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 6)
                        })
                        .collect();
                    let sql = format!(
                        "INSERT INTO incidents (service_id, dedup_key, title, status, urgency, alert_count, created_at, last_alert_at) \
                         VALUES {} RETURNING {INCIDENT_COLUMNS}",
                        values.join(", ")
                    );
                    let mut query = sqlx::query(&sql);
                    for (incident, alerts) in chunk {
                        query = query
                            .bind(incident.service_id.0)
                            .bind(&incident.dedup_key)
                            .bind(&incident.title)
                            .bind(incident.urgency.as_str())
                            .bind(*alerts)
                            .bind(seconds(self.now));
                    }
                    let rows = query
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err(|e| StoreError::from_sqlx(e, "an open incident with this dedup key"))?;
                    for row in &rows {
                        inserted.push(incident_from(row)?);
                    }
                }
                Ok(inserted)
            }

            async fn add_alerts(&mut self, counts: &[(IncidentId, i64)]) -> Result<u64> {
                // Rows are locked in the order of their ids, as every multi-row update of
                // incidents does, so two such updates never wait for each other in a circle.
                let mut counts = counts.to_vec();
                counts.sort_unstable_by_key(|(id, _)| id.0);
                // Each backend in the form it writes fastest (`sqlite_rows.rs`, `postgres_rows.rs`).
                Ok(self.add_alert_rows(&counts).await?)
            }

            async fn insert_events(&mut self, events: &[EventInput]) -> Result<()> {
                // Each backend in the form it writes fastest.
                self.insert_event_rows(events).await?;
                Ok(())
            }

            async fn insert_events_adding_alerts(
                &mut self,
                events: &[EventInput],
                counts: &[(IncidentId, i64)],
                check: OpenCheck,
            ) -> Result<u64> {
                // In the order of the incidents' ids: see `add_alerts`.
                let mut counts = counts.to_vec();
                counts.sort_unstable_by_key(|(id, _)| id.0);
                Ok(self.alert_and_event_rows(&counts, events, check).await?)
            }

            async fn log_many(&mut self, lines: &[(IncidentId, String, String, String)]) -> Result<()> {
                self.log_rows(lines).await?;
                Ok(())
            }

            async fn set_timers(&mut self, timers: &[(IncidentId, Timestamp, Step)]) -> Result<()> {
                self.timer_rows(timers).await?;
                Ok(())
            }

            async fn incidents_by_ids(&mut self, ids: &[IncidentId]) -> Result<Vec<Incident>> {
                let mut incidents = Vec::with_capacity(ids.len());
                for chunk in ids.chunks(ROWS_PER_STATEMENT * 4) {
                    let ids: Vec<i64> = chunk.iter().map(|id| id.0).collect();
                    let rows = sqlx::query(&format!("SELECT {} FROM incidents WHERE id {}", $tx::INCIDENT_READ, $tx::in_ids(1)))
                        .bind($tx::ids_param(&ids))
                        .fetch_all(&mut *self.tx)
                        .await?;
                    let mut found = rows.iter().map(incident_from).collect::<Result<Vec<_>>>()?;
                    self.attach_assignees(&mut found).await?;
                    incidents.append(&mut found);
                }
                Ok(incidents)
            }

            async fn set_incident_steps(&mut self, steps: &[(IncidentId, Step)]) -> Result<()> {
                // In the order of the incidents' ids: see `add_alerts`.
                let mut steps = steps.to_vec();
                steps.sort_unstable_by_key(|(id, _)| id.0);
                self.step_rows(&steps).await?;
                Ok(())
            }

            async fn clear_timers(&mut self, incidents: &[IncidentId]) -> Result<()> {
                for chunk in incidents.chunks(ROWS_PER_STATEMENT * 4) {
                    let ids: Vec<i64> = chunk.iter().map(|id| id.0).collect();
                    sqlx::query(&format!("DELETE FROM escalation_timers WHERE incident_id {}", $tx::in_ids(1)))
                        .bind($tx::ids_param(&ids))
                        .execute(&mut *self.tx)
                        .await?;
                }
                Ok(())
            }

            async fn clear_assignees(&mut self, incidents: &[IncidentId]) -> Result<()> {
                for chunk in incidents.chunks(ROWS_PER_STATEMENT * 4) {
                    let ids: Vec<i64> = chunk.iter().map(|id| id.0).collect();
                    sqlx::query(&format!("DELETE FROM incident_assignees WHERE incident_id {}", $tx::in_ids(1)))
                        .bind($tx::ids_param(&ids))
                        .execute(&mut *self.tx)
                        .await?;
                }
                Ok(())
            }

            async fn add_assignees(&mut self, assignees: &[(IncidentId, UserId)]) -> Result<()> {
                self.assignee_rows(assignees).await.map_err(|e| StoreError::from_sqlx(e, "this assignee"))
            }

            async fn insert_notifications(&mut self, inputs: &[NotificationInput]) -> Result<Vec<String>> {
                Ok(self.notification_rows(inputs).await?)
            }

            async fn mark_notifications_sent(&mut self, ids: &[i64]) -> Result<()> {
                for chunk in ids.chunks(ROWS_PER_STATEMENT * 4) {
                    sqlx::query(&format!(
                        "UPDATE notifications SET status = 'sent', sent_at = $1, last_error = '' WHERE id {}",
                        $tx::in_ids(2)
                    ))
                    .bind(seconds(self.now))
                    .bind($tx::ids_param(chunk))
                    .execute(&mut *self.tx)
                    .await?;
                }
                Ok(())
            }

            async fn insert_event(&mut self, input: &EventInput) -> Result<i64> {
                let row = sqlx::query(
                    "INSERT INTO events (integration_id, incident_id, received_at, action, dedup_key, summary, severity, source, outcome, payload) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
                )
                .bind(input.integration_id.0)
                .bind(input.incident_id.map(|i| i.0))
                .bind(seconds(self.now))
                .bind(&input.action)
                .bind(&input.dedup_key)
                .bind(&input.summary)
                .bind(&input.severity)
                .bind(&input.source)
                .bind(&input.outcome)
                .bind(&input.payload)
                .fetch_one(&mut *self.tx)
                .await?;
                Ok(row.try_get("id")?)
            }

            async fn events(&mut self, incident: IncidentId, limit: i64) -> Result<Vec<EventRecord>> {
                // The newest first along the index by incident, as far as asked, then turned.
                let rows = sqlx::query(
                    "SELECT * FROM (SELECT id, integration_id, incident_id, received_at, action, dedup_key, summary, \
                     severity, source, outcome, payload FROM events WHERE incident_id = $1 ORDER BY id DESC LIMIT $2) \
                     AS newest ORDER BY id",
                )
                .bind(incident.0)
                .bind(limit.max(0))
                .fetch_all(&mut *self.tx)
                .await?;
                rows.iter()
                    .map(|row| {
                        let incident: Option<i64> = row.try_get("incident_id")?;
                        Ok(EventRecord {
                            id: row.try_get("id")?,
                            received_at: timestamp(row.try_get("received_at")?)?,
                            input: EventInput {
                                integration_id: IntegrationId(row.try_get("integration_id")?),
                                incident_id: incident.map(IncidentId),
                                action: row.try_get("action")?,
                                dedup_key: row.try_get("dedup_key")?,
                                summary: row.try_get("summary")?,
                                severity: row.try_get("severity")?,
                                source: row.try_get("source")?,
                                outcome: row.try_get("outcome")?,
                                payload: row.try_get("payload")?,
                            },
                        })
                    })
                    .collect()
            }

            async fn service_changes(&mut self, service: ServiceId, limit: i64) -> Result<Vec<EventRecord>> {
                let rows = sqlx::query(
                    "SELECT id, integration_id, incident_id, received_at, action, dedup_key, summary, severity, source, outcome, payload \
                     FROM events WHERE action = 'change' AND integration_id IN (SELECT id FROM integrations WHERE service_id = $1) ORDER BY id DESC LIMIT $2",
                )
                .bind(service.0)
                .bind(limit)
                .fetch_all(&mut *self.tx)
                .await?;
                rows.iter()
                    .map(|row| {
                        let incident: Option<i64> = row.try_get("incident_id")?;
                        Ok(EventRecord {
                            id: row.try_get("id")?,
                            received_at: timestamp(row.try_get("received_at")?)?,
                            input: EventInput {
                                integration_id: IntegrationId(row.try_get("integration_id")?),
                                incident_id: incident.map(IncidentId),
                                action: row.try_get("action")?,
                                dedup_key: row.try_get("dedup_key")?,
                                summary: row.try_get("summary")?,
                                severity: row.try_get("severity")?,
                                source: row.try_get("source")?,
                                outcome: row.try_get("outcome")?,
                                payload: row.try_get("payload")?,
                            },
                        })
                    })
                    .collect()
            }

            async fn count_events(&mut self) -> Result<i64> {
                let row = sqlx::query("SELECT COUNT(*) AS n FROM events").fetch_one(&mut *self.tx).await?;
                Ok(row.try_get("n")?)
            }

            async fn log(&mut self, incident: IncidentId, kind: &str, actor: &str, message: &str) -> Result<()> {
                sqlx::query("INSERT INTO incident_log (incident_id, at, kind, actor, message) VALUES ($1, $2, $3, $4, $5)")
                    .bind(incident.0)
                    .bind(seconds(self.now))
                    .bind(kind)
                    .bind(actor)
                    .bind(message)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn incident_log(&mut self, incident: IncidentId) -> Result<Vec<LogEntry>> {
                let rows = sqlx::query(
                    "SELECT id, incident_id, at, kind, actor, message FROM incident_log WHERE incident_id = $1 ORDER BY id",
                )
                .bind(incident.0)
                .fetch_all(&mut *self.tx)
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok(LogEntry {
                            id: row.try_get("id")?,
                            incident_id: IncidentId(row.try_get("incident_id")?),
                            at: timestamp(row.try_get("at")?)?,
                            kind: row.try_get("kind")?,
                            actor: row.try_get("actor")?,
                            message: row.try_get("message")?,
                        })
                    })
                    .collect()
            }

            async fn set_timer(&mut self, incident: IncidentId, due_at: Timestamp, step: Step) -> Result<()> {
                sqlx::query(
                    "INSERT INTO escalation_timers (incident_id, due_at, level, pass) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (incident_id) DO UPDATE SET due_at = excluded.due_at, level = excluded.level, pass = excluded.pass",
                )
                .bind(incident.0)
                .bind(seconds(due_at))
                .bind(step.level as i64)
                .bind(i64::from(step.pass))
                .execute(&mut *self.tx)
                .await?;
                Ok(())
            }

            async fn clear_timer(&mut self, incident: IncidentId) -> Result<()> {
                sqlx::query("DELETE FROM escalation_timers WHERE incident_id = $1")
                    .bind(incident.0)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn timer(&mut self, incident: IncidentId) -> Result<Option<EscalationTimer>> {
                let row = sqlx::query("SELECT incident_id, due_at, level, pass FROM escalation_timers WHERE incident_id = $1")
                    .bind(incident.0)
                    .fetch_optional(&mut *self.tx)
                    .await?;
                match row {
                    None => Ok(None),
                    Some(row) => Ok(Some(EscalationTimer {
                        incident_id: IncidentId(row.try_get("incident_id")?),
                        due_at: timestamp(row.try_get("due_at")?)?,
                        step: step(row.try_get("level")?, row.try_get("pass")?),
                    })),
                }
            }

            async fn claim_due_timers(&mut self, now: Timestamp, limit: i64) -> Result<Vec<EscalationTimer>> {
                let rows = sqlx::query(concat!(
                    "SELECT incident_id, due_at, level, pass FROM escalation_timers WHERE due_at <= $1 ORDER BY due_at LIMIT $2 ",
                    $lock
                ))
                .bind(seconds(now))
                .bind(limit)
                .fetch_all(&mut *self.tx)
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok(EscalationTimer {
                            incident_id: IncidentId(row.try_get("incident_id")?),
                            due_at: timestamp(row.try_get("due_at")?)?,
                            step: step(row.try_get("level")?, row.try_get("pass")?),
                        })
                    })
                    .collect()
            }

            async fn claim_due_notifications(&mut self, now: Timestamp, lease_until: Timestamp, limit: i64) -> Result<Vec<Notification>> {
                // One statement, one round trip: the due rows are picked (and on PostgreSQL
                // locked, skipping those another server holds) and leased together.
                let claimed = sqlx::query(&format!(
                    "UPDATE notifications SET due_at = $1, attempts = attempts + 1 WHERE id IN (\
                     SELECT id FROM notifications WHERE status = 'pending' AND due_at <= $2 \
                     ORDER BY due_at, id LIMIT $3 {}) RETURNING {NOTIFICATION_COLUMNS}",
                    $lock
                ))
                .bind(seconds(lease_until))
                .bind(seconds(now))
                .bind(limit)
                .fetch_all(&mut *self.tx)
                .await?;
                let mut notifications = claimed.iter().map(notification_from).collect::<Result<Vec<_>>>()?;
                notifications.sort_by_key(|n| n.id);
                Ok(notifications)
            }

            async fn mark_notification_failed(&mut self, id: i64, error: &str, retry_at: Option<Timestamp>) -> Result<()> {
                match retry_at {
                    Some(retry_at) => {
                        sqlx::query("UPDATE notifications SET last_error = $1, due_at = $2 WHERE id = $3")
                            .bind(error)
                            .bind(seconds(retry_at))
                            .bind(id)
                            .execute(&mut *self.tx)
                            .await?
                    }
                    None => {
                        sqlx::query("UPDATE notifications SET last_error = $1, status = 'failed' WHERE id = $2")
                            .bind(error)
                            .bind(id)
                            .execute(&mut *self.tx)
                            .await?
                    }
                };
                Ok(())
            }

            async fn cancel_notifications(&mut self, incident: IncidentId) -> Result<u64> {
                let done = sqlx::query("UPDATE notifications SET status = 'cancelled' WHERE incident_id = $1 AND status = 'pending'")
                    .bind(incident.0)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(done.rows_affected())
            }

            async fn notifications(&mut self, incident: IncidentId) -> Result<Vec<Notification>> {
                let rows = sqlx::query(&format!(
                    "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE incident_id = $1 ORDER BY id"
                ))
                .bind(incident.0)
                .fetch_all(&mut *self.tx)
                .await?;
                rows.iter().map(notification_from).collect()
            }

            async fn insert_heartbeat(&mut self, integration: IntegrationId, interval_seconds: i64) -> Result<()> {
                sqlx::query("INSERT INTO heartbeats (integration_id, interval_seconds, down) VALUES ($1, $2, 0)")
                    .bind(integration.0)
                    .bind(interval_seconds)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn heartbeat(&mut self, integration: IntegrationId) -> Result<Option<Heartbeat>> {
                let row = sqlx::query("SELECT integration_id, interval_seconds, last_ping_at, down FROM heartbeats WHERE integration_id = $1")
                    .bind(integration.0)
                    .fetch_optional(&mut *self.tx)
                    .await?;
                match row {
                    None => Ok(None),
                    Some(row) => {
                        let down: i64 = row.try_get("down")?;
                        Ok(Some(Heartbeat {
                            integration_id: IntegrationId(row.try_get("integration_id")?),
                            interval_seconds: row.try_get("interval_seconds")?,
                            last_ping_at: optional_timestamp(row.try_get("last_ping_at")?)?,
                            down: down != 0,
                        }))
                    }
                }
            }

            async fn record_ping(&mut self, integration: IntegrationId) -> Result<bool> {
                let was_down = self.heartbeat(integration).await?.is_some_and(|h| h.down);
                sqlx::query("UPDATE heartbeats SET last_ping_at = $1, down = 0 WHERE integration_id = $2")
                    .bind(seconds(self.now))
                    .bind(integration.0)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(was_down)
            }

            async fn claim_overdue_heartbeats(&mut self, now: Timestamp, limit: i64) -> Result<Vec<IntegrationId>> {
                let rows = sqlx::query(concat!(
                    "SELECT integration_id FROM heartbeats WHERE down = 0 AND last_ping_at IS NOT NULL \
                     AND last_ping_at + interval_seconds <= $1 ORDER BY integration_id LIMIT $2 ",
                    $lock
                ))
                .bind(seconds(now))
                .bind(limit)
                .fetch_all(&mut *self.tx)
                .await?;
                let ids = rows.iter().map(|row| row.try_get("integration_id")).collect::<std::result::Result<Vec<i64>, _>>()?;
                if !ids.is_empty() {
                    sqlx::query(&format!("UPDATE heartbeats SET down = 1 WHERE integration_id IN ({})", id_list(&ids)))
                        .execute(&mut *self.tx)
                        .await?;
                }
                Ok(ids.into_iter().map(IntegrationId).collect())
            }

            async fn insert_webhook(&mut self, url: &str, events: &[String]) -> Result<WebhookSubscription> {
                let row = sqlx::query(
                    "INSERT INTO webhook_subscriptions (url, secret, events, enabled, consecutive_failures, created_at) \
                     VALUES ($1, $2, $3, 1, 0, $4) RETURNING id",
                )
                .bind(url)
                .bind(crate::new_secret())
                .bind(events.join(","))
                .bind(seconds(self.now))
                .fetch_one(&mut *self.tx)
                .await?;
                let id: i64 = row.try_get("id")?;
                self.webhooks()
                    .await?
                    .into_iter()
                    .find(|w| w.id == id)
                    .ok_or_else(|| StoreError::not_found(format!("webhook {id}")))
            }

            async fn webhooks(&mut self) -> Result<Vec<WebhookSubscription>> {
                let rows = sqlx::query(
                    "SELECT id, url, secret, events, enabled, consecutive_failures, created_at FROM webhook_subscriptions ORDER BY id",
                )
                .fetch_all(&mut *self.tx)
                .await?;
                rows.iter()
                    .map(|row| {
                        let events: String = row.try_get("events")?;
                        let enabled: i64 = row.try_get("enabled")?;
                        Ok(WebhookSubscription {
                            id: row.try_get("id")?,
                            url: row.try_get("url")?,
                            secret: row.try_get("secret")?,
                            events: events.split(',').filter(|e| !e.is_empty()).map(str::to_owned).collect(),
                            enabled: enabled != 0,
                            consecutive_failures: row.try_get("consecutive_failures")?,
                            created_at: timestamp(row.try_get("created_at")?)?,
                        })
                    })
                    .collect()
            }

            async fn delete_webhook(&mut self, id: i64) -> Result<()> {
                let done = sqlx::query("DELETE FROM webhook_subscriptions WHERE id = $1").bind(id).execute(&mut *self.tx).await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::not_found(format!("webhook {id}")));
                }
                Ok(())
            }

            async fn set_webhook_enabled(&mut self, id: i64, enabled: bool) -> Result<()> {
                // Enabling starts the failure count afresh; disabling keeps it as the reason.
                let sql = if enabled {
                    "UPDATE webhook_subscriptions SET enabled = $1, consecutive_failures = 0 WHERE id = $2"
                } else {
                    "UPDATE webhook_subscriptions SET enabled = $1 WHERE id = $2"
                };
                let done = sqlx::query(sql)
                    .bind(i64::from(enabled))
                    .bind(id)
                    .execute(&mut *self.tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::not_found(format!("webhook {id}")));
                }
                Ok(())
            }

            async fn insert_webhook_delivery(
                &mut self,
                subscription: i64,
                event: &str,
                incident: Option<IncidentId>,
                idempotency_key: &str,
                payload: &str,
            ) -> Result<()> {
                sqlx::query(
                    "INSERT INTO webhook_deliveries (idempotency_key, subscription_id, event, incident_id, payload, status, attempts, due_at, created_at) \
                     VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6) ON CONFLICT (idempotency_key) DO NOTHING",
                )
                .bind(idempotency_key)
                .bind(subscription)
                .bind(event)
                .bind(incident.map(|i| i.0))
                .bind(payload)
                .bind(seconds(self.now))
                .execute(&mut *self.tx)
                .await?;
                Ok(())
            }

            async fn claim_due_deliveries(&mut self, now: Timestamp, lease_until: Timestamp, limit: i64) -> Result<Vec<WebhookDelivery>> {
                let rows = sqlx::query(concat!(
                    "SELECT id FROM webhook_deliveries WHERE status = 'pending' AND due_at <= $1 ORDER BY due_at, id LIMIT $2 ",
                    $lock
                ))
                .bind(seconds(now))
                .bind(limit)
                .fetch_all(&mut *self.tx)
                .await?;
                if rows.is_empty() {
                    return Ok(Vec::new());
                }
                let ids = rows.iter().map(|row| row.try_get("id")).collect::<std::result::Result<Vec<i64>, _>>()?;
                sqlx::query(&format!(
                    "UPDATE webhook_deliveries SET due_at = $1, attempts = attempts + 1 WHERE id IN ({})",
                    id_list(&ids)
                ))
                .bind(seconds(lease_until))
                .execute(&mut *self.tx)
                .await?;
                let rows = sqlx::query(&format!(
                    "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id IN ({}) ORDER BY id",
                    id_list(&ids)
                ))
                .fetch_all(&mut *self.tx)
                .await?;
                rows.iter().map(delivery_from).collect()
            }

            async fn mark_delivery_sent(&mut self, id: i64) -> Result<()> {
                sqlx::query("UPDATE webhook_deliveries SET status = 'sent', sent_at = $1, last_error = '' WHERE id = $2")
                    .bind(seconds(self.now))
                    .bind(id)
                    .execute(&mut *self.tx)
                    .await?;
                sqlx::query(
                    "UPDATE webhook_subscriptions SET consecutive_failures = 0 \
                     WHERE id = (SELECT subscription_id FROM webhook_deliveries WHERE id = $1)",
                )
                .bind(id)
                .execute(&mut *self.tx)
                .await?;
                Ok(())
            }

            async fn mark_delivery_failed(&mut self, id: i64, error: &str, retry_at: Option<Timestamp>) -> Result<i64> {
                match retry_at {
                    Some(at) => {
                        sqlx::query("UPDATE webhook_deliveries SET last_error = $1, due_at = $2 WHERE id = $3")
                            .bind(error)
                            .bind(seconds(at))
                            .bind(id)
                            .execute(&mut *self.tx)
                            .await?
                    }
                    None => {
                        sqlx::query("UPDATE webhook_deliveries SET last_error = $1, status = 'failed' WHERE id = $2")
                            .bind(error)
                            .bind(id)
                            .execute(&mut *self.tx)
                            .await?
                    }
                };
                let row = sqlx::query(
                    "UPDATE webhook_subscriptions SET consecutive_failures = consecutive_failures + 1 \
                     WHERE id = (SELECT subscription_id FROM webhook_deliveries WHERE id = $1) RETURNING consecutive_failures",
                )
                .bind(id)
                .fetch_optional(&mut *self.tx)
                .await?;
                match row {
                    Some(row) => Ok(row.try_get("consecutive_failures")?),
                    None => Ok(0),
                }
            }

            async fn deliveries(&mut self, subscription: i64, limit: i64) -> Result<Vec<WebhookDelivery>> {
                let rows = sqlx::query(&format!(
                    "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE subscription_id = $1 ORDER BY id DESC LIMIT $2"
                ))
                .bind(subscription)
                .bind(limit)
                .fetch_all(&mut *self.tx)
                .await?;
                rows.iter().map(delivery_from).collect()
            }

            async fn server_secret(&mut self, name: &str, candidate: &str) -> Result<String> {
                sqlx::query("INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
                    .bind(name)
                    .bind(candidate)
                    .execute(&mut *self.tx)
                    .await?;
                let row = sqlx::query("SELECT value FROM server_secrets WHERE name = $1")
                    .bind(name)
                    .fetch_one(&mut *self.tx)
                    .await?;
                Ok(row.try_get("value")?)
            }
        }
    };
}

pub(crate) use paging_tx_impl;

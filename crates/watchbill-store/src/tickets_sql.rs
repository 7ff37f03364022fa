//! The ticket SQL both dialects share, written once like `shared_sql.rs`.

/// Implements [`crate::tickets::TicketTx`] for `$tx` (see `shared_tx_impl`).
macro_rules! tickets_tx_impl {
    ($tx:ident, $row:ty) => {
        use watchbill_core::tickets::filter::{CompiledSql, SqlValue};
        use watchbill_core::tickets::{Priority, Ticket, TicketKey, TicketKind, TicketStatus};

        use crate::tickets::*;

        const TICKET_COLUMNS: &str = "id, team_id, team_key, number, title, description, kind, priority, status, \
            due_date, created_at, updated_at, resolved_at, reporter_id, assignee_id, component";

        fn ticket_from(row: &$row) -> Result<StoredTicket> {
            let corrupt = |what: &str| StoreError::Corrupt(format!("ticket {what}"));
            let team_key: String = row.try_get("team_key")?;
            let number: i64 = row.try_get("number")?;
            let kind: String = row.try_get("kind")?;
            let status: String = row.try_get("status")?;
            let priority: i64 = row.try_get("priority")?;
            let due: Option<String> = row.try_get("due_date")?;
            let reporter: Option<i64> = row.try_get("reporter_id")?;
            let assignee: Option<i64> = row.try_get("assignee_id")?;
            let resolved: Option<i64> = row.try_get("resolved_at")?;
            Ok(StoredTicket {
                id: row.try_get("id")?,
                team_id: TeamId(row.try_get("team_id")?),
                ticket: Ticket {
                    key: TicketKey::new(&team_key, number).ok_or_else(|| corrupt("key"))?,
                    title: row.try_get("title")?,
                    description: row.try_get("description")?,
                    kind: TicketKind::from_name(&kind).ok_or_else(|| corrupt("kind"))?,
                    labels: Vec::new(),
                    priority: Priority::from_rank(priority).ok_or_else(|| corrupt("priority"))?,
                    status: TicketStatus::from_name(&status).ok_or_else(|| corrupt("status"))?,
                    due: due.map(|d| d.parse()).transpose().map_err(|_| corrupt("due date"))?,
                    created: timestamp(row.try_get("created_at")?)?,
                    updated: timestamp(row.try_get("updated_at")?)?,
                    resolved: resolved.map(timestamp).transpose()?,
                    reporter: reporter.map(UserId),
                    assignee: assignee.map(UserId),
                    component: row.try_get("component")?,
                },
            })
        }

        fn attachment_from(row: &$row) -> Result<Attachment> {
            Ok(Attachment {
                id: row.try_get("id")?,
                ticket_id: row.try_get("ticket_id")?,
                filename: row.try_get("filename")?,
                content_type: row.try_get("content_type")?,
                size: row.try_get("size")?,
                uploaded_by: row.try_get("uploaded_by")?,
                created_at: timestamp(row.try_get("created_at")?)?,
            })
        }

        fn commit_from(row: &$row) -> Result<Commit> {
            let lines = |text: String| text.lines().filter(|l| !l.is_empty()).map(str::to_owned).collect();
            Ok(Commit {
                repository: row.try_get("repository")?,
                sha: row.try_get("sha")?,
                author_email: row.try_get("author_email")?,
                message: row.try_get("message")?,
                committed_at: timestamp(row.try_get("committed_at")?)?,
                added: lines(row.try_get("added")?),
                modified: lines(row.try_get("modified")?),
            })
        }

        fn saved_filter_from(row: &$row) -> Result<SavedFilter> {
            let team: Option<i64> = row.try_get("team_id")?;
            let user: Option<i64> = row.try_get("user_id")?;
            Ok(SavedFilter {
                id: row.try_get("id")?,
                team_id: team.map(TeamId),
                user_id: user.map(UserId),
                name: row.try_get("name")?,
                query: row.try_get("query")?,
            })
        }

        fn text_of(change: &TicketChange) -> (&'static str, String) {
            match change {
                TicketChange::Title(v) => ("title", v.clone()),
                TicketChange::Description(v) => ("description", v.clone()),
                TicketChange::Kind(v) => ("type", v.as_str().to_owned()),
                TicketChange::Priority(v) => ("priority", v.as_str().to_owned()),
                TicketChange::Status(v) => ("status", v.as_str().to_owned()),
                TicketChange::Due(v) => ("due", v.map(|d| d.to_string()).unwrap_or_default()),
                TicketChange::Assignee(v) => ("assignee", v.map(|u| u.to_string()).unwrap_or_default()),
                TicketChange::Component(v) => ("component", v.clone().unwrap_or_default()),
                TicketChange::Labels(v) => ("labels", v.join(", ")),
            }
        }

        fn current_text(ticket: &Ticket, field: &str) -> String {
            match field {
                "title" => ticket.title.clone(),
                "description" => ticket.description.clone(),
                "type" => ticket.kind.as_str().to_owned(),
                "priority" => ticket.priority.as_str().to_owned(),
                "status" => ticket.status.as_str().to_owned(),
                "due" => ticket.due.map(|d| d.to_string()).unwrap_or_default(),
                "assignee" => ticket.assignee.map(|u| u.to_string()).unwrap_or_default(),
                "component" => ticket.component.clone().unwrap_or_default(),
                _ => ticket.labels.join(", "),
            }
        }

        impl $tx {
            /// Loads tickets by id, keeping the order of `ids`.
            async fn load_tickets(&mut self, ids: &[i64]) -> Result<Vec<StoredTicket>> {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let list = id_list(ids);
                let rows = sqlx::query(&format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE id IN ({list})"))
                    .fetch_all(&mut *self.tx)
                    .await?;
                let mut by_id: BTreeMap<i64, StoredTicket> = BTreeMap::new();
                for row in &rows {
                    let ticket = ticket_from(row)?;
                    by_id.insert(ticket.id, ticket);
                }
                let labels = sqlx::query(&format!(
                    "SELECT ticket_id, label FROM ticket_labels WHERE ticket_id IN ({list}) ORDER BY label"
                ))
                .fetch_all(&mut *self.tx)
                .await?;
                for row in &labels {
                    let id: i64 = row.try_get("ticket_id")?;
                    if let Some(ticket) = by_id.get_mut(&id) {
                        ticket.ticket.labels.push(row.try_get("label")?);
                    }
                }
                Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
            }

            async fn set_labels(&mut self, id: i64, labels: &[String]) -> Result<()> {
                sqlx::query("DELETE FROM ticket_labels WHERE ticket_id = $1").bind(id).execute(&mut *self.tx).await?;
                let mut unique: Vec<&String> = labels.iter().collect();
                unique.sort();
                unique.dedup();
                for label in unique {
                    sqlx::query("INSERT INTO ticket_labels (ticket_id, label) VALUES ($1, $2)")
                        .bind(id)
                        .bind(label)
                        .execute(&mut *self.tx)
                        .await?;
                }
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl crate::tickets::TicketTx for $tx {
            async fn ticket_settings(&mut self, team: TeamId) -> Result<Option<TicketSettings>> {
                Ok(self.all_ticket_settings().await?.into_iter().find(|s| s.team_id == team))
            }

            async fn all_ticket_settings(&mut self) -> Result<Vec<TicketSettings>> {
                let rows = sqlx::query("SELECT team_id, prefix, duty_filter, assign_to_captain FROM ticket_settings ORDER BY team_id")
                    .fetch_all(&mut *self.tx)
                    .await?;
                rows.iter()
                    .map(|row| {
                        let assign: i64 = row.try_get("assign_to_captain")?;
                        Ok(TicketSettings {
                            team_id: TeamId(row.try_get("team_id")?),
                            prefix: row.try_get("prefix")?,
                            duty_filter: row.try_get("duty_filter")?,
                            assign_to_captain: assign != 0,
                        })
                    })
                    .collect()
            }

            async fn set_ticket_settings(&mut self, settings: &TicketSettings) -> Result<()> {
                crate::RosterTx::team(self, settings.team_id).await?;
                sqlx::query(
                    "INSERT INTO ticket_settings (team_id, prefix, duty_filter, assign_to_captain) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (team_id) DO UPDATE SET prefix = excluded.prefix, duty_filter = excluded.duty_filter, \
                     assign_to_captain = excluded.assign_to_captain",
                )
                .bind(settings.team_id.0)
                .bind(&settings.prefix)
                .bind(&settings.duty_filter)
                .bind(i64::from(settings.assign_to_captain))
                .execute(&mut *self.tx)
                .await
                .map_err(|e| StoreError::from_sqlx(e, "a team with this ticket prefix"))?;
                Ok(())
            }

            async fn insert_ticket(&mut self, input: &NewTicket, actor: &str) -> Result<StoredTicket> {
                let mut filed = self.insert_tickets(input.team_id, &[(input.clone(), actor.to_owned())]).await?;
                filed.pop().ok_or_else(|| StoreError::Corrupt("a filed ticket was not returned".to_owned()))
            }

            async fn insert_tickets(&mut self, team: TeamId, tickets: &[(NewTicket, String)]) -> Result<Vec<StoredTicket>> {
                // Rows per statement: the ticket insert binds 14 values a row, well under both
                // backends' limits on parameters per statement.
                const CHUNK: usize = 500;
                if let Some((other, _)) = tickets.iter().find(|(t, _)| t.team_id != team) {
                    return Err(StoreError::reference(
                        format!("ticket `{}` belongs to another team", other.title),
                        "team_id",
                    ));
                }
                let settings = self.ticket_settings(team).await?.ok_or_else(|| {
                    StoreError::reference(format!("team {team} has no ticket prefix yet"), "team_id")
                })?;
                // Numbers are taken in order per team: touching the team's settings row locks
                // it until this transaction ends, so a second writer waits here instead of taking
                // the same number (PostgreSQL; SQLite has one writer anyway).
                sqlx::query("UPDATE ticket_settings SET prefix = prefix WHERE team_id = $1")
                    .bind(team.0)
                    .execute(&mut *self.tx)
                    .await?;
                let row = sqlx::query("SELECT COALESCE(MAX(number), 0) AS n FROM tickets WHERE team_key = $1")
                    .bind(&settings.prefix)
                    .fetch_one(&mut *self.tx)
                    .await?;
                let first: i64 = row.try_get::<i64, _>("n")? + 1;
                let now = seconds(self.now);
                let mut filed = Vec::with_capacity(tickets.len());
                for (start, chunk) in (0..).step_by(CHUNK).zip(tickets.chunks(CHUNK)) {
                    let mut sql = String::from(
                        "INSERT INTO tickets (team_id, team_key, number, title, description, kind, priority, status, due_date, \
                         created_at, updated_at, resolved_at, reporter_id, assignee_id, component) VALUES ",
                    );
                    for row in 0..chunk.len() {
                        let base = row * 14;
                        if row > 0 {
                            sql.push_str(", ");
                        }
                        // created_at and updated_at share the tenth value.
                        let placeholders: Vec<String> =
                            (1..=10).chain(10..=14).map(|n| format!("${}", base + n)).collect();
                        sql.push('(');
                        sql.push_str(&placeholders.join(", "));
                        sql.push(')');
                    }
                    sql.push_str(" RETURNING id, number");
                    let mut query = sqlx::query(&sql);
                    for (offset, (input, _)) in chunk.iter().enumerate() {
                        let resolved = matches!(input.status, TicketStatus::Resolved | TicketStatus::Closed).then_some(now);
                        query = query
                            .bind(team.0)
                            .bind(&settings.prefix)
                            .bind(first + (start + offset) as i64)
                            .bind(&input.title)
                            .bind(&input.description)
                            .bind(input.kind.as_str())
                            .bind(input.priority.rank())
                            .bind(input.status.as_str())
                            .bind(input.due.map(|d| d.to_string()))
                            .bind(now)
                            .bind(resolved)
                            .bind(input.reporter.map(|u| u.0))
                            .bind(input.assignee.map(|u| u.0))
                            .bind(&input.component);
                    }
                    let rows = query
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err(|e| StoreError::from_sqlx(e, "a ticket with this key"))?;
                    let mut ids = std::collections::HashMap::with_capacity(rows.len());
                    for row in &rows {
                        ids.insert(row.try_get::<i64, _>("number")?, row.try_get::<i64, _>("id")?);
                    }
                    let mut labels: Vec<(i64, String)> = Vec::new();
                    let mut history: Vec<(i64, &str, &str)> = Vec::new();
                    for (offset, (input, actor)) in chunk.iter().enumerate() {
                        let number = first + (start + offset) as i64;
                        let id = *ids.get(&number).ok_or_else(|| StoreError::Corrupt(format!("ticket number {number} was not returned")))?;
                        let mut own = input.labels.clone();
                        own.sort();
                        own.dedup();
                        labels.extend(own.iter().map(|l| (id, l.clone())));
                        history.push((id, actor, &input.title));
                        let resolved = matches!(input.status, TicketStatus::Resolved | TicketStatus::Closed).then_some(self.now);
                        // Everything the row holds is known here; reading it back would cost queries.
                        filed.push(StoredTicket {
                            id,
                            team_id: team,
                            ticket: Ticket {
                                key: TicketKey::new(&settings.prefix, number)
                                    .ok_or_else(|| StoreError::Corrupt(format!("ticket prefix `{}`", settings.prefix)))?,
                                title: input.title.clone(),
                                description: input.description.clone(),
                                kind: input.kind,
                                labels: own,
                                priority: input.priority,
                                status: input.status,
                                due: input.due,
                                created: self.now,
                                updated: self.now,
                                resolved,
                                reporter: input.reporter,
                                assignee: input.assignee,
                                component: input.component.clone(),
                            },
                        });
                    }
                    for part in labels.chunks(CHUNK * 4) {
                        let values: Vec<String> = (0..part.len()).map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2)).collect();
                        let sql = format!("INSERT INTO ticket_labels (ticket_id, label) VALUES {}", values.join(", "));
                        let mut query = sqlx::query(&sql);
                        for (id, label) in part {
                            query = query.bind(*id).bind(label);
                        }
                        query.execute(&mut *self.tx).await?;
                    }
                    let values: Vec<String> = (0..history.len())
                        .map(|i| format!("(${}, ${}, ${}, 'created', '', ${})", 4 * i + 1, 4 * i + 2, 4 * i + 3, 4 * i + 4))
                        .collect();
                    let sql = format!(
                        "INSERT INTO ticket_history (ticket_id, at, actor, field, old_value, new_value) VALUES {}",
                        values.join(", ")
                    );
                    let mut query = sqlx::query(&sql);
                    for (id, actor, title) in &history {
                        query = query.bind(*id).bind(now).bind(*actor).bind(*title);
                    }
                    query.execute(&mut *self.tx).await?;
                }
                Ok(filed)
            }

            async fn ticket_by_key(&mut self, key: &TicketKey) -> Result<StoredTicket> {
                let row = sqlx::query("SELECT id FROM tickets WHERE team_key = $1 AND number = $2")
                    .bind(&key.team)
                    .bind(key.number)
                    .fetch_optional(&mut *self.tx)
                    .await?
                    .ok_or_else(|| StoreError::not_found(format!("ticket {key}")))?;
                let id: i64 = row.try_get("id")?;
                self.load_tickets(&[id]).await?.pop().ok_or_else(|| StoreError::not_found(format!("ticket {key}")))
            }

            async fn update_ticket(&mut self, id: i64, changes: &[TicketChange], actor: &str) -> Result<StoredTicket> {
                let mut current = self
                    .load_tickets(&[id])
                    .await?
                    .pop()
                    .ok_or_else(|| StoreError::not_found(format!("ticket {id}")))?;
                let now = seconds(self.now);
                for change in changes {
                    let (field, new_value) = text_of(change);
                    let old_value = current_text(&current.ticket, field);
                    if old_value == new_value {
                        continue;
                    }
                    let statement = match change {
                        TicketChange::Title(v) => sqlx::query("UPDATE tickets SET title = $1 WHERE id = $2").bind(v.clone()).bind(id),
                        TicketChange::Description(v) => {
                            sqlx::query("UPDATE tickets SET description = $1 WHERE id = $2").bind(v.clone()).bind(id)
                        }
                        TicketChange::Kind(v) => sqlx::query("UPDATE tickets SET kind = $1 WHERE id = $2").bind(v.as_str()).bind(id),
                        TicketChange::Priority(v) => sqlx::query("UPDATE tickets SET priority = $1 WHERE id = $2").bind(v.rank()).bind(id),
                        TicketChange::Status(v) => {
                            let done = matches!(v, TicketStatus::Resolved | TicketStatus::Closed);
                            let was_done = matches!(current.ticket.status, TicketStatus::Resolved | TicketStatus::Closed);
                            // Resolution time is kept from the first of resolved or closed, and
                            // dropped when the ticket is reopened.
                            match (done, was_done) {
                                (true, false) => sqlx::query("UPDATE tickets SET status = $1, resolved_at = $3 WHERE id = $2")
                                    .bind(v.as_str())
                                    .bind(id)
                                    .bind(now),
                                (false, _) => sqlx::query("UPDATE tickets SET status = $1, resolved_at = NULL WHERE id = $2")
                                    .bind(v.as_str())
                                    .bind(id),
                                (true, true) => sqlx::query("UPDATE tickets SET status = $1 WHERE id = $2").bind(v.as_str()).bind(id),
                            }
                        }
                        TicketChange::Due(v) => {
                            sqlx::query("UPDATE tickets SET due_date = $1 WHERE id = $2").bind(v.map(|d| d.to_string())).bind(id)
                        }
                        TicketChange::Assignee(v) => {
                            sqlx::query("UPDATE tickets SET assignee_id = $1 WHERE id = $2").bind(v.map(|u| u.0)).bind(id)
                        }
                        TicketChange::Component(v) => {
                            sqlx::query("UPDATE tickets SET component = $1 WHERE id = $2").bind(v.clone()).bind(id)
                        }
                        TicketChange::Labels(v) => {
                            self.set_labels(id, v).await?;
                            sqlx::query("UPDATE tickets SET updated_at = $1 WHERE id = $2").bind(now).bind(id)
                        }
                    };
                    statement
                        .execute(&mut *self.tx)
                        .await
                        .map_err(|e| StoreError::from_sqlx(e, "this ticket change"))?;
                    sqlx::query(
                        "INSERT INTO ticket_history (ticket_id, at, actor, field, old_value, new_value) VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(id)
                    .bind(now)
                    .bind(actor)
                    .bind(field)
                    .bind(&old_value)
                    .bind(&new_value)
                    .execute(&mut *self.tx)
                    .await?;
                    current = self
                        .load_tickets(&[id])
                        .await?
                        .pop()
                        .ok_or_else(|| StoreError::not_found(format!("ticket {id}")))?;
                }
                sqlx::query("UPDATE tickets SET updated_at = $1 WHERE id = $2")
                    .bind(now)
                    .bind(id)
                    .execute(&mut *self.tx)
                    .await?;
                self.load_tickets(&[id]).await?.pop().ok_or_else(|| StoreError::not_found(format!("ticket {id}")))
            }

            async fn find_tickets(&mut self, query: &CompiledSql, limit: i64) -> Result<Vec<StoredTicket>> {
                let sql = format!("{} LIMIT {}", query.select_ids(), limit.clamp(1, 10_000));
                let mut statement = sqlx::query(&sql);
                for param in &query.params {
                    statement = match param {
                        SqlValue::Int(v) => statement.bind(*v),
                        SqlValue::Text(v) => statement.bind(v.clone()),
                    };
                }
                let rows = statement.fetch_all(&mut *self.tx).await?;
                let ids = rows.iter().map(|row| row.try_get("id")).collect::<std::result::Result<Vec<i64>, _>>()?;
                self.load_tickets(&ids).await
            }

            async fn add_ticket_comment(&mut self, id: i64, author: &str, body: &str) -> Result<TicketComment> {
                let row = sqlx::query("INSERT INTO ticket_comments (ticket_id, at, author, body) VALUES ($1, $2, $3, $4) RETURNING id")
                    .bind(id)
                    .bind(seconds(self.now))
                    .bind(author)
                    .bind(body)
                    .fetch_one(&mut *self.tx)
                    .await
                    .map_err(|e| StoreError::from_sqlx(e, "a comment"))?;
                Ok(TicketComment {
                    id: row.try_get("id")?,
                    at: self.now,
                    author: author.to_owned(),
                    body: body.to_owned(),
                })
            }

            async fn ticket_comments(&mut self, id: i64) -> Result<Vec<TicketComment>> {
                let rows = sqlx::query("SELECT id, at, author, body FROM ticket_comments WHERE ticket_id = $1 ORDER BY id")
                    .bind(id)
                    .fetch_all(&mut *self.tx)
                    .await?;
                rows.iter()
                    .map(|row| {
                        Ok(TicketComment {
                            id: row.try_get("id")?,
                            at: timestamp(row.try_get("at")?)?,
                            author: row.try_get("author")?,
                            body: row.try_get("body")?,
                        })
                    })
                    .collect()
            }

            async fn link_ticket(&mut self, id: i64, link: TicketLink) -> Result<()> {
                let mut pairs = vec![];
                match link {
                    TicketLink::Incident(incident) => pairs.push((id, "incident", incident.0)),
                    TicketLink::PostMortem(post_mortem) => pairs.push((id, "post_mortem", post_mortem)),
                    TicketLink::Ticket(other) => {
                        pairs.push((id, "ticket", other));
                        pairs.push((other, "ticket", id));
                    }
                }
                for (from, kind, target) in pairs {
                    sqlx::query(
                        "INSERT INTO ticket_links (ticket_id, kind, target_id) VALUES ($1, $2, $3) \
                         ON CONFLICT (ticket_id, kind, target_id) DO NOTHING",
                    )
                    .bind(from)
                    .bind(kind)
                    .bind(target)
                    .execute(&mut *self.tx)
                    .await
                    .map_err(|e| StoreError::from_sqlx(e, "this link"))?;
                }
                Ok(())
            }

            async fn ticket_links(&mut self, id: i64) -> Result<Vec<TicketLink>> {
                let rows = sqlx::query("SELECT kind, target_id FROM ticket_links WHERE ticket_id = $1 ORDER BY kind, target_id")
                    .bind(id)
                    .fetch_all(&mut *self.tx)
                    .await?;
                rows.iter()
                    .map(|row| {
                        let kind: String = row.try_get("kind")?;
                        let target: i64 = row.try_get("target_id")?;
                        match kind.as_str() {
                            "incident" => Ok(TicketLink::Incident(watchbill_core::IncidentId(target))),
                            "ticket" => Ok(TicketLink::Ticket(target)),
                            "post_mortem" => Ok(TicketLink::PostMortem(target)),
                            other => Err(StoreError::Corrupt(format!("ticket link kind `{other}`"))),
                        }
                    })
                    .collect()
            }

            async fn incident_tickets(&mut self, incident: watchbill_core::IncidentId) -> Result<Vec<StoredTicket>> {
                let rows = sqlx::query("SELECT ticket_id FROM ticket_links WHERE kind = 'incident' AND target_id = $1 ORDER BY ticket_id")
                    .bind(incident.0)
                    .fetch_all(&mut *self.tx)
                    .await?;
                let ids = rows.iter().map(|row| row.try_get("ticket_id")).collect::<std::result::Result<Vec<i64>, _>>()?;
                self.load_tickets(&ids).await
            }

            async fn ticket(&mut self, id: i64) -> Result<StoredTicket> {
                self.load_tickets(&[id]).await?.pop().ok_or_else(|| StoreError::not_found(format!("ticket {id}")))
            }

            async fn insert_saved_filter(&mut self, filter: &SavedFilter) -> Result<SavedFilter> {
                let row = sqlx::query(
                    "INSERT INTO saved_filters (team_id, user_id, name, query, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(filter.team_id.map(|t| t.0))
                .bind(filter.user_id.map(|u| u.0))
                .bind(&filter.name)
                .bind(&filter.query)
                .bind(seconds(self.now))
                .fetch_one(&mut *self.tx)
                .await
                .map_err(|e| StoreError::from_sqlx(e, "a saved filter with this name"))?;
                Ok(SavedFilter {
                    id: row.try_get("id")?,
                    ..filter.clone()
                })
            }

            async fn saved_filters(&mut self, team: Option<TeamId>, user: Option<UserId>) -> Result<Vec<SavedFilter>> {
                let rows = sqlx::query(
                    "SELECT id, team_id, user_id, name, query FROM saved_filters \
                     WHERE (team_id IS NOT NULL AND team_id = $1) OR (user_id IS NOT NULL AND user_id = $2) ORDER BY name, id",
                )
                .bind(team.map(|t| t.0))
                .bind(user.map(|u| u.0))
                .fetch_all(&mut *self.tx)
                .await?;
                rows.iter().map(saved_filter_from).collect()
            }

            async fn saved_filter(&mut self, id: i64) -> Result<SavedFilter> {
                let row = sqlx::query("SELECT id, team_id, user_id, name, query FROM saved_filters WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *self.tx)
                    .await?
                    .ok_or_else(|| StoreError::not_found(format!("saved filter {id}")))?;
                saved_filter_from(&row)
            }

            async fn delete_saved_filter(&mut self, id: i64) -> Result<()> {
                let done = sqlx::query("DELETE FROM saved_filters WHERE id = $1").bind(id).execute(&mut *self.tx).await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::not_found(format!("saved filter {id}")));
                }
                Ok(())
            }

            async fn record_commit(&mut self, team: TeamId, commit: &Commit, keys: &[TicketKey]) -> Result<Vec<TicketKey>> {
                let row = sqlx::query(
                    "INSERT INTO commits (team_id, repository, sha, author_email, message, committed_at, added, modified) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (team_id, repository, sha) DO NOTHING RETURNING id",
                )
                .bind(team.0)
                .bind(&commit.repository)
                .bind(&commit.sha)
                .bind(commit.author_email.to_lowercase())
                .bind(&commit.message)
                .bind(seconds(commit.committed_at))
                .bind(commit.added.join("\n"))
                .bind(commit.modified.join("\n"))
                .fetch_optional(&mut *self.tx)
                .await?;
                let Some(row) = row else {
                    return Ok(Vec::new());
                };
                let id: i64 = row.try_get("id")?;
                let mut linked = Vec::new();
                for key in keys {
                    let found = sqlx::query("SELECT id FROM tickets WHERE team_key = $1 AND number = $2")
                        .bind(&key.team)
                        .bind(key.number)
                        .fetch_optional(&mut *self.tx)
                        .await?;
                    if let Some(ticket) = found {
                        let ticket: i64 = ticket.try_get("id")?;
                        sqlx::query(
                            "INSERT INTO commit_tickets (commit_id, ticket_id) VALUES ($1, $2) ON CONFLICT (commit_id, ticket_id) DO NOTHING",
                        )
                        .bind(id)
                        .bind(ticket)
                        .execute(&mut *self.tx)
                        .await?;
                        linked.push(key.clone());
                    }
                }
                Ok(linked)
            }

            async fn commits(&mut self, team: TeamId, from: jiff::Timestamp, to: jiff::Timestamp) -> Result<Vec<Commit>> {
                let rows = sqlx::query(
                    "SELECT repository, sha, author_email, message, committed_at, added, modified FROM commits \
                     WHERE team_id = $1 AND committed_at >= $2 AND committed_at < $3 ORDER BY committed_at, id",
                )
                .bind(team.0)
                .bind(seconds(from))
                .bind(seconds(to))
                .fetch_all(&mut *self.tx)
                .await?;
                rows.iter().map(commit_from).collect()
            }

            async fn ticket_commits(&mut self, id: i64) -> Result<Vec<Commit>> {
                let rows = sqlx::query(
                    "SELECT c.repository, c.sha, c.author_email, c.message, c.committed_at, c.added, c.modified FROM commits c \
                     JOIN commit_tickets t ON t.commit_id = c.id WHERE t.ticket_id = $1 ORDER BY c.committed_at, c.id",
                )
                .bind(id)
                .fetch_all(&mut *self.tx)
                .await?;
                rows.iter().map(commit_from).collect()
            }

            async fn add_attachment(&mut self, ticket: i64, filename: &str, content_type: &str, data: &[u8], actor: &str) -> Result<Attachment> {
                let row = sqlx::query(
                    "INSERT INTO ticket_attachments (ticket_id, filename, content_type, size, data, uploaded_by, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     RETURNING id, ticket_id, filename, content_type, size, uploaded_by, created_at",
                )
                .bind(ticket)
                .bind(filename)
                .bind(content_type)
                .bind(data.len() as i64)
                .bind(data)
                .bind(actor)
                .bind(seconds(self.now))
                .fetch_one(&mut *self.tx)
                .await
                .map_err(|e| StoreError::from_sqlx(e, "an attachment"))?;
                sqlx::query(
                    "INSERT INTO ticket_history (ticket_id, at, actor, field, old_value, new_value) VALUES ($1, $2, $3, 'attachment', '', $4)",
                )
                .bind(ticket)
                .bind(seconds(self.now))
                .bind(actor)
                .bind(filename)
                .execute(&mut *self.tx)
                .await?;
                attachment_from(&row)
            }

            async fn attachments(&mut self, ticket: i64) -> Result<Vec<Attachment>> {
                let rows = sqlx::query(
                    "SELECT id, ticket_id, filename, content_type, size, uploaded_by, created_at FROM ticket_attachments \
                     WHERE ticket_id = $1 ORDER BY id",
                )
                .bind(ticket)
                .fetch_all(&mut *self.tx)
                .await?;
                rows.iter().map(attachment_from).collect()
            }

            async fn attachment(&mut self, ticket: i64, id: i64) -> Result<(Attachment, Vec<u8>)> {
                let row = sqlx::query(
                    "SELECT id, ticket_id, filename, content_type, size, uploaded_by, created_at, data FROM ticket_attachments \
                     WHERE ticket_id = $1 AND id = $2",
                )
                .bind(ticket)
                .bind(id)
                .fetch_optional(&mut *self.tx)
                .await?
                .ok_or_else(|| StoreError::not_found(format!("attachment {id}")))?;
                Ok((attachment_from(&row)?, row.try_get("data")?))
            }

            async fn record_handoff_report(&mut self, team: TeamId, week_end: jiff::Timestamp, body: &str) -> Result<bool> {
                let done = sqlx::query(
                    "INSERT INTO handoff_reports (team_id, week_end, body, created_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (team_id, week_end) DO NOTHING",
                )
                .bind(team.0)
                .bind(seconds(week_end))
                .bind(body)
                .bind(seconds(self.now))
                .execute(&mut *self.tx)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn has_handoff_report(&mut self, team: TeamId, week_end: jiff::Timestamp) -> Result<bool> {
                let row = sqlx::query("SELECT 1 AS found FROM handoff_reports WHERE team_id = $1 AND week_end = $2")
                    .bind(team.0)
                    .bind(seconds(week_end))
                    .fetch_optional(&mut *self.tx)
                    .await?;
                Ok(row.is_some())
            }

            async fn handoff_reports(&mut self, team: TeamId, limit: i64) -> Result<Vec<(jiff::Timestamp, String)>> {
                let rows = sqlx::query(
                    "SELECT week_end, body FROM handoff_reports WHERE team_id = $1 ORDER BY week_end DESC LIMIT $2",
                )
                .bind(team.0)
                .bind(limit)
                .fetch_all(&mut *self.tx)
                .await?;
                rows.iter()
                    .map(|row| Ok((timestamp(row.try_get("week_end")?)?, row.try_get("body")?)))
                    .collect()
            }

            async fn ticket_history(&mut self, id: i64) -> Result<Vec<TicketHistory>> {
                let rows = sqlx::query(
                    "SELECT at, actor, field, old_value, new_value FROM ticket_history WHERE ticket_id = $1 ORDER BY id",
                )
                .bind(id)
                .fetch_all(&mut *self.tx)
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok(TicketHistory {
                            at: timestamp(row.try_get("at")?)?,
                            actor: row.try_get("actor")?,
                            field: row.try_get("field")?,
                            old_value: row.try_get("old_value")?,
                            new_value: row.try_get("new_value")?,
                        })
                    })
                    .collect()
            }
        }
    };
}

pub(crate) use tickets_tx_impl;

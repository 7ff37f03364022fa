//! The post-mortem SQL both dialects share, written once like `shared_sql.rs`.

/// Implements [`crate::post_mortems::PostMortemTx`] for `$tx`.
macro_rules! post_mortems_tx_impl {
    ($tx:ident, $row:ty) => {
        use crate::post_mortems::*;

        const POST_MORTEM_COLUMNS: &str =
            "id, team_id, title, body, figures, status, created_by, created_at, updated_at, published_at";

        impl $tx {
            async fn post_mortem_from(&mut self, row: &$row) -> Result<PostMortem> {
                let id: i64 = row.try_get("id")?;
                let published: Option<i64> = row.try_get("published_at")?;
                let incidents = sqlx::query(
                    "SELECT incident_id FROM post_mortem_incidents WHERE post_mortem_id = $1 ORDER BY incident_id",
                )
                .bind(id)
                .fetch_all(&mut *self.tx)
                .await?
                .iter()
                .map(|r| r.try_get::<i64, _>("incident_id").map(watchbill_core::IncidentId))
                .collect::<std::result::Result<Vec<_>, _>>()?;
                Ok(PostMortem {
                    id,
                    input: PostMortemInput {
                        team_id: TeamId(row.try_get("team_id")?),
                        title: row.try_get("title")?,
                        body: row.try_get("body")?,
                        figures: row.try_get("figures")?,
                        incidents,
                        created_by: row.try_get("created_by")?,
                    },
                    status: row.try_get("status")?,
                    created_at: timestamp(row.try_get("created_at")?)?,
                    updated_at: timestamp(row.try_get("updated_at")?)?,
                    published_at: published.map(timestamp).transpose()?,
                })
            }
        }

        #[async_trait::async_trait]
        impl crate::post_mortems::PostMortemTx for $tx {
            async fn insert_post_mortem(&mut self, input: &PostMortemInput) -> Result<PostMortem> {
                let now = self.now.as_second();
                let row = sqlx::query(
                    "INSERT INTO post_mortems (team_id, title, body, figures, status, created_by, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, 'draft', $5, $6, $6) RETURNING id",
                )
                .bind(input.team_id.0)
                .bind(&input.title)
                .bind(&input.body)
                .bind(&input.figures)
                .bind(&input.created_by)
                .bind(now)
                .fetch_one(&mut *self.tx)
                .await
                .map_err(|e| StoreError::from_sqlx(e, "a post-mortem"))?;
                let id: i64 = row.try_get("id")?;
                for incident in &input.incidents {
                    sqlx::query("INSERT INTO post_mortem_incidents (post_mortem_id, incident_id) VALUES ($1, $2)")
                        .bind(id)
                        .bind(incident.0)
                        .execute(&mut *self.tx)
                        .await
                        .map_err(|e| StoreError::from_sqlx(e, "a post-mortem incident"))?;
                }
                crate::post_mortems::PostMortemTx::post_mortem(self, id).await
            }

            async fn post_mortem(&mut self, id: i64) -> Result<PostMortem> {
                let row = sqlx::query(&format!("SELECT {POST_MORTEM_COLUMNS} FROM post_mortems WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&mut *self.tx)
                    .await?
                    .ok_or_else(|| StoreError::not_found(format!("post-mortem PM-{id}")))?;
                self.post_mortem_from(&row).await
            }

            async fn post_mortems(&mut self, team: Option<TeamId>) -> Result<Vec<PostMortem>> {
                let rows = match team {
                    Some(team) => sqlx::query(&format!(
                        "SELECT {POST_MORTEM_COLUMNS} FROM post_mortems WHERE team_id = $1 ORDER BY id DESC"
                    ))
                    .bind(team.0)
                    .fetch_all(&mut *self.tx)
                    .await?,
                    None => sqlx::query(&format!("SELECT {POST_MORTEM_COLUMNS} FROM post_mortems ORDER BY id DESC"))
                        .fetch_all(&mut *self.tx)
                        .await?,
                };
                let mut out = Vec::with_capacity(rows.len());
                for row in &rows {
                    out.push(self.post_mortem_from(row).await?);
                }
                Ok(out)
            }

            async fn update_post_mortem(&mut self, id: i64, title: &str, body: &str, status: &str) -> Result<PostMortem> {
                let done = sqlx::query(
                    "UPDATE post_mortems SET title = $1, body = $2, status = $3, updated_at = $4, \
                     published_at = CASE WHEN $3 = 'published' AND published_at IS NULL THEN $4 ELSE published_at END \
                     WHERE id = $5",
                )
                .bind(title)
                .bind(body)
                .bind(status)
                .bind(self.now.as_second())
                .bind(id)
                .execute(&mut *self.tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::not_found(format!("post-mortem PM-{id}")));
                }
                crate::post_mortems::PostMortemTx::post_mortem(self, id).await
            }
        }
    };
}

pub(crate) use post_mortems_tx_impl;

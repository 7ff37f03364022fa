//! The post-mortem SQL both dialects share, written once like `shared_sql.rs`. Only the text
//! search differs: SQLite's FTS5 table against PostgreSQL's `tsvector` column; each backend
//! passes its own search clauses to the macro.

/// How a text query combines its terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Terms {
    /// Every term, anywhere in the title, tags or body: the library's search.
    All,
    /// Every term, in the title or tags only: the "seen before" lookup's closest candidates.
    AllInTitle,
    /// Any term, in the title or tags only: the "seen before" lookup's other candidates.
    AnyInTitle,
}

/// Terms as an FTS5 query: for the library every term as a prefix, `"cdn"* AND "timeout"*`
/// (someone typing may not have finished a word); for titles whole words, limited to the title
/// and tags columns, `{title tags} : ("cdn" OR "timeout")` (an incident's title is finished, and
/// a prefix costs a scan of every word that starts with it). Terms are plain alphanumeric
/// words, so quoting them is enough.
pub(crate) fn fts5_query(terms: &[String], how: Terms) -> String {
    let quoted = |suffix: &str| -> Vec<String> {
        terms.iter().map(|t| format!("\"{t}\"{suffix}")).collect()
    };
    match how {
        Terms::All => quoted("*").join(" AND "),
        Terms::AllInTitle => format!("{{title tags}} : ({})", quoted("").join(" AND ")),
        Terms::AnyInTitle => format!("{{title tags}} : ({})", quoted("").join(" OR ")),
    }
}

/// Terms as a PostgreSQL `tsquery`, as [`fts5_query`] writes them: `cdn:* & timeout:*` for the
/// library, `cdn & timeout` or `cdn | timeout` for titles (which run against the
/// `post_mortem_titles` table).
pub(crate) fn tsquery(terms: &[String], how: Terms) -> String {
    let (suffix, joint) = match how {
        Terms::All => (":*", " & "),
        Terms::AllInTitle => ("", " & "),
        Terms::AnyInTitle => ("", " | "),
    };
    terms
        .iter()
        .map(|t| format!("{t}{suffix}"))
        .collect::<Vec<_>>()
        .join(joint)
}

/// Tags as stored: `,cdn,database,`, so that one tag is found with `LIKE '%,cdn,%'`.
pub(crate) fn tags_column(tags: &[String]) -> String {
    if tags.is_empty() {
        String::new()
    } else {
        format!(",{},", tags.join(","))
    }
}

pub(crate) fn tags_from(column: &str) -> Vec<String> {
    column
        .split(',')
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Implements [`crate::post_mortems::PostMortemTx`] for `$tx`. `$text_from` is the `FROM` and
/// match condition of a text search with the query text as `$1` and the post-mortems as `p`,
/// `$rank` its rank expression (higher is better, `DOUBLE PRECISION`), `$rank_from` where that
/// expression can be computed for rows already known to match (`$1` being the query text),
/// `$newest_matching` the ids whose text matches `$1`, newest first, at most `$2`, read from
/// the search index alone, and `$query` the function that writes terms as the backend's query
/// text. Each backend also has its own `seen_before_rows`, the "seen before" statement, with
/// the columns `q` (the index of the question), `id`, `title`, `tags` and `by_service` (1 for
/// the service's own post-mortems, 0 for those found by their words).
macro_rules! post_mortems_tx_impl {
    (
        $tx:ident,
        $row:ty,
        $text_from:literal,
        $rank:literal,
        $rank_from:literal,
        $newest_matching:literal,
        $query:path
    ) => {
        use crate::post_mortems::*;
        use crate::post_mortems_sql::{tags_column, tags_from};

        const POST_MORTEM_COLUMNS: &str = "id, team_id, title, body, figures, status, created_by, created_at, \
             updated_at, published_at, tags, owner_id";

        /// How many of a text search's matches, the newest, are ranked.
        const RANKED: i64 = 250;

        /// A search's filter value.
        enum PostMortemParam {
            Int(i64),
            Text(String),
        }

        impl $tx {
            /// Loads post-mortems by id with their incidents and reviewers, in three queries
            /// however many there are, in the order of `ids`.
            async fn load_post_mortems(&mut self, ids: &[i64]) -> Result<Vec<PostMortem>> {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let list = id_list(ids);
                // Statements with ids written in are one-off: they are not kept prepared, so that
                // they never push the statements that recur out of the connection's cache.
                let rows = sqlx::query(&format!("SELECT {POST_MORTEM_COLUMNS} FROM post_mortems WHERE id IN ({list})"))
                    .persistent(false)
                    .fetch_all(&mut *self.tx)
                    .await?;
                let mut incidents: std::collections::HashMap<i64, Vec<watchbill_core::IncidentId>> =
                    std::collections::HashMap::new();
                for row in sqlx::query(&format!(
                    "SELECT post_mortem_id, incident_id FROM post_mortem_incidents WHERE post_mortem_id IN ({list}) \
                     ORDER BY incident_id"
                ))
                .persistent(false)
                .fetch_all(&mut *self.tx)
                .await?
                {
                    incidents
                        .entry(row.try_get("post_mortem_id")?)
                        .or_default()
                        .push(watchbill_core::IncidentId(row.try_get("incident_id")?));
                }
                let mut reviewers: std::collections::HashMap<i64, Vec<UserId>> = std::collections::HashMap::new();
                for row in sqlx::query(&format!(
                    "SELECT post_mortem_id, user_id FROM post_mortem_reviewers WHERE post_mortem_id IN ({list}) \
                     ORDER BY user_id"
                ))
                .persistent(false)
                .fetch_all(&mut *self.tx)
                .await?
                {
                    reviewers
                        .entry(row.try_get("post_mortem_id")?)
                        .or_default()
                        .push(UserId(row.try_get("user_id")?));
                }
                let mut found = std::collections::HashMap::with_capacity(rows.len());
                for row in &rows {
                    let id: i64 = row.try_get("id")?;
                    let published: Option<i64> = row.try_get("published_at")?;
                    let owner: Option<i64> = row.try_get("owner_id")?;
                    let tags: String = row.try_get("tags")?;
                    found.insert(
                        id,
                        PostMortem {
                            id,
                            input: PostMortemInput {
                                team_id: TeamId(row.try_get("team_id")?),
                                title: row.try_get("title")?,
                                body: row.try_get("body")?,
                                figures: row.try_get("figures")?,
                                incidents: incidents.remove(&id).unwrap_or_default(),
                                tags: tags_from(&tags),
                                created_by: row.try_get("created_by")?,
                                owner: owner.map(UserId),
                            },
                            status: row.try_get("status")?,
                            reviewers: reviewers.remove(&id).unwrap_or_default(),
                            created_at: timestamp(row.try_get("created_at")?)?,
                            updated_at: timestamp(row.try_get("updated_at")?)?,
                            published_at: published.map(timestamp).transpose()?,
                        },
                    );
                }
                Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
            }

            /// The ids and ranks a search finds, best first. With text, the matches are
            /// found first, newest first, at most [`RANKED`]; only those are ranked, so a word
            /// found in nearly every post-mortem costs no more than a rarer one.
            async fn find_post_mortems(&mut self, query: &PostMortemQuery) -> Result<Vec<(i64, f64)>> {
                let terms = query
                    .text
                    .as_deref()
                    .map(|text| watchbill_core::post_mortem::search_terms(text, 16))
                    .unwrap_or_default();
                let limit = query.limit.clamp(1, 1000);
                let mut params: Vec<PostMortemParam> = Vec::new();
                let mut sql = if terms.is_empty() {
                    "SELECT p.id AS id FROM post_mortems p WHERE 1 = 1".to_owned()
                } else {
                    params.push(PostMortemParam::Text($query(&terms, crate::post_mortems_sql::Terms::All)));
                    format!("SELECT p.id AS id FROM {}", $text_from)
                };
                let mut filter = |sql: &mut String, clause: &str, param: PostMortemParam| {
                    params.push(param);
                    sql.push_str(&clause.replace('?', &format!("${}", params.len())));
                };
                if let Some(team) = query.team {
                    filter(&mut sql, " AND p.team_id = ?", PostMortemParam::Int(team.0));
                }
                if let Some(service) = query.service {
                    filter(
                        &mut sql,
                        " AND EXISTS (SELECT 1 FROM post_mortem_incidents pi JOIN incidents i ON i.id = pi.incident_id \
                         WHERE pi.post_mortem_id = p.id AND i.service_id = ?)",
                        PostMortemParam::Int(service.0),
                    );
                }
                if let Some(tag) = &query.tag {
                    filter(&mut sql, " AND p.tags LIKE ?", PostMortemParam::Text(format!("%,{tag},%")));
                }
                if let Some(status) = &query.status {
                    filter(&mut sql, " AND p.status = ?", PostMortemParam::Text(status.clone()));
                }
                if let Some(since) = query.since {
                    filter(&mut sql, " AND p.created_at >= ?", PostMortemParam::Int(since.as_second()));
                }
                if let Some(until) = query.until {
                    filter(&mut sql, " AND p.created_at < ?", PostMortemParam::Int(until.as_second()));
                }
                let window = if terms.is_empty() { limit } else { RANKED };
                sql.push_str(&format!(" ORDER BY p.id DESC LIMIT {window}"));
                // Text alone needs nothing but the index; filters need the rows.
                let only_text = !terms.is_empty() && params.len() == 1;
                let q = if only_text {
                    sqlx::query($newest_matching).bind($query(&terms, crate::post_mortems_sql::Terms::All)).bind(RANKED)
                } else {
                    let mut q = sqlx::query(&sql);
                    for param in params {
                        q = match param {
                            PostMortemParam::Int(value) => q.bind(value),
                            PostMortemParam::Text(value) => q.bind(value),
                        };
                    }
                    q
                };
                let ids = q
                    .fetch_all(&mut *self.tx)
                    .await?
                    .iter()
                    .map(|row| row.try_get("id"))
                    .collect::<std::result::Result<Vec<i64>, _>>()?;
                if terms.is_empty() || ids.is_empty() {
                    return Ok(ids.into_iter().map(|id| (id, 0.0)).collect());
                }
                let ranked = format!(
                    "SELECT p.id AS id, {} AS score FROM {} AND p.id IN ({}) ORDER BY score DESC, p.id DESC LIMIT {limit}",
                    $rank,
                    $rank_from,
                    id_list(&ids)
                );
                sqlx::query(&ranked)
                    .persistent(false)
                    .bind($query(&terms, crate::post_mortems_sql::Terms::All))
                    .fetch_all(&mut *self.tx)
                    .await?
                    .iter()
                    .map(|row| Ok((row.try_get("id")?, row.try_get("score")?)))
                    .collect()
            }
        }

        #[async_trait::async_trait]
        impl crate::post_mortems::PostMortemTx for $tx {
            async fn insert_post_mortem(&mut self, input: &PostMortemInput) -> Result<PostMortem> {
                let now = self.now.as_second();
                let row = sqlx::query(
                    "INSERT INTO post_mortems (team_id, title, body, figures, status, created_by, created_at, updated_at, \
                     tags, owner_id) VALUES ($1, $2, $3, $4, 'draft', $5, $6, $6, $7, $8) RETURNING id",
                )
                .bind(input.team_id.0)
                .bind(&input.title)
                .bind(&input.body)
                .bind(&input.figures)
                .bind(&input.created_by)
                .bind(now)
                .bind(tags_column(&input.tags))
                .bind(input.owner.map(|u| u.0))
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
                self.load_post_mortems(&[id])
                    .await?
                    .pop()
                    .ok_or_else(|| StoreError::not_found(format!("post-mortem PM-{id}")))
            }

            async fn update_post_mortem(&mut self, id: i64, update: &PostMortemUpdate) -> Result<PostMortem> {
                let done = sqlx::query(
                    "UPDATE post_mortems SET title = $1, body = $2, status = $3, updated_at = $4, tags = $5, \
                     published_at = CASE WHEN $3 = 'published' AND published_at IS NULL THEN $4 ELSE published_at END \
                     WHERE id = $6",
                )
                .bind(&update.title)
                .bind(&update.body)
                .bind(&update.status)
                .bind(self.now.as_second())
                .bind(tags_column(&update.tags))
                .bind(id)
                .execute(&mut *self.tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::not_found(format!("post-mortem PM-{id}")));
                }
                crate::post_mortems::PostMortemTx::post_mortem(self, id).await
            }

            async fn set_post_mortem_reviewers(&mut self, id: i64, reviewers: &[UserId]) -> Result<()> {
                sqlx::query("DELETE FROM post_mortem_reviewers WHERE post_mortem_id = $1")
                    .bind(id)
                    .execute(&mut *self.tx)
                    .await?;
                for user in reviewers {
                    sqlx::query(
                        "INSERT INTO post_mortem_reviewers (post_mortem_id, user_id) VALUES ($1, $2) \
                         ON CONFLICT (post_mortem_id, user_id) DO NOTHING",
                    )
                    .bind(id)
                    .bind(user.0)
                    .execute(&mut *self.tx)
                    .await
                    .map_err(|e| StoreError::from_sqlx(e, "a reviewer"))?;
                }
                Ok(())
            }

            async fn insert_post_mortem_comment(&mut self, id: i64, author: &str, body: &str) -> Result<PostMortemComment> {
                let at = self.now;
                let row = sqlx::query(
                    "INSERT INTO post_mortem_comments (post_mortem_id, at, author, body) VALUES ($1, $2, $3, $4) RETURNING id",
                )
                .bind(id)
                .bind(at.as_second())
                .bind(author)
                .bind(body)
                .fetch_one(&mut *self.tx)
                .await
                .map_err(|e| StoreError::from_sqlx(e, "a comment"))?;
                Ok(PostMortemComment { id: row.try_get("id")?, at, author: author.to_owned(), body: body.to_owned() })
            }

            async fn post_mortem_comments(&mut self, id: i64) -> Result<Vec<PostMortemComment>> {
                sqlx::query("SELECT id, at, author, body FROM post_mortem_comments WHERE post_mortem_id = $1 ORDER BY id")
                    .bind(id)
                    .fetch_all(&mut *self.tx)
                    .await?
                    .iter()
                    .map(|row| {
                        Ok(PostMortemComment {
                            id: row.try_get("id")?,
                            at: timestamp(row.try_get("at")?)?,
                            author: row.try_get("author")?,
                            body: row.try_get("body")?,
                        })
                    })
                    .collect()
            }

            async fn post_mortem_tickets(&mut self, id: i64) -> Result<Vec<crate::tickets::StoredTicket>> {
                let ids = sqlx::query(
                    "SELECT ticket_id FROM ticket_links WHERE kind = 'post_mortem' AND target_id = $1 ORDER BY ticket_id",
                )
                .bind(id)
                .fetch_all(&mut *self.tx)
                .await?
                .iter()
                .map(|row| row.try_get("ticket_id"))
                .collect::<std::result::Result<Vec<i64>, _>>()?;
                self.load_tickets(&ids).await
            }

            async fn incident_post_mortems(&mut self, incident: watchbill_core::IncidentId) -> Result<Vec<PostMortem>> {
                let ids = sqlx::query(
                    "SELECT post_mortem_id FROM post_mortem_incidents WHERE incident_id = $1 ORDER BY post_mortem_id",
                )
                .bind(incident.0)
                .fetch_all(&mut *self.tx)
                .await?
                .iter()
                .map(|row| row.try_get("post_mortem_id"))
                .collect::<std::result::Result<Vec<i64>, _>>()?;
                self.load_post_mortems(&ids).await
            }

            async fn search_post_mortems(&mut self, query: &PostMortemQuery) -> Result<Vec<PostMortemHit>> {
                let found = self.find_post_mortems(query).await?;
                let ids: Vec<i64> = found.iter().map(|(id, _)| *id).collect();
                let loaded = self.load_post_mortems(&ids).await?;
                Ok(loaded
                    .into_iter()
                    .zip(found)
                    .map(|(post_mortem, (_, rank))| PostMortemHit { post_mortem, rank })
                    .collect())
            }

            async fn seen_before_candidates_many(
                &mut self,
                queries: &[SeenBeforeQuery],
                limit: i64,
                service_limit: i64,
            ) -> Result<Vec<SeenBeforeCandidates>> {
                let mut answers = vec![SeenBeforeCandidates::default(); queries.len()];
                for row in &self.seen_before_rows(queries, limit, service_limit).await? {
                    let q: i64 = row.try_get("q")?;
                    let found = usize::try_from(q)
                        .ok()
                        .and_then(|q| answers.get_mut(q))
                        .ok_or_else(|| StoreError::Corrupt("a seen-before answer without its question".to_owned()))?;
                    let id: i64 = row.try_get("id")?;
                    if row.try_get::<i64, _>("by_service")? == 1 {
                        found.by_service.push(id);
                    } else {
                        let tags: String = row.try_get("tags")?;
                        found.by_title.push(TitleCandidate { id, title: row.try_get("title")?, tags: tags_from(&tags) });
                    }
                }
                for found in &mut answers {
                    found.by_title.sort_by(|a, b| b.id.cmp(&a.id));
                    found.by_service.sort_by(|a, b| b.cmp(a));
                }
                Ok(answers)
            }

            async fn post_mortem_briefs(&mut self, ids: &[i64]) -> Result<Vec<PostMortemBrief>> {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                sqlx::query(&format!("SELECT id, title, status, body FROM post_mortems WHERE id IN ({})", id_list(ids)))
                    .persistent(false)
                    .fetch_all(&mut *self.tx)
                    .await?
                    .iter()
                    .map(|row| {
                        Ok(PostMortemBrief {
                            id: row.try_get("id")?,
                            title: row.try_get("title")?,
                            status: row.try_get("status")?,
                            body: row.try_get("body")?,
                        })
                    })
                    .collect()
            }

            async fn post_mortem_settings(&mut self, team: TeamId) -> Result<Option<PostMortemSettings>> {
                let row = sqlx::query(
                    "SELECT template, distribution, remind_after_seconds, draft_reminder_days \
                     FROM post_mortem_settings WHERE team_id = $1",
                )
                .bind(team.0)
                .fetch_optional(&mut *self.tx)
                .await?;
                row.map(|row| {
                    let distribution: String = row.try_get("distribution")?;
                    Ok(PostMortemSettings {
                        team_id: team,
                        template: row.try_get("template")?,
                        distribution: distribution.lines().map(str::to_owned).filter(|l| !l.is_empty()).collect(),
                        remind_after_seconds: row.try_get("remind_after_seconds")?,
                        draft_reminder_days: row.try_get("draft_reminder_days")?,
                    })
                })
                .transpose()
            }

            async fn put_post_mortem_settings(&mut self, settings: &PostMortemSettings) -> Result<()> {
                sqlx::query(
                    "INSERT INTO post_mortem_settings (team_id, template, distribution, remind_after_seconds, draft_reminder_days) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (team_id) DO UPDATE SET template = excluded.template, \
                     distribution = excluded.distribution, remind_after_seconds = excluded.remind_after_seconds, \
                     draft_reminder_days = excluded.draft_reminder_days",
                )
                .bind(settings.team_id.0)
                .bind(&settings.template)
                .bind(settings.distribution.join("\n"))
                .bind(settings.remind_after_seconds)
                .bind(settings.draft_reminder_days)
                .execute(&mut *self.tx)
                .await
                .map_err(|e| StoreError::from_sqlx(e, "post-mortem settings"))?;
                Ok(())
            }

            async fn resolved_without_post_mortem(&mut self, since: Timestamp, until: Timestamp) -> Result<Vec<Incident>> {
                // `incidents` keeps its name: a backend's columns may ask about it by name.
                let columns = $tx::INCIDENT_READ;
                sqlx::query(&format!(
                    "SELECT {columns} FROM incidents WHERE urgency = 'high' AND status = 'resolved' \
                     AND resolved_at >= $1 AND resolved_at < $2 AND NOT EXISTS \
                     (SELECT 1 FROM post_mortem_incidents pi WHERE pi.incident_id = incidents.id) ORDER BY id"
                ))
                .bind(since.as_second())
                .bind(until.as_second())
                .fetch_all(&mut *self.tx)
                .await?
                .iter()
                .map(incident_from)
                .collect()
            }
        }
    };
}

pub(crate) use post_mortems_tx_impl;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_join_terms_as_prefixes() {
        let terms = ["video".to_owned(), "cdn".to_owned()];
        assert_eq!(fts5_query(&terms, Terms::All), "\"video\"* AND \"cdn\"*");
        assert_eq!(
            fts5_query(&terms, Terms::AnyInTitle),
            "{title tags} : (\"video\" OR \"cdn\")"
        );
        assert_eq!(tsquery(&terms, Terms::All), "video:* & cdn:*");
        assert_eq!(tsquery(&terms, Terms::AnyInTitle), "video | cdn");
        assert_eq!(
            fts5_query(&terms, Terms::AllInTitle),
            "{title tags} : (\"video\" AND \"cdn\")"
        );
        assert_eq!(tsquery(&terms, Terms::AllInTitle), "video & cdn");
    }

    #[test]
    fn tags_round_trip() {
        let tags = ["cdn".to_owned(), "video".to_owned()];
        assert_eq!(tags_column(&tags), ",cdn,video,");
        assert_eq!(tags_from(",cdn,video,"), tags);
        assert_eq!(tags_from(""), Vec::<String>::new());
    }
}

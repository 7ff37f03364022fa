//! The web SQL both dialects share, written once like `shared_sql.rs`.

/// Implements [`crate::web::WebTx`] for `$tx` (see `shared_tx_impl`).
macro_rules! web_tx_impl {
    ($tx:ident, $row:ty) => {
        use crate::web::*;

        #[async_trait::async_trait]
        impl crate::web::WebTx for $tx {
            async fn set_password(&mut self, user: UserId, hash: &str) -> Result<()> {
                crate::RosterTx::user(self, user).await?;
                sqlx::query(
                    "INSERT INTO user_passwords (user_id, hash, updated_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (user_id) DO UPDATE SET hash = excluded.hash, updated_at = excluded.updated_at",
                )
                .bind(user.0)
                .bind(hash)
                .bind(self.now.as_second())
                .execute(&mut *self.tx)
                .await?;
                Ok(())
            }

            async fn password_hash(&mut self, user: UserId) -> Result<Option<String>> {
                let row = sqlx::query("SELECT hash FROM user_passwords WHERE user_id = $1")
                    .bind(user.0)
                    .fetch_optional(&mut *self.tx)
                    .await?;
                Ok(row.map(|r| r.try_get("hash")).transpose()?)
            }

            async fn insert_session(&mut self, secret_hash: &str, user: UserId, csrf: &str, expires_at: Timestamp) -> Result<()> {
                sqlx::query(
                    "INSERT INTO web_sessions (secret_hash, user_id, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(secret_hash)
                .bind(user.0)
                .bind(csrf)
                .bind(self.now.as_second())
                .bind(expires_at.as_second())
                .execute(&mut *self.tx)
                .await?;
                // Expired sessions are swept as new ones begin, so the table stays small
                // without a job of its own.
                sqlx::query("DELETE FROM web_sessions WHERE expires_at <= $1")
                    .bind(self.now.as_second())
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn session(&mut self, secret_hash: &str) -> Result<Option<WebSession>> {
                let row = sqlx::query(
                    "SELECT user_id, csrf, created_at, expires_at FROM web_sessions WHERE secret_hash = $1 AND expires_at > $2",
                )
                .bind(secret_hash)
                .bind(self.now.as_second())
                .fetch_optional(&mut *self.tx)
                .await?;
                row.map(|row: $row| {
                    Ok(WebSession {
                        user_id: UserId(row.try_get("user_id")?),
                        csrf: row.try_get("csrf")?,
                        created_at: timestamp(row.try_get("created_at")?)?,
                        expires_at: timestamp(row.try_get("expires_at")?)?,
                    })
                })
                .transpose()
            }

            async fn delete_session(&mut self, secret_hash: &str) -> Result<()> {
                sqlx::query("DELETE FROM web_sessions WHERE secret_hash = $1")
                    .bind(secret_hash)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn delete_other_sessions(&mut self, user: UserId, keep: &str) -> Result<u64> {
                let done = sqlx::query("DELETE FROM web_sessions WHERE user_id = $1 AND secret_hash <> $2")
                    .bind(user.0)
                    .bind(keep)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(done.rows_affected())
            }

            async fn record_login_failure(&mut self, key: &str) -> Result<()> {
                sqlx::query("INSERT INTO login_failures (login, at) VALUES ($1, $2)")
                    .bind(key)
                    .bind(self.now.as_second())
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn login_failures(&mut self, key: &str, since: Timestamp) -> Result<i64> {
                let row = sqlx::query("SELECT COUNT(*) AS n FROM login_failures WHERE login = $1 AND at >= $2")
                    .bind(key)
                    .bind(since.as_second())
                    .fetch_one(&mut *self.tx)
                    .await?;
                Ok(row.try_get("n")?)
            }

            async fn clear_login_failures(&mut self, key: &str) -> Result<()> {
                sqlx::query("DELETE FROM login_failures WHERE login = $1")
                    .bind(key)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn insert_wall_link(&mut self, name: &str, secret_hash: &str) -> Result<WallLink> {
                let row = sqlx::query(
                    "INSERT INTO wall_links (name, secret_hash, created_at) VALUES ($1, $2, $3) RETURNING id, name, created_at",
                )
                .bind(name)
                .bind(secret_hash)
                .bind(self.now.as_second())
                .fetch_one(&mut *self.tx)
                .await?;
                wall_link_from(&row)
            }

            async fn wall_links(&mut self) -> Result<Vec<WallLink>> {
                let rows = sqlx::query("SELECT id, name, created_at FROM wall_links ORDER BY id")
                    .fetch_all(&mut *self.tx)
                    .await?;
                rows.iter().map(wall_link_from).collect()
            }

            async fn find_wall_link(&mut self, secret_hash: &str) -> Result<Option<WallLink>> {
                let row = sqlx::query("SELECT id, name, created_at FROM wall_links WHERE secret_hash = $1")
                    .bind(secret_hash)
                    .fetch_optional(&mut *self.tx)
                    .await?;
                row.as_ref().map(wall_link_from).transpose()
            }

            async fn delete_wall_link(&mut self, id: i64) -> Result<()> {
                let done = sqlx::query("DELETE FROM wall_links WHERE id = $1")
                    .bind(id)
                    .execute(&mut *self.tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::not_found(format!("wall link {id}")));
                }
                Ok(())
            }

            async fn set_photo(&mut self, user: UserId, token: &str, content_type: &str, data: &[u8]) -> Result<()> {
                crate::RosterTx::user(self, user).await?;
                sqlx::query(
                    "INSERT INTO user_photos (user_id, token, content_type, data, updated_at) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (user_id) DO UPDATE SET token = excluded.token, content_type = excluded.content_type, \
                     data = excluded.data, updated_at = excluded.updated_at",
                )
                .bind(user.0)
                .bind(token)
                .bind(content_type)
                .bind(data)
                .bind(self.now.as_second())
                .execute(&mut *self.tx)
                .await?;
                Ok(())
            }

            async fn photo_by_token(&mut self, token: &str) -> Result<Option<Photo>> {
                let row = sqlx::query("SELECT content_type, data, updated_at FROM user_photos WHERE token = $1")
                    .bind(token)
                    .fetch_optional(&mut *self.tx)
                    .await?;
                row.map(|row: $row| {
                    Ok(Photo {
                        content_type: row.try_get("content_type")?,
                        data: row.try_get("data")?,
                        updated_at: timestamp(row.try_get("updated_at")?)?,
                    })
                })
                .transpose()
            }

            async fn activity_revision(&mut self) -> Result<i64> {
                let row = sqlx::query(
                    "SELECT COALESCE((SELECT MAX(id) FROM incident_log), 0) AS log, \
                     (SELECT value FROM roster_revision WHERE id = 1) AS roster",
                )
                .fetch_one(&mut *self.tx)
                .await?;
                let log: i64 = row.try_get("log")?;
                let roster: i64 = row.try_get("roster")?;
                // The two counters grow independently; their sum grows whenever either does.
                Ok(log + roster)
            }
        }

        fn wall_link_from(row: &$row) -> Result<WallLink> {
            Ok(WallLink {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                created_at: timestamp(row.try_get("created_at")?)?,
            })
        }
    };
}

pub(crate) use web_tx_impl;

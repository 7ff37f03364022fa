//! The notice outbox's SQL both dialects share, written once like `shared_sql.rs`.

/// Implements [`crate::notices::NoticeTx`] for `$tx`; `$lock` is the row-locking clause of
/// the backend (`FOR UPDATE SKIP LOCKED` on PostgreSQL, nothing on SQLite's single writer).
macro_rules! notices_tx_impl {
    ($tx:ident, $row:ty, $lock:literal) => {
        use crate::notices::*;

        const NOTICE_COLUMNS: &str = "id, idempotency_key, user_id, kind, address, subject, body, html, link, thread, due_at, \
            status, attempts, last_error, sent_at";

        fn notice_from(row: &$row) -> Result<Notice> {
            let user: Option<i64> = row.try_get("user_id")?;
            let sent: Option<i64> = row.try_get("sent_at")?;
            Ok(Notice {
                id: row.try_get("id")?,
                input: NoticeInput {
                    idempotency_key: row.try_get("idempotency_key")?,
                    user_id: user.map(UserId),
                    kind: row.try_get("kind")?,
                    address: row.try_get("address")?,
                    subject: row.try_get("subject")?,
                    body: row.try_get("body")?,
                    html: row.try_get("html")?,
                    link: row.try_get("link")?,
                    thread: row.try_get("thread")?,
                    due_at: timestamp(row.try_get("due_at")?)?,
                },
                status: row.try_get("status")?,
                attempts: row.try_get("attempts")?,
                last_error: row.try_get("last_error")?,
                sent_at: sent.map(timestamp).transpose()?,
            })
        }

        #[async_trait::async_trait]
        impl crate::notices::NoticeTx for $tx {
            async fn insert_notice(&mut self, input: &NoticeInput) -> Result<bool> {
                let done = sqlx::query(
                    "INSERT INTO notices (idempotency_key, user_id, kind, address, subject, body, link, thread, due_at, created_at, html) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (idempotency_key) DO NOTHING",
                )
                .bind(&input.idempotency_key)
                .bind(input.user_id.map(|u| u.0))
                .bind(&input.kind)
                .bind(&input.address)
                .bind(&input.subject)
                .bind(&input.body)
                .bind(&input.link)
                .bind(&input.thread)
                .bind(input.due_at.as_second())
                .bind(self.now.as_second())
                .bind(&input.html)
                .execute(&mut *self.tx)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn claim_due_notices(&mut self, now: Timestamp, lease_until: Timestamp, limit: i64) -> Result<Vec<Notice>> {
                let rows = sqlx::query(concat!(
                    "SELECT id FROM notices WHERE status = 'pending' AND due_at <= $1 ORDER BY due_at, id LIMIT $2 ",
                    $lock
                ))
                .bind(now.as_second())
                .bind(limit)
                .fetch_all(&mut *self.tx)
                .await?;
                let mut claimed = Vec::with_capacity(rows.len());
                for row in rows {
                    let id: i64 = row.try_get("id")?;
                    let row = sqlx::query(&format!(
                        "UPDATE notices SET due_at = $1, attempts = attempts + 1 WHERE id = $2 RETURNING {NOTICE_COLUMNS}"
                    ))
                    .bind(lease_until.as_second())
                    .bind(id)
                    .fetch_one(&mut *self.tx)
                    .await?;
                    claimed.push(notice_from(&row)?);
                }
                Ok(claimed)
            }

            async fn mark_notice_sent(&mut self, id: i64) -> Result<()> {
                sqlx::query("UPDATE notices SET status = 'sent', sent_at = $1, last_error = '' WHERE id = $2")
                    .bind(self.now.as_second())
                    .bind(id)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn mark_notice_failed(&mut self, id: i64, error: &str, retry_at: Option<Timestamp>) -> Result<()> {
                match retry_at {
                    Some(retry_at) => sqlx::query("UPDATE notices SET last_error = $1, due_at = $2 WHERE id = $3")
                        .bind(error)
                        .bind(retry_at.as_second())
                        .bind(id)
                        .execute(&mut *self.tx)
                        .await?,
                    None => sqlx::query("UPDATE notices SET last_error = $1, status = 'failed' WHERE id = $2")
                        .bind(error)
                        .bind(id)
                        .execute(&mut *self.tx)
                        .await?,
                };
                Ok(())
            }

            async fn notices(&mut self, prefix: &str, limit: i64) -> Result<Vec<Notice>> {
                // The prefix is matched as text, not as a LIKE pattern, so `_` and `%` in keys
                // mean themselves.
                let rows = sqlx::query(&format!(
                    "SELECT {NOTICE_COLUMNS} FROM notices WHERE substr(idempotency_key, 1, CAST($1 AS INTEGER)) = $2 ORDER BY id LIMIT $3"
                ))
                .bind(i64::try_from(prefix.chars().count()).unwrap_or(0))
                .bind(prefix)
                .bind(limit)
                .fetch_all(&mut *self.tx)
                .await?;
                rows.iter().map(notice_from).collect()
            }
        }
    };
}

pub(crate) use notices_tx_impl;

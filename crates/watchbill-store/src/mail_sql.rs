//! The mail SQL both dialects share, written once like `shared_sql.rs`.

/// Implements [`crate::mail::MailTx`] for `$tx`.
macro_rules! mail_tx_impl {
    ($tx:ident, $row:ty) => {
        use crate::mail::*;

        const MAIL_ADDRESS_COLUMNS: &str =
            "id, address, team_id, service_id, mode, priority, labels, due_days, allow, created_at";

        fn words(text: String) -> Vec<String> {
            text.split_whitespace().map(str::to_owned).collect()
        }

        fn mail_address_from(row: &$row) -> Result<MailAddress> {
            let mode: String = row.try_get("mode")?;
            let service: Option<i64> = row.try_get("service_id")?;
            Ok(MailAddress {
                id: row.try_get("id")?,
                input: MailAddressInput {
                    address: row.try_get("address")?,
                    team_id: TeamId(row.try_get("team_id")?),
                    service_id: service.map(watchbill_core::ServiceId),
                    mode: MailMode::parse(&mode)
                        .ok_or_else(|| StoreError::Corrupt(format!("mail mode `{mode}`")))?,
                    priority: row.try_get("priority")?,
                    labels: words(row.try_get("labels")?),
                    due_days: row.try_get("due_days")?,
                    allow: words(row.try_get("allow")?),
                },
                created_at: timestamp(row.try_get("created_at")?)?,
            })
        }

        fn mail_record_from(row: &$row) -> Result<MailRecord> {
            let incident: Option<i64> = row.try_get("incident_id")?;
            Ok(MailRecord {
                message_id: row.try_get("message_id")?,
                sender: row.try_get("sender")?,
                recipient: row.try_get("recipient")?,
                subject: row.try_get("subject")?,
                outcome: row.try_get("outcome")?,
                ticket_id: row.try_get("ticket_id")?,
                incident_id: incident.map(watchbill_core::IncidentId),
                raw: row.try_get("raw")?,
            })
        }

        #[async_trait::async_trait]
        impl crate::mail::MailTx for $tx {
            async fn insert_mail_address(&mut self, input: &MailAddressInput) -> Result<MailAddress> {
                let row = sqlx::query(&format!(
                    "INSERT INTO mail_addresses (address, team_id, service_id, mode, priority, labels, due_days, allow, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {MAIL_ADDRESS_COLUMNS}"
                ))
                .bind(input.address.to_lowercase())
                .bind(input.team_id.0)
                .bind(input.service_id.map(|s| s.0))
                .bind(input.mode.as_str())
                .bind(&input.priority)
                .bind(input.labels.join(" "))
                .bind(input.due_days)
                .bind(input.allow.join(" ").to_lowercase())
                .bind(self.now.as_second())
                .fetch_one(&mut *self.tx)
                .await
                .map_err(|e| StoreError::from_sqlx(e, "a mail address like this"))?;
                mail_address_from(&row)
            }

            async fn mail_addresses(&mut self) -> Result<Vec<MailAddress>> {
                let rows = sqlx::query(&format!("SELECT {MAIL_ADDRESS_COLUMNS} FROM mail_addresses ORDER BY id"))
                    .fetch_all(&mut *self.tx)
                    .await?;
                rows.iter().map(mail_address_from).collect()
            }

            async fn find_mail_address(&mut self, address: &str) -> Result<Option<MailAddress>> {
                let row = sqlx::query(&format!("SELECT {MAIL_ADDRESS_COLUMNS} FROM mail_addresses WHERE address = $1"))
                    .bind(address.to_lowercase())
                    .fetch_optional(&mut *self.tx)
                    .await?;
                row.as_ref().map(mail_address_from).transpose()
            }

            async fn delete_mail_address(&mut self, id: i64) -> Result<()> {
                let done = sqlx::query("DELETE FROM mail_addresses WHERE id = $1")
                    .bind(id)
                    .execute(&mut *self.tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::not_found(format!("mail address {id}")));
                }
                Ok(())
            }

            async fn record_mail(&mut self, record: &MailRecord) -> Result<i64> {
                let row = sqlx::query(
                    "INSERT INTO mail_messages (message_id, sender, recipient, subject, outcome, ticket_id, incident_id, raw, received_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                )
                .bind(&record.message_id)
                .bind(record.sender.to_lowercase())
                .bind(record.recipient.to_lowercase())
                .bind(&record.subject)
                .bind(&record.outcome)
                .bind(record.ticket_id)
                .bind(record.incident_id.map(|i| i.0))
                .bind(&record.raw)
                .bind(self.now.as_second())
                .fetch_one(&mut *self.tx)
                .await?;
                Ok(row.try_get("id")?)
            }

            async fn mail_thread(&mut self, message_ids: &[String]) -> Result<Option<(Option<i64>, Option<watchbill_core::IncidentId>)>> {
                for id in message_ids {
                    let row = sqlx::query(
                        "SELECT ticket_id, incident_id FROM mail_messages WHERE message_id = $1 \
                         AND (ticket_id IS NOT NULL OR incident_id IS NOT NULL) ORDER BY id LIMIT 1",
                    )
                    .bind(id)
                    .fetch_optional(&mut *self.tx)
                    .await?;
                    if let Some(row) = row {
                        let ticket: Option<i64> = row.try_get("ticket_id")?;
                        let incident: Option<i64> = row.try_get("incident_id")?;
                        return Ok(Some((ticket, incident.map(watchbill_core::IncidentId))));
                    }
                }
                Ok(None)
            }

            async fn latest_page_from(&mut self, sender: &str, recipient: &str, since: Timestamp) -> Result<Option<(Option<i64>, watchbill_core::IncidentId)>> {
                let row = sqlx::query(
                    "SELECT ticket_id, incident_id FROM mail_messages WHERE sender = $1 AND recipient = $2 AND received_at >= $3 \
                     AND incident_id IS NOT NULL AND outcome = 'ticket+incident' ORDER BY id DESC LIMIT 1",
                )
                .bind(sender.to_lowercase())
                .bind(recipient.to_lowercase())
                .bind(since.as_second())
                .fetch_optional(&mut *self.tx)
                .await?;
                row.map(|row: $row| {
                    let ticket: Option<i64> = row.try_get("ticket_id")?;
                    let incident: i64 = row.try_get("incident_id")?;
                    Ok((ticket, watchbill_core::IncidentId(incident)))
                })
                .transpose()
            }

            async fn mail_requester(&mut self, ticket: i64) -> Result<Option<String>> {
                let row = sqlx::query(
                    "SELECT sender FROM mail_messages WHERE ticket_id = $1 AND outcome IN ('ticket', 'ticket+incident') \
                     AND sender <> '' ORDER BY id LIMIT 1",
                )
                .bind(ticket)
                .fetch_optional(&mut *self.tx)
                .await?;
                Ok(row.map(|r| r.try_get("sender")).transpose()?)
            }

            async fn mail_log(&mut self, limit: i64) -> Result<Vec<(i64, Timestamp, MailRecord)>> {
                let rows = sqlx::query(
                    "SELECT id, received_at, message_id, sender, recipient, subject, outcome, ticket_id, incident_id, raw \
                     FROM mail_messages ORDER BY id DESC LIMIT $1",
                )
                .bind(limit)
                .fetch_all(&mut *self.tx)
                .await?;
                rows.iter()
                    .map(|row| Ok((row.try_get("id")?, timestamp(row.try_get("received_at")?)?, mail_record_from(row)?)))
                    .collect()
            }
        }
    };
}

pub(crate) use mail_tx_impl;

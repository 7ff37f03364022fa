//! Deadline reminders: before a ticket is due and once it is overdue, its assignee (or, with
//! nobody assigned, the team's captain of the moment) hears of it through their email, webhook
//! and Slack contact methods — never by call or text, and never at night on their wall clock:
//! a reminder found at night waits for 08:00.
//!
//! Each reminder is a notice whose idempotency key names the ticket, the kind, the due date
//! and the contact method, so checking again finds nothing new, and a moved due date earns new
//! reminders.

use jiff::civil::Date;
use jiff::Timestamp;
use watchbill_core::paging::daytime;
use watchbill_core::tickets::filter::{compile, parse, Context};
use watchbill_store::notices::NoticeInput;
use watchbill_store::Tx;

use crate::api::tickets::directory;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::roster::RosterCache;

/// Open tickets due within two days (in UTC; each person's own day is checked below).
const DUE_SOON: &str = r#"status IN (open, in_progress) AND due <= "+2d" ORDER BY due ASC"#;

/// The channels a reminder may use: never a call or a text.
pub const QUIET_KINDS: [&str; 3] = ["email", "webhook", "slack"];

/// Queues the reminders that are due at `now`; answers how many were new.
pub async fn queue(
    tx: &mut dyn Tx,
    roster: &RosterCache,
    public_url: &str,
    now: Timestamp,
) -> ApiResult<usize> {
    let query = parse(DUE_SOON)
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("reminder filter: {e}")))?;
    let users = directory(tx).await?;
    let compiled = compile(
        &query,
        &Context::new(now, jiff::tz::TimeZone::UTC).with_users(&users),
    );
    let tickets = tx.find_tickets(&compiled, 2000).await?;
    if tickets.is_empty() {
        return Ok(0);
    }
    let roster = roster.get(tx, now).await?;
    let mut queued = 0;
    for stored in tickets {
        let ticket = &stored.ticket;
        let Some(due) = ticket.due else { continue };
        let (recipient, why) = match ticket.assignee {
            Some(user) => (user, "It is assigned to you."),
            None => match roster.captain(stored.team_id, now) {
                Some(captain) => (
                    captain,
                    "Nobody is assigned; you hold the team's maintenance duty this week.",
                ),
                None => continue,
            },
        };
        let Some(person) = roster.users.get(&recipient) else {
            continue;
        };
        let zone = jiff::tz::TimeZone::get(&person.time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
        let today = now.to_zoned(zone.clone()).date();
        let Some((kind, subject)) = reminder(&ticket.key.to_string(), &ticket.title, due, today)
        else {
            continue;
        };
        let due_at = daytime(now, &zone);
        for method in tx.contact_methods(recipient).await? {
            if !QUIET_KINDS.contains(&method.kind.as_str()) {
                continue;
            }
            let input = NoticeInput {
                idempotency_key: format!("reminder:{}:{kind}:{due}:{}", ticket.key, method.id),
                user_id: Some(recipient),
                kind: method.kind.clone(),
                address: method.address.clone(),
                subject: subject.clone(),
                body: format!(
                    "{} ({} priority, due {due}). {why}",
                    ticket.title,
                    ticket.priority.as_str()
                ),
                html: None,
                link: format!("{public_url}/tickets/{}", ticket.key),
                thread: None,
                due_at,
            };
            if tx.insert_notice(&input).await? {
                queued += 1;
            }
        }
    }
    Ok(queued)
}

/// Which reminder a ticket due on `due` earns on `today`, and its subject: `due_soon` on the
/// day before and the day itself, `overdue` after.
fn reminder(key: &str, title: &str, due: Date, today: Date) -> Option<(&'static str, String)> {
    if due < today {
        Some((
            "overdue",
            format!("{key} is overdue (it was due {due}): {title}"),
        ))
    } else if due == today {
        Some(("due_soon", format!("{key} is due today: {title}")))
    } else if today.tomorrow().ok() == Some(due) {
        Some(("due_soon", format!("{key} is due tomorrow: {title}")))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::reminder;

    #[test]
    fn the_day_before_the_day_and_after() {
        let due = date(2026, 11, 27);
        assert_eq!(reminder("UF-1", "t", due, date(2026, 11, 25)), None);
        assert_eq!(
            reminder("UF-1", "Fix it", due, date(2026, 11, 26)).map(|r| r.1),
            Some("UF-1 is due tomorrow: Fix it".to_owned())
        );
        assert_eq!(
            reminder("UF-1", "t", due, date(2026, 11, 27)).map(|r| r.0),
            Some("due_soon")
        );
        assert_eq!(
            reminder("UF-1", "t", due, date(2026, 12, 3)).map(|r| r.0),
            Some("overdue")
        );
    }
}

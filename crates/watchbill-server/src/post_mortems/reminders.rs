//! Reminders that get post-mortems written: the responders of a high-urgency incident resolved
//! longer ago than the team's `remind_after_seconds` without a post-mortem hear of it, and so
//! does the owner of a draft (or one in review) older than the team's `draft_reminder_days`.
//!
//! Like deadline reminders they are notices through email, webhook and Slack, never at night
//! on the person's clock, once per incident or draft and address.

use std::collections::{BTreeSet, HashMap};

use jiff::{SignedDuration, Timestamp};
use watchbill_core::paging::daytime;
use watchbill_core::{TeamId, UserId};
use watchbill_store::notices::NoticeInput;
use watchbill_store::post_mortems::{PostMortemQuery, PostMortemSettings};
use watchbill_store::{StoreError, Tx};

use super::number;
use crate::paging::reminders::QUIET_KINDS;

/// How far back resolved incidents are looked at; older ones are left alone.
const LOOK_BACK: SignedDuration = SignedDuration::from_hours(30 * 24);

/// What a reminder says, before it is addressed.
struct Reminder {
    key: String,
    subject: String,
    body: String,
    link: String,
}

/// Queues the reminders due at `now`; answers how many were new.
pub async fn queue(tx: &mut dyn Tx, public_url: &str, now: Timestamp) -> Result<usize, StoreError> {
    let mut teams: HashMap<TeamId, PostMortemSettings> = HashMap::new();
    let mut queued = 0;
    let since = now.checked_sub(LOOK_BACK).unwrap_or(now);
    for incident in tx.resolved_without_post_mortem(since, now).await? {
        let Some(resolved) = incident.resolved_at else {
            continue;
        };
        let team = tx.service(incident.service_id).await?.team_id;
        let settings = cached(tx, &mut teams, team).await?;
        if resolved
            .as_second()
            .saturating_add(settings.remind_after_seconds)
            > now.as_second()
        {
            continue;
        }
        let responders: BTreeSet<UserId> = tx
            .notifications(incident.id)
            .await?
            .into_iter()
            .map(|n| n.input.user_id)
            .collect();
        let reminder = Reminder {
            key: format!("post-mortem-missing:INC-{}", incident.id),
            subject: format!(
                "INC-{} has no post-mortem yet: {}",
                incident.id, incident.title
            ),
            body: format!(
                "INC-{} was resolved at {resolved} and you were paged for it. Write a post-mortem \
                 so that the next captain knows how to tackle it.",
                incident.id
            ),
            link: format!("{public_url}/incidents/{}", incident.id),
        };
        for user in responders {
            queued += remind(tx, user, &reminder, now).await?;
        }
    }
    for status in ["draft", "in_review"] {
        let stale = tx
            .search_post_mortems(&PostMortemQuery {
                status: Some(status.to_owned()),
                until: now.checked_sub(SignedDuration::from_hours(24)).ok(),
                limit: 1000,
                ..Default::default()
            })
            .await?;
        for hit in stale {
            let pm = hit.post_mortem;
            let Some(owner) = pm.input.owner else {
                continue;
            };
            let settings = cached(tx, &mut teams, pm.input.team_id).await?;
            let age_days = now.as_second().saturating_sub(pm.created_at.as_second()) / 86_400;
            if age_days < settings.draft_reminder_days {
                continue;
            }
            let reminder = Reminder {
                key: format!("post-mortem-stale:{}", number(pm.id)),
                subject: format!(
                    "{} is still unpublished after {age_days} days: {}",
                    number(pm.id),
                    pm.input.title
                ),
                body: format!(
                    "{} has been {} since {}. Finish it and publish it, so that it can help the next \
                     captain.",
                    number(pm.id),
                    status.replace('_', " "),
                    pm.created_at
                ),
                link: format!("{public_url}/post-mortems/{}", pm.id),
            };
            queued += remind(tx, owner, &reminder, now).await?;
        }
    }
    Ok(queued)
}

async fn cached(
    tx: &mut dyn Tx,
    teams: &mut HashMap<TeamId, PostMortemSettings>,
    team: TeamId,
) -> Result<PostMortemSettings, StoreError> {
    if let Some(found) = teams.get(&team) {
        return Ok(found.clone());
    }
    let settings = super::settings(tx, team).await?;
    teams.insert(team, settings.clone());
    Ok(settings)
}

/// Queues the reminder to each of the person's quiet contact methods, or to the address they
/// sign in with when they have none; in their daytime.
async fn remind(
    tx: &mut dyn Tx,
    user: UserId,
    reminder: &Reminder,
    now: Timestamp,
) -> Result<usize, StoreError> {
    let person = tx.user(user).await?;
    let zone = jiff::tz::TimeZone::get(&person.time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let mut targets: Vec<(String, String)> = tx
        .contact_methods(user)
        .await?
        .into_iter()
        .filter(|m| QUIET_KINDS.contains(&m.kind.as_str()))
        .map(|m| (m.kind, m.address))
        .collect();
    if targets.is_empty() {
        targets.push(("email".to_owned(), person.email));
    }
    let mut queued = 0;
    for (kind, address) in targets {
        let notice = NoticeInput {
            idempotency_key: format!("{}:{kind}:{address}", reminder.key),
            user_id: Some(user),
            kind,
            address,
            subject: reminder.subject.clone(),
            body: reminder.body.clone(),
            html: None,
            link: reminder.link.clone(),
            thread: None,
            due_at: daytime(now, &zone),
        };
        if tx.insert_notice(&notice).await? {
            queued += 1;
        }
    }
    Ok(queued)
}

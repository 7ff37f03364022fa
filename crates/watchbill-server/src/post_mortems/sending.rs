//! Sending post-mortems round. Moving a draft to review tells its reviewers; publishing mails
//! it (text and HTML) to every member of the team and to the team's distribution list, and
//! queues it for the webhooks that ask for `post_mortem.published`. Everything goes through the
//! notice and webhook outboxes in the same transaction as the change, once per idempotency
//! key, so a retried request sends nothing twice.

use std::collections::BTreeSet;

use serde_json::json;
use watchbill_core::UserId;
use watchbill_store::notices::NoticeInput;
use watchbill_store::post_mortems::PostMortem;
use watchbill_store::{StoreError, Tx};

use super::{markdown, number};
use crate::web::markdown::render;

/// The webhook event a publication is.
pub const PUBLISHED_EVENT: &str = "post_mortem.published";

/// Where a person reads mail from watchbill: their email contact methods, or else the address
/// they sign in with.
async fn mail_addresses(tx: &mut dyn Tx, user: UserId) -> Result<Vec<String>, StoreError> {
    let methods: Vec<String> = tx
        .contact_methods(user)
        .await?
        .into_iter()
        .filter(|m| m.kind == "email")
        .map(|m| m.address)
        .collect();
    if methods.is_empty() {
        Ok(vec![tx.user(user).await?.email])
    } else {
        Ok(methods)
    }
}

/// Asks the reviewers to review; answers how many notices were new.
pub async fn queue_review(
    tx: &mut dyn Tx,
    pm: &PostMortem,
    public_url: &str,
) -> Result<usize, StoreError> {
    let link = format!("{public_url}/post-mortems/{}", pm.id);
    let now = tx.now();
    let mut queued = 0;
    for reviewer in &pm.reviewers {
        for address in mail_addresses(tx, *reviewer).await? {
            let notice = NoticeInput {
                idempotency_key: format!("post-mortem:{}:review:{address}", pm.id),
                user_id: Some(*reviewer),
                kind: "email".to_owned(),
                address,
                subject: format!(
                    "[watchbill] {} awaits your review: {}",
                    number(pm.id),
                    pm.input.title
                ),
                body: format!(
                    "{} by {} is in review, and you are named as a reviewer. Comment on the draft \
                     in watchbill.",
                    number(pm.id),
                    pm.input.created_by
                ),
                html: None,
                link: link.clone(),
                thread: Some(thread(pm.id)),
                due_at: now,
            };
            if tx.insert_notice(&notice).await? {
                queued += 1;
            }
        }
    }
    Ok(queued)
}

/// Sends a published post-mortem round; answers how many notices were new.
pub async fn queue_published(
    tx: &mut dyn Tx,
    pm: &PostMortem,
    public_url: &str,
) -> Result<usize, StoreError> {
    let link = format!("{public_url}/post-mortems/{}", pm.id);
    let text = markdown(pm);
    let html = format!(
        "<!doctype html><html><body>{}<p><a href=\"{}\">Open in watchbill</a></p></body></html>",
        render(&text),
        crate::act::escape(&link)
    );
    let team = tx.team(pm.input.team_id).await?;
    let mut recipients: Vec<(Option<UserId>, String)> = Vec::new();
    for member in &team.members {
        for address in mail_addresses(tx, *member).await? {
            recipients.push((Some(*member), address));
        }
    }
    if let Some(settings) = tx.post_mortem_settings(pm.input.team_id).await? {
        recipients.extend(settings.distribution.into_iter().map(|a| (None, a)));
    }
    let now = tx.now();
    let mut seen = BTreeSet::new();
    let mut queued = 0;
    for (user, address) in recipients {
        if !seen.insert(address.to_lowercase()) {
            continue;
        }
        let notice = NoticeInput {
            idempotency_key: format!("post-mortem:{}:published:{address}", pm.id),
            user_id: user,
            kind: "email".to_owned(),
            address,
            subject: format!(
                "[watchbill] {} published: {}",
                number(pm.id),
                pm.input.title
            ),
            body: text.clone(),
            html: Some(html.clone()),
            link: link.clone(),
            thread: Some(thread(pm.id)),
            due_at: now,
        };
        if tx.insert_notice(&notice).await? {
            queued += 1;
        }
    }
    let payload = json!({
        "event": PUBLISHED_EVENT,
        "occurred_at": now,
        "post_mortem": {
            "number": number(pm.id),
            "title": pm.input.title,
            "team_id": pm.input.team_id.0,
            "incidents": pm.input.incidents.iter().map(|i| format!("INC-{i}")).collect::<Vec<_>>(),
            "tags": pm.input.tags,
            "url": link,
            "markdown": text,
        },
    })
    .to_string();
    for subscription in tx.webhooks().await? {
        if subscription.enabled && subscription.events.iter().any(|e| e == PUBLISHED_EVENT) {
            let key = format!("{PUBLISHED_EVENT}:{}:{}", pm.id, subscription.id);
            tx.insert_webhook_delivery(subscription.id, PUBLISHED_EVENT, None, &key, &payload)
                .await?;
        }
    }
    Ok(queued)
}

/// The conversation a post-mortem's mails belong to.
fn thread(id: i64) -> String {
    format!("<post-mortem.{id}@watchbill>")
}

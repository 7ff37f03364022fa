//! Requesters follow their tickets: whoever reported a ticket (a user, or the address a mailed
//! report came from) hears by email when someone takes it, when it is resolved or closed, and
//! of every comment — unless they did it themselves. The messages of one ticket share a thread (`<ticket.UF-3@watchbill>`) so mail programs keep
//! them together. They are notices: queued in the transaction that made the change, sent by
//! the engine.

use watchbill_core::tickets::TicketStatus;
use watchbill_core::UserId;
use watchbill_store::notices::NoticeInput;
use watchbill_store::tickets::StoredTicket;
use watchbill_store::Tx;

use crate::error::ApiResult;

/// What happened to a ticket that its requester hears of.
#[derive(Debug, Clone, Copy)]
pub enum Happening<'a> {
    /// Someone (named) became its assignee.
    Taken { by: &'a str },
    /// It was resolved or closed.
    Finished,
    /// A comment, by id.
    Comment {
        id: i64,
        author: &'a str,
        body: &'a str,
    },
}

/// What a change did, as its requester hears of it: taken when the assignee changed to
/// someone, finished when it left open or in progress for resolved or closed.
pub fn happenings(before: &StoredTicket, after: &StoredTicket) -> (bool, bool) {
    let taken = after.ticket.assignee.is_some() && after.ticket.assignee != before.ticket.assignee;
    let open = |s: TicketStatus| matches!(s, TicketStatus::Open | TicketStatus::InProgress);
    let finished = open(before.ticket.status) && !open(after.ticket.status);
    (taken, finished)
}

/// Queues the requester's email about `happening`, unless there is no requester or it was
/// their own doing.
pub async fn tell(
    tx: &mut dyn Tx,
    public_url: &str,
    ticket: &StoredTicket,
    happening: Happening<'_>,
    actor: Option<UserId>,
) -> ApiResult<()> {
    // The requester: the reporting user, or, for a ticket filed by mail from someone without
    // an account, the address it came from.
    let reporter = ticket.ticket.reporter;
    if reporter.is_some() && actor == reporter {
        return Ok(());
    }
    let mail_sender = match reporter {
        Some(_) => None,
        None => match tx.mail_requester(ticket.id).await? {
            Some(sender) => Some(sender),
            None => return Ok(()),
        },
    };
    let key = ticket.ticket.key.to_string();
    let (what, body) = match happening {
        Happening::Taken { by } => (
            format!(
                "taken:{}:{}",
                ticket.ticket.assignee.map_or(0, |u| u.0),
                ticket.ticket.updated.as_second()
            ),
            format!("{by} is now working on {key}."),
        ),
        Happening::Finished => (
            format!("finished:{}", ticket.ticket.updated.as_second()),
            format!(
                "{key} is {}.",
                ticket.ticket.status.as_str().replace('_', " ")
            ),
        ),
        Happening::Comment { id, author, body } => (
            format!("comment:{id}"),
            format!("{author} commented on {key}:\n\n{body}"),
        ),
    };
    let addresses: Vec<(String, String)> = match (reporter, mail_sender) {
        (Some(reporter), _) => {
            let mut addresses: Vec<(String, String)> = tx
                .contact_methods(reporter)
                .await?
                .into_iter()
                .filter(|m| m.kind == "email")
                .map(|m| (m.id.to_string(), m.address))
                .collect();
            if addresses.is_empty() {
                addresses.push(("account".to_owned(), tx.user(reporter).await?.email));
            }
            addresses
        }
        (None, Some(sender)) => vec![("mail".to_owned(), sender)],
        (None, None) => Vec::new(),
    };
    for (via, address) in addresses {
        tx.insert_notice(&NoticeInput {
            idempotency_key: format!("requester:{key}:{what}:{via}"),
            user_id: reporter,
            kind: "email".to_owned(),
            address,
            subject: format!("[{key}] {}", ticket.ticket.title),
            body: body.clone(),
            html: None,
            link: format!("{public_url}/tickets/{key}"),
            thread: Some(format!("<ticket.{key}@watchbill>")),
            due_at: tx.now(),
        })
        .await?;
    }
    Ok(())
}

/// Tells the requester that `updated` was taken, naming its new assignee.
pub async fn tell_taken(
    tx: &mut dyn Tx,
    public_url: &str,
    updated: &StoredTicket,
    actor: Option<UserId>,
) -> ApiResult<()> {
    let by = match updated.ticket.assignee {
        Some(user) => tx.user(user).await?.name,
        None => String::new(),
    };
    tell(tx, public_url, updated, Happening::Taken { by: &by }, actor).await
}

//! What a received message does, in one transaction that commits before the sender hears
//! "250": a new ticket (and, at an urgent address, an incident that pages), a comment when it
//! answers a ticket or incident watchbill knows, `ack` or `resolve` from a registered person
//! acting on the incident it answers — and nothing but a record for automatic mail (bounces,
//! out-of-office replies, lists) and for a flood from one sender, which joins the first
//! incident instead of paging again.

use jiff::SignedDuration;
use watchbill_core::tickets::{Priority, TicketKind, TicketStatus};
use watchbill_core::{IncidentId, UserId};
use watchbill_store::mail::{MailAddress, MailMode, MailRecord};
use watchbill_store::paging::NewIncident;
use watchbill_store::tickets::{NewTicket, TicketLink};
use watchbill_store::{new_secret, StoreError, Tx};

use super::message::{first_word, read, Inbound};
use crate::api::tickets::assign_duty;
use crate::error::ApiError;
use crate::paging::{actions, webhooks};
use crate::retrying::{with_retries, FromStore};
use crate::state::AppState;

/// Attachments larger than this are left in the kept original only.
pub const ATTACHMENT_LIMIT: usize = 5 * 1024 * 1024;

/// Messages from one sender to one urgent address within this window join the first one's
/// incident.
const FLOOD_WINDOW: SignedDuration = SignedDuration::from_mins(10);

/// The envelope: who the relay says sent the message, and to which accepted addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// `MAIL FROM`, lower-cased; empty for the null sender `<>` (bounces).
    pub sender: String,
    pub recipients: Vec<String>,
}

/// Why a message was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Try again later (451): the database could not take it now.
    Temporary(String),
    /// Do not try again (550).
    Permanent(String),
}

/// What became of a message, for the reply and the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub outcome: String,
    pub ticket: Option<String>,
    /// The ticket's row id, kept with the message.
    pub ticket_id: Option<i64>,
    pub incident: Option<IncidentId>,
}

impl Delivered {
    /// `as UF-3 and INC-7`, for the SMTP reply.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if let Some(ticket) = &self.ticket {
            parts.push(ticket.clone());
        }
        if let Some(incident) = self.incident {
            parts.push(format!("INC-{incident}"));
        }
        if parts.is_empty() {
            self.outcome.clone()
        } else {
            format!("{} ({})", self.outcome, parts.join(", "))
        }
    }
}

impl From<StoreError> for Refusal {
    fn from(error: StoreError) -> Refusal {
        tracing::warn!(%error, "a received message could not be stored");
        Refusal::Temporary("the message could not be stored now; try again later".to_owned())
    }
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Refusal {
        if error.code.status().is_server_error() {
            Refusal::Temporary("the message could not be stored now; try again later".to_owned())
        } else {
            Refusal::Permanent(error.message.into_owned())
        }
    }
}

/// Files the message for every recipient, answering only after the commit. Messages from
/// concurrent sessions are committed together (see [`MailQueue`]).
pub async fn deliver(
    state: &AppState,
    envelope: &Envelope,
    raw: &[u8],
) -> Result<Vec<Delivered>, Refusal> {
    state.mail.submit(envelope.clone(), raw.to_vec()).await
}

/// One message waiting for its commit.
struct Job {
    envelope: Envelope,
    inbound: Inbound,
    raw: Vec<u8>,
    reply: tokio::sync::oneshot::Sender<Result<Vec<Delivered>, Refusal>>,
}

/// The most messages one transaction takes.
const BATCH: usize = 64;

/// Group commit for mail: one writer takes every message waiting, files them all in one
/// transaction and answers each after the commit, so eight relays writing at once cost one
/// commit, not eight. When one message of a batch is refused (a policy, not the database), the
/// batch is rolled back and each message is filed on its own, so a refusal never drops or
/// keeps another message's writes.
#[derive(Debug, Clone)]
pub struct MailQueue {
    sender: tokio::sync::mpsc::Sender<Job>,
}

impl MailQueue {
    pub fn start(state_cell: std::sync::Arc<std::sync::OnceLock<AppState>>) -> MailQueue {
        let (sender, mut receiver) = tokio::sync::mpsc::channel::<Job>(4 * BATCH);
        tokio::spawn(async move {
            while let Some(jobs) = crate::batching::next_batch(&mut receiver, BATCH).await {
                let Some(state) = state_cell.get() else {
                    for job in jobs {
                        let _ = job.reply.send(Err(Refusal::Temporary(
                            "mail intake is starting; try again later".to_owned(),
                        )));
                    }
                    continue;
                };
                file_batch(state, jobs).await;
            }
        });
        MailQueue { sender }
    }

    async fn submit(&self, envelope: Envelope, raw: Vec<u8>) -> Result<Vec<Delivered>, Refusal> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let unavailable =
            || Refusal::Temporary("mail intake is stopping; try again later".to_owned());
        self.sender
            .send(Job {
                inbound: read(&raw),
                envelope,
                raw,
                reply,
            })
            .await
            .map_err(|_| unavailable())?;
        answer.await.map_err(|_| unavailable())?
    }
}

async fn file_batch(state: &AppState, jobs: Vec<Job>) {
    let batched = with_retries(MAIL_TRIES, || async {
        let mut tx = state.store.write().await?;
        let mut addresses = Addresses::new();
        let mut results = Vec::with_capacity(jobs.len());
        for job in &jobs {
            results.push(
                file(
                    state,
                    tx.as_mut(),
                    &mut addresses,
                    &job.envelope,
                    &job.inbound,
                    &job.raw,
                )
                .await?,
            );
        }
        tx.commit().await?;
        Ok::<_, Attempt>(results)
    })
    .await;
    match batched {
        Ok(results) => {
            state.wake.notify_one();
            for (job, result) in jobs.into_iter().zip(results) {
                let _ = job.reply.send(Ok(result));
            }
        }
        Err(_) => {
            // One message at a time: each gets its own answer.
            for job in jobs {
                let alone = with_retries(MAIL_TRIES, || async {
                    let mut tx = state.store.write().await?;
                    let result = file(
                        state,
                        tx.as_mut(),
                        &mut Addresses::new(),
                        &job.envelope,
                        &job.inbound,
                        &job.raw,
                    )
                    .await?;
                    tx.commit().await?;
                    Ok::<_, Attempt>(result)
                })
                .await;
                let answer = match alone {
                    Ok(result) => {
                        state.wake.notify_one();
                        Ok(result)
                    }
                    Err(Attempt::Store(error)) => Err(error.into()),
                    Err(Attempt::Refused(refusal)) => Err(refusal),
                };
                let _ = job.reply.send(answer);
            }
        }
    }
}

enum Attempt {
    Store(StoreError),
    Refused(Refusal),
}

impl FromStore for Attempt {
    fn store_error(&self) -> Option<&StoreError> {
        match self {
            Attempt::Store(error) => Some(error),
            Attempt::Refused(_) => None,
        }
    }
}

/// How many times a batch of mail is tried before the relay is told to try later.
const MAIL_TRIES: u32 = 8;

impl From<StoreError> for Attempt {
    fn from(error: StoreError) -> Attempt {
        Attempt::Store(error)
    }
}

impl From<ApiError> for Attempt {
    fn from(error: ApiError) -> Attempt {
        Attempt::Refused(error.into())
    }
}

impl From<actions::ActionError> for Attempt {
    fn from(error: actions::ActionError) -> Attempt {
        match error {
            actions::ActionError::Store(error) => Attempt::Store(error),
            other => Attempt::Refused(Refusal::Permanent(other.to_string())),
        }
    }
}

/// The designated addresses one batch has looked up.
type Addresses = std::collections::HashMap<String, Option<MailAddress>>;

/// Whether an address's allow-list (addresses or domains; empty allows anyone) lets `sender`
/// write to it.
pub fn allows(allow: &[String], sender: &str) -> bool {
    let domain = sender.rsplit_once('@').map_or("", |(_, d)| d);
    allow.is_empty()
        || allow.iter().any(|a| {
            a.eq_ignore_ascii_case(sender) || (!a.contains('@') && a.eq_ignore_ascii_case(domain))
        })
}

/// Files one message for every recipient inside `tx`.
async fn file(
    state: &AppState,
    tx: &mut dyn Tx,
    addresses: &mut Addresses,
    envelope: &Envelope,
    inbound: &Inbound,
    raw: &[u8],
) -> Result<Vec<Delivered>, Attempt> {
    let sender = if envelope.sender.is_empty() {
        String::new()
    } else {
        envelope.sender.to_lowercase()
    };
    let local = sender.split('@').next().unwrap_or_default();
    let automatic =
        inbound.automatic || sender.is_empty() || matches!(local, "mailer-daemon" | "postmaster");
    let message_id = inbound
        .message_id
        .clone()
        .unwrap_or_else(|| format!("<generated.{}@watchbill>", new_secret().to_lowercase()));
    // What the message answers does not depend on the recipient.
    let thread = if automatic {
        None
    } else {
        thread_of(tx, &inbound.answers).await?
    };
    let mut delivered = Vec::new();
    for recipient in &envelope.recipients {
        let address = match addresses.get(recipient) {
            Some(known) => known.clone(),
            None => {
                let found = tx.find_mail_address(recipient).await?;
                addresses.insert(recipient.clone(), found.clone());
                found
            }
        };
        let outcome = if automatic {
            Delivered {
                outcome: "auto-reply".to_owned(),
                ticket: None,
                ticket_id: None,
                incident: None,
            }
        } else if let Some((ticket, incident)) = thread {
            answer(tx, &sender, inbound, ticket, incident).await?
        } else if let Some(address) = &address {
            // Checked at RCPT for SMTP; mail read from a mailbox meets it here.
            if !allows(&address.input.allow, &sender) {
                return Err(Attempt::Refused(Refusal::Permanent(format!(
                    "{sender} may not write to {recipient}"
                ))));
            }
            new_work(state, tx, address, &sender, inbound).await?
        } else {
            return Err(Attempt::Refused(Refusal::Permanent(format!(
                "{recipient} takes only replies to messages watchbill sent"
            ))));
        };
        tx.record_mail(&MailRecord {
            message_id: message_id.clone(),
            sender: sender.clone(),
            recipient: recipient.clone(),
            subject: inbound.subject.clone(),
            outcome: outcome.outcome.clone(),
            ticket_id: outcome.ticket_id,
            incident_id: outcome.incident,
            raw: raw.to_vec(),
        })
        .await?;
        delivered.push(outcome);
    }
    Ok(delivered)
}

/// The ticket and incident a message answers: one of watchbill's own thread IDs
/// (`<ticket.UF-3@watchbill>`, `<incident.42@watchbill>`), or a message it received before.
async fn thread_of(
    tx: &mut dyn Tx,
    answers: &[String],
) -> Result<Option<(Option<i64>, Option<IncidentId>)>, StoreError> {
    let (mut ticket, mut incident) = (None, None);
    for id in answers {
        let Some(inner) = id
            .strip_prefix('<')
            .and_then(|i| i.strip_suffix("@watchbill>"))
        else {
            continue;
        };
        if let Some(key) = inner.strip_prefix("ticket.") {
            if let Ok(key) = key.parse() {
                if let Ok(found) = tx.ticket_by_key(&key).await {
                    ticket = ticket.or(Some(found.id));
                }
            }
        } else if let Some(number) = inner.strip_prefix("incident.") {
            if let Ok(number) = number.parse::<i64>() {
                if tx.incident(IncidentId(number)).await.is_ok() {
                    incident = incident.or(Some(IncidentId(number)));
                }
            }
        }
    }
    if ticket.is_some() || incident.is_some() {
        return Ok(Some((ticket, incident)));
    }
    tx.mail_thread(answers).await
}

/// A reply: `ack` or `resolve` from a registered person acts on the incident; anything else
/// becomes a comment on the ticket and a note on the incident. Never a page.
async fn answer(
    tx: &mut dyn Tx,
    sender: &str,
    inbound: &Inbound,
    ticket: Option<i64>,
    incident: Option<IncidentId>,
) -> Result<Delivered, Attempt> {
    let person = tx.find_user_by_email(sender).await?;
    let author = person
        .as_ref()
        .map_or_else(|| sender.to_owned(), |p| p.name.clone());
    let key = match ticket {
        Some(id) => Some(tx.ticket(id).await?.ticket.key.to_string()),
        None => None,
    };
    if let (Some(incident), Some(person)) = (incident, &person) {
        let word = first_word(&inbound.text).unwrap_or_default();
        let acted = match word.as_str() {
            "ack" | "acknowledge" | "acknowledged" => {
                actions::acknowledge(tx, incident, &person.name).await?;
                Some("acknowledged")
            }
            "resolve" | "resolved" => {
                actions::resolve(tx, incident, &person.name).await?;
                Some("resolved")
            }
            _ => None,
        };
        if let Some(acted) = acted {
            return Ok(Delivered {
                outcome: acted.to_owned(),
                ticket: key,
                ticket_id: ticket,
                incident: Some(incident),
            });
        }
    }
    let text = if inbound.text.is_empty() {
        "(an empty reply)".to_owned()
    } else {
        inbound.text.clone()
    };
    if let Some(id) = ticket {
        tx.add_ticket_comment(id, &author, &text).await?;
    }
    if let Some(incident) = incident {
        tx.log(incident, "note", &author, &format!("By mail: {text}"))
            .await?;
    }
    Ok(Delivered {
        outcome: "comment".to_owned(),
        ticket: key,
        ticket_id: ticket,
        incident,
    })
}

/// A new report: a ticket, and at an urgent address an incident that pages — unless the same
/// sender opened one there within the flood window, which it then joins.
async fn new_work(
    state: &AppState,
    tx: &mut dyn Tx,
    address: &MailAddress,
    sender: &str,
    inbound: &Inbound,
) -> Result<Delivered, Attempt> {
    let settings = &address.input;
    let now = tx.now();
    if settings.mode == MailMode::Urgent {
        let since = now.saturating_sub(FLOOD_WINDOW).unwrap_or(now);
        if let Some((ticket, incident)) = tx
            .latest_page_from(sender, &settings.address, since)
            .await?
        {
            tx.add_alert(incident).await?;
            tx.log(
                incident,
                "alert",
                sender,
                &format!("Another message from {sender}: {}", inbound.subject),
            )
            .await?;
            let key = match ticket {
                Some(id) => {
                    tx.add_ticket_comment(id, sender, &inbound.text).await?;
                    Some(tx.ticket(id).await?.ticket.key.to_string())
                }
                None => None,
            };
            return Ok(Delivered {
                outcome: "flood".to_owned(),
                ticket: key,
                ticket_id: ticket,
                incident: Some(incident),
            });
        }
    }
    let reporter: Option<UserId> = match inbound.from.as_deref().or(Some(sender)) {
        Some(from) if !from.is_empty() => tx.find_user_by_email(from).await?.map(|u| u.id),
        _ => None,
    };
    let title = match inbound.subject.trim() {
        "" => format!("Mail from {sender}"),
        subject => subject.chars().take(500).collect(),
    };
    let mut labels = settings.labels.clone();
    if settings.mode == MailMode::Maintenance
        && !labels.iter().any(|l| l == "product-maintenance-duty")
    {
        labels.push("product-maintenance-duty".to_owned());
    }
    let priority = match &settings.priority {
        Some(name) => name.parse::<Priority>().unwrap_or(Priority::Medium),
        None if settings.mode == MailMode::Urgent => Priority::Highest,
        None => Priority::Medium,
    };
    let due = settings.due_days.and_then(|days| {
        now.to_zoned(jiff::tz::TimeZone::UTC)
            .date()
            .checked_add(jiff::Span::new().days(days))
            .ok()
    });
    let description = format!("Reported by mail from {sender}.\n\n{}", inbound.text);
    let ticket = tx
        .insert_ticket(
            &NewTicket {
                team_id: settings.team_id,
                title: title.clone(),
                description,
                kind: if settings.mode == MailMode::Urgent {
                    TicketKind::Bug
                } else {
                    TicketKind::Maintenance
                },
                priority,
                status: TicketStatus::Open,
                labels,
                due,
                reporter,
                assignee: None,
                component: None,
            },
            sender,
        )
        .await?;
    let ticket = assign_duty(state, tx, ticket).await?;
    for attachment in &inbound.attachments {
        if attachment.data.is_empty() || attachment.data.len() > ATTACHMENT_LIMIT {
            continue;
        }
        tx.add_attachment(
            ticket.id,
            &attachment.filename,
            &attachment.content_type,
            &attachment.data,
            sender,
        )
        .await?;
    }
    let key = ticket.ticket.key.to_string();
    let incident = match (settings.mode, settings.service_id) {
        (MailMode::Urgent, Some(service)) => {
            let service = tx.service(service).await?;
            let incident = tx
                .insert_incident(&NewIncident {
                    service_id: service.id,
                    dedup_key: format!("mail:{}", new_secret().to_lowercase()),
                    title: title.clone(),
                    urgency: watchbill_core::paging::Urgency::High,
                })
                .await?;
            tx.log(
                incident.id,
                "triggered",
                sender,
                &format!(
                    "Opened by mail from {sender} to {}: {title} ({key})",
                    settings.address
                ),
            )
            .await?;
            tx.link_ticket(ticket.id, TicketLink::Incident(incident.id))
                .await?;
            if service.escalation_policy_id.is_some() {
                actions::start_escalation(tx, &incident).await?;
            }
            webhooks::emit(tx, incident.id, "incident.triggered", sender).await?;
            Some(incident.id)
        }
        _ => None,
    };
    Ok(Delivered {
        outcome: if incident.is_some() {
            "ticket+incident".to_owned()
        } else {
            "ticket".to_owned()
        },
        ticket: Some(key),
        ticket_id: Some(ticket.id),
        incident,
    })
}

//! Low-urgency alerts as duty tickets: a service can ask that its low-urgency incidents go to
//! the team's maintenance-duty queue as tickets instead of paging anyone.

use watchbill_core::tickets::{Priority, TicketKind, TicketStatus};
use watchbill_core::IncidentId;
use watchbill_store::tickets::{NewTicket, TicketLink};
use watchbill_store::{StoreError, Tx};

/// Files a duty ticket for the incident in its service's team, linked both ways, and notes it
/// on the timeline. A team without ticket settings gets a timeline note instead.
pub async fn file_for_incident(tx: &mut dyn Tx, id: IncidentId) -> Result<(), StoreError> {
    let incident = tx.incident(id).await?;
    let service = tx.service(incident.service_id).await?;
    if tx.ticket_settings(service.team_id).await?.is_none() {
        return tx
            .log(
                id,
                "not_paged",
                "watchbill",
                "Low urgency: the team has no ticket prefix, so no duty ticket was filed",
            )
            .await;
    }
    let ticket = tx
        .insert_ticket(
            &NewTicket {
                team_id: service.team_id,
                title: incident.title.clone(),
                description: format!(
                    "Filed from INC-{} on {}, a low-urgency alert.",
                    incident.id, service.name
                ),
                kind: TicketKind::Bug,
                priority: Priority::Medium,
                status: TicketStatus::Open,
                labels: vec!["product-maintenance-duty".to_owned()],
                due: None,
                reporter: None,
                assignee: None,
                component: None,
            },
            "watchbill (low-urgency alert)",
        )
        .await?;
    tx.link_ticket(ticket.id, TicketLink::Incident(id)).await?;
    tx.log(
        id,
        "duty_ticket",
        "watchbill",
        &format!(
            "Low urgency: filed as duty ticket {} instead of paging",
            ticket.ticket.key
        ),
    )
    .await
}

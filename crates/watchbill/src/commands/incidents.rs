//! `watchbill incidents`, `ack`, `resolve` and `page`.

use serde::Deserialize;
use serde_json::json;

use super::{display_zone, short_time};
use crate::cli::{IncidentArgs, IncidentsArgs, PageArgs};
use crate::client::Client;
use crate::CommandError;

#[derive(Debug, Deserialize)]
struct Incident {
    number: String,
    title: String,
    status: String,
    urgency: String,
    service_id: i64,
    created_at: jiff::Timestamp,
    alert_count: i64,
}

#[derive(Debug, Deserialize)]
struct Service {
    id: i64,
    name: String,
}

pub async fn list(args: IncidentsArgs) -> Result<(), CommandError> {
    let client = Client::new(&args.client)?;
    let mut query = vec![("limit", args.limit.to_string())];
    if args.status != "all" {
        query.push(("status", args.status.clone()));
    }
    if args.json {
        let value: serde_json::Value = client.get("/api/v1/incidents", &query).await?;
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
        return Ok(());
    }
    let incidents: Vec<Incident> = client.get("/api/v1/incidents", &query).await?;
    let services: Vec<Service> = client.get("/api/v1/services", &[]).await?;
    let zone = display_zone(None).map_err(CommandError::Usage)?;
    if incidents.is_empty() {
        println!(
            "No {} incidents.",
            if args.status == "all" {
                ""
            } else {
                args.status.as_str()
            }
            .trim()
        );
    }
    for incident in incidents {
        let service = services
            .iter()
            .find(|s| s.id == incident.service_id)
            .map_or("?", |s| s.name.as_str());
        let alerts = if incident.alert_count > 1 {
            format!(" ({} alerts)", incident.alert_count)
        } else {
            String::new()
        };
        println!(
            "{:<8} {:<12} {:<4} {}  {service}: {}{alerts}",
            incident.number,
            incident.status,
            incident.urgency,
            short_time(incident.created_at, &zone),
            incident.title
        );
    }
    Ok(())
}

pub async fn act(args: IncidentArgs, action: &str) -> Result<(), CommandError> {
    let client = Client::new(&args.client)?;
    let incident: Incident = client
        .post(
            &format!("/api/v1/incidents/{}/{action}", args.incident.trim()),
            &[],
            &json!({}),
        )
        .await?;
    println!(
        "{} is {}: {}",
        incident.number, incident.status, incident.title
    );
    Ok(())
}

pub async fn page(args: PageArgs) -> Result<(), CommandError> {
    let client = Client::new(&args.client)?;
    let services: Vec<Service> = client.get("/api/v1/services", &[]).await?;
    let service = services
        .iter()
        .find(|s| s.id.to_string() == args.service || s.name.eq_ignore_ascii_case(&args.service))
        .ok_or_else(|| CommandError::Usage(format!("no service is named `{}`", args.service)))?;
    let mut body = json!({"service_id": service.id, "title": args.summary});
    if let Some(urgency) = &args.urgency {
        body["urgency"] = json!(urgency);
    }
    let incident: Incident = client.post("/api/v1/incidents", &[], &body).await?;
    println!(
        "{} opened on {}: {}",
        incident.number, service.name, incident.title
    );
    Ok(())
}

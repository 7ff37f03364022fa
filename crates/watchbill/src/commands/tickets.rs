//! `watchbill tickets`: tickets a filter selects, or one ticket in full; `watchbill ticket`:
//! filing, changing and commenting on one.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::cli::{TicketAction, TicketArgs, TicketsArgs};
use crate::client::Client;
use crate::CommandError;

#[derive(Debug, Deserialize)]
struct Ticket {
    key: String,
    title: String,
    #[serde(rename = "type")]
    kind: String,
    priority: String,
    status: String,
    labels: Vec<String>,
    due: Option<String>,
    description: String,
}

#[derive(Debug, Deserialize)]
struct History {
    at: jiff::Timestamp,
    actor: String,
    field: String,
    new_value: String,
}

#[derive(Debug, Deserialize)]
struct Comment {
    at: jiff::Timestamp,
    author: String,
    body: String,
}

#[derive(Debug, Deserialize)]
struct Detail {
    #[serde(flatten)]
    ticket: Ticket,
    history: Vec<History>,
    comments: Vec<Comment>,
}

pub async fn run(args: TicketsArgs) -> Result<(), CommandError> {
    let client = Client::new(&args.client)?;
    if let Some(key) = &args.show {
        let path = format!("/api/v1/tickets/{}", key.trim());
        if args.json {
            let value: serde_json::Value = client.get(&path, &[]).await?;
            println!(
                "{}",
                serde_json::to_string_pretty(&value).unwrap_or_default()
            );
            return Ok(());
        }
        let detail: Detail = client.get(&path, &[]).await?;
        let t = &detail.ticket;
        println!("{}  {}", t.key, t.title);
        println!(
            "  {} · {} · {}{}",
            t.kind,
            t.priority,
            t.status,
            t.due
                .as_ref()
                .map(|d| format!(" · due {d}"))
                .unwrap_or_default()
        );
        if !t.labels.is_empty() {
            println!("  labels: {}", t.labels.join(", "));
        }
        if !t.description.is_empty() {
            println!();
            for line in t.description.lines() {
                println!("  {line}");
            }
        }
        println!();
        for h in &detail.history {
            println!("  {}  {}: {} → {}", h.at, h.actor, h.field, h.new_value);
        }
        for c in &detail.comments {
            println!("  {}  {} commented: {}", c.at, c.author, c.body);
        }
        return Ok(());
    }
    let mut query = vec![("limit", args.limit.to_string())];
    if let Some(filter) = &args.filter {
        query.push(("filter", filter.clone()));
    }
    if let Some(team) = args.team {
        query.push(("team", team.to_string()));
    }
    if args.json {
        let value: serde_json::Value = client.get("/api/v1/tickets", &query).await?;
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
        return Ok(());
    }
    let tickets: Vec<Ticket> = client.get("/api/v1/tickets", &query).await?;
    if tickets.is_empty() {
        println!("No tickets.");
    }
    for t in tickets {
        let due = t.due.map(|d| format!("  due {d}")).unwrap_or_default();
        println!(
            "{:<8} {:<8} {:<11} {}{due}",
            t.key, t.priority, t.status, t.title
        );
    }
    Ok(())
}

/// `none` clears a field; anything else is sent as it is written.
fn clearable(text: &str) -> Value {
    if text.eq_ignore_ascii_case("none") {
        Value::Null
    } else {
        Value::String(text.to_owned())
    }
}

pub async fn act(args: TicketArgs) -> Result<(), CommandError> {
    let client = Client::new(&args.client)?;
    match args.action {
        TicketAction::New {
            title,
            team,
            description,
            kind,
            priority,
            labels,
            due,
        } => {
            let body = json!({
                "team_id": team, "title": title, "description": description, "type": kind,
                "priority": priority, "labels": labels, "due": due,
            });
            let ticket: Ticket = client.post("/api/v1/tickets", &[], &body).await?;
            println!("Filed {}: {}", ticket.key, ticket.title);
        }
        TicketAction::Set {
            key,
            title,
            status,
            priority,
            kind,
            due,
            assignee,
        } => {
            let mut body = Map::new();
            let fields = [
                ("title", title),
                ("status", status),
                ("priority", priority),
                ("type", kind),
            ];
            for (name, value) in fields {
                if let Some(value) = value {
                    body.insert(name.to_owned(), Value::String(value));
                }
            }
            if let Some(due) = due {
                body.insert("due".to_owned(), clearable(&due));
            }
            if let Some(assignee) = assignee {
                let value = match clearable(&assignee) {
                    Value::Null => Value::Null,
                    _ => Value::from(assignee.trim().parse::<i64>().map_err(|_| {
                        CommandError::Usage(format!(
                            "--assignee takes a user id or `none`, not `{assignee}`"
                        ))
                    })?),
                };
                body.insert("assignee_id".to_owned(), value);
            }
            if body.is_empty() {
                return Err(CommandError::Usage(
                    "say what to change: --title, --status, --priority, --type, --due or --assignee".to_owned(),
                ));
            }
            let path = format!("/api/v1/tickets/{}", key.trim());
            let ticket: Ticket = client.patch(&path, &Value::Object(body)).await?;
            println!(
                "{}  {} · {} · {}",
                ticket.key, ticket.title, ticket.priority, ticket.status
            );
        }
        TicketAction::Comment { key, text } => {
            let path = format!("/api/v1/tickets/{}/comments", key.trim());
            let _: Value = client.post(&path, &[], &json!({ "body": text })).await?;
            println!("Commented on {}.", key.trim());
        }
    }
    Ok(())
}

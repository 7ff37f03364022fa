//! `watchbill post-mortem`: the library searched, one post-mortem shown or exported, and
//! writing, reviewing, commenting on and publishing one, with its action items.

use std::io::Read;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::cli::{PostMortemAction, PostMortemArgs};
use crate::client::Client;
use crate::CommandError;

#[derive(Debug, Deserialize)]
struct Summary {
    number: String,
    title: String,
    status: String,
    tags: Vec<String>,
    incidents: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct ActionItem {
    key: String,
    title: String,
    status: String,
}

#[derive(Debug, Deserialize)]
struct Detail {
    #[serde(flatten)]
    summary: Summary,
    body: String,
    action_items: Vec<ActionItem>,
    action_items_done: usize,
    complete: bool,
}

#[derive(Debug, Deserialize)]
struct Settings {
    template: String,
    distribution: Vec<String>,
    remind_after_seconds: i64,
    draft_reminder_days: i64,
}

#[derive(Debug, Deserialize)]
struct SeenBefore {
    number: String,
    title: String,
    tackle: Option<String>,
}

fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

fn path(id: &str) -> String {
    format!("/api/v1/post-mortems/{}", id.trim())
}

pub async fn run(args: PostMortemArgs) -> Result<(), CommandError> {
    let client = Client::new(&args.client)?;
    match args.action {
        PostMortemAction::List {
            query,
            team,
            service,
            tag,
            status,
            limit,
            json,
        } => {
            let mut params = vec![("limit", limit.to_string())];
            let optional = [
                ("q", query),
                ("team", team.map(|t| t.to_string())),
                ("service", service.map(|s| s.to_string())),
                ("tag", tag),
                ("status", status),
            ];
            for (name, value) in optional {
                if let Some(value) = value {
                    params.push((name, value));
                }
            }
            if json {
                print_json(&client.get("/api/v1/post-mortems", &params).await?);
                return Ok(());
            }
            let found: Vec<Summary> = client.get("/api/v1/post-mortems", &params).await?;
            if found.is_empty() {
                println!("No post-mortems.");
            }
            for pm in found {
                let tags = if pm.tags.is_empty() {
                    String::new()
                } else {
                    format!("  [{}]", pm.tags.join(", "))
                };
                println!(
                    "{:<7} {:<10} {}  ({}){tags}",
                    pm.number,
                    pm.status,
                    pm.title,
                    pm.incidents.join(", ")
                );
            }
        }
        PostMortemAction::Show { id, json } => {
            if json {
                print_json(&client.get(&path(&id), &[]).await?);
                return Ok(());
            }
            let pm: Detail = client.get(&path(&id), &[]).await?;
            let s = &pm.summary;
            println!("{}  {}", s.number, s.title);
            println!(
                "  {}{} · incidents {}",
                s.status,
                if pm.complete { " · complete" } else { "" },
                s.incidents.join(", ")
            );
            println!(
                "  action items: {} of {} done",
                pm.action_items_done,
                pm.action_items.len()
            );
            for a in &pm.action_items {
                println!("    {:<8} {:<11} {}", a.key, a.status, a.title);
            }
            println!();
            println!("{}", pm.body);
        }
        PostMortemAction::New {
            incidents,
            title,
            tags,
        } => {
            let created: Summary = client
                .post(
                    "/api/v1/post-mortems",
                    &[],
                    &json!({"incidents": incidents, "title": title, "tags": tags}),
                )
                .await?;
            println!("{} written: {}", created.number, created.title);
        }
        PostMortemAction::Edit { id, file } => {
            let body = read(&file)?;
            let updated: Summary = client.patch(&path(&id), &json!({"body": body})).await?;
            println!("{} saved.", updated.number);
        }
        PostMortemAction::Review { id, reviewers } => {
            let updated: Summary = client
                .patch(
                    &path(&id),
                    &json!({"status": "in_review", "reviewers": reviewers}),
                )
                .await?;
            println!("{} is in review.", updated.number);
        }
        PostMortemAction::Publish { id } => {
            let updated: Summary = client
                .patch(&path(&id), &json!({"status": "published"}))
                .await?;
            println!("{} is published and on its way round.", updated.number);
        }
        PostMortemAction::Comment { id, text } => {
            let _: Value = client
                .post(
                    &format!("{}/comments", path(&id)),
                    &[],
                    &json!({"body": text}),
                )
                .await?;
            println!("Commented.");
        }
        PostMortemAction::Action {
            id,
            title,
            priority,
            due,
            assignee,
        } => {
            let ticket: Value = client
                .post(
                    &format!("{}/action-items", path(&id)),
                    &[],
                    &json!({"title": title, "priority": priority, "due": due, "assignee": assignee}),
                )
                .await?;
            println!(
                "Filed {}: {}",
                ticket["key"].as_str().unwrap_or_default(),
                ticket["title"].as_str().unwrap_or_default()
            );
        }
        PostMortemAction::Export { id } => {
            print!(
                "{}",
                client.get_text(&format!("{}/markdown", path(&id))).await?
            );
        }
        PostMortemAction::SeenBefore { incident } => {
            let found: Vec<SeenBefore> = client
                .get(
                    &format!("/api/v1/incidents/{}/seen-before", incident.trim()),
                    &[],
                )
                .await?;
            if found.is_empty() {
                println!("Nothing like it before.");
            }
            for seen in found {
                println!("{} \"{}\"", seen.number, seen.title);
                if let Some(tackle) = seen.tackle {
                    println!("  how to tackle it: {tackle}");
                }
            }
        }
        PostMortemAction::Settings {
            team,
            template,
            distribution,
            remind_after_seconds,
            draft_reminder_days,
        } => {
            let path = format!("/api/v1/teams/{team}/post-mortem-settings");
            let mut change = serde_json::Map::new();
            if let Some(file) = template {
                change.insert("template".to_owned(), Value::from(read(&file)?));
            }
            if !distribution.is_empty() {
                change.insert("distribution".to_owned(), json!(distribution));
            }
            if let Some(seconds) = remind_after_seconds {
                change.insert("remind_after_seconds".to_owned(), Value::from(seconds));
            }
            if let Some(days) = draft_reminder_days {
                change.insert("draft_reminder_days".to_owned(), Value::from(days));
            }
            let settings: Settings = if change.is_empty() {
                client.get(&path, &[]).await?
            } else {
                client.put(&path, &Value::Object(change)).await?
            };
            println!(
                "Distribution: {}",
                if settings.distribution.is_empty() {
                    "the team only".to_owned()
                } else {
                    settings.distribution.join(", ")
                }
            );
            println!(
                "Reminders: {} s after a high-urgency resolution without one; drafts after {} days",
                settings.remind_after_seconds, settings.draft_reminder_days
            );
            println!("Template:\n{}", settings.template);
        }
    }
    Ok(())
}

/// A file's text, or standard input's for `-`.
fn read(file: &str) -> Result<String, CommandError> {
    let mut text = String::new();
    let read = if file == "-" {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(file).map(|t| text = t)
    };
    read.map_err(|e| CommandError::Usage(format!("cannot read {file}: {e}")))?;
    Ok(text)
}

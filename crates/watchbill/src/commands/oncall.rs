//! `watchbill oncall`: each team's schedules with who is on call, until when, and who is next.

use std::fmt::Write as _;

use serde::Deserialize;

use super::{display_zone, short_time};
use crate::cli::OncallArgs;
use crate::client::Client;
use crate::CommandError;

#[derive(Debug, Deserialize)]
struct Person {
    name: String,
}

#[derive(Debug, Deserialize)]
struct Next {
    user: Person,
}

#[derive(Debug, Deserialize)]
struct Entry {
    schedule_name: String,
    team_name: String,
    user: Option<Person>,
    until: Option<jiff::Timestamp>,
    next: Option<Next>,
}

#[derive(Debug, Deserialize)]
struct Answer {
    schedules: Vec<Entry>,
}

pub async fn run(args: OncallArgs) -> Result<(), CommandError> {
    let client = Client::new(&args.client)?;
    let zone = display_zone(args.tz.as_deref()).map_err(CommandError::Usage)?;
    let mut query = Vec::new();
    if let Some(team) = &args.team {
        query.push(("team", team.clone()));
    }
    if let Some(at) = &args.at {
        query.push(("at", at.clone()));
    }
    if args.json {
        let value: serde_json::Value = client.get("/api/v1/oncall", &query).await?;
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
        return Ok(());
    }
    let answer: Answer = client.get("/api/v1/oncall", &query).await?;
    print!("{}", render(&answer, &zone));
    Ok(())
}

fn render(answer: &Answer, zone: &jiff::tz::TimeZone) -> String {
    let mut out = String::new();
    let mut team = None;
    let width = answer
        .schedules
        .iter()
        .map(|s| s.schedule_name.len())
        .max()
        .unwrap_or(0);
    let name_width = answer
        .schedules
        .iter()
        .map(|s| s.user.as_ref().map_or(6, |u| u.name.len()))
        .max()
        .unwrap_or(0);
    for entry in &answer.schedules {
        if team != Some(&entry.team_name) {
            let _ = writeln!(out, "{}", entry.team_name);
            team = Some(&entry.team_name);
        }
        let who = entry.user.as_ref().map_or("nobody", |u| u.name.as_str());
        let until = entry.until.map_or_else(
            || "no end in sight".to_owned(),
            |t| format!("until {}", short_time(t, zone)),
        );
        let next = entry
            .next
            .as_ref()
            .map_or_else(String::new, |n| format!(", then {}", n.user.name));
        let _ = writeln!(
            out,
            "  {:width$}  {:name_width$}  {until}{next}",
            entry.schedule_name, who
        );
    }
    if answer.schedules.is_empty() {
        out.push_str("No schedules.\n");
    }
    out
}

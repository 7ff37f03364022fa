//! `watchbill schedule list` and `watchbill schedule show`.

use serde::Deserialize;

use super::{display_zone, short_time};
use crate::cli::{ClientArgs, ScheduleCommand};
use crate::client::Client;
use crate::CommandError;

#[derive(Debug, Deserialize)]
struct Team {
    id: i64,
    name: String,
}

#[derive(Debug, Deserialize)]
struct Schedule {
    id: i64,
    team_id: i64,
    name: String,
    time_zone: String,
}

#[derive(Debug, Deserialize)]
struct Shift {
    start: jiff::Timestamp,
    end: jiff::Timestamp,
    user_name: Option<String>,
    source: Option<String>,
    layer: Option<String>,
    override_id: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct Shifts {
    shifts: Vec<Shift>,
}

pub async fn run(command: ScheduleCommand) -> Result<(), CommandError> {
    match command {
        ScheduleCommand::List { client } => list(&client).await,
        ScheduleCommand::Show {
            schedule,
            from,
            to,
            tz,
            json,
            client,
        } => show(&client, &schedule, from, to, tz, json).await,
    }
}

async fn catalogue(client: &Client) -> Result<(Vec<Team>, Vec<Schedule>), CommandError> {
    let teams: Vec<Team> = client.get("/api/v1/teams", &[]).await?;
    let schedules: Vec<Schedule> = client.get("/api/v1/schedules", &[]).await?;
    Ok((teams, schedules))
}

fn team_name(teams: &[Team], id: i64) -> &str {
    teams
        .iter()
        .find(|t| t.id == id)
        .map_or("?", |t| t.name.as_str())
}

async fn list(args: &ClientArgs) -> Result<(), CommandError> {
    let client = Client::new(args)?;
    let (teams, schedules) = catalogue(&client).await?;
    for schedule in &schedules {
        println!(
            "{:>4}  {}/{}  ({})",
            schedule.id,
            team_name(&teams, schedule.team_id),
            schedule.name,
            schedule.time_zone
        );
    }
    Ok(())
}

/// Finds a schedule by id, by `TEAM/NAME`, or by a name only one team uses.
fn find<'a>(
    teams: &[Team],
    schedules: &'a [Schedule],
    wanted: &str,
) -> Result<&'a Schedule, CommandError> {
    if let Ok(id) = wanted.parse::<i64>() {
        return schedules
            .iter()
            .find(|s| s.id == id)
            .ok_or_else(|| CommandError::Usage(format!("no schedule has id {id}")));
    }
    let (team, name) = match wanted.split_once('/') {
        Some((team, name)) => (Some(team), name),
        None => (None, wanted),
    };
    let matches: Vec<&Schedule> = schedules
        .iter()
        .filter(|s| s.name.eq_ignore_ascii_case(name))
        .filter(|s| team.is_none_or(|team| team_name(teams, s.team_id).eq_ignore_ascii_case(team)))
        .collect();
    match matches.as_slice() {
        [one] => Ok(one),
        [] => Err(CommandError::Usage(format!(
            "no schedule is named `{wanted}`"
        ))),
        several => Err(CommandError::Usage(format!(
            "`{wanted}` names {} schedules; use TEAM/NAME, e.g. `{}/{}`",
            several.len(),
            team_name(teams, several[0].team_id),
            several[0].name
        ))),
    }
}

async fn show(
    args: &ClientArgs,
    wanted: &str,
    from: Option<String>,
    to: Option<String>,
    tz: Option<String>,
    json: bool,
) -> Result<(), CommandError> {
    let client = Client::new(args)?;
    let (teams, schedules) = catalogue(&client).await?;
    let schedule = find(&teams, &schedules, wanted)?;
    let mut query = Vec::new();
    if let Some(from) = from {
        query.push(("from", from));
    }
    if let Some(to) = to {
        query.push(("to", to));
    }
    let path = format!("/api/v1/schedules/{}/shifts", schedule.id);
    if json {
        let value: serde_json::Value = client.get(&path, &query).await?;
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
        return Ok(());
    }
    let zone = display_zone(Some(tz.as_deref().unwrap_or(&schedule.time_zone)))
        .map_err(CommandError::Usage)?;
    let shifts: Shifts = client.get(&path, &query).await?;
    println!(
        "{}/{} ({})",
        team_name(&teams, schedule.team_id),
        schedule.name,
        zone.iana_name().unwrap_or("local")
    );
    for shift in &shifts.shifts {
        let who = shift.user_name.as_deref().unwrap_or("— nobody (gap) —");
        let why = match (shift.source.as_deref(), &shift.layer, shift.override_id) {
            (Some("override"), _, Some(id)) => format!("override {id}"),
            (Some("layer"), Some(layer), _) => format!("layer {layer}"),
            _ => String::new(),
        };
        println!(
            "  {} → {}  {who}  {why}",
            short_time(shift.start, &zone),
            short_time(shift.end, &zone)
        );
    }
    Ok(())
}

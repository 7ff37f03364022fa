//! First-start set-up: the admin bootstrap token, and the demo organisation.

use jiff::Timestamp;
use watchbill_core::tickets::{Priority, TicketKind, TicketStatus};
use watchbill_core::Role;
use watchbill_store::model::TokenInput;
use watchbill_store::tickets::NewTicket;
use watchbill_store::{hash_secret, new_secret, Store, StoreError, Tx};

use crate::api::tokens::TOKEN_PREFIX;
use crate::error::ApiError;
use crate::org::{
    apply, OrgContact, OrgDocument, OrgIntegration, OrgLayer, OrgLevel, OrgMailAddress, OrgPolicy,
    OrgSchedule, OrgService, OrgTarget, OrgTeam, OrgTicketSettings, OrgUser,
};

/// What set-up did, for the start-up banner.
#[derive(Debug, Default)]
pub struct SetupReport {
    /// A new admin token's secret, shown once.
    pub admin_token: Option<String>,
    /// Whether the token came from `WATCHBILL_BOOTSTRAP_TOKEN`, so it need not be printed.
    pub token_from_environment: bool,
    pub demo_created: bool,
    /// A new password for the demo admin's web sign-in, shown once.
    pub admin_password: Option<String>,
    /// The demo's integrations: (service, kind, key).
    pub integrations: Vec<(String, String, String)>,
}

/// Why set-up failed.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("the demo organisation could not be created: {0}")]
    Demo(String),
    #[error("WATCHBILL_BOOTSTRAP_TOKEN must be at least 16 characters")]
    WeakBootstrapToken,
}

impl From<ApiError> for SetupError {
    fn from(error: ApiError) -> SetupError {
        SetupError::Demo(error.message.into_owned())
    }
}

/// When the database has no API token at all, creates the admin bootstrap token: the one in
/// `bootstrap` if given, otherwise a random one.
pub async fn bootstrap(
    store: &dyn Store,
    bootstrap: Option<&str>,
) -> Result<SetupReport, SetupError> {
    let mut report = SetupReport::default();
    if bootstrap.is_some_and(|secret| secret.len() < 16) {
        return Err(SetupError::WeakBootstrapToken);
    }
    let mut tx = store.write().await?;
    if !tx.tokens().await?.is_empty() {
        return Ok(report);
    }
    let secret = match bootstrap {
        Some(secret) => {
            report.token_from_environment = true;
            secret.to_owned()
        }
        None => format!("{TOKEN_PREFIX}{}", new_secret()),
    };
    tx.insert_token(&TokenInput {
        name: "bootstrap admin".to_owned(),
        role: Role::Admin,
        user_id: None,
        secret_hash: hash_secret(&secret),
    })
    .await?;
    tx.record_audit("watchbill", "token.create", "bootstrap admin token")
        .await?;
    tx.commit().await?;
    report.admin_token = Some(secret);
    Ok(report)
}

/// Fills an empty database with the demo organisation and returns a fresh admin token and
/// web password for it. On a database that already has users, only those are made anew.
pub async fn demo(store: &dyn Store) -> Result<SetupReport, SetupError> {
    let mut report = SetupReport::default();
    let mut tx = store.write().await?;
    if tx.users().await?.is_empty() {
        apply(tx.as_mut(), &demo_document()).await?;
        report.demo_created = true;
    }
    let admin = tx
        .find_user_by_email(DEMO_ADMIN_EMAIL)
        .await?
        .map(|user| user.id);
    let secret = format!("{TOKEN_PREFIX}{}", new_secret());
    tx.insert_token(&TokenInput {
        name: format!("demo admin {}", tx.now().strftime("%Y-%m-%d %H:%M:%S")),
        role: Role::Admin,
        user_id: admin,
        secret_hash: hash_secret(&secret),
    })
    .await?;
    tx.record_audit("watchbill", "token.create", "demo admin token")
        .await?;
    if let Some(admin) = admin {
        let password: String = new_secret().chars().take(16).collect();
        let hash = crate::web::session::hash_password(password.clone()).await?;
        tx.set_password(admin, &hash).await?;
        report.admin_password = Some(password);
    }
    let services = tx.services().await?;
    for integration in tx.integrations(None).await? {
        let service = services
            .iter()
            .find(|s| s.id == integration.service_id)
            .map_or_else(String::new, |s| s.name.clone());
        report.integrations.push((
            service,
            integration.kind.as_str().to_owned(),
            integration.secret,
        ));
    }
    tx.commit().await?;
    report.admin_token = Some(secret);
    Ok(report)
}

pub const DEMO_ADMIN_EMAIL: &str = "admin@demo.watchbill.test";

/// The seed's organisation: three teams, each with a weekly Captain On-Call handing off on
/// Wednesday at 10:00 in Los Angeles, before sprint planning, and a First-mate one person
/// along the same rotation.
pub fn demo_document() -> OrgDocument {
    let teams: [(&str, &str, [&str; 4]); 3] = [
        (
            "User-facing",
            "Course platform",
            [
                "Ada Lovelace",
                "Grace Hopper",
                "Alan Turing",
                "Katherine Johnson",
            ],
        ),
        (
            "Infrastructure",
            "Core services",
            [
                "Linus Torvalds",
                "Radia Perlman",
                "Ken Thompson",
                "Barbara Liskov",
            ],
        ),
        (
            "Analytics",
            "Data pipeline",
            [
                "Florence Nightingale",
                "John Tukey",
                "Hedy Lamarr",
                "Claude Shannon",
            ],
        ),
    ];
    let email = |name: &str| {
        format!(
            "{}@demo.watchbill.test",
            name.split(' ').next().unwrap_or(name).to_lowercase()
        )
    };
    let mut users = vec![OrgUser {
        name: "Demo Admin".to_owned(),
        email: DEMO_ADMIN_EMAIL.to_owned(),
        time_zone: DEMO_TIME_ZONE.to_owned(),
        role: "admin".to_owned(),
        photo_url: None,
        contact_methods: None,
    }];
    let mut org_teams = Vec::new();
    let mut schedules = Vec::new();
    // The first handoff of every demo rotation: Wednesday 7 January 2026, 10:00 in Los Angeles.
    let start: Timestamp = Timestamp::from_second(1_767_808_800).unwrap_or(Timestamp::UNIX_EPOCH);
    let mut policies = Vec::new();
    let mut services = Vec::new();
    for (team, service, people) in teams {
        for person in people {
            users.push(OrgUser {
                name: person.to_owned(),
                email: email(person),
                time_zone: DEMO_TIME_ZONE.to_owned(),
                role: "responder".to_owned(),
                photo_url: None,
                contact_methods: Some(vec![OrgContact {
                    kind: "email".to_owned(),
                    address: email(person),
                    label: "work".to_owned(),
                }]),
            });
        }
        org_teams.push(OrgTeam {
            name: team.to_owned(),
            description: format!("The {team} team's product on-call line-up."),
            members: people.iter().map(|p| email(p)).collect(),
            tickets: Some(OrgTicketSettings {
                prefix: ticket_prefix(team),
                duty_filter: None,
                assign_to_captain: false,
            }),
        });
        schedules.push(OrgSchedule {
            team: team.to_owned(),
            name: "Captain On-Call".to_owned(),
            time_zone: DEMO_TIME_ZONE.to_owned(),
            follows: None,
            offset: None,
            layers: vec![OrgLayer {
                name: "Weekly".to_owned(),
                participants: people.iter().map(|p| email(p)).collect(),
                turn: "1w".to_owned(),
                handoff: "Wednesday 10:00".to_owned(),
                start,
                end: None,
                restrictions: Vec::new(),
                offset: 0,
            }],
        });
        schedules.push(OrgSchedule {
            team: team.to_owned(),
            name: "First-mate".to_owned(),
            time_zone: DEMO_TIME_ZONE.to_owned(),
            follows: Some("Captain On-Call".to_owned()),
            offset: Some(1),
            layers: Vec::new(),
        });
        let on = |schedule: &str| OrgTarget {
            schedule: Some(schedule.to_owned()),
            user: None,
            team: None,
        };
        policies.push(OrgPolicy {
            team: team.to_owned(),
            name: "Product on-call".to_owned(),
            repeat: 1,
            levels: vec![
                OrgLevel {
                    delay_seconds: 300,
                    targets: vec![on("Captain On-Call")],
                },
                OrgLevel {
                    delay_seconds: 300,
                    targets: vec![on("First-mate")],
                },
            ],
        });
        services.push(OrgService {
            team: team.to_owned(),
            name: service.to_owned(),
            description: format!("What the {team} team keeps alive."),
            escalation_policy: Some("Product on-call".to_owned()),
            default_urgency: "high".to_owned(),
            low_urgency_tickets: false,
            integrations: vec![
                OrgIntegration {
                    kind: "events_v2".to_owned(),
                    name: "Events API".to_owned(),
                },
                OrgIntegration {
                    kind: "alertmanager".to_owned(),
                    name: "Alertmanager".to_owned(),
                },
            ],
        });
    }
    // The seed's designated addresses, for User-facing: urgent mail files a ticket and pages
    // the Course platform's on-call; maintenance mail files a duty ticket.
    let mail_addresses = vec![
        OrgMailAddress {
            address: "urgent@demo.watchbill.test".to_owned(),
            team: "User-facing".to_owned(),
            mode: "urgent".to_owned(),
            service: Some("Course platform".to_owned()),
            priority: None,
            labels: Vec::new(),
            due_days: Some(1),
            allow: Vec::new(),
        },
        OrgMailAddress {
            address: "maintenance@demo.watchbill.test".to_owned(),
            team: "User-facing".to_owned(),
            mode: "maintenance".to_owned(),
            service: None,
            priority: None,
            labels: Vec::new(),
            due_days: Some(7),
            allow: Vec::new(),
        },
    ];
    OrgDocument {
        users,
        teams: org_teams,
        schedules,
        escalation_policies: policies,
        services,
        mail_addresses,
    }
}

/// A demo team's ticket key prefix: `UF` for User-facing, `INF` for Infrastructure, `AN` for
/// Analytics.
fn ticket_prefix(team: &str) -> String {
    match team {
        "User-facing" => "UF",
        "Infrastructure" => "INF",
        _ => "AN",
    }
    .to_owned()
}

/// Where the demo organisation's people and schedules are.
const DEMO_TIME_ZONE: &str = "America/Los_Angeles";

/// Files a week's worth of product-maintenance duty for the demo's User-facing team, due
/// around today, so the duty queue and the ticket pages have something to show. `serve --demo`
/// calls it once, when it creates the demo organisation.
pub async fn demo_tickets(store: &dyn Store) -> Result<(), SetupError> {
    let mut tx = store.write().await?;
    file_demo_tickets(tx.as_mut()).await?;
    tx.commit().await?;
    Ok(())
}

async fn file_demo_tickets(tx: &mut dyn Tx) -> Result<(), SetupError> {
    let Some(team) = tx
        .teams()
        .await?
        .into_iter()
        .find(|t| t.name == "User-facing")
    else {
        return Ok(());
    };
    // Days as the demo's people count them: in UTC, the first hours of a day are still
    // yesterday in Los Angeles, and a ticket due "yesterday" would not yet be overdue there.
    let zone = jiff::tz::TimeZone::get(DEMO_TIME_ZONE).unwrap_or(jiff::tz::TimeZone::UTC);
    let today = tx.now().to_zoned(zone).date();
    let tickets: [(&str, TicketKind, Priority, i32); 6] = [
        (
            "Course upload fails for files over 2 GB",
            TicketKind::Bug,
            Priority::Highest,
            -1,
        ),
        (
            "Upgrade the video transcoder library",
            TicketKind::Maintenance,
            Priority::High,
            2,
        ),
        (
            "Quiz timer drifts on slow phones",
            TicketKind::Bug,
            Priority::High,
            4,
        ),
        (
            "Remove the old enrolment export",
            TicketKind::Maintenance,
            Priority::Medium,
            6,
        ),
        (
            "Flaky test: certificate rendering",
            TicketKind::Task,
            Priority::Medium,
            9,
        ),
        (
            "Tidy the course search logs",
            TicketKind::Maintenance,
            Priority::Low,
            13,
        ),
    ];
    for (title, kind, priority, days) in tickets {
        let input = NewTicket {
            team_id: team.id,
            title: title.to_owned(),
            description: format!("Part of the product-maintenance duty week.\n\n**{title}**"),
            kind,
            priority,
            status: TicketStatus::Open,
            labels: vec!["product-maintenance-duty".to_owned()],
            due: today.checked_add(jiff::Span::new().days(days)).ok(),
            reporter: None,
            assignee: None,
            component: None,
        };
        tx.insert_ticket(&input, "watchbill").await?;
    }
    Ok(())
}

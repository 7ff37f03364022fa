//! The command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "watchbill",
    version,
    about = "On-call schedules, paging and product-maintenance duty in one binary."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: HTTP API, calendar feeds and background work.
    Serve(ServeArgs),
    /// Apply the database migrations and exit.
    Migrate(ServeArgs),
    /// Create or update users, teams and schedules from a TOML file.
    Apply(ApplyArgs),
    /// Print the organisation as TOML, in the form `apply` takes.
    Export(ClientArgs),
    /// Show who is on call.
    Oncall(OncallArgs),
    /// List schedules or show their shifts.
    Schedule(ScheduleArgs),
    /// List incidents.
    Incidents(IncidentsArgs),
    /// Acknowledge an incident: escalation stops.
    Ack(IncidentArgs),
    /// Resolve an incident.
    Resolve(IncidentArgs),
    /// Open an incident on a service and page its escalation policy.
    Page(PageArgs),
    /// List tickets a filter selects, or show one ticket.
    Tickets(TicketsArgs),
    /// File a ticket, change one, or comment on one.
    Ticket(TicketArgs),
    /// Search, write, review and publish post-mortems.
    #[command(name = "post-mortem")]
    PostMortem(PostMortemArgs),
}

#[derive(Debug, Args)]
pub struct PostMortemArgs {
    #[command(subcommand)]
    pub action: PostMortemAction,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Subcommand)]
pub enum PostMortemAction {
    /// Search the library, best match first: `watchbill post-mortem list "cdn timeouts"`.
    List {
        /// Words to search for (every word must match).
        query: Option<String>,
        #[arg(long)]
        team: Option<i64>,
        #[arg(long)]
        service: Option<i64>,
        #[arg(long)]
        tag: Option<String>,
        /// draft, in_review or published.
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// Show a post-mortem: `watchbill post-mortem show PM-3`.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Write one from incidents: `watchbill post-mortem new INC-41 INC-42 --title "CDN timeouts"`.
    New {
        #[arg(required = true)]
        incidents: Vec<String>,
        #[arg(long)]
        title: Option<String>,
        /// A tag; repeat for several.
        #[arg(long = "tag")]
        tags: Vec<String>,
    },
    /// Replace its Markdown with a file's (`-` reads standard input).
    Edit { id: String, file: String },
    /// Send it for review: `watchbill post-mortem review PM-3 --reviewer grace@example.com`.
    Review {
        id: String,
        /// By email or id; repeat for several.
        #[arg(long = "reviewer", required = true)]
        reviewers: Vec<String>,
    },
    /// Publish it: it is mailed to the team and its distribution list.
    Publish { id: String },
    /// Comment on a draft.
    Comment { id: String, text: String },
    /// File an action item as a duty ticket linked to the post-mortem.
    Action {
        id: String,
        title: String,
        /// Highest, High (default), Medium, Low or Lowest.
        #[arg(long)]
        priority: Option<String>,
        /// `YYYY-MM-DD`.
        #[arg(long)]
        due: Option<String>,
        /// By email or id.
        #[arg(long)]
        assignee: Option<String>,
    },
    /// Print it as one Markdown document.
    Export { id: String },
    /// Past post-mortems that match an incident: `watchbill post-mortem seen-before INC-42`.
    SeenBefore { incident: String },
    /// Show a team's template, distribution list and reminders, or change them.
    Settings {
        /// The team (id).
        #[arg(long)]
        team: i64,
        /// A Markdown file to use as the template (`{{timeline}}` marks the timeline).
        #[arg(long)]
        template: Option<String>,
        /// An address that receives every published post-mortem; repeat for several.
        #[arg(long = "distribute-to")]
        distribution: Vec<String>,
        /// Remind responders this many seconds after a high-urgency resolution without one.
        #[arg(long)]
        remind_after_seconds: Option<i64>,
        /// Remind a draft's owner after this many days.
        #[arg(long)]
        draft_reminder_days: Option<i64>,
    },
}

#[derive(Debug, Args)]
pub struct TicketArgs {
    #[command(subcommand)]
    pub action: TicketAction,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Subcommand)]
pub enum TicketAction {
    /// File a ticket: `watchbill ticket new --team 1 "Quiz timer drifts" --label product-maintenance-duty`.
    New {
        title: String,
        /// The team (id) whose prefix the key takes.
        #[arg(long)]
        team: i64,
        #[arg(long, default_value = "")]
        description: String,
        /// bug, feature, maintenance or task (default task).
        #[arg(long = "type")]
        kind: Option<String>,
        /// Highest, High, Medium (default), Low or Lowest.
        #[arg(long)]
        priority: Option<String>,
        /// A label; repeat for several.
        #[arg(long = "label")]
        labels: Vec<String>,
        /// `YYYY-MM-DD`.
        #[arg(long)]
        due: Option<String>,
    },
    /// Change a ticket: `watchbill ticket set UF-12 --status closed`.
    Set {
        key: String,
        #[arg(long)]
        title: Option<String>,
        /// open, in_progress, resolved or closed.
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        priority: Option<String>,
        #[arg(long = "type")]
        kind: Option<String>,
        /// `YYYY-MM-DD`, or `none` to clear it.
        #[arg(long)]
        due: Option<String>,
        /// A user id, or `none` to unassign.
        #[arg(long)]
        assignee: Option<String>,
    },
    /// Comment on a ticket.
    Comment { key: String, text: String },
}

#[derive(Debug, Args)]
pub struct TicketsArgs {
    /// A filter, e.g. `label = product-maintenance-duty AND status != closed ORDER BY priority DESC`.
    pub filter: Option<String>,
    /// Show this ticket (e.g. `UF-12`) with its history and comments instead.
    #[arg(long)]
    pub show: Option<String>,
    /// The team (id) whose Captain On-Call `currentDuty()` names.
    #[arg(long)]
    pub team: Option<i64>,
    /// At most this many.
    #[arg(long, default_value_t = 50)]
    pub limit: i64,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
pub struct IncidentsArgs {
    /// `open` (default), `triggered`, `acknowledged`, `resolved` or `all`.
    #[arg(long, default_value = "open")]
    pub status: String,
    /// At most this many, newest first.
    #[arg(long, default_value_t = 50)]
    pub limit: i64,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
pub struct IncidentArgs {
    /// The incident, e.g. `INC-42`.
    pub incident: String,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
pub struct PageArgs {
    /// The service, by name or id.
    #[arg(long)]
    pub service: String,
    /// What is wrong.
    pub summary: String,
    /// `high` or `low` [default: the service's].
    #[arg(long)]
    pub urgency: Option<String>,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Server settings. Each is taken from the flag, else the `WATCHBILL_*` variable, else the
/// `--config` file, else the default.
#[derive(Debug, Clone, Args, Default)]
pub struct ServeArgs {
    /// A TOML configuration file.
    #[arg(long, env = "WATCHBILL_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address for HTTP [default: 127.0.0.1:8080].
    #[arg(long, env = "WATCHBILL_LISTEN")]
    pub listen: Option<String>,
    /// `sqlite://PATH` or `postgres://…` [default: sqlite://watchbill.db].
    #[arg(long, env = "WATCHBILL_DATABASE_URL")]
    pub database_url: Option<String>,
    /// The URL people reach this server at, for links [default: http://LISTEN].
    #[arg(long, env = "WATCHBILL_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Log filter, e.g. `info` or `watchbill=debug` [default: info].
    #[arg(long, env = "WATCHBILL_LOG")]
    pub log: Option<String>,
    /// The SMTP relay pages are mailed through, e.g. `smtp://127.0.0.1:25`.
    #[arg(long, env = "WATCHBILL_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// The sender of mailed pages [default: watchbill@localhost].
    #[arg(long, env = "WATCHBILL_SMTP_FROM")]
    pub smtp_from: Option<String>,
    /// Where mail intake listens for SMTP; an empty value turns it off [default: 127.0.0.1:2525].
    #[arg(long, env = "WATCHBILL_SMTP_LISTEN")]
    pub smtp_listen: Option<String>,
    /// The largest message mail intake accepts, in bytes [default: 10485760].
    #[arg(long, env = "WATCHBILL_SMTP_MAX_SIZE")]
    pub smtp_max_size: Option<usize>,
    /// A mailbox to read for mail intake, `imaps://user:password@host/INBOX`.
    #[arg(long, env = "WATCHBILL_IMAP_URL", hide_env_values = true)]
    pub imap_url: Option<String>,
    /// The designated address the IMAP mailbox stands for.
    #[arg(long, env = "WATCHBILL_IMAP_ADDRESS")]
    pub imap_address: Option<String>,
    /// A PEM certificate to trust for the IMAP server, besides the public roots.
    #[arg(long, env = "WATCHBILL_IMAP_CA")]
    pub imap_ca: Option<String>,
    /// A Twilio-compatible SMS and voice API, e.g. `https://api.twilio.com`.
    #[arg(long, env = "WATCHBILL_SMS_URL")]
    pub sms_url: Option<String>,
    /// The SMS provider's account id.
    #[arg(long, env = "WATCHBILL_SMS_ACCOUNT")]
    pub sms_account: Option<String>,
    /// The SMS provider's auth token.
    #[arg(long, env = "WATCHBILL_SMS_TOKEN", hide_env_values = true)]
    pub sms_token: Option<String>,
    /// The number SMS and calls come from.
    #[arg(long, env = "WATCHBILL_SMS_FROM")]
    pub sms_from: Option<String>,
    /// Fill an empty database with the demo organisation and print an admin token.
    #[arg(long)]
    pub demo: bool,
    /// A PEM certificate chain: with `--tls-key`, the HTTP listener speaks HTTPS.
    #[arg(long, env = "WATCHBILL_TLS_CERT")]
    pub tls_cert: Option<String>,
    /// The PEM private key of `--tls-cert`.
    #[arg(long, env = "WATCHBILL_TLS_KEY")]
    pub tls_key: Option<String>,
}

/// Where the server is and how to authenticate.
#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// The server's URL.
    #[arg(long, env = "WATCHBILL_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// An API token.
    #[arg(long, env = "WATCHBILL_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The organisation file.
    pub file: PathBuf,
    /// Show what would change without changing it.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
pub struct OncallArgs {
    /// Only this team (name or id).
    #[arg(long)]
    pub team: Option<String>,
    /// The instant to ask about: RFC 3339, a date, or `now`.
    #[arg(long)]
    pub at: Option<String>,
    /// Show times in this zone [default: the system's].
    #[arg(long)]
    pub tz: Option<String>,
    /// Print the server's JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
pub struct ScheduleArgs {
    #[command(subcommand)]
    pub command: ScheduleCommand,
}

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// List schedules.
    List {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Print a schedule's shifts over a window.
    Show {
        /// The schedule: its id, its name, or TEAM/NAME.
        schedule: String,
        /// Start of the window [default: now].
        #[arg(long)]
        from: Option<String>,
        /// End of the window [default: two weeks after --from].
        #[arg(long)]
        to: Option<String>,
        /// Show times in this zone [default: the schedule's].
        #[arg(long)]
        tz: Option<String>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
}

//! The `watchbill` binary: the server and its command-line client.

mod cli;
mod client;
mod commands;
mod config;
mod orgfile;
mod serve;

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::cli::{Cli, Command};
use crate::config::ServeConfig;

/// Why a command failed; each is printed as one line on stderr.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Config(#[from] config::ConfigError),
    #[error("{0}")]
    Serve(#[from] serve::ServeError),
    #[error("{0}")]
    Client(#[from] client::ClientError),
    #[error("{0}")]
    File(#[from] orgfile::FileError),
}

fn init_logging(filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a terminal: a log file or journal gets plain text.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

async fn run(cli: Cli) -> Result<(), CommandError> {
    match cli.command {
        Command::Serve(args) => {
            let config = ServeConfig::load(&args)?;
            init_logging(&config.log);
            serve::serve(config).await?;
        }
        Command::Migrate(args) => {
            let config = ServeConfig::load(&args)?;
            init_logging(&config.log);
            serve::migrate(config).await?;
        }
        Command::Apply(args) => commands::org::apply(args).await?,
        Command::Export(args) => commands::org::export(args).await?,
        Command::Oncall(args) => commands::oncall::run(args).await?,
        Command::Schedule(args) => commands::schedule::run(args.command).await?,
        Command::Incidents(args) => commands::incidents::list(args).await?,
        Command::Ack(args) => commands::incidents::act(args, "acknowledge").await?,
        Command::Resolve(args) => commands::incidents::act(args, "resolve").await?,
        Command::Page(args) => commands::incidents::page(args).await?,
        Command::Tickets(args) => commands::tickets::run(args).await?,
        Command::Ticket(args) => commands::tickets::act(args).await?,
        Command::PostMortem(args) => commands::post_mortems::run(args).await?,
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

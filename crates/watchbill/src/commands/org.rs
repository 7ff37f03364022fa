//! `watchbill apply` and `watchbill export`.

use serde::Deserialize;
use watchbill_server::org::OrgDocument;

use crate::cli::{ApplyArgs, ClientArgs};
use crate::client::{Client, ClientError};
use crate::orgfile::{to_toml, OrgFile};
use crate::CommandError;

#[derive(Debug, Deserialize)]
struct ApplyReport {
    changes: Vec<String>,
}

pub async fn apply(args: ApplyArgs) -> Result<(), CommandError> {
    let file = OrgFile::read(&args.file)?;
    let client = Client::new(&args.client)?;
    let query = if args.dry_run {
        vec![("dry_run", "true".to_owned())]
    } else {
        vec![]
    };
    let report: ApplyReport = match client.post("/api/v1/apply", &query, &file.document).await {
        Ok(report) => report,
        Err(ClientError::Api { message, field, .. }) => {
            return Err(file.locate(field.as_deref(), &message).into());
        }
        Err(other) => return Err(other.into()),
    };
    let verb = if args.dry_run {
        "would change"
    } else {
        "changed"
    };
    if report.changes.is_empty() {
        println!("{}: nothing to change", file.path);
    } else {
        println!("{}: {verb} {} thing(s)", file.path, report.changes.len());
        for change in &report.changes {
            println!("  {change}");
        }
    }
    Ok(())
}

pub async fn export(args: ClientArgs) -> Result<(), CommandError> {
    let client = Client::new(&args)?;
    let document: OrgDocument = client.get("/api/v1/export", &[]).await?;
    let text =
        to_toml(&document).map_err(|e| CommandError::Usage(format!("cannot write TOML: {e}")))?;
    print!("{text}");
    Ok(())
}

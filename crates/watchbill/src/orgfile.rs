//! Reading and writing the organisation file (TOML), with errors that name the file, the line
//! and the field.

use std::path::Path;

use watchbill_server::org::OrgDocument;

use crate::config::line_of;

/// A problem at a place in the file.
#[derive(Debug, thiserror::Error)]
#[error("{path}:{line}: {}{message}", field.as_ref().map(|f| format!("{f}: ")).unwrap_or_default())]
pub struct FileError {
    pub path: String,
    pub line: usize,
    pub field: Option<String>,
    pub message: String,
}

/// A parsed organisation file, with its text kept for locating errors found later.
pub struct OrgFile {
    pub path: String,
    text: String,
    pub document: OrgDocument,
}

impl OrgFile {
    pub fn read(path: &Path) -> Result<OrgFile, FileError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| FileError {
            path: shown.clone(),
            line: 0,
            field: None,
            message: format!("cannot read: {e}"),
        })?;
        let document = parse(&shown, &text)?;
        Ok(OrgFile {
            path: shown,
            text,
            document,
        })
    }

    /// Locates an error the server reported for `field` (a path such as
    /// `schedules[0].layers[1].participants[2]`).
    pub fn locate(&self, field: Option<&str>, message: &str) -> FileError {
        FileError {
            path: self.path.clone(),
            line: field.map_or(1, |f| line_of_field(&self.text, f)),
            field: field.map(str::to_owned),
            message: message.to_owned(),
        }
    }
}

/// Parses the document text; `path` is only for messages.
pub fn parse(path: &str, text: &str) -> Result<OrgDocument, FileError> {
    let mut value: toml::Value = toml::from_str(text).map_err(|e| FileError {
        path: path.to_owned(),
        line: e.span().map_or(1, |s| line_of(text, s.start)),
        field: None,
        message: e.message().to_owned(),
    })?;
    datetimes_to_strings(&mut value);
    serde_path_to_error::deserialize(value).map_err(|e| {
        let field = e.path().to_string();
        FileError {
            path: path.to_owned(),
            line: line_of_field(text, &field),
            field: Some(field),
            message: e.into_inner().message().to_owned(),
        }
    })
}

/// TOML has its own date-time values; the document takes RFC 3339 strings, so bare date-times
/// such as `start = 2026-01-07T18:00:00Z` are read as if quoted.
fn datetimes_to_strings(value: &mut toml::Value) {
    match value {
        toml::Value::Datetime(datetime) => *value = toml::Value::String(datetime.to_string()),
        toml::Value::Array(items) => items.iter_mut().for_each(datetimes_to_strings),
        toml::Value::Table(table) => table.iter_mut().for_each(|(_, v)| datetimes_to_strings(v)),
        _ => {}
    }
}

/// The line on which the value at `field` stands, or the nearest enclosing one that has a place.
fn line_of_field(text: &str, field: &str) -> usize {
    let Ok(document) = toml_edit::ImDocument::parse(text) else {
        return 1;
    };
    let mut item: &toml_edit::Item = document.as_item();
    let mut line = 1;
    for segment in segments(field) {
        let next = match segment {
            Segment::Key(key) => item.get(key.as_str()),
            Segment::Index(index) => item.get(index),
        };
        let Some(next) = next else { break };
        if let Some(span) = next.span() {
            line = line_of(text, span.start);
        }
        item = next;
    }
    line
}

enum Segment {
    Key(String),
    Index(usize),
}

/// Splits `a.b[2].c` into its keys and indices.
fn segments(field: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    for part in field.split('.') {
        let (key, rest) = part.split_once('[').map_or((part, ""), |(k, r)| (k, r));
        if !key.is_empty() {
            out.push(Segment::Key(key.to_owned()));
        }
        for index in rest.split('[').filter(|s| !s.is_empty()) {
            if let Ok(index) = index.trim_end_matches(']').parse() {
                out.push(Segment::Index(index));
            }
        }
    }
    out
}

/// The document as TOML.
pub fn to_toml(document: &OrgDocument) -> Result<String, toml::ser::Error> {
    toml::to_string_pretty(document)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    const FILE: &str = r#"
[[users]]
name = "Ada"
email = "ada@example.test"

[[teams]]
name = "User-facing"
members = ["ada@example.test"]

[[schedules]]
team = "User-facing"
name = "Captain On-Call"
time_zone = "America/Los_Angeles"

[[schedules.layers]]
name = "Weekly"
participants = ["ada@example.test", "bob@example.test"]
turn = "1w"
handoff = "Wednesday 10:00"
start = 2026-01-07T18:00:00Z
"#;

    #[test]
    fn bare_datetimes_are_read() {
        let doc = parse("org.toml", FILE).unwrap();
        assert_eq!(
            doc.schedules[0].layers[0].start.to_string(),
            "2026-01-07T18:00:00Z"
        );
    }

    #[test]
    fn fields_are_located_on_their_line() {
        assert_eq!(
            line_of_field(FILE, "schedules[0].layers[0].participants[1]"),
            17
        );
        assert_eq!(line_of_field(FILE, "teams[0].members[0]"), 8);
        assert_eq!(line_of_field(FILE, "users[0]"), 2);
    }

    #[test]
    fn type_errors_name_field_and_line() {
        let broken = FILE.replace("turn = \"1w\"", "turn = 7");
        let error = parse("org.toml", &broken).unwrap_err();
        assert_eq!(error.field.as_deref(), Some("schedules[0].layers[0].turn"));
        assert_eq!(error.line, 18);
        assert!(
            error
                .to_string()
                .starts_with("org.toml:18: schedules[0].layers[0].turn: "),
            "{error}"
        );
    }

    #[test]
    fn a_team_carries_its_ticket_settings() {
        let with_tickets = FILE.replace(
            "members = [\"ada@example.test\"]",
            "members = [\"ada@example.test\"]\ntickets = { prefix = \"UF\", assign_to_captain = true }",
        );
        let doc = parse("org.toml", &with_tickets).unwrap();
        let tickets = doc.teams[0].tickets.as_ref().unwrap();
        assert_eq!(
            (
                tickets.prefix.as_str(),
                tickets.duty_filter.as_deref(),
                tickets.assign_to_captain
            ),
            ("UF", None, true)
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        let broken = FILE.replace("turn = \"1w\"", "turn = \"1w\"\nturns = \"2w\"");
        let error = parse("org.toml", &broken).unwrap_err();
        assert!(error.message.contains("unknown field `turns`"), "{error}");
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let error = parse("org.toml", "[[users]]\nname = \"Ada\nemail = 1\n").unwrap_err();
        assert_eq!(error.line, 2, "{error}");
    }

    #[test]
    fn export_round_trips_through_toml() {
        let doc = parse("org.toml", FILE).unwrap();
        let text = to_toml(&doc).unwrap();
        assert_eq!(parse("again.toml", &text).unwrap(), doc);
    }
}

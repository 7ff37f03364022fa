//! The fields a query can name, and what each of them accepts.
//!
//! This table is the one place that says which operators apply to which field, so the parser's
//! checks, its error messages and the random queries of the property tests all agree.

use std::fmt;

use super::ast::CompareOp;

/// A ticket field a query can test or sort by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    Key,
    Title,
    Description,
    Type,
    Label,
    Priority,
    Status,
    Due,
    Created,
    Updated,
    Resolved,
    Reporter,
    Assignee,
    Component,
    Team,
}

/// What sort of value a field compares with; decides how a written value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueKind {
    Text,
    Key,
    Team,
    Kind,
    Priority,
    Status,
    /// A calendar day (`due`).
    Day,
    /// An instant (`created`, `updated`, `resolved`).
    Instant,
    User,
}

impl Field {
    pub const ALL: [Field; 15] = [
        Field::Key,
        Field::Title,
        Field::Description,
        Field::Type,
        Field::Label,
        Field::Priority,
        Field::Status,
        Field::Due,
        Field::Created,
        Field::Updated,
        Field::Resolved,
        Field::Reporter,
        Field::Assignee,
        Field::Component,
        Field::Team,
    ];

    /// The name used in queries (canonical lower case).
    pub fn name(self) -> &'static str {
        match self {
            Field::Key => "key",
            Field::Title => "title",
            Field::Description => "description",
            Field::Type => "type",
            Field::Label => "label",
            Field::Priority => "priority",
            Field::Status => "status",
            Field::Due => "due",
            Field::Created => "created",
            Field::Updated => "updated",
            Field::Resolved => "resolved",
            Field::Reporter => "reporter",
            Field::Assignee => "assignee",
            Field::Component => "component",
            Field::Team => "team",
        }
    }

    /// The field named `name`, ignoring ASCII case.
    pub fn from_name(name: &str) -> Option<Field> {
        Field::ALL
            .into_iter()
            .find(|field| field.name().eq_ignore_ascii_case(name))
    }

    pub fn value_kind(self) -> ValueKind {
        match self {
            Field::Key => ValueKind::Key,
            Field::Title | Field::Description | Field::Label | Field::Component => ValueKind::Text,
            Field::Type => ValueKind::Kind,
            Field::Priority => ValueKind::Priority,
            Field::Status => ValueKind::Status,
            Field::Due => ValueKind::Day,
            Field::Created | Field::Updated | Field::Resolved => ValueKind::Instant,
            Field::Reporter | Field::Assignee => ValueKind::User,
            Field::Team => ValueKind::Team,
        }
    }

    /// Whether `field op value` is allowed.
    pub fn accepts(self, op: CompareOp) -> bool {
        use CompareOp::*;
        match self {
            Field::Title => op == Contains,
            Field::Description => op == Contains,
            Field::Component => matches!(op, Eq | NotEq | Contains),
            Field::Key
            | Field::Type
            | Field::Label
            | Field::Status
            | Field::Reporter
            | Field::Assignee
            | Field::Team => matches!(op, Eq | NotEq),
            Field::Priority | Field::Due | Field::Created | Field::Updated | Field::Resolved => {
                op != Contains
            }
        }
    }

    /// Whether `field IN (…)` and `field NOT IN (…)` are allowed: for the fields compared by
    /// equality with a small set of values.
    pub fn accepts_in(self) -> bool {
        matches!(
            self,
            Field::Key
                | Field::Type
                | Field::Label
                | Field::Priority
                | Field::Status
                | Field::Reporter
                | Field::Assignee
                | Field::Component
                | Field::Team
        )
    }

    /// Whether `field IS [NOT] EMPTY` is allowed: for the fields a ticket may leave empty.
    pub fn can_be_empty(self) -> bool {
        matches!(
            self,
            Field::Description
                | Field::Label
                | Field::Due
                | Field::Resolved
                | Field::Reporter
                | Field::Assignee
                | Field::Component
        )
    }

    /// Whether `ORDER BY field` is allowed. Free text (`title`, `description`, `component`)
    /// and `label` are left out: text order depends on each database's collation, so the
    /// in-memory order could not promise to agree with SQL.
    pub fn is_sortable(self) -> bool {
        !matches!(
            self,
            Field::Title | Field::Description | Field::Label | Field::Component
        )
    }

    /// The operators `field op value` accepts, for error messages: "=, != or ~".
    pub fn operators_for_message(self) -> String {
        let mut names: Vec<&str> = CompareOp::ALL
            .into_iter()
            .filter(|op| self.accepts(*op))
            .map(CompareOp::symbol)
            .collect();
        if self.accepts_in() {
            names.extend(["IN", "NOT IN"]);
        }
        if self.can_be_empty() {
            names.extend(["IS EMPTY", "IS NOT EMPTY"]);
        }
        join_alternatives(&names)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Joins names as "a, b or c".
pub(crate) fn join_alternatives(names: &[&str]) -> String {
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        Some((only, _)) => (*only).to_owned(),
        None => String::new(),
    }
}

//! What a pushed commit says about the work: the tickets its message names, the components
//! its paths touch, and the test files it adds.

use std::collections::BTreeSet;

use crate::tickets::TicketKey;

/// The ticket keys named in a commit message (`UF-12`, `fixes uf-7`), each once, in order of
/// first mention. A key must stand alone: `XUF-12` does not name `UF-12`, `UF-12a` names
/// nothing.
pub fn ticket_keys_in(message: &str) -> Vec<TicketKey> {
    let mut keys: Vec<TicketKey> = Vec::new();
    let bytes = message.as_bytes();
    let mut start = 0;
    while start < bytes.len() {
        // A word is a run of ASCII letters, digits and `-`; anything else separates words.
        let word_len = bytes[start..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'-')
            .count();
        if word_len == 0 {
            start += 1;
            continue;
        }
        let word = &message[start..start + word_len];
        if let Ok(key) = word.trim_end_matches('-').parse::<TicketKey>() {
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        start += word_len;
    }
    keys
}

/// Directories that hold many components rather than being one; the component is the
/// directory below them (`crates/watchbill-core`).
const CONTAINERS: [&str; 8] = [
    "crates", "packages", "apps", "services", "libs", "modules", "src", "cmd",
];

/// The component a path belongs to: its top directory, or the two top directories when the
/// first is a container such as `crates/`. A file at the root belongs to `(root)`.
pub fn component_of(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    match parts.as_slice() {
        [] | [_] => "(root)".to_owned(),
        [first, second, _, ..] if CONTAINERS.contains(first) => format!("{first}/{second}"),
        [first, ..] => (*first).to_owned(),
    }
}

/// The distinct components a set of paths touch, sorted.
pub fn components<'a>(paths: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    paths.into_iter().map(component_of).collect()
}

/// Whether a path is a test file by the common conventions: under a `test`, `tests`,
/// `__tests__` or `spec` directory, or named `test_*`, `*_test.*`, `*.test.*`, `*_spec.*` or
/// `*.spec.*`.
pub fn is_test_file(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    let mut parts: Vec<&str> = lower.split('/').collect();
    let Some(name) = parts.pop() else {
        return false;
    };
    if parts
        .iter()
        .any(|dir| matches!(*dir, "test" | "tests" | "__tests__" | "spec" | "specs"))
    {
        return true;
    }
    let stem = name.split('.').next().unwrap_or(name);
    stem.starts_with("test_")
        || stem.ends_with("_test")
        || stem.ends_with("_spec")
        || name.contains(".test.")
        || name.contains(".spec.")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn keys(message: &str) -> Vec<String> {
        ticket_keys_in(message)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn finds_keys_in_messages() {
        assert_eq!(keys("UF-12: fix the login page"), ["UF-12"]);
        assert_eq!(
            keys("fixes uf-7, refs (OPS-3) and UF-12; UF-7 again"),
            ["UF-7", "OPS-3", "UF-12"]
        );
        assert_eq!(
            keys("Merge branch 'UF-9-retry' into main"),
            Vec::<String>::new()
        );
        assert!(keys("UF-12a, UF-, -12, 2026-11-26, UF-0").is_empty());
        assert_eq!(keys("UF-12-"), ["UF-12"]);
    }

    #[test]
    fn names_components_and_tests() {
        assert_eq!(
            component_of("crates/watchbill-core/src/code.rs"),
            "crates/watchbill-core"
        );
        assert_eq!(component_of("web/app.js"), "web");
        assert_eq!(component_of("README.md"), "(root)");
        assert_eq!(component_of("src/main.rs"), "src");
        assert!(is_test_file("crates/x/tests/api.rs"));
        assert!(is_test_file("pkg/login_test.go"));
        assert!(is_test_file("web/login.spec.ts"));
        assert!(is_test_file("tests/test_login.py"));
        assert!(!is_test_file("src/testing.rs"));
        assert!(!is_test_file("src/contest.rs"));
    }

    proptest! {
        #[test]
        fn every_found_key_is_in_the_message(message in ".{0,80}") {
            for key in ticket_keys_in(&message) {
                prop_assert!(message.to_ascii_uppercase().contains(&key.to_string()));
            }
        }

        #[test]
        fn a_key_between_spaces_is_found(team in "[A-Z][A-Z0-9]{0,4}", number in 1i64..100_000, before in "[ a-z]{0,10}") {
            let message = format!("{before} {team}-{number} done");
            let found = ticket_keys_in(&message);
            prop_assert!(found.contains(&TicketKey::new(&team, number).unwrap()));
        }
    }
}

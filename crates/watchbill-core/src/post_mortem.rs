//! The rules of post-mortems that need no database: the template a new one starts from, the
//! words a search or a "seen before" lookup uses, and the section a page quotes.

/// Where a template takes the timeline written from the incidents.
pub const TIMELINE_PLACEHOLDER: &str = "{{timeline}}";

/// The section a "seen before" hint quotes.
pub const TACKLE_HEADING: &str = "How to tackle it next time";

/// The template a team has until it writes its own.
pub const DEFAULT_TEMPLATE: &str = "## Summary\n\n\n## Impact\n\n\n## Timeline\n\n{{timeline}}\n\n\
## Root cause\n\n\n## What went well\n\n\n## What went wrong\n\n\n## Action items\n\n\n\
## How to tackle it next time\n\n";

/// A new post-mortem's body: the template with its timeline placeholder replaced by
/// `timeline`. A template without the placeholder gets the timeline in a section of its own at
/// the end, so no template can lose it.
pub fn fill_template(template: &str, timeline: &str) -> String {
    if template.contains(TIMELINE_PLACEHOLDER) {
        template.replace(TIMELINE_PLACEHOLDER, timeline)
    } else {
        format!("{}\n\n## Timeline\n\n{timeline}\n", template.trim_end())
    }
}

/// Words too common to tell one incident from another.
const STOP_WORDS: [&str; 32] = [
    "and", "are", "but", "can", "could", "did", "does", "for", "from", "had", "has", "have",
    "into", "its", "not", "now", "off", "our", "out", "than", "that", "the", "then", "there",
    "this", "too", "was", "were", "what", "when", "with", "you",
];

/// The distinct words of `text` worth searching for: lower-case runs of letters and digits of
/// at least three characters that are not stop words, in their first order, at most `limit`.
/// Every term is alphanumeric, so a search syntax built from terms needs no escaping.
pub fn search_terms(text: &str, limit: usize) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        if terms.len() == limit {
            break;
        }
        // Lower-casing can add marks (`İ` becomes `i̇`); they are dropped to keep terms plain.
        let word: String = word
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric())
            .collect();
        if word.chars().count() < 3 || STOP_WORDS.contains(&word.as_str()) || terms.contains(&word)
        {
            continue;
        }
        terms.push(word);
    }
    terms
}

/// The text of the Markdown section headed `heading` (any level, case ignored), trimmed, up to
/// the next heading of the same or a higher level; `None` when absent or empty.
pub fn section(body: &str, heading: &str) -> Option<String> {
    let level_of = |line: &str| {
        let hashes = line.chars().take_while(|c| *c == '#').count();
        (hashes > 0 && line[hashes..].starts_with(' ')).then_some(hashes)
    };
    let mut found: Option<usize> = None;
    let mut lines = Vec::new();
    for line in body.lines() {
        match (found, level_of(line)) {
            (None, Some(level)) if line[level..].trim().eq_ignore_ascii_case(heading) => {
                found = Some(level);
            }
            (Some(open), Some(level)) if level <= open => break,
            (Some(_), _) => lines.push(line),
            (None, _) => {}
        }
    }
    let text = lines.join("\n").trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// `text` cut to at most `chars` characters at a word boundary, with an ellipsis when cut.
pub fn excerpt(text: &str, chars: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= chars {
        return flat;
    }
    let cut: String = flat.chars().take(chars).collect();
    let cut = match cut.rfind(' ') {
        Some(space) if space > 0 => cut[..space].to_owned(),
        _ => cut,
    };
    format!("{cut}…")
}

/// How much covering an incident of the same service adds to a "seen before" candidate's
/// score, whose text part is at most 1.
pub const SAME_SERVICE_WEIGHT: f64 = 0.6;

/// The share of an incident's title terms a post-mortem's title and tags must hold to count as
/// similar on its words alone.
pub const SIMILAR_ENOUGH: f64 = 0.5;

/// How much of `terms` (an incident title's, from [`search_terms`]) the words of `text` (a
/// post-mortem's title and tags) cover, from 0 to 1. Two words agree when one begins the
/// other, so `timeout` and `timeouts` agree, as the full-text index's prefixes and stems do.
pub fn title_similarity(terms: &[String], text: &str) -> f64 {
    if terms.is_empty() {
        return 0.0;
    }
    let words = search_terms(text, 64);
    let held = terms
        .iter()
        .filter(|term| {
            words
                .iter()
                .any(|word| word.starts_with(term.as_str()) || term.starts_with(word.as_str()))
        })
        .count();
    held as f64 / terms.len() as f64
}

/// A "seen before" candidate, scored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Match {
    pub id: i64,
    pub score: f64,
    pub same_service: bool,
}

/// Ranks "seen before" candidates: `text` are post-mortems with their [`title_similarity`]
/// (those below [`SIMILAR_ENOUGH`] are dropped), and `service` those that cover an incident of
/// the same service, which adds [`SAME_SERVICE_WEIGHT`] (and keeps them whatever their words).
/// Best first, newer first among equals.
pub fn rank_matches(text: &[(i64, f64)], service: &[i64]) -> Vec<Match> {
    let mut found: Vec<Match> = Vec::new();
    for (id, similarity) in text {
        if found.iter().any(|m| m.id == *id) {
            continue;
        }
        found.push(Match {
            id: *id,
            score: similarity.clamp(0.0, 1.0),
            same_service: false,
        });
    }
    for id in service {
        match found.iter_mut().find(|m| m.id == *id) {
            Some(m) if !m.same_service => {
                m.same_service = true;
                m.score += SAME_SERVICE_WEIGHT;
            }
            Some(_) => {}
            None => found.push(Match {
                id: *id,
                score: SAME_SERVICE_WEIGHT,
                same_service: true,
            }),
        }
    }
    found.retain(|m| m.same_service || m.score >= SIMILAR_ENOUGH);
    found.sort_by(|a, b| b.score.total_cmp(&a.score).then(b.id.cmp(&a.id)));
    found
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_default_template_takes_the_timeline_in_its_section() {
        let body = fill_template(DEFAULT_TEMPLATE, "- 12:00 triggered");
        assert!(body.contains("## Timeline\n\n- 12:00 triggered\n"));
        assert!(!body.contains(TIMELINE_PLACEHOLDER));
    }

    #[test]
    fn a_template_without_the_placeholder_still_gets_the_timeline() {
        let body = fill_template("# What happened\n", "- 12:00 triggered");
        assert_eq!(
            body,
            "# What happened\n\n## Timeline\n\n- 12:00 triggered\n"
        );
    }

    #[test]
    fn terms_drop_short_and_common_words_and_repeats() {
        assert_eq!(
            search_terms("The video CDN is timing out; the CDN, again!", 10),
            ["video", "cdn", "timing", "again"]
        );
        assert_eq!(search_terms("a b c", 10), Vec::<String>::new());
        assert_eq!(search_terms("one two three four", 2), ["one", "two"]);
    }

    #[test]
    fn a_section_ends_at_the_next_heading_of_its_level() {
        let body = "## Summary\n\nIt broke.\n\n## How to tackle it next time\n\nPurge the CDN.\n\
                    ### Details\nThe purge URL.\n## Action items\n- none\n";
        assert_eq!(
            section(body, "how to tackle it next time").as_deref(),
            Some("Purge the CDN.\n### Details\nThe purge URL.")
        );
        assert_eq!(section(body, "Impact"), None);
        assert_eq!(section("## Impact\n\n## Next", "Impact"), None);
    }

    #[test]
    fn excerpts_cut_at_a_word() {
        assert_eq!(excerpt("Purge  the\nCDN", 80), "Purge the CDN");
        assert_eq!(excerpt("Purge the CDN cache first", 12), "Purge the…");
    }

    #[test]
    fn the_same_service_and_words_beat_either_alone() {
        let ranked = rank_matches(&[(1, 1.0), (2, 0.75), (3, 0.5), (5, 0.25)], &[2, 4]);
        let order: Vec<i64> = ranked.iter().map(|m| m.id).collect();
        assert_eq!(order, [2, 1, 4, 3], "5 shares too few words");
        assert!(ranked[0].same_service && !ranked[1].same_service);
        assert!((ranked[0].score - 1.35).abs() < 1e-9);
    }

    #[test]
    fn similarity_is_the_share_of_the_title_held() {
        let terms = search_terms("Video CDN timeouts again", 8);
        assert_eq!(title_similarity(&terms, "Video CDN timeout,cdn"), 0.75);
        assert_eq!(title_similarity(&terms, "Database failover"), 0.0);
        assert_eq!(title_similarity(&[], "anything"), 0.0);
    }

    proptest! {
        #[test]
        fn ranked_matches_are_distinct_sorted_and_kept_when_similar(
            text in proptest::collection::vec((0i64..20, 0.0f64..1.0), 0..12),
            service in proptest::collection::vec(0i64..20, 0..12),
        ) {
            let ranked = rank_matches(&text, &service);
            for pair in ranked.windows(2) {
                prop_assert!(pair[0].score >= pair[1].score);
            }
            let mut ids: Vec<i64> = ranked.iter().map(|m| m.id).collect();
            ids.sort_unstable();
            let before = ids.len();
            ids.dedup();
            prop_assert_eq!(before, ids.len());
            for id in &service {
                prop_assert!(ids.contains(id));
            }
            for (id, similarity) in &text {
                let first = text.iter().find(|(other, _)| other == id).map(|(_, s)| *s);
                if first == Some(*similarity) && *similarity >= SIMILAR_ENOUGH {
                    prop_assert!(ids.contains(id));
                }
            }
            for m in &ranked {
                prop_assert!(m.score >= 0.0 && m.score <= 1.0 + SAME_SERVICE_WEIGHT);
                prop_assert_eq!(m.same_service, service.contains(&m.id));
            }
        }
    }

    proptest! {
        #[test]
        fn terms_are_alphanumeric_lower_case_and_distinct(text in "\\PC{0,200}", limit in 0usize..20) {
            let terms = search_terms(&text, limit);
            prop_assert!(terms.len() <= limit);
            for (i, term) in terms.iter().enumerate() {
                prop_assert!(term.chars().all(char::is_alphanumeric));
                prop_assert!(term.chars().count() >= 3);
                prop_assert_eq!(term, &term.to_lowercase());
                prop_assert!(!terms[..i].contains(term));
            }
        }

        #[test]
        fn similarity_is_a_share(title in "\\PC{0,80}", text in "\\PC{0,80}") {
            let terms = search_terms(&title, 8);
            let share = title_similarity(&terms, &text);
            prop_assert!((0.0..=1.0).contains(&share));
            if !terms.is_empty() {
                prop_assert_eq!(title_similarity(&terms, &title), 1.0);
            }
        }

        #[test]
        fn sections_and_excerpts_never_panic(body in "[#a-z \\n]{0,200}", chars in 0usize..50) {
            let _ = section(&body, "a");
            prop_assert!(excerpt(&body, chars).chars().count() <= chars + 1);
        }
    }
}

//! "Seen before": past post-mortems that match an incident, because they cover an incident of
//! the same service or because their titles and tags hold most of the words of its title. The
//! full-text index brings candidates (those holding every word, then any, newest first, a
//! bounded number of each); the core scores and ranks them (`title_similarity`,
//! `rank_matches`); this module quotes how to tackle it.

use watchbill_core::post_mortem::{
    excerpt, rank_matches, search_terms, section, title_similarity, TACKLE_HEADING,
};
use watchbill_store::paging::Incident;
use watchbill_store::{StoreError, Tx};

/// How many words of the title a lookup uses, and how many candidates each query brings.
const TERMS: usize = 8;
const CANDIDATES: i64 = 50;
const SERVICE_CANDIDATES: i64 = 10;
/// How much of "how to tackle it" a hint quotes.
const TACKLE_CHARS: usize = 240;

/// A past post-mortem worth reading now.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct SeenBefore {
    pub id: i64,
    /// `PM-12`.
    pub number: String,
    pub title: String,
    pub status: String,
    /// The start of its "how to tackle it next time" section, when written.
    pub tackle: Option<String>,
    /// Whether it covers an incident of the same service.
    pub same_service: bool,
    /// Higher is better: the share of the incident's title words it holds (at least half, or
    /// it is not shown for its words), plus 0.6 for the same service.
    pub score: f64,
}

impl SeenBefore {
    /// One line, as a page's text shows it.
    pub fn line(&self) -> String {
        let mut line = format!("{} \"{}\"", self.number, self.title);
        if let Some(tackle) = &self.tackle {
            line.push_str(&format!(" — how to tackle it: {tackle}"));
        }
        line
    }
}

/// The best `limit` post-mortems for the incident, leaving out those that cover it.
pub async fn lookup(
    tx: &mut dyn Tx,
    incident: &Incident,
    limit: usize,
) -> Result<Vec<SeenBefore>, StoreError> {
    let terms = search_terms(&incident.title, TERMS);
    let candidates = tx
        .seen_before_candidates(
            &terms,
            CANDIDATES,
            incident.service_id,
            SERVICE_CANDIDATES,
            incident.id,
        )
        .await?;
    let text: Vec<(i64, f64)> = candidates
        .by_title
        .into_iter()
        .map(|c| {
            let words = format!("{} {}", c.title, c.tags.join(" "));
            (c.id, title_similarity(&terms, &words))
        })
        .collect();
    let ranked = rank_matches(&text, &candidates.by_service);
    if ranked.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = ranked.iter().take(limit).map(|m| m.id).collect();
    let mut briefs: std::collections::HashMap<i64, _> = tx
        .post_mortem_briefs(&ids)
        .await?
        .into_iter()
        .map(|brief| (brief.id, brief))
        .collect();
    Ok(ranked
        .iter()
        .take(limit)
        .filter_map(|m| briefs.remove(&m.id).map(|brief| (m, brief)))
        .map(|(m, brief)| SeenBefore {
            id: brief.id,
            number: super::number(brief.id),
            tackle: section(&brief.body, TACKLE_HEADING).map(|t| excerpt(&t, TACKLE_CHARS)),
            title: brief.title,
            status: brief.status,
            same_service: m.same_service,
            score: m.score,
        })
        .collect())
}

//! "Seen before": past post-mortems that match an incident, because they cover an incident of
//! the same service or because their titles and tags hold most of the words of its title. The
//! full-text index brings candidates (those holding every word, then any, newest first, a
//! bounded number of each); the core scores and ranks them (`title_similarity`,
//! `rank_matches`); this module quotes how to tackle it.

use std::collections::HashMap;

use watchbill_core::post_mortem::{
    excerpt, rank_matches, search_terms, section, title_similarity, Match, TACKLE_HEADING,
};
use watchbill_store::paging::Incident;
use watchbill_store::post_mortems::{PostMortemBrief, SeenBeforeQuery};
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
    let mut found = lookup_many(tx, &[incident], limit).await?;
    Ok(found.pop().unwrap_or_default())
}

/// [`lookup`] for several incidents, one answer each, in order: their candidates asked
/// together (see `PostMortemTx::seen_before_candidates_many`), and the briefs of all the hints
/// in one statement.
pub async fn lookup_many(
    tx: &mut dyn Tx,
    incidents: &[&Incident],
    limit: usize,
) -> Result<Vec<Vec<SeenBefore>>, StoreError> {
    let queries: Vec<SeenBeforeQuery> = incidents
        .iter()
        .map(|incident| SeenBeforeQuery {
            terms: search_terms(&incident.title, TERMS),
            service: incident.service_id,
            exclude: incident.id,
        })
        .collect();
    let candidates = tx
        .seen_before_candidates_many(&queries, CANDIDATES, SERVICE_CANDIDATES)
        .await?;
    let ranked: Vec<Vec<Match>> = queries
        .iter()
        .zip(candidates)
        .map(|(query, candidates)| {
            let text: Vec<(i64, f64)> = candidates
                .by_title
                .into_iter()
                .map(|c| {
                    let words = format!("{} {}", c.title, c.tags.join(" "));
                    (c.id, title_similarity(&query.terms, &words))
                })
                .collect();
            rank_matches(&text, &candidates.by_service)
                .into_iter()
                .take(limit)
                .collect()
        })
        .collect();
    let mut ids: Vec<i64> = ranked.iter().flatten().map(|m| m.id).collect();
    ids.sort_unstable();
    ids.dedup();
    let briefs: HashMap<i64, PostMortemBrief> = if ids.is_empty() {
        HashMap::new()
    } else {
        tx.post_mortem_briefs(&ids)
            .await?
            .into_iter()
            .map(|brief| (brief.id, brief))
            .collect()
    };
    Ok(ranked
        .iter()
        .map(|matches| {
            matches
                .iter()
                .filter_map(|m| briefs.get(&m.id).map(|brief| hint(m, brief)))
                .collect()
        })
        .collect())
}

/// A ranked match, told with what its post-mortem says.
fn hint(m: &Match, brief: &PostMortemBrief) -> SeenBefore {
    SeenBefore {
        id: brief.id,
        number: super::number(brief.id),
        tackle: section(&brief.body, TACKLE_HEADING).map(|t| excerpt(&t, TACKLE_CHARS)),
        title: brief.title.clone(),
        status: brief.status.clone(),
        same_service: m.same_service,
        score: m.score,
    }
}

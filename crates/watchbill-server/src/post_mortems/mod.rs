//! Post-mortems beyond their API: the "seen before" lookup that brings them back when the same
//! trouble pages someone again, the notices that send them round, and the reminders that get
//! them written.

pub mod reminders;
pub mod seen_before;
pub mod sending;

/// `PM-12`.
pub fn number(id: i64) -> String {
    format!("PM-{id}")
}

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use watchbill_store::post_mortems::PostMortem;

/// What the incidents of a post-mortem measured, computed when it was written.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct Figures {
    pub incidents: usize,
    /// Pages sent (notifications), and the distinct people they went to.
    pub pages: usize,
    pub people_paged: usize,
    /// Incidents opened outside 08:00–18:00 on weekdays (UTC).
    pub out_of_hours: usize,
    /// The longest time to acknowledge and to resolve, in minutes.
    pub minutes_to_acknowledge: Option<f64>,
    pub minutes_to_resolve: Option<f64>,
}

impl Figures {
    /// The figures stored with a post-mortem; a damaged record reads as no figures.
    pub fn of(pm: &PostMortem) -> Figures {
        serde_json::from_str(&pm.input.figures).unwrap_or_default()
    }
}

/// The post-mortem as one Markdown document: title, incidents, figures, then the body.
pub fn markdown(pm: &PostMortem) -> String {
    let f = Figures::of(pm);
    let minutes = |m: Option<f64>| m.map_or_else(|| "-".to_owned(), |m| format!("{m:.0} min"));
    let incidents: Vec<String> = pm
        .input
        .incidents
        .iter()
        .map(|i| format!("INC-{i}"))
        .collect();
    format!(
        "# {}: {}\n\nIncidents: {}. Status: {}.\n\n\
         | figure | value |\n|---|---|\n| incidents | {} |\n| pages | {} |\n| people paged | {} |\n\
         | out of hours | {} |\n| longest time to acknowledge | {} |\n| longest time to resolve | {} |\n\n{}",
        number(pm.id),
        pm.input.title,
        incidents.join(", "),
        pm.status,
        f.incidents,
        f.pages,
        f.people_paged,
        f.out_of_hours,
        minutes(f.minutes_to_acknowledge),
        minutes(f.minutes_to_resolve),
        pm.input.body
    )
}

/// A team's settings, or the defaults for a team that has not set any: the default template,
/// no distribution list, reminders two days after a resolution and after a week in draft.
pub async fn settings(
    tx: &mut dyn watchbill_store::Tx,
    team: watchbill_core::TeamId,
) -> Result<watchbill_store::post_mortems::PostMortemSettings, watchbill_store::StoreError> {
    Ok(tx.post_mortem_settings(team).await?.unwrap_or_else(|| {
        watchbill_store::post_mortems::PostMortemSettings {
            team_id: team,
            template: watchbill_core::post_mortem::DEFAULT_TEMPLATE.to_owned(),
            distribution: Vec::new(),
            remind_after_seconds: 2 * 24 * 3600,
            draft_reminder_days: 7,
        }
    }))
}

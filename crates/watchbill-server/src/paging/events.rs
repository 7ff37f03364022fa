//! The three event formats watchbill accepts, read into one [`IntakeEvent`].
//!
//! - PagerDuty Events API v2 (`POST /v2/enqueue`), so an existing sender works by changing only
//!   its URL;
//! - Prometheus Alertmanager's webhook (version 4), one event per alert;
//! - a generic JSON webhook `{summary, details, dedup_key, action}`.

use serde::Deserialize;
use serde_json::Value;
use watchbill_core::paging::EventAction;

/// An event ready for intake, whatever format it came in.
#[derive(Debug, Clone, PartialEq)]
pub struct IntakeEvent {
    pub action: EventAction,
    pub dedup_key: String,
    pub summary: String,
    pub severity: String,
    pub source: String,
    /// The event as received, as JSON text, kept with the incident. Written out by the
    /// request's own task, so the intake writer, which every event waits for, only copies it.
    pub payload: String,
}

/// The longest summary kept, as in the Events API.
const SUMMARY_LIMIT: usize = 1024;
/// The longest dedup key accepted, as in the Events API.
const DEDUP_LIMIT: usize = 255;

/// An Events API v2 request.
#[derive(Debug, Deserialize)]
pub struct EventsV2 {
    pub routing_key: Option<String>,
    pub event_action: Option<String>,
    pub dedup_key: Option<String>,
    pub payload: Option<EventsV2Payload>,
    #[serde(default)]
    pub images: Value,
    #[serde(default)]
    pub links: Value,
    pub client: Option<String>,
    pub client_url: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct EventsV2Payload {
    pub summary: Option<String>,
    pub source: Option<String>,
    pub severity: Option<String>,
    pub timestamp: Option<String>,
    pub component: Option<String>,
    pub group: Option<String>,
    pub class: Option<String>,
    #[serde(default)]
    pub custom_details: Value,
}

/// Reads an Events API v2 body. Errors are the messages the API lists under `errors`.
pub fn events_v2(body: &[u8]) -> Result<(String, IntakeEvent), Vec<String>> {
    let raw: Value = serde_json::from_slice(body)
        .map_err(|e| vec![format!("the body is not valid JSON: {e}")])?;
    let event: EventsV2 = serde_json::from_value(raw.clone())
        .map_err(|e| vec![format!("the event does not have the expected shape: {e}")])?;
    let mut errors = Vec::new();
    let routing_key = event.routing_key.clone().unwrap_or_default();
    if routing_key.is_empty() {
        errors.push("'routing_key' is missing or blank".to_owned());
    }
    let action = match event.event_action.as_deref() {
        None => {
            errors.push("'event_action' is missing".to_owned());
            None
        }
        Some(text) => match text.parse::<EventAction>() {
            Ok(action) => Some(action),
            Err(_) => {
                errors.push(format!(
                    "'event_action' must be trigger, acknowledge or resolve, not '{text}'"
                ));
                None
            }
        },
    };
    let dedup_key = event.dedup_key.clone().unwrap_or_default();
    if dedup_key.len() > DEDUP_LIMIT {
        errors.push(format!(
            "'dedup_key' is longer than {DEDUP_LIMIT} characters"
        ));
    }
    let (mut summary, mut severity, mut source) = (String::new(), String::new(), String::new());
    match action {
        Some(EventAction::Trigger) => match &event.payload {
            None => errors.push("'payload' is missing".to_owned()),
            Some(payload) => {
                match payload.summary.as_deref().map(str::trim) {
                    Some(text) if !text.is_empty() => summary = truncate(text, SUMMARY_LIMIT),
                    _ => errors.push("'payload.summary' is missing or blank".to_owned()),
                }
                match payload.source.as_deref().map(str::trim) {
                    Some(text) if !text.is_empty() => source = text.to_owned(),
                    _ => errors.push("'payload.source' is missing or blank".to_owned()),
                }
                match payload.severity.as_deref() {
                    Some(level @ ("critical" | "error" | "warning" | "info")) => {
                        severity = level.to_owned()
                    }
                    Some(other) => errors.push(format!(
                        "'payload.severity' must be critical, error, warning or info, not '{other}'"
                    )),
                    None => errors.push("'payload.severity' is missing".to_owned()),
                }
            }
        },
        Some(EventAction::Acknowledge | EventAction::Resolve) if dedup_key.is_empty() => {
            errors.push("'dedup_key' is required to acknowledge or resolve".to_owned());
        }
        _ => {}
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let action = action.ok_or_else(|| vec!["'event_action' is missing".to_owned()])?;
    let dedup_key = if dedup_key.is_empty() {
        new_dedup_key()
    } else {
        dedup_key
    };
    Ok((
        routing_key,
        IntakeEvent {
            action,
            dedup_key,
            summary,
            severity,
            source,
            payload: without_routing_key(raw).to_string(),
        },
    ))
}

/// The event as sent, less its routing key: the key is the integration's secret, and what is
/// kept of an event is shown to anyone who may read the service.
fn without_routing_key(mut raw: Value) -> Value {
    if let Some(fields) = raw.as_object_mut() {
        fields.remove("routing_key");
    }
    raw
}

/// A change event (`POST /v2/change/enqueue`): recorded on the service's timeline, pages nobody.
pub fn change_event(body: &[u8]) -> Result<(String, String, Value), Vec<String>> {
    let raw: Value = serde_json::from_slice(body)
        .map_err(|e| vec![format!("the body is not valid JSON: {e}")])?;
    let routing_key = raw
        .get("routing_key")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let summary = raw
        .pointer("/payload/summary")
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    let mut errors = Vec::new();
    if routing_key.is_empty() {
        errors.push("'routing_key' is missing or blank".to_owned());
    }
    if summary.is_empty() {
        errors.push("'payload.summary' is missing or blank".to_owned());
    }
    if errors.is_empty() {
        Ok((
            routing_key,
            truncate(&summary, SUMMARY_LIMIT),
            without_routing_key(raw),
        ))
    } else {
        Err(errors)
    }
}

/// An Alertmanager webhook body (version 4): one event per alert.
pub fn alertmanager(body: &[u8]) -> Result<Vec<IntakeEvent>, String> {
    let raw: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not valid JSON: {e}"))?;
    let version = raw
        .get("version")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if version != "4" {
        return Err(format!(
            "expected an Alertmanager webhook of version \"4\", got {:?}",
            version
        ));
    }
    let alerts = raw
        .get("alerts")
        .and_then(Value::as_array)
        .ok_or_else(|| "the webhook has no 'alerts' list".to_owned())?;
    let common_annotations = raw.get("commonAnnotations").cloned().unwrap_or(Value::Null);
    let external_url = raw
        .get("externalURL")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut events = Vec::with_capacity(alerts.len());
    for (i, alert) in alerts.iter().enumerate() {
        let status = alert
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let action = match status {
            "firing" => EventAction::Trigger,
            "resolved" => EventAction::Resolve,
            other => {
                return Err(format!(
                    "alerts[{i}].status must be firing or resolved, not {other:?}"
                ))
            }
        };
        let labels = alert.get("labels").cloned().unwrap_or(Value::Null);
        let annotations = alert.get("annotations").cloned().unwrap_or(Value::Null);
        let fingerprint = alert
            .get("fingerprint")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if fingerprint.is_empty() {
            return Err(format!("alerts[{i}] has no fingerprint"));
        }
        let label = |name: &str| {
            labels
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let annotation = |name: &str| {
            annotations
                .get(name)
                .or_else(|| common_annotations.get(name))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let alertname = label("alertname");
        let summary = [annotation("summary"), annotation("description")]
            .into_iter()
            .find(|text| !text.trim().is_empty())
            .unwrap_or_else(|| {
                let instance = label("instance");
                match (alertname.is_empty(), instance.is_empty()) {
                    (true, _) => "Alertmanager alert".to_owned(),
                    (false, true) => alertname.clone(),
                    (false, false) => format!("{alertname} on {instance}"),
                }
            });
        let source = [label("instance"), label("job"), external_url.to_owned()]
            .into_iter()
            .find(|text| !text.is_empty())
            .unwrap_or_else(|| "alertmanager".to_owned());
        events.push(IntakeEvent {
            action,
            dedup_key: fingerprint.to_owned(),
            summary: truncate(&summary, SUMMARY_LIMIT),
            severity: label("severity"),
            source,
            payload: alert.to_string(),
        });
    }
    Ok(events)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Generic {
    summary: Option<String>,
    #[serde(default)]
    details: Value,
    dedup_key: Option<String>,
    action: Option<String>,
}

/// A generic webhook body `{summary, details?, dedup_key?, action?}`; action defaults to trigger.
pub fn generic(body: &[u8]) -> Result<IntakeEvent, (Option<&'static str>, String)> {
    let raw: Value = serde_json::from_slice(body)
        .map_err(|e| (None, format!("the body is not valid JSON: {e}")))?;
    let event: Generic = serde_json::from_value(raw.clone()).map_err(|e| (None, e.to_string()))?;
    let action = match event.action.as_deref() {
        None => EventAction::Trigger,
        Some(text) => text.parse().map_err(|e| (Some("action"), e))?,
    };
    let dedup_key = event.dedup_key.unwrap_or_default();
    if dedup_key.len() > DEDUP_LIMIT {
        return Err((
            Some("dedup_key"),
            format!("the dedup key is longer than {DEDUP_LIMIT} characters"),
        ));
    }
    let summary = event.summary.unwrap_or_default().trim().to_owned();
    if action == EventAction::Trigger && summary.is_empty() {
        return Err((Some("summary"), "a trigger needs a summary".to_owned()));
    }
    if action != EventAction::Trigger && dedup_key.is_empty() {
        return Err((
            Some("dedup_key"),
            "acknowledge and resolve need the dedup key".to_owned(),
        ));
    }
    let _ = event.details;
    Ok(IntakeEvent {
        action,
        dedup_key: if dedup_key.is_empty() {
            new_dedup_key()
        } else {
            dedup_key
        },
        summary: truncate(&summary, SUMMARY_LIMIT),
        severity: String::new(),
        source: "generic webhook".to_owned(),
        payload: raw.to_string(),
    })
}

fn truncate(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((cut, _)) => text[..cut].to_owned(),
        None => text.to_owned(),
    }
}

/// A dedup key for a trigger that came without one.
fn new_dedup_key() -> String {
    watchbill_store::new_secret().to_lowercase()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn events_v2_trigger_is_read() {
        let body = br#"{"routing_key":"k","event_action":"trigger","dedup_key":"disk-1",
            "payload":{"summary":"Disk full on db1","source":"db1","severity":"critical"}}"#;
        let (key, event) = events_v2(body).unwrap();
        assert_eq!(key, "k");
        assert_eq!(event.action, EventAction::Trigger);
        assert_eq!(event.dedup_key, "disk-1");
        assert_eq!(event.summary, "Disk full on db1");
    }

    #[test]
    fn events_v2_lists_every_problem() {
        let body = br#"{"event_action":"explode","payload":{"severity":"meh"}}"#;
        let errors = events_v2(body).unwrap_err();
        assert!(errors.iter().any(|e| e.contains("routing_key")));
        assert!(errors.iter().any(|e| e.contains("event_action")));
        let body = br#"{"routing_key":"k","event_action":"trigger","payload":{"severity":"meh"}}"#;
        let errors = events_v2(body).unwrap_err();
        assert_eq!(errors.len(), 3, "{errors:?}");
        let body = br#"{"routing_key":"k","event_action":"resolve"}"#;
        assert!(events_v2(body).unwrap_err()[0].contains("dedup_key"));
    }

    #[test]
    fn triggers_without_a_key_get_one() {
        let body = br#"{"routing_key":"k","event_action":"trigger",
            "payload":{"summary":"s","source":"x","severity":"info"}}"#;
        assert_eq!(events_v2(body).unwrap().1.dedup_key.len(), 32);
    }

    #[test]
    fn alertmanager_alerts_become_events() {
        let body = br#"{"version":"4","status":"firing","externalURL":"http://am",
            "commonAnnotations":{"summary":"High latency"},
            "alerts":[
              {"status":"firing","labels":{"alertname":"Latency","instance":"web1","severity":"page"},"annotations":{},"fingerprint":"abc"},
              {"status":"resolved","labels":{"alertname":"Latency","instance":"web2"},"annotations":{"summary":"web2 slow"},"fingerprint":"def"}]}"#;
        let events = alertmanager(body).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(
            (events[0].action, events[0].dedup_key.as_str()),
            (EventAction::Trigger, "abc")
        );
        assert_eq!(events[0].summary, "High latency");
        assert_eq!(events[0].source, "web1");
        assert_eq!(
            (events[1].action, events[1].summary.as_str()),
            (EventAction::Resolve, "web2 slow")
        );
        assert!(alertmanager(br#"{"version":"3","alerts":[]}"#).is_err());
    }

    #[test]
    fn generic_needs_a_summary_to_trigger() {
        assert_eq!(
            generic(br#"{"action":"trigger"}"#).unwrap_err().0,
            Some("summary")
        );
        assert_eq!(
            generic(br#"{"action":"resolve"}"#).unwrap_err().0,
            Some("dedup_key")
        );
        assert_eq!(
            generic(br#"{"summary":"x","action":"boom"}"#)
                .unwrap_err()
                .0,
            Some("action")
        );
        assert_eq!(
            generic(br#"{"summary":"Checkout down","dedup_key":"c"}"#)
                .unwrap()
                .action,
            EventAction::Trigger
        );
    }

    #[test]
    fn long_summaries_are_cut_on_character_boundaries() {
        assert_eq!(truncate(&"é".repeat(2000), 1024).chars().count(), 1024);
    }
}

//! From stored records to the core's schedule, checking every value on the way.
//!
//! The same conversion validates input before a write and builds the resolver's schedule on a
//! read, so what the API accepts is exactly what the resolver can answer for.

use std::collections::HashMap;

use jiff::civil;
use jiff::tz::TimeZone;
use watchbill_core::schedule::{
    self as core, parse_weekday, HandoffAnchor, Layer, LayerSpec, Restriction, TurnLength,
    WeekdaySet,
};
use watchbill_core::ScheduleId;
use watchbill_store::model::{self, LayerInput, OverrideKind, RestrictionInput};

use crate::error::{ApiError, ApiResult};

/// An IANA time zone by name.
pub fn zone(name: &str, field: &str) -> ApiResult<TimeZone> {
    TimeZone::get(name).map_err(|_| {
        ApiError::invalid(
            field.to_owned(),
            format!("unknown time zone `{name}`; use an IANA name such as `America/Los_Angeles`"),
        )
    })
}

fn time_of_day(text: &str, field: String) -> ApiResult<civil::Time> {
    text.parse::<civil::Time>()
        .map_err(|_| ApiError::invalid(field, format!("`{text}` is not a time of day; use HH:MM")))
}

fn restriction(input: &RestrictionInput, index: usize) -> ApiResult<Restriction> {
    let field = |name: &str| format!("restrictions[{index}].{name}");
    if input.days.is_empty() {
        return Err(ApiError::invalid(
            field("days"),
            "a restriction needs at least one day",
        ));
    }
    let mut days = WeekdaySet::empty();
    for (i, day) in input.days.iter().enumerate() {
        let weekday = parse_weekday(day).ok_or_else(|| {
            ApiError::invalid(
                format!("restrictions[{index}].days[{i}]"),
                format!("`{day}` is not a weekday"),
            )
        })?;
        days = days.with(weekday);
    }
    Ok(Restriction {
        days,
        start: time_of_day(&input.start, field("start"))?,
        end: time_of_day(&input.end, field("end"))?,
    })
}

/// The minutes of the week (Monday 00:00 = 0) a restriction covers.
fn minutes_of_week(restriction: &Restriction) -> Vec<bool> {
    const WEEK: usize = 7 * 1440;
    let mut covered = vec![false; WEEK];
    let start = usize::from(restriction.start.hour().unsigned_abs()) * 60
        + usize::from(restriction.start.minute().unsigned_abs());
    let end = usize::from(restriction.end.hour().unsigned_abs()) * 60
        + usize::from(restriction.end.minute().unsigned_abs());
    let length = match (end + 1440 - start) % 1440 {
        0 => 1440,
        length => length,
    };
    for (day, weekday) in watchbill_core::schedule::ALL_WEEKDAYS.iter().enumerate() {
        if restriction.days.contains(*weekday) {
            for minute in 0..length {
                covered[(day * 1440 + start + minute) % WEEK] = true;
            }
        }
    }
    covered
}

/// Checks a layer's input and turns it into the core's form; errors name fields within it.
pub fn layer_spec(input: &LayerInput) -> ApiResult<LayerSpec> {
    if input.name.trim().is_empty() {
        return Err(ApiError::invalid("name", "a layer needs a name"));
    }
    if input.participants.is_empty() {
        return Err(ApiError::invalid(
            "participants",
            "a rotation needs at least one participant",
        ));
    }
    let turn: TurnLength = input
        .turn
        .parse()
        .map_err(|e: core::ScheduleError| ApiError::invalid("turn", e.to_string()))?;
    let handoff: HandoffAnchor = input
        .handoff
        .parse()
        .map_err(|e: core::ScheduleError| ApiError::invalid("handoff", e.to_string()))?;
    if input.end.is_some_and(|end| end <= input.start) {
        return Err(ApiError::invalid("end", "the end must be after the start"));
    }
    let restrictions = input
        .restrictions
        .iter()
        .enumerate()
        .map(|(i, r)| restriction(r, i))
        .collect::<ApiResult<Vec<_>>>()?;
    let coverage: Vec<Vec<bool>> = restrictions.iter().map(minutes_of_week).collect();
    for (i, later) in coverage.iter().enumerate() {
        for (j, earlier) in coverage[..i].iter().enumerate() {
            if later.iter().zip(earlier).any(|(a, b)| *a && *b) {
                return Err(ApiError::invalid(
                    format!("restrictions[{i}]"),
                    format!("restriction {i} overlaps restriction {j}; merge them into one"),
                ));
            }
        }
    }
    Ok(LayerSpec {
        name: input.name.clone(),
        participants: input.participants.clone(),
        turn,
        handoff,
        start: input.start,
        end: input.end,
        restrictions,
        offset: usize::try_from(input.offset).unwrap_or(0),
    })
}

/// Validates a list of layers as a whole: each layer, and no two with the same name.
pub fn validate_layers(layers: &[LayerInput], zone: &TimeZone) -> ApiResult<()> {
    for (i, layer) in layers.iter().enumerate() {
        let spec = layer_spec(layer).map_err(|e| e.within(&format!("layers[{i}]")))?;
        Layer::new(spec, zone)
            .map_err(|e| ApiError::invalid(format!("layers[{i}]"), e.to_string()))?;
        if layers[..i].iter().any(|other| other.name == layer.name) {
            return Err(ApiError::invalid(
                format!("layers[{i}].name"),
                format!("two layers are named `{}`", layer.name),
            ));
        }
    }
    Ok(())
}

/// The resolver's view of a stored schedule. A schedule that follows another takes that one's
/// layers, each moved along by the offset; its overrides are its own.
pub fn core_schedule(
    record: &model::Schedule,
    by_id: &HashMap<ScheduleId, &model::Schedule>,
    overrides: &[model::Override],
) -> ApiResult<core::Schedule> {
    let zone = zone(&record.time_zone, "time_zone")?;
    let (layers, shift) = match record.follows {
        Some(follows) => {
            let source = by_id
                .get(&follows.schedule_id)
                .ok_or_else(|| ApiError::not_found(format!("schedule {}", follows.schedule_id)))?;
            (&source.layers, usize::try_from(follows.offset).unwrap_or(0))
        }
        None => (&record.layers, 0),
    };
    let layers = layers
        .iter()
        .map(|layer| {
            let spec = layer_spec(&layer.input)?;
            let built =
                Layer::new(spec, &zone).map_err(|e| ApiError::invalid("layers", e.to_string()))?;
            Ok(built.shifted_by(shift))
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let overrides = overrides
        .iter()
        .filter(|o| o.schedule_id == record.id)
        .filter_map(|o| {
            let kind = match o.kind {
                OverrideKind::Cover { user } => core::OverrideKind::Cover { user },
                OverrideKind::Swap { first, second } => core::OverrideKind::Swap { first, second },
            };
            core::Override::new(o.id, o.start, o.end, kind).ok()
        })
        .collect();
    Ok(core::Schedule::new(zone, layers, overrides))
}

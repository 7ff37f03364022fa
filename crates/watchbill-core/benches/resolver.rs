#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Benchmarks of the on-call resolver on a realistic schedule: a weekly primary rotation, a
//! business-hours daily layer and a 12-hour follow-the-sun layer in Los Angeles, with 100
//! overrides and swaps spread over a year.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use jiff::civil::{self, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use watchbill_core::schedule::{
    Layer, LayerSpec, Override, OverrideKind, Restriction, Schedule, TurnLength, WeekdaySet,
};
use watchbill_core::{OverrideId, UserId};

/// The first instant the benchmarks look at: 2026-01-01T00:00:00Z.
const YEAR_START: i64 = 1_767_225_600;
const YEAR_SECONDS: i64 = 365 * 86_400;

fn users(ids: std::ops::RangeInclusive<i64>) -> Vec<UserId> {
    ids.map(UserId).collect()
}

fn schedule() -> Schedule {
    let zone = TimeZone::get("America/Los_Angeles").unwrap();
    let start: Timestamp = "2025-06-01T00:00:00Z".parse().unwrap();
    let weekdays: WeekdaySet = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
    ]
    .into_iter()
    .collect();
    let specs = [
        LayerSpec {
            name: "primary".to_owned(),
            participants: users(1..=6),
            turn: TurnLength::Weeks(1),
            handoff: "Wednesday 10:00".parse().unwrap(),
            start,
            end: None,
            restrictions: Vec::new(),
            offset: 0,
        },
        LayerSpec {
            name: "business hours".to_owned(),
            participants: users(7..=10),
            turn: TurnLength::Days(1),
            handoff: "09:00".parse().unwrap(),
            start,
            end: None,
            restrictions: vec![Restriction {
                days: weekdays,
                start: civil::time(9, 0, 0, 0),
                end: civil::time(17, 0, 0, 0),
            }],
            offset: 0,
        },
        LayerSpec {
            name: "follow the sun".to_owned(),
            participants: users(11..=14),
            turn: TurnLength::Hours(12),
            handoff: "08:00".parse().unwrap(),
            start,
            end: None,
            restrictions: Vec::new(),
            offset: 0,
        },
    ];
    let layers = specs
        .into_iter()
        .map(|spec| Layer::new(spec, &zone).unwrap())
        .collect();
    // Every 3.65 days an override of a few hours to two days: mostly covers, some swaps.
    let overrides = (0..100)
        .map(|i: i64| {
            let start = Timestamp::from_second(YEAR_START + i * YEAR_SECONDS / 100).unwrap();
            let end = start + SignedDuration::from_hours(4 + (i * 7) % 44);
            let kind = if i % 3 == 0 {
                OverrideKind::Swap {
                    first: UserId(1 + i % 6),
                    second: UserId(1 + (i + 1) % 6),
                }
            } else {
                OverrideKind::Cover {
                    user: UserId(1 + i % 14),
                }
            };
            Override::new(OverrideId(i), start, end, kind).unwrap()
        })
        .collect();
    Schedule::new(zone, layers, overrides)
}

fn resolver(c: &mut Criterion) {
    let schedule = schedule();
    let year_start = Timestamp::from_second(YEAR_START).unwrap();
    let year_end = Timestamp::from_second(YEAR_START + YEAR_SECONDS).unwrap();
    // Instants spread over the year at an odd stride, so that successive questions land in
    // different turns, restriction windows and overrides.
    let instants: Vec<Timestamp> = (0..97)
        .map(|i| Timestamp::from_second(YEAR_START + i * (YEAR_SECONDS / 97) + i * 613).unwrap())
        .collect();

    c.bench_function("on_call_at", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % instants.len();
            schedule.on_call_at(black_box(instants[i]))
        })
    });
    c.bench_function("render one year", |b| {
        b.iter(|| schedule.render(black_box(year_start), black_box(year_end)))
    });
    c.bench_function("now", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % instants.len();
            schedule.now(black_box(instants[i]))
        })
    });
}

criterion_group! {
    name = benches;
    // Small samples and short measurements keep a full run to well under a minute.
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = resolver
}
criterion_main!(benches);

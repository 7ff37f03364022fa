#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Property tests for the on-call resolver, through the public API only.
//!
//! The generators aim at the awkward corners: zones with odd DST rules (Lord Howe moves by 30
//! minutes, Apia and São Paulo dropped DST), handoff and restriction times that fall into DST
//! gaps and folds, restrictions that wrap past midnight or cover the whole day, huge offsets,
//! and piles of overlapping overrides and swaps with colliding ids.
//!
//! Most windows are short so that a run stays quick; roughly one case in ten renders several
//! years, up to ten. Set `PROPTEST_CASES` to run more cases than the default of 64.

use jiff::civil::{self, Weekday};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;

use watchbill_core::schedule::{
    HandoffAnchor, Layer, LayerSpec, Override, OverrideKind, Restriction, Schedule, Shift, Source,
    TurnLength, WeekdaySet,
};
use watchbill_core::{OverrideId, UserId};

const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;
const YEAR: i64 = 365 * DAY;
/// 2020-01-01T00:00:00Z.
const Y2020: i64 = 1_577_836_800;
/// 2025-01-01T00:00:00Z.
const Y2025: i64 = 1_735_689_600;
/// 2035-01-01T00:00:00Z.
const Y2035: i64 = 2_051_222_400;

const ZONES: [&str; 9] = [
    "America/Los_Angeles",
    "Europe/London",
    "Europe/Berlin",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Pacific/Apia",
    "America/Sao_Paulo",
    "UTC",
];

const WEEKDAYS: [Weekday; 7] = [
    Weekday::Monday,
    Weekday::Tuesday,
    Weekday::Wednesday,
    Weekday::Thursday,
    Weekday::Friday,
    Weekday::Saturday,
    Weekday::Sunday,
];

/// How many cases each property runs: `PROPTEST_CASES` if set, else 64.
fn config(default_cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(default_cases);
    ProptestConfig::with_cases(cases)
}

fn ts(seconds: i64) -> Timestamp {
    Timestamp::from_second(seconds).unwrap()
}

/// A schedule as generated, kept as plain parts so that a failing case prints readably and
/// tests can rebuild it with changes (say, without one override).
#[derive(Debug, Clone)]
struct Scenario {
    zone: &'static str,
    layers: Vec<LayerSpec>,
    overrides: Vec<Override>,
    from: Timestamp,
    to: Timestamp,
    /// Instants inside `[from, to)` to ask about.
    probes: Vec<Timestamp>,
}

impl Scenario {
    fn zone(&self) -> TimeZone {
        TimeZone::get(self.zone).unwrap()
    }

    fn schedule_with(&self, overrides: Vec<Override>) -> Schedule {
        let zone = self.zone();
        let layers = self
            .layers
            .iter()
            .map(|spec| Layer::new(spec.clone(), &zone).unwrap())
            .collect();
        Schedule::new(zone, layers, overrides)
    }

    fn schedule(&self) -> Schedule {
        self.schedule_with(self.overrides.clone())
    }
}

fn user() -> impl Strategy<Value = UserId> {
    (1..=8i64).prop_map(UserId)
}

fn turn() -> impl Strategy<Value = TurnLength> {
    prop_oneof![
        (1..=48u32).prop_map(TurnLength::Hours),
        (1..=14u32).prop_map(TurnLength::Days),
        (1..=3u32).prop_map(TurnLength::Weeks),
    ]
}

/// A time of day, often one that some zone skips or repeats when its clocks change.
fn time_of_day() -> impl Strategy<Value = civil::Time> {
    let awkward = select(vec![
        (0i8, 0i8, 0i8),
        (0, 30, 0),
        (1, 0, 0),
        (1, 30, 0),
        (1, 45, 0),
        (2, 0, 0),
        (2, 15, 0),
        (2, 30, 0),
        (3, 0, 0),
        (3, 30, 0),
        (23, 30, 0),
    ]);
    prop_oneof![
        3 => awkward,
        3 => (0..24i8, select(vec![0i8, 15, 30, 45]), Just(0i8)),
        1 => (0..24i8, 0..60i8, 0..60i8),
    ]
    .prop_map(|(hour, minute, second)| civil::time(hour, minute, second, 0))
}

fn anchor() -> impl Strategy<Value = HandoffAnchor> {
    (option::of(select(WEEKDAYS.to_vec())), time_of_day())
        .prop_map(|(weekday, time)| HandoffAnchor { weekday, time })
}

fn restriction() -> impl Strategy<Value = Restriction> {
    let days = (1u8..=127).prop_map(|bits| {
        WEEKDAYS
            .iter()
            .enumerate()
            .filter(|(index, _)| bits & (1 << index) != 0)
            .map(|(_, day)| *day)
            .collect::<WeekdaySet>()
    });
    let times = prop_oneof![
        // The whole day.
        1 => time_of_day().prop_map(|time| (time, time)),
        // Anything else, including windows that wrap past midnight.
        4 => (time_of_day(), time_of_day()),
    ];
    (days, times).prop_map(|(days, (start, end))| Restriction { days, start, end })
}

/// Small offsets, and occasionally huge ones to check the rotation still counts modulo the
/// number of participants.
fn offset() -> impl Strategy<Value = usize> {
    prop_oneof![4 => 0..12usize, 1 => any::<usize>()]
}

/// How to place a generated instant; see [`place`].
fn placement() -> impl Strategy<Value = u8> {
    0..18u8
}

/// Places a generated instant: as drawn, on the half hour (where handoffs in every zone here
/// fall), or right at or next to the zone's next clock change, where off-by-one-hour mistakes
/// live.
fn place(zone: &str, seconds: i64, how: u8) -> i64 {
    const NEAR: [i64; 9] = [-HOUR, -1_800, -60, -1, 0, 0, 1, 1_800, HOUR];
    match how {
        0..=5 => seconds,
        6..=8 => seconds - seconds.rem_euclid(1_800),
        _ => {
            let zone = TimeZone::get(zone).unwrap();
            match zone.following(ts(seconds)).next() {
                Some(change) => {
                    change.timestamp().as_second() + NEAR[usize::from(how - 9) % NEAR.len()]
                }
                None => seconds,
            }
        }
    }
}

/// Places the end of something that starts at `start`, keeping it after the start.
fn place_end(zone: &str, start: i64, length: i64, how: u8) -> i64 {
    let end = place(zone, start + length, how);
    if end > start {
        end
    } else {
        start + length
    }
}

/// A layer that starts at most a year before `from`, or inside the window.
fn layer_spec(zone: &'static str, from: i64, len: i64) -> impl Strategy<Value = LayerSpec> {
    (
        vec(user(), 1..=6),
        turn(),
        anchor(),
        (-YEAR..len, placement()),
        option::of((prop_oneof![1..2 * DAY, 1..(len + 2 * YEAR)], placement())),
        vec(restriction(), 0..=3),
        offset(),
    )
        .prop_map(
            move |(participants, turn, handoff, start, end, restrictions, offset)| {
                let start = place(zone, from + start.0, start.1);
                LayerSpec {
                    name: "layer".to_owned(),
                    participants,
                    turn,
                    handoff,
                    start: ts(start),
                    end: end.map(|(length, how)| ts(place_end(zone, start, length, how))),
                    restrictions,
                    offset,
                }
            },
        )
}

fn override_kind() -> impl Strategy<Value = OverrideKind> {
    prop_oneof![
        user().prop_map(|user| OverrideKind::Cover { user }),
        (user(), 1..8i64).prop_map(|(first, step)| OverrideKind::Swap {
            first,
            second: UserId((first.0 - 1 + step) % 8 + 1),
        }),
    ]
}

/// An override length: minutes, hours or weeks.
fn override_length() -> impl Strategy<Value = i64> {
    prop_oneof![1..HOUR, HOUR..3 * DAY, DAY..30 * DAY]
}

/// An override around or inside `[from, from + len)`; ids collide on purpose.
fn override_in(zone: &'static str, from: i64, len: i64) -> impl Strategy<Value = Override> {
    (
        0..40i64,
        (-3 * DAY..len + DAY, placement()),
        (override_length(), placement()),
        override_kind(),
    )
        .prop_map(move |(id, start, length, kind)| {
            let start = place(zone, from + start.0, start.1);
            let end = place_end(zone, start, length.0, length.1);
            Override::new(OverrideId(id), ts(start), ts(end), kind).unwrap()
        })
}

/// A window: usually up to three months, sometimes up to ten years.
fn window() -> impl Strategy<Value = ((i64, u8), (i64, u8))> {
    prop_oneof![
        9 => ((Y2020..Y2035, placement()), (prop_oneof![1..2 * DAY, 2 * DAY..90 * DAY], placement())),
        1 => ((Y2020..Y2025, placement()), (YEAR..10 * YEAR, placement())),
    ]
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (select(ZONES.to_vec()), window()).prop_flat_map(|(zone, (from, len))| {
        let from = place(zone, from.0, from.1);
        let to = place_end(zone, from, len.0, len.1);
        let len = to - from;
        (
            vec(layer_spec(zone, from, len), 1..=4),
            vec(override_in(zone, from, len), 0..=30),
            vec((0..len, placement()), 24),
        )
            .prop_map(move |(layers, overrides, probes)| Scenario {
                zone,
                layers,
                overrides,
                from: ts(from),
                to: ts(to),
                probes: probes
                    .into_iter()
                    .map(|(offset, how)| place(zone, from + offset, how))
                    .filter(|at| (from..to).contains(at))
                    .map(ts)
                    .collect(),
            })
    })
}

/// The shift of a tiling that contains `at`.
fn shift_at(shifts: &[Shift], at: Timestamp) -> Shift {
    let index = shifts.partition_point(|shift| shift.end <= at);
    let shift = shifts[index];
    assert!(shift.start <= at && at < shift.end, "{at} not in {shift:?}");
    shift
}

fn who(shift: Shift) -> Option<(UserId, Source)> {
    Some((shift.user?, shift.source?))
}

/// Checks that `shifts` tile `[from, to)` exactly, with no empty shifts and no adjacent pair
/// that should have been joined.
fn assert_tiles(shifts: &[Shift], from: Timestamp, to: Timestamp) {
    assert!(!shifts.is_empty(), "no shifts for a non-empty window");
    assert_eq!(shifts[0].start, from, "first shift starts late or early");
    assert_eq!(
        shifts[shifts.len() - 1].end,
        to,
        "last shift ends late or early"
    );
    for shift in shifts {
        assert!(shift.start < shift.end, "empty shift {shift:?}");
        assert_eq!(
            shift.user.is_some(),
            shift.source.is_some(),
            "a person without a source or the other way round: {shift:?}"
        );
    }
    for pair in shifts.windows(2) {
        assert_eq!(pair[0].end, pair[1].start, "hole or overlap: {pair:?}");
        assert!(
            (pair[0].user, pair[0].source) != (pair[1].user, pair[1].source),
            "adjacent shifts not joined: {pair:?}"
        );
    }
}

/// Every instant at which either tiling can change, within `[from, to)`: comparing two
/// tilings there compares them everywhere.
fn edges(a: &[Shift], b: &[Shift], from: Timestamp, to: Timestamp) -> Vec<Timestamp> {
    let mut edges: Vec<Timestamp> = a
        .iter()
        .chain(b)
        .flat_map(|shift| [shift.start, shift.end])
        .chain([from])
        .filter(|t| from <= *t && *t < to)
        .collect();
    edges.sort_unstable();
    edges.dedup();
    edges
}

/// The probes plus the instants on both sides of each shift edge (capped, to bound the cost of
/// point queries over long windows).
fn probe_points(scenario: &Scenario, shifts: &[Shift]) -> Vec<Timestamp> {
    let step = (shifts.len() / 400).max(1);
    let mut points = scenario.probes.clone();
    for shift in shifts.iter().step_by(step) {
        points.push(shift.start);
        points.push(shift.end - SignedDuration::from_secs(1));
    }
    points.retain(|t| scenario.from <= *t && *t < scenario.to);
    points
}

/// The instant a handoff at local `civil` happens, worked out with jiff alone: the first
/// instant the wall clock reads `civil` or later (the earlier of two readings in a fold, the
/// clock change itself in a gap).
fn oracle_instant(zone: &TimeZone, civil: civil::DateTime) -> Timestamp {
    let ambiguous = zone.to_ambiguous_timestamp(civil);
    match ambiguous.offset() {
        AmbiguousOffset::Gap { .. } => {
            // `compatible()` reads a skipped time with the offset from before the change,
            // which lands after the change; the change itself is the latest one up to there.
            let after = ambiguous.compatible().unwrap();
            let change = zone
                .preceding(after + SignedDuration::from_nanos(1))
                .next()
                .unwrap();
            change.timestamp()
        }
        _ => ambiguous.earlier().unwrap(),
    }
}

/// The latest local date-time at or before `local` that reads the anchor, using jiff's
/// calendar rather than the resolver's day arithmetic.
fn oracle_anchor(anchor: HandoffAnchor, local: civil::DateTime) -> civil::DateTime {
    let mut candidate = local.date().to_datetime(anchor.time);
    if candidate > local {
        candidate = candidate
            .date()
            .yesterday()
            .unwrap()
            .to_datetime(anchor.time);
    }
    if let Some(weekday) = anchor.weekday {
        while candidate.weekday() != weekday {
            candidate = candidate
                .date()
                .yesterday()
                .unwrap()
                .to_datetime(anchor.time);
        }
    }
    candidate
}

fn turn_span(turn: TurnLength) -> SignedDuration {
    match turn {
        TurnLength::Hours(n) => SignedDuration::from_hours(i64::from(n)),
        TurnLength::Days(n) => SignedDuration::from_hours(24 * i64::from(n)),
        TurnLength::Weeks(n) => SignedDuration::from_hours(7 * 24 * i64::from(n)),
    }
}

/// An unrestricted, unbounded layer worked out turn by turn from its definition, over
/// `[spec.start, to)`, as `(start, end, person)` with adjacent equal people joined.
fn oracle_turns(
    zone: &TimeZone,
    spec: &LayerSpec,
    to: Timestamp,
) -> Vec<(Timestamp, Timestamp, UserId)> {
    let turn = turn_span(spec.turn);
    let local_start = spec.start.to_zoned(zone.clone()).datetime();
    // The anchor occurrence at or before the start, then whole turns forward while they still
    // begin at or before it on the wall clock (for turns shorter than the anchor's period).
    let mut base = oracle_anchor(spec.handoff, local_start);
    while base + turn <= local_start {
        base += turn;
    }
    let handoff = |k: i64| oracle_instant(zone, base + turn * i32::try_from(k).unwrap());
    // The turn containing the start, by instants (a clock change can put the wall-clock
    // estimate one turn off).
    let mut first = -1;
    while handoff(first) > spec.start {
        first -= 1;
    }
    while handoff(first + 1) <= spec.start {
        first += 1;
    }
    let n = spec.participants.len();
    let mut out: Vec<(Timestamp, Timestamp, UserId)> = Vec::new();
    let mut k = first;
    while handoff(k) < to {
        let start = handoff(k).max(spec.start);
        let end = handoff(k + 1).min(to);
        let index = (spec.offset % n + usize::try_from(k - first).unwrap() % n) % n;
        let person = spec.participants[index];
        if start < end {
            match out.last_mut() {
                Some(last) if last.2 == person && last.1 == start => last.1 = end,
                _ => out.push((start, end, person)),
            }
        }
        k += 1;
    }
    out
}

/// Whether a restriction set allows local wall-clock time `local`, read naively off the clock.
fn oracle_active(restrictions: &[Restriction], local: civil::DateTime) -> bool {
    let seconds = |time: civil::Time| {
        i64::from(time.hour()) * HOUR + i64::from(time.minute()) * 60 + i64::from(time.second())
    };
    let now = seconds(local.time());
    let today = local.weekday();
    let yesterday = local.date().yesterday().unwrap().weekday();
    restrictions.iter().any(|r| {
        let start = seconds(r.start);
        let length = (seconds(r.end) - start).rem_euclid(DAY);
        let end = start + if length == 0 { DAY } else { length };
        (r.days.contains(today) && start <= now && now < end)
            || (r.days.contains(yesterday) && now + DAY < end)
    })
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn render_tiles_the_window(scenario in scenario()) {
        let schedule = scenario.schedule();
        let shifts = schedule.render(scenario.from, scenario.to);
        assert_tiles(&shifts, scenario.from, scenario.to);
        for (index, _) in scenario.layers.iter().enumerate() {
            let layer = schedule.render_layer(index, scenario.from, scenario.to);
            assert_tiles(&layer, scenario.from, scenario.to);
        }
    }

    #[test]
    fn on_call_at_agrees_with_render(scenario in scenario()) {
        let schedule = scenario.schedule();
        let shifts = schedule.render(scenario.from, scenario.to);
        for at in probe_points(&scenario, &shifts) {
            let shift = shift_at(&shifts, at);
            prop_assert_eq!(schedule.on_call_at(at), who(shift), "at {}", at);
        }
    }

    #[test]
    fn layer_point_queries_agree_with_layer_render(scenario in scenario()) {
        let schedule = scenario.schedule();
        let zone = scenario.zone();
        for (index, layer) in schedule.layers().iter().enumerate() {
            let shifts = schedule.render_layer(index, scenario.from, scenario.to);
            for at in probe_points(&scenario, &shifts) {
                let shift = shift_at(&shifts, at);
                prop_assert_eq!(layer.on_call_at(&zone, at), shift.user, "layer {} at {}", index, at);
            }
        }
    }

    /// `participants[offset]` (counting round the rotation) holds the turn containing the
    /// layer's start.
    #[test]
    fn offset_picks_the_first_person(scenario in scenario()) {
        let zone = scenario.zone();
        for spec in &scenario.layers {
            let spec = LayerSpec { restrictions: Vec::new(), ..spec.clone() };
            let layer = Layer::new(spec.clone(), &zone).unwrap();
            let expected = spec.participants[spec.offset % spec.participants.len()];
            prop_assert_eq!(layer.on_call_at(&zone, spec.start), Some(expected));
        }
    }

    #[test]
    fn newest_cover_replaces_exactly_its_window(
        scenario in scenario(),
        cover in (user(), 0..1_000i64, override_length()),
    ) {
        let (user, start, length) = cover;
        let span = scenario.to.as_second() - scenario.from.as_second();
        let start = scenario.from.as_second() - DAY + start * (span + 2 * DAY) / 1_000;
        let id = OverrideId(scenario.overrides.iter().map(|o| o.id.0).max().unwrap_or(0) + 1);
        let cover = Override::new(id, ts(start), ts(start + length), OverrideKind::Cover { user }).unwrap();
        let without = scenario.schedule().render(scenario.from, scenario.to);
        let mut overrides = scenario.overrides.clone();
        overrides.push(cover);
        let with = scenario.schedule_with(overrides).render(scenario.from, scenario.to);
        assert_tiles(&with, scenario.from, scenario.to);

        let inside_start = cover.start.max(scenario.from);
        let inside_end = cover.end.min(scenario.to);
        if inside_start < inside_end {
            // The cover's source is unique, so it must show as exactly one shift.
            let shift = shift_at(&with, inside_start);
            prop_assert_eq!(
                shift,
                Shift { start: inside_start, end: inside_end, user: Some(user), source: Some(Source::Override(id)) }
            );
        }
        for at in edges(&with, &without, scenario.from, scenario.to) {
            if at < cover.start || at >= cover.end {
                prop_assert_eq!(who(shift_at(&with, at)), who(shift_at(&without, at)), "at {}", at);
            }
        }
    }

    /// Without restrictions, a layer's turns are exactly the ones its definition describes,
    /// worked out independently with jiff's calendar arithmetic.
    #[test]
    fn layer_turns_match_an_independent_oracle(scenario in scenario()) {
        let zone = scenario.zone();
        for spec in &scenario.layers {
            let spec = LayerSpec { restrictions: Vec::new(), end: None, ..spec.clone() };
            let to = spec.start + SignedDuration::from_hours(60 * 24);
            let expected = oracle_turns(&zone, &spec, to);
            let layer = Layer::new(spec.clone(), &zone).unwrap();
            let schedule = Schedule::new(zone.clone(), vec![layer], Vec::new());
            let rendered = schedule.render(spec.start, to);
            let got: Vec<(Timestamp, Timestamp, UserId)> = rendered
                .iter()
                .map(|shift| (shift.start, shift.end, shift.user.unwrap()))
                .collect();
            prop_assert_eq!(got, expected, "layer {:?}", spec);
        }
    }

    /// With restrictions, a layer has someone exactly when the wall clock is inside a window.
    /// Instants whose wall-clock reading repeats (in a fold) are skipped: there the resolver
    /// deliberately works with instants, which a naive reading of the clock cannot express.
    #[test]
    fn restrictions_match_the_wall_clock(scenario in scenario()) {
        let zone = scenario.zone();
        for (index, spec) in scenario.layers.iter().enumerate() {
            if spec.restrictions.is_empty() {
                continue;
            }
            let spec = LayerSpec {
                start: scenario.from - SignedDuration::from_hours(48),
                end: None,
                ..spec.clone()
            };
            let layer = Layer::new(spec.clone(), &zone).unwrap();
            let schedule = Schedule::new(zone.clone(), vec![layer.clone()], Vec::new());
            let shifts = schedule.render_layer(0, scenario.from, scenario.to);
            for at in probe_points(&scenario, &shifts) {
                let local = at.to_zoned(zone.clone()).datetime();
                if zone.to_ambiguous_timestamp(local).is_ambiguous() {
                    continue;
                }
                prop_assert_eq!(
                    layer.on_call_at(&zone, at).is_some(),
                    oracle_active(&spec.restrictions, local),
                    "layer {} at {} ({})", index, at, local
                );
            }
        }
    }

    #[test]
    fn gaps_are_the_empty_shifts(scenario in scenario()) {
        let schedule = scenario.schedule();
        let expected: Vec<(Timestamp, Timestamp)> = schedule
            .render(scenario.from, scenario.to)
            .into_iter()
            .filter(|shift| shift.user.is_none())
            .map(|shift| (shift.start, shift.end))
            .collect();
        prop_assert_eq!(schedule.gaps(scenario.from, scenario.to), expected);
    }

    #[test]
    fn render_splits_anywhere(scenario in scenario(), split in 0..=1_000i64) {
        let schedule = scenario.schedule();
        let span = scenario.to.as_second() - scenario.from.as_second();
        let middle = ts(scenario.from.as_second() + span * split / 1_000);
        let whole = schedule.render(scenario.from, scenario.to);
        let mut parts = schedule.render(scenario.from, middle);
        parts.extend(schedule.render(middle, scenario.to));
        for at in edges(&whole, &parts, scenario.from, scenario.to) {
            prop_assert_eq!(who(shift_at(&whole, at)), who(shift_at(&parts, at)), "at {}", at);
        }
    }

    #[test]
    fn now_describes_the_current_stretch(scenario in scenario()) {
        let schedule = scenario.schedule();
        // A few random instants and a few handoffs: `now` exactly at a change is the case
        // most likely to get `since` or `until` wrong.
        let handoffs = schedule.render(scenario.from, scenario.to);
        let instants = scenario
            .probes
            .iter()
            .take(3)
            .copied()
            .chain(handoffs.iter().skip(1).take(3).map(|shift| shift.start));
        for at in instants {
            let current = schedule.on_call_at(at);
            let now = schedule.now(at);
            let user = current.map(|(user, _)| user);
            prop_assert_eq!(now.user, user);
            prop_assert_eq!(now.source, current.map(|(_, source)| source));
            if let Some(since) = now.since {
                prop_assert!(since <= at, "since {} after {}", since, at);
                // The stretch starts exactly at `since`: someone else was on call just before.
                let before = since - SignedDuration::from_secs(1);
                prop_assert_ne!(schedule.on_call_at(before).map(|(u, _)| u), user, "before since {}", since);
            }
            if let Some(until) = now.until {
                prop_assert!(at < until, "until {} not after {}", until, at);
                prop_assert_ne!(schedule.on_call_at(until).map(|(u, _)| u), user, "at until {}", until);
            }
            if let (Some(since), Some(until)) = (now.since, now.until) {
                for shift in schedule.render(since, until) {
                    prop_assert_eq!(shift.user, user, "inside the stretch: {:?}", shift);
                }
            }
            if let Some(next) = now.next {
                let until = now.until.unwrap();
                prop_assert!(until <= next.start);
                // At a direct handoff the next person is someone else. After a gap it may be
                // the same person again (a business-hours layer of one), which is what `next`
                // should say: that is when they are next on call.
                if next.start == until {
                    prop_assert!(Some(next.user) != user, "next is the current user: {:?}", now);
                }
                prop_assert_eq!(schedule.on_call_at(next.start).map(|(u, _)| u), Some(next.user));
                // Nobody is on call between the end of the current stretch and the next one.
                for shift in schedule.render(until, next.start) {
                    prop_assert_eq!(shift.user, None);
                }
                if let Some(end) = next.end {
                    prop_assert!(next.start < end);
                    prop_assert_ne!(schedule.on_call_at(end).map(|(u, _)| u), Some(next.user));
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(config(8))]

    /// A weekly rotation handing off on "Wednesday 10:00" in Los Angeles does so at 10:00 on
    /// the wall clock every week for ten years, through every March and November change.
    #[test]
    fn weekly_handoff_keeps_wall_clock_time_across_dst(
        start in Y2020..Y2025,
        people in 2..=6i64,
        offset in 0..6usize,
    ) {
        let zone = TimeZone::get("America/Los_Angeles").unwrap();
        let spec = LayerSpec {
            name: "primary".to_owned(),
            participants: (1..=people).map(UserId).collect(),
            turn: TurnLength::Weeks(1),
            handoff: "Wednesday 10:00".parse().unwrap(),
            start: ts(start),
            end: None,
            restrictions: Vec::new(),
            offset,
        };
        let layer = Layer::new(spec, &zone).unwrap();
        let schedule = Schedule::new(zone.clone(), vec![layer], Vec::new());
        let (from, to) = (ts(start), ts(start + 10 * YEAR));
        let shifts = schedule.render(from, to);
        assert_tiles(&shifts, from, to);
        // Ten years of weeks, give or take the partial weeks at either end.
        prop_assert!((520..=523).contains(&shifts.len()), "{} shifts", shifts.len());
        let mut crossed = (0, 0);
        for shift in &shifts[1..] {
            let local = shift.start.to_zoned(zone.clone());
            prop_assert_eq!(local.weekday(), Weekday::Wednesday, "{}", local);
            prop_assert_eq!((local.hour(), local.minute(), local.second()), (10, 0, 0), "{}", local);
            prop_assert_eq!(local.subsec_nanosecond(), 0);
            if shift.end < to {
                let end = shift.end.to_zoned(zone.clone());
                prop_assert_eq!(end.datetime(), local.datetime() + SignedDuration::from_hours(7 * 24));
                // A week that contains a DST change is an hour shorter or longer.
                match (shift.end.as_second() - shift.start.as_second()) / HOUR {
                    167 => crossed.0 += 1,
                    169 => crossed.1 += 1,
                    168 => {}
                    hours => prop_assert!(false, "a week of {} hours", hours),
                }
            }
            let just_before = shift.start - SignedDuration::from_secs(1);
            prop_assert_ne!(schedule.on_call_at(just_before), schedule.on_call_at(shift.start));
        }
        prop_assert!(crossed.0 >= 9 && crossed.1 >= 9, "DST weeks seen: {:?}", crossed);
    }
}

//! Typed identifiers, so a user id can never be passed where a schedule id is expected.

use std::fmt;

macro_rules! typed_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

typed_id!(
    /// A person who can be on call.
    UserId
);
typed_id!(
    /// A team owning schedules.
    TeamId
);
typed_id!(
    /// An on-call schedule.
    ScheduleId
);
typed_id!(
    /// One layer (rotation) of a schedule.
    LayerId
);
typed_id!(
    /// An override or swap on a schedule. Ids grow with creation, so a larger id is newer.
    OverrideId
);
typed_id!(
    /// An API token.
    TokenId
);
typed_id!(
    /// A service: something that can break and page someone.
    ServiceId
);
typed_id!(
    /// A way into a service: an Events API key, an Alertmanager webhook, …
    IntegrationId
);
typed_id!(
    /// An escalation policy.
    PolicyId
);
typed_id!(
    /// An incident; shown to people as `INC-<id>`.
    IncidentId
);

//! The pure core of watchbill.
//!
//! Everything here is deterministic and free of I/O: callers pass in the current instant and
//! the data they loaded, and get decisions back. That keeps the rules testable with property
//! tests and lets every backend and every edge (HTTP, SMTP, CLI) share one implementation.

pub mod clock;
pub mod code;
pub mod ids;
pub mod paging;
pub mod post_mortem;
pub mod role;
pub mod schedule;
pub mod tickets;

pub use clock::{Clock, ManualClock, SystemClock};
pub use ids::{
    IncidentId, IntegrationId, LayerId, OverrideId, PolicyId, ScheduleId, ServiceId, TeamId,
    TokenId, UserId,
};
pub use role::Role;

//! The paging loop: events in, incidents, escalation and notifications out.

pub mod actions;
pub mod batch;
pub mod channels;
pub mod duty_tickets;
pub mod engine;
pub mod events;
pub mod intake;
pub mod links;
pub mod pages;
pub mod reminders;
pub mod requesters;
pub mod routes;
pub mod settings;
pub mod statistics;
pub mod webhooks;

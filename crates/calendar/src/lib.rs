//! Calendar adapters: iCalendar parsing ([`ics`]), time zones as calendars
//! name them ([`zone`]), recurrence expansion in the owner's zone
//! ([`mod@expand`]), and the read-only sources: ICS subscriptions
//! ([`feed`]), CalDAV ([`caldav`]) and Google Calendar ([`google`]).
//!
//! **Invariants:** parsing never fails (what cannot be read is a
//! [`ics::Problem`], the rest of the calendar stays); expansion looks only
//! at the window asked for; nothing here writes to a calendar server.

pub mod caldav;
pub mod expand;
pub mod feed;
pub mod google;
pub mod ics;
pub mod rule;
pub mod zone;

pub use expand::expand;
pub use ics::{Calendar, Event, Problem, parse};

//! Strava's API v3, read-only: OAuth tokens (authorization code, refresh),
//! the athlete, activity pages, an activity, its streams, push
//! subscriptions; every response's `X-RateLimit-*` headers read; and an
//! activity with its streams mapped to an [`openzero_training::Activity`].
//!
//! **Invariants:** no call changes the athlete's data (only the token
//! endpoint and the application's own push subscription are written to);
//! secrets never appear in `Debug` output or error messages.

pub mod client;
pub mod convert;
pub mod model;
pub mod rate;

#[cfg(feature = "fake")]
pub mod fake;

pub use client::{Answer, Client, StravaError};
pub use model::{Athlete, DetailedActivity, Event, Streams, Subscription, SummaryActivity, Token};
pub use rate::RateLimits;

//! Strava's API v3, read-only: OAuth tokens (authorization code, refresh),
//! the athlete, activity pages, an activity, its streams, push
//! subscriptions; every response's `X-RateLimit-*` headers read; and an
//! activity with its streams mapped to an [`openzero_training::Activity`].

#[cfg(feature = "fake")]
pub mod fake;

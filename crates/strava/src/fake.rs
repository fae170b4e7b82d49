//! Placeholder: the stateful fake of Strava API v3 is being written.

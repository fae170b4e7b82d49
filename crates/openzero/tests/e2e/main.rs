//! The real binary and server, driven as a user would.
//!
//! One test binary for the crate (each file a module): one link step
//! instead of one per file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod backup;
mod bench;
mod boards;
mod caldav;
mod calendar;
mod chat;
mod cli;
mod common;
mod consent;
mod dashboard;
mod dashboard_browser;
mod deploy;
mod disk;
mod finance;
mod gmail;
mod gmail_fake;
mod google_calendar;
mod jobs;
mod mail;
mod memory;
mod memory_consolidate;
mod memory_recall;
mod news;
mod planka;
mod postgres;
mod schedule;
mod serve;
mod strava;
mod telegram;
mod tools;
mod training;
mod training_report;

//! The application layer: builds the adapters the settings ask for and runs
//! the use cases shared by every channel (CLI now; Telegram, the agent's
//! tools and the dashboard later), so each rule is written once.
//!
//! **Invariants:** domain rules live in `openzero-core`; this crate only
//! sequences them around storage calls. The only I/O done here directly is
//! preparing the data directory.

pub mod agent;
pub mod backup;
pub mod bench;
pub mod bench_backup;
pub mod bench_boards;
pub mod bench_calendar;
pub mod bench_footprint;
pub mod bench_llm;
pub mod bench_mail;
pub mod bench_recall;
pub mod bench_training;
pub mod board_tools;
pub mod boards;
pub mod briefings;
pub mod calendar;
pub mod calendar_google;
pub mod calendar_sources;
pub mod calendar_tools;
pub mod chat_commands;
pub mod clock;
pub mod consent;
pub mod dashboard;
pub mod doctor;
pub mod doctor_security;
pub mod finance;
pub mod health;
pub mod jobs;
pub mod logs;
pub mod mail;
pub mod mail_gmail;
pub mod mail_sync;
pub mod mail_tools;
pub mod memory;
pub mod memory_consolidate;
pub mod memory_index;
pub mod memory_search;
pub mod news;
pub mod oauth_flow;
pub mod planka_sync;
pub mod projects;
pub mod serve_parts;
pub mod services;
pub mod settings_edit;
pub mod strava;
pub mod think;
pub mod tools;
pub mod training;
pub mod training_coach;
pub mod training_feedback;
pub mod training_report;
pub mod training_tools;
pub mod wiring;

pub use services::Services;
pub use wiring::{AppError, ensure_data_dir, open_store};

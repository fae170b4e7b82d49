//! Changing a few settings from the dashboard: written into
//! `openzero.toml` (its comments and layout kept), only after the whole
//! configuration loads with the new value.
//!
//! **Invariant:** the file is replaced whole or not at all (a temporary
//! file beside it, loaded, then renamed over it); secrets and addresses
//! are never editable here.

use std::collections::BTreeMap;

use openzero_config::{Inputs, Loaded};

use crate::AppError;

/// The keys a page may change: harmless to get wrong, checked on load.
pub const EDITABLE: &[&str] = &[
    "general.timezone",
    "general.log_level",
    "schedule.daily_briefing",
    "schedule.weekly_review",
    "schedule.monthly_review",
    "schedule.news_fetch",
];

/// What a change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edited {
    /// Where the effective value comes from instead (an environment
    /// variable wins over the file), if not from the file.
    pub shadowed_by: Option<String>,
}

/// Sets `key` to the string `value` in the configuration file.
pub fn set(
    loaded: &Loaded,
    env: BTreeMap<String, String>,
    key: &str,
    value: &str,
) -> Result<Edited, AppError> {
    if !EDITABLE.contains(&key) {
        return Err(AppError::Invalid(format!(
            "{key} cannot be changed from the dashboard (edit {} instead)",
            loaded.config_file.display()
        )));
    }
    let (section, name) = key
        .split_once('.')
        .ok_or_else(|| AppError::Invalid(format!("{key} is not a key")))?;
    let path = &loaded.config_file;
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(AppError::Invalid(format!(
                "cannot read {}: {e}",
                path.display()
            )));
        }
    };
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e| AppError::Invalid(format!("{} is not valid TOML: {e}", path.display())))?;
    if !doc.contains_table(section) {
        doc[section] = toml_edit::table();
    }
    doc[section][name] = toml_edit::value(value.trim());
    let tmp = path.with_extension(format!("toml.tmp-{}", std::process::id()));
    crate::wiring::write_private_file(&tmp, &doc.to_string())
        .map_err(|e| AppError::Invalid(format!("cannot write {}: {e}", tmp.display())))?;
    let checked = openzero_config::load(&Inputs {
        data_dir: Some(loaded.data_dir.clone()),
        config_file: Some(tmp.clone()),
        env,
        overrides: Vec::new(),
    });
    let checked = match checked {
        Ok(c) => c,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(AppError::Invalid(
                e.to_string()
                    .replace(&tmp.display().to_string(), "the new value"),
            ));
        }
    };
    // Schedules are read when the jobs are built: build them now.
    if let Err(e) = crate::jobs::registry(&checked) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        AppError::Invalid(format!("cannot replace {}: {e}", path.display()))
    })?;
    tracing::info!(key, "setting changed from the dashboard");
    let origin = checked.origins.get(key).cloned().unwrap_or_default();
    Ok(Edited {
        shadowed_by: (!origin.is_empty() && !origin.contains("toml.tmp")).then_some(origin),
    })
}

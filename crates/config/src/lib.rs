//! Layered configuration for OpenZero.
//!
//! Precedence, lowest first: built-in defaults → `openzero.toml` → the
//! original deployment's environment names (`TELEGRAM_BOT_TOKEN`, …) →
//! `OPENZERO__SECTION__KEY` → command-line flags. A `.env` file is read by
//! the caller and passed in under the real environment. Secrets may come
//! from `*_FILE` paths (environment) or `key_file = "path"` (TOML).
//!
//! **Invariants:** an unknown key warns and never fails; an invalid value
//! fails with the key, where it came from and what is accepted; secrets never
//! reach `Debug`, `Display` or serialized output. This crate reads only the
//! files it is pointed at and the environment map it is given.

mod keys;
mod settings;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use keys::{KEYS, KeyDef, Kind, find};
pub use settings::*;

/// File name of the configuration inside the data directory.
pub const CONFIG_FILE_NAME: &str = "openzero.toml";
/// Environment variable naming the data directory.
pub const DATA_DIR_ENV: &str = "OPENZERO_DATA_DIR";
/// Environment variable naming the configuration file.
pub const CONFIG_ENV: &str = "OPENZERO_CONFIG";

/// A configuration problem, phrased as what is wrong and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {cause}")]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error(
        "data directory {path} is a file, not a directory; move it aside or choose another with --data-dir or {DATA_DIR_ENV}"
    )]
    DataDirIsFile { path: PathBuf },
    #[error("config file {path} does not exist; create it with `openzero init` or fix the path")]
    Missing { path: PathBuf },
    #[error("config file {location} is not valid TOML: {message}")]
    Parse { location: String, message: String },
    #[error("invalid value for {key} (from {origin}): {message}")]
    Invalid {
        key: String,
        origin: String,
        message: String,
    },
    #[error("cannot read the secret file {path} given by {origin}: {cause}")]
    SecretFile {
        origin: String,
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error(
        "cannot find a home directory for the default data directory; set {DATA_DIR_ENV} or pass --data-dir"
    )]
    NoDataDir,
}

/// A value set on the command line, applied last.
#[derive(Debug, Clone)]
pub struct Override {
    /// `section.key`.
    pub path: String,
    pub value: toml::Value,
    /// e.g. `--bind`.
    pub origin: String,
}

/// Everything the loader reads from.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--config`.
    pub config_file: Option<PathBuf>,
    /// The environment (with `.env` already merged beneath it).
    pub env: BTreeMap<String, String>,
    pub overrides: Vec<Override>,
}

/// The result of loading.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub settings: Settings,
    pub data_dir: PathBuf,
    pub config_file: PathBuf,
    /// Whether `config_file` existed and was read.
    pub config_file_found: bool,
    /// Unknown keys and variables; never fatal.
    pub warnings: Vec<String>,
    /// Where each non-default value came from, by `section.key`.
    pub origins: BTreeMap<String, String>,
}

/// Whether OpenZero reads the environment variable `name`: a key's
/// `OPENZERO__SECTION__KEY` name or one of its other names, a secret's
/// `…_FILE` form, or the data directory and configuration file variables.
pub fn is_known_env(name: &str) -> bool {
    name == DATA_DIR_ENV
        || name == CONFIG_ENV
        || KEYS.iter().any(|d| {
            let names = d
                .legacy_env
                .iter()
                .map(|s| (*s).to_owned())
                .chain(std::iter::once(d.env_name()));
            names
                .into_iter()
                .any(|n| name == n || (d.kind == Kind::Secret && name == format!("{n}_FILE")))
        })
}

/// The default data directory: `$XDG_DATA_HOME/openzero` (usually
/// `~/.local/share/openzero`).
pub fn default_data_dir(env: &BTreeMap<String, String>) -> Result<PathBuf, ConfigError> {
    if let Some(x) = env.get("XDG_DATA_HOME").filter(|x| !x.is_empty()) {
        return Ok(Path::new(x).join("openzero"));
    }
    if let Some(h) = env.get("HOME").filter(|h| !h.is_empty()) {
        return Ok(Path::new(h).join(".local/share/openzero"));
    }
    directories::ProjectDirs::from("", "", "openzero")
        .map(|d| d.data_dir().to_owned())
        .ok_or(ConfigError::NoDataDir)
}

/// Loads the configuration from all layers.
pub fn load(inputs: &Inputs) -> Result<Loaded, ConfigError> {
    let env = &inputs.env;
    let data_dir = match (&inputs.data_dir, env.get(DATA_DIR_ENV)) {
        (Some(d), _) => d.clone(),
        (None, Some(d)) if !d.is_empty() => PathBuf::from(d),
        _ => default_data_dir(env)?,
    };
    if data_dir.exists() && !data_dir.is_dir() {
        return Err(ConfigError::DataDirIsFile { path: data_dir });
    }
    let (config_file, explicit) = match (&inputs.config_file, env.get(CONFIG_ENV)) {
        (Some(f), _) => (f.clone(), true),
        (None, Some(f)) if !f.is_empty() => (PathBuf::from(f), true),
        _ => (data_dir.join(CONFIG_FILE_NAME), false),
    };

    let mut tree = toml::Table::new();
    let mut origins = BTreeMap::new();
    let mut warnings = Vec::new();

    // Layer 1: the file.
    let config_file_found = match std::fs::read_to_string(&config_file) {
        Ok(text) => {
            let file_origin = format!("{}", config_file.display());
            let mut table: toml::Table =
                toml::from_str(&text).map_err(|e| parse_error(&config_file, &text, &e))?;
            resolve_secret_files(&mut table, &file_origin, config_file.parent())?;
            for (path, _) in leaves(&table) {
                origins.insert(path, file_origin.clone());
            }
            merge(&mut tree, table);
            true
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if explicit {
                return Err(ConfigError::Missing { path: config_file });
            }
            false
        }
        Err(cause) => {
            return Err(ConfigError::Read {
                path: config_file,
                cause,
            });
        }
    };

    // Layers 2 and 3: the original deployment's names, then OPENZERO__*.
    for def in KEYS {
        let names: Vec<String> = def
            .legacy_env
            .iter()
            .map(|s| (*s).to_owned())
            .chain(std::iter::once(def.env_name()))
            .collect();
        for name in names {
            let (raw, origin) = if let Some(v) = env.get(&name) {
                (v.clone(), format!("environment {name}"))
            } else if let Some(p) = env
                .get(&format!("{name}_FILE"))
                .filter(|_| def.kind == Kind::Secret)
            {
                let origin = format!("environment {name}_FILE");
                (read_secret(Path::new(p), &origin)?, origin)
            } else {
                continue;
            };
            let value = typed(def, &raw).map_err(|message| ConfigError::Invalid {
                key: def.path.to_owned(),
                origin: origin.clone(),
                message,
            })?;
            set(&mut tree, def.path, value);
            origins.insert(def.path.to_owned(), origin);
        }
    }
    for name in env.keys() {
        if name.starts_with("OPENZERO_")
            && !is_known_env(name)
            && !name.starts_with("OPENZERO_TEST")
        {
            warnings.push(format!(
                "unknown environment variable {name} (ignored); see .env.example"
            ));
        }
    }

    // Layer 4: flags.
    for o in &inputs.overrides {
        set(&mut tree, &o.path, o.value.clone());
        origins.insert(o.path.clone(), o.origin.clone());
    }

    let mut unknown = Vec::new();
    let mut on_unknown = |p: serde_ignored::Path<'_>| unknown.push(p.to_string());
    let de = serde_ignored::Deserializer::new(toml::Value::Table(tree), &mut on_unknown);
    let settings: Settings = serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let origin = origins
            .get(&key)
            .cloned()
            .unwrap_or_else(|| "the configuration".into());
        ConfigError::Invalid {
            key,
            origin,
            message: e.into_inner().message().trim().to_owned(),
        }
    })?;
    for key in unknown {
        let origin = origins
            .get(&key)
            .map(|o| format!(" in {o}"))
            .unwrap_or_default();
        warnings.push(format!(
            "unknown configuration key {key}{origin} (ignored); known keys are listed in openzero.toml written by `openzero init`"
        ));
    }

    Ok(Loaded {
        settings,
        data_dir,
        config_file,
        config_file_found,
        warnings,
        origins,
    })
}

fn parse_error(path: &Path, text: &str, e: &toml::de::Error) -> ConfigError {
    let location = match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("{}:{line}:{col}", path.display())
        }
        None => path.display().to_string(),
    };
    ConfigError::Parse {
        location,
        message: e.message().replace('\n', " ").trim().to_owned(),
    }
}

fn read_secret(path: &Path, origin: &str) -> Result<String, ConfigError> {
    std::fs::read_to_string(path)
        .map(|s| s.trim_end_matches(['\n', '\r']).to_owned())
        .map_err(|cause| ConfigError::SecretFile {
            origin: origin.to_owned(),
            path: path.to_owned(),
            cause,
        })
}

/// Replaces `key_file = "path"` by `key = <contents>` for secret keys.
fn resolve_secret_files(
    table: &mut toml::Table,
    origin: &str,
    base: Option<&Path>,
) -> Result<(), ConfigError> {
    for def in KEYS.iter().filter(|d| d.kind == Kind::Secret) {
        let Some(toml::Value::Table(section)) = table.get_mut(def.section()) else {
            continue;
        };
        let file_key = format!("{}_file", def.key());
        let Some(v) = section.remove(&file_key) else {
            continue;
        };
        let toml::Value::String(p) = v else {
            return Err(ConfigError::Invalid {
                key: format!("{}.{file_key}", def.section()),
                origin: origin.to_owned(),
                message: "expected a file path in quotes".into(),
            });
        };
        let p = PathBuf::from(p);
        let p = match base {
            Some(b) if p.is_relative() => b.join(p),
            _ => p,
        };
        let secret = read_secret(&p, &format!("{}.{file_key} in {origin}", def.section()))?;
        section.insert(def.key().to_owned(), toml::Value::String(secret));
    }
    Ok(())
}

/// Types an environment string according to the key's kind.
fn typed(def: &KeyDef, raw: &str) -> Result<toml::Value, String> {
    let raw = raw.trim();
    Ok(match def.kind {
        Kind::Str | Kind::Secret => toml::Value::String(raw.to_owned()),
        Kind::Int => toml::Value::Integer(
            raw.parse()
                .map_err(|_| format!("'{raw}' is not a whole number"))?,
        ),
        Kind::Bool => toml::Value::Boolean(match raw.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => true,
            "0" | "false" | "no" | "off" => false,
            _ => return Err(format!("'{raw}' is not true or false")),
        }),
        Kind::IntList => toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse::<i64>().map(toml::Value::Integer).map_err(|_| {
                        format!("'{s}' is not a whole number (expected ids separated by commas)")
                    })
                })
                .collect::<Result<_, _>>()?,
        ),
    })
}

fn set(tree: &mut toml::Table, path: &str, value: toml::Value) {
    let (section, key) = path.split_once('.').unwrap_or(("", path));
    let entry = tree
        .entry(section.to_owned())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if !entry.is_table() {
        *entry = toml::Value::Table(toml::Table::new());
    }
    if let toml::Value::Table(t) = entry {
        t.insert(key.to_owned(), value);
    }
}

fn merge(into: &mut toml::Table, from: toml::Table) {
    for (k, v) in from {
        match (into.get_mut(&k), v) {
            (Some(toml::Value::Table(a)), toml::Value::Table(b)) => merge(a, b),
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}

/// `section.key` paths of all non-table values.
fn leaves(t: &toml::Table) -> Vec<(String, &toml::Value)> {
    let mut out = Vec::new();
    for (k, v) in t {
        match v {
            toml::Value::Table(inner) => {
                for (p, v) in leaves(inner) {
                    out.push((format!("{k}.{p}"), v));
                }
            }
            v => out.push((k.clone(), v)),
        }
    }
    out
}

/// The commented `openzero.toml` written by `openzero init`. `timezone`, when
/// given, is written as a real setting rather than a comment.
pub fn template(timezone: Option<&str>) -> String {
    let mut out = String::from(
        "# OpenZero configuration.\n\
         # Every key is optional: a commented line shows the built-in default or an example.\n\
         # Environment variables override this file: OPENZERO__SECTION__KEY, or the names in\n\
         # brackets (those of the original deployment). Secrets can also come from a file:\n\
         # KEY_FILE=/path in the environment, or key_file = \"/path\" here.\n",
    );
    let mut section = "";
    for def in KEYS {
        if def.section() != section {
            section = def.section();
            out.push_str(&format!("\n[{section}]\n"));
        }
        let mut env = vec![def.env_name()];
        env.extend(def.legacy_env.iter().map(|s| (*s).to_owned()));
        out.push_str(&format!("# {} [{}]\n", def.doc, env.join(", ")));
        if def.path == "general.timezone"
            && let Some(tz) = timezone
        {
            out.push_str(&format!("timezone = \"{tz}\"\n"));
            continue;
        }
        match def.default {
            Some(d) => out.push_str(&format!("# {} = {d}\n", def.key())),
            None => out.push_str(&format!("# {} = {}\n", def.key(), def.example)),
        }
    }
    out
}

/// The content of `.env.example`: every variable with its meaning.
pub fn env_example() -> String {
    let mut out = String::from(
        "# OpenZero environment variables. Copy to .env (read from the working directory)\n\
         # and uncomment what you need. Every one is optional. Any secret can instead be read\n\
         # from a file: NAME_FILE=/run/secrets/name.\n\
         #\n\
         # OPENZERO_DATA_DIR: data directory (default: ~/.local/share/openzero)\n\
         # OPENZERO_CONFIG: configuration file (default: $OPENZERO_DATA_DIR/openzero.toml)\n",
    );
    for def in KEYS {
        out.push_str(&format!("\n# {}\n", def.doc));
        let example = def.example.trim_matches('"').trim_matches(['[', ']']);
        for name in def.legacy_env {
            out.push_str(&format!("# {name}={example}\n"));
        }
        out.push_str(&format!("# {}={example}\n", def.env_name()));
    }
    out
}

/// The owner's time zone as this machine knows it: `TZ`, `/etc/timezone`, or
/// the `/etc/localtime` link. `None` when none names a valid IANA zone.
pub fn system_timezone(env: &BTreeMap<String, String>) -> Option<String> {
    let valid = |s: &str| {
        let s = s.trim().trim_start_matches(':');
        s.parse::<chrono_tz::Tz>()
            .ok()
            .map(|tz| tz.name().to_owned())
    };
    if let Some(tz) = env.get("TZ").and_then(|t| valid(t)) {
        return Some(tz);
    }
    if let Some(tz) = std::fs::read_to_string("/etc/timezone")
        .ok()
        .and_then(|t| valid(&t))
    {
        return Some(tz);
    }
    let link = std::fs::read_link("/etc/localtime").ok()?;
    let s = link.to_string_lossy();
    let (_, name) = s.split_once("zoneinfo/")?;
    valid(name)
}

#[cfg(test)]
mod tests;

//! `openzero service install`: the hardened systemd unit of
//! `deploy/openzero.service`, with this binary, data directory and user
//! filled in.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use openzero_config::Loaded;

/// The unit, as kept in the repository (one source for both).
const UNIT: &str = include_str!("../../../deploy/openzero.service");

#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Write the systemd unit (own user, read-only system, only the data directory writable)
    #[command(after_help = "\
Examples:
  sudo openzero service install --user openzero
  openzero service install --print > openzero.service
  sudo systemctl daemon-reload && sudo systemctl enable --now openzero

The unit runs `openzero serve` as USER with the data directory of this
invocation (--data-dir / OPENZERO_DATA_DIR) as the only writable place,
reads DATA_DIR/openzero.env for secrets, and restarts on failure. Create the
user first (sudo useradd --system --home-dir DATA_DIR openzero) and give it
the data directory (sudo chown -R openzero: DATA_DIR).")]
    Install {
        /// The user the service runs as
        #[arg(long, default_value = "openzero")]
        user: String,
        /// Print the unit instead of writing it
        #[arg(long)]
        print: bool,
        /// Where to write it
        #[arg(long, default_value = "/etc/systemd/system")]
        unit_dir: std::path::PathBuf,
    },
}

/// The unit for `bin`, `data_dir` and `user`.
pub fn render(bin: &str, data_dir: &str, user: &str) -> String {
    UNIT.replace("@BIN@", bin)
        .replace("@DATA_DIR@", data_dir)
        .replace("@USER@", user)
}

pub fn run(loaded: &Loaded, cmd: ServiceCommand) -> Result<ExitCode> {
    let ServiceCommand::Install {
        user,
        print,
        unit_dir,
    } = cmd;
    if user.is_empty()
        || !user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c))
    {
        bail!("--user must be a plain user name (letters, digits, - and _)");
    }
    let bin = std::env::current_exe().context("cannot tell where this binary is")?;
    let data_dir = loaded.data_dir.display().to_string();
    if data_dir.contains(char::is_whitespace) {
        bail!(
            "the data directory {data_dir} has a space in it, which systemd paths cannot hold; choose another with --data-dir"
        );
    }
    let unit = render(&bin.display().to_string(), &data_dir, &user);
    if print {
        outln!("{}", unit.trim_end());
        return Ok(ExitCode::SUCCESS);
    }
    let path = unit_dir.join("openzero.service");
    std::fs::write(&path, &unit).with_context(|| {
        format!(
            "cannot write {} (run with sudo, or use --print and copy the unit yourself)",
            path.display()
        )
    })?;
    outln!("Wrote {}.", path.display());
    outln!("Then: sudo systemctl daemon-reload && sudo systemctl enable --now openzero");
    outln!("Logs: journalctl -u openzero -f");
    Ok(ExitCode::SUCCESS)
}

//! The located failure every blueprint check reports through: a message and
//! a help line at the value (or the key) an entry's pointer names, plus the
//! checks on value forms shared by several concepts (names, quantities,
//! durations, ports, paths, included files).

use super::locator::Locator;
use super::model::Scalar;
use super::syntax::{is_dns_label, is_duration, is_port_name, is_quantity, quantity_suggestion};
use crate::error::{Error, ErrorKind, Result};
use crate::sources::{BLUEPRINTS_DIR, SourceFile, Sources};

pub(super) struct Check<'a> {
    pub(super) locator: &'a Locator,
}

impl Check<'_> {
    pub(super) fn fail(
        &self,
        kind: ErrorKind,
        at: &str,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> Error {
        self.locator.error(kind, at, message).with_help(help)
    }

    pub(super) fn fail_key(
        &self,
        at: &str,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> Error {
        Error::at(ErrorKind::InvalidValue, self.locator.key(at), message).with_help(help)
    }

    pub(super) fn dns_label(&self, at: &str, value: &str, what: &str, max: usize) -> Result<()> {
        if is_dns_label(value) && value.len() <= max {
            return Ok(());
        }
        Err(self.fail(
            ErrorKind::InvalidValue,
            at,
            format!("{what} `{value}` is not a valid name"),
            format!("use lowercase letters, digits and `-`, starting and ending with a letter or digit, at most {max} characters"),
        ))
    }

    pub(super) fn name_key(&self, at: &str, value: &str, what: &str, max: usize) -> Result<()> {
        if is_dns_label(value) && value.len() <= max {
            return Ok(());
        }
        Err(self.fail_key(
            at,
            format!("{what} name `{value}` is not a valid name"),
            format!("use lowercase letters, digits and `-`, starting and ending with a letter or digit, at most {max} characters"),
        ))
    }

    pub(super) fn quantity(&self, at: &str, value: &Scalar) -> Result<()> {
        if is_quantity(&value.0) {
            return Ok(());
        }
        let help = match quantity_suggestion(&value.0) {
            Some(s) => format!(
                "did you mean `{s}`? Kubernetes quantities use suffixes like `m`, `Ki`, `Mi`, `Gi`"
            ),
            None => "Kubernetes quantities look like `100m`, `0.5`, `128Mi`, `10Gi`".to_string(),
        };
        Err(self.fail(
            ErrorKind::InvalidValue,
            at,
            format!("`{}` is not a resource quantity", value.0),
            help,
        ))
    }

    pub(super) fn duration(&self, at: &str, value: &str) -> Result<()> {
        if is_duration(value) {
            return Ok(());
        }
        Err(self.fail(
            ErrorKind::InvalidValue,
            at,
            format!("`{value}` is not a duration"),
            "durations look like `30s`, `5m`, `1h`, `1h30m`",
        ))
    }

    pub(super) fn port(&self, at: &str, name: &str, number: u32) -> Result<()> {
        if !is_port_name(name) {
            return Err(self.fail_key(
                at,
                format!("port name `{name}` is not valid"),
                "port names are at most 15 lowercase letters, digits and `-`, with at least one letter",
            ));
        }
        if !(1..=65535).contains(&number) {
            return Err(self.fail(
                ErrorKind::InvalidValue,
                at,
                format!("port {number} is out of range"),
                "ports are between 1 and 65535",
            ));
        }
        Ok(())
    }

    pub(super) fn absolute_path(&self, at: &str, path: &str) -> Result<()> {
        if path.starts_with('/') && !path.split('/').any(|c| c == "..") && !path.contains('\0') {
            return Ok(());
        }
        Err(self.fail(
            ErrorKind::InvalidValue,
            at,
            format!("`{path}` is not an absolute path"),
            "mount paths start with `/` and contain no `..`",
        ))
    }

    /// A file under `blueprints/` that the snapshot holds as a regular file.
    pub(super) fn include(&self, at: &str, path: &str, sources: &Sources) -> Result<String> {
        let escape = |why: &str| {
            self.fail(
                ErrorKind::Include,
                at,
                format!("`{path}` {why}"),
                "config files and templates are paths relative to `blueprints/`, inside it",
            )
        };
        if path.is_empty() {
            return Err(escape("is empty"));
        }
        if path.starts_with('/') || path.starts_with('\\') || path.contains(':') {
            return Err(escape("is an absolute path"));
        }
        if path.split(['/', '\\']).any(|c| c == "..") {
            return Err(escape("leaves the `blueprints/` directory"));
        }
        let full = format!("{BLUEPRINTS_DIR}/{}", path.trim_start_matches("./"));
        match sources.get(&full) {
            Some(SourceFile::Regular(_)) => Ok(full),
            Some(SourceFile::Symlink) => {
                Err(escape("is a symbolic link, which gitopsc does not follow"))
            }
            Some(SourceFile::TooLarge(size)) => Err(escape(&format!(
                "is {size} bytes, too large for a config file"
            ))),
            None => Err(self.fail(
                ErrorKind::Include,
                at,
                format!("`{path}` does not exist under `blueprints/`"),
                "create the file, or fix the path (relative to `blueprints/`)",
            )),
        }
    }
}

//! The one error type of gitopsc, and how it is shown to people.
//!
//! A user mistake is always built with the place it came from ([`Origin`]:
//! project-relative file, line, column and the text of that line), so an
//! unlocated user error cannot be constructed. Failures of the outside world
//! (a file that cannot be written, a git remote that refuses) carry a path or
//! a description instead. `render` frames an error for people with the
//! offending line and a caret; `Display` gives one line for logs.

use std::fmt;
use std::path::{Path, PathBuf};

/// What went wrong, by category. Tests and exit codes match on this, never on text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorKind {
    /// The YAML itself is malformed (syntax, tabs, duplicate keys, limits).
    Syntax,
    /// A field gitopsc does not know.
    UnknownField,
    /// A value of the wrong type or shape (`replicas: two`).
    InvalidType,
    /// A value of the right type that is not allowed (`500mb`, port 70000).
    InvalidValue,
    /// A name that refers to nothing (`uses: [nothing]`, `extends: nowhere`).
    UnknownReference,
    /// A loop in `extends` or in the deployment graph.
    Cycle,
    /// An RFC 6902 operation that cannot be applied, or one that selects no object.
    Patch,
    /// A template that does not render (undefined variable, syntax).
    Template,
    /// A file reference that leaves the project or points at nothing.
    Include,
    /// A literal that looks like a credential.
    Secret,
    /// A policy rule of the environment that the output breaks.
    Policy,
    /// Reading or writing files.
    Io,
    /// Git repositories: opening, committing, pushing.
    Git,
    /// Command-line usage that cannot work (`--env` naming no environment).
    Usage,
}

impl ErrorKind {
    /// A short stable name, used in machine output and snapshot names.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Syntax => "syntax",
            ErrorKind::UnknownField => "unknown-field",
            ErrorKind::InvalidType => "invalid-type",
            ErrorKind::InvalidValue => "invalid-value",
            ErrorKind::UnknownReference => "unknown-reference",
            ErrorKind::Cycle => "cycle",
            ErrorKind::Patch => "patch",
            ErrorKind::Template => "template",
            ErrorKind::Include => "include",
            ErrorKind::Secret => "secret",
            ErrorKind::Policy => "policy",
            ErrorKind::Io => "io",
            ErrorKind::Git => "git",
            ErrorKind::Usage => "usage",
        }
    }
}

/// Where in a project file a mistake sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Project-relative path with `/` separators, so messages read the same everywhere.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
    /// Characters to underline, at least one.
    pub width: u32,
    /// The text of the offending line, without its line break.
    pub line_text: String,
}

impl Origin {
    /// Locates `line`/`column` inside `text`, the content of `file`.
    pub fn in_text(file: &str, text: &str, line: u32, column: u32, width: u32) -> Origin {
        let line_text = text
            .lines()
            .nth(line.saturating_sub(1) as usize)
            .unwrap_or("")
            .to_string();
        Origin {
            file: file.to_string(),
            line: line.max(1),
            column: column.max(1),
            width: width.max(1),
            line_text,
        }
    }

    /// Cuts the line at the column and shows the rest masked, so a framed
    /// credential error says where the value is, never what it is.
    pub fn mask_from_column(&mut self) {
        let column = self.column.max(1) as usize - 1;
        let prefix: String = self.line_text.chars().take(column).collect();
        let rest: String = self.line_text.chars().skip(column).collect();
        let value = rest.trim().trim_start_matches(['"', '\'', '|', '>']);
        let masked = crate::credential::mask(value.trim_start());
        self.width = masked.chars().count() as u32;
        self.line_text = format!("{prefix}{masked}");
    }

    /// The start of a file, for problems with the file as a whole (empty, too large, binary).
    pub fn file_start(file: &str) -> Origin {
        Origin {
            file: file.to_string(),
            line: 1,
            column: 1,
            width: 1,
            line_text: String::new(),
        }
    }
}

/// Everything that can go wrong in gitopsc. Boxed, so a `Result` stays one pointer wide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(Box<ErrorData>);

/// The parts of an [`Error`], read through `Deref`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorData {
    pub kind: ErrorKind,
    pub message: String,
    pub origin: Option<Origin>,
    pub path: Option<PathBuf>,
    pub help: Option<String>,
    /// Context such as the environment being compiled.
    pub note: Option<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl std::ops::Deref for Error {
    type Target = ErrorData;
    fn deref(&self) -> &ErrorData {
        &self.0
    }
}

impl Error {
    /// A mistake in a project file: the only way to build a user error.
    pub fn at(kind: ErrorKind, origin: Origin, message: impl Into<String>) -> Error {
        Error::new(ErrorData {
            kind,
            message: message.into(),
            origin: Some(origin),
            path: None,
            help: None,
            note: None,
        })
    }

    /// A failure reading or writing `path`.
    pub fn io(path: &Path, err: &std::io::Error) -> Error {
        Error::new(ErrorData {
            kind: ErrorKind::Io,
            message: format!("cannot access `{}`: {err}", path.display()),
            origin: None,
            path: Some(path.to_path_buf()),
            help: None,
            note: None,
        })
    }

    /// A failure of the outside world (git, usage) that has no place in a project file.
    pub fn plain(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error::new(ErrorData {
            kind,
            message: message.into(),
            origin: None,
            path: None,
            help: None,
            note: None,
        })
    }

    fn new(data: ErrorData) -> Error {
        Error(Box::new(data))
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Error {
        self.0.help = Some(help.into());
        self
    }

    /// Masks the value in the framed line (see [`Origin::mask_from_column`]).
    pub fn masking_secret(mut self) -> Error {
        if let Some(origin) = &mut self.0.origin {
            origin.mask_from_column();
        }
        self
    }

    /// Adds context, e.g. the environment being compiled (kept if already set).
    pub fn with_note(mut self, note: impl Into<String>) -> Error {
        if self.0.note.is_none() {
            self.0.note = Some(note.into());
        }
        self
    }

    /// The error framed for people: message, `--> file:line:col`, the line, a caret, the hint.
    pub fn render(&self) -> String {
        let mut out = format!("error[{}]: {}\n", self.kind.name(), self.message);
        if let Some(origin) = &self.origin {
            out.push_str(&render_origin(origin));
        } else if let Some(path) = &self.path {
            out.push_str(&format!("  --> {}\n", path.display()));
        }
        if let Some(note) = &self.note {
            out.push_str(&format!("  = note: {note}\n"));
        }
        if let Some(help) = &self.help {
            out.push_str(&format!("  = help: {help}\n"));
        }
        out
    }
}

fn render_origin(origin: &Origin) -> String {
    let number = origin.line.to_string();
    let gutter = " ".repeat(number.len());
    let mut out = format!(
        "{gutter}--> {}:{}:{}\n",
        origin.file, origin.line, origin.column
    );
    if origin.line_text.is_empty() {
        return out;
    }
    let (shown, column) = visible_window(&origin.line_text, origin.column);
    let caret_indent: String = shown
        .chars()
        .take(column.saturating_sub(1) as usize)
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    let available = shown.chars().count().saturating_sub(column as usize - 1);
    let width = (origin.width as usize).clamp(1, available.max(1));
    out.push_str(&format!("{gutter} |\n"));
    out.push_str(&format!("{number} | {shown}\n"));
    out.push_str(&format!("{gutter} | {caret_indent}{}\n", "^".repeat(width)));
    out
}

/// The part of a long line around `column`, and the column within it.
fn visible_window(line: &str, column: u32) -> (String, u32) {
    const BEFORE: usize = 60;
    let chars: Vec<char> = line.chars().collect();
    let col = column.max(1) as usize;
    if chars.len() <= 200 || col <= BEFORE + 1 {
        return (visible_line(line), column.max(1));
    }
    let start = col - 1 - BEFORE;
    let rest: String = chars[start..].iter().collect();
    let shown = format!("…{}", visible_line(&rest));
    (shown, (BEFORE + 2) as u32)
}

/// Long or binary lines are cut so a framed error stays readable.
fn visible_line(line: &str) -> String {
    const MAX: usize = 200;
    let cleaned: String = line
        .chars()
        .map(|c| if c.is_control() && c != '\t' { '?' } else { c })
        .collect();
    if cleaned.chars().count() > MAX {
        let cut: String = cleaned.chars().take(MAX).collect();
        format!("{cut}…")
    } else {
        cleaned
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.origin, &self.path) {
            (Some(o), _) => write!(f, "{}:{}:{}: {}", o.file, o.line, o.column, self.message),
            (None, Some(p)) => write!(f, "{}: {}", p.display(), self.message),
            (None, None) => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_points_a_caret_at_the_column() {
        let origin = Origin::in_text("blueprints/system.yaml", "a: 1\n  replicsa: 3\n", 2, 3, 8);
        let err = Error::at(ErrorKind::UnknownField, origin, "unknown field `replicsa`")
            .with_help("did you mean `replicas`?");
        assert_eq!(
            err.render(),
            "error[unknown-field]: unknown field `replicsa`\n \
             --> blueprints/system.yaml:2:3\n  |\n2 |   replicsa: 3\n  |   ^^^^^^^^\n  \
             = help: did you mean `replicas`?\n"
        );
    }

    #[test]
    fn display_is_one_line_with_location() {
        let origin = Origin::in_text("overlays/prod.yaml", "x\n", 1, 1, 1);
        let err = Error::at(ErrorKind::Syntax, origin, "bad");
        assert_eq!(err.to_string(), "overlays/prod.yaml:1:1: bad");
    }

    #[test]
    fn control_characters_do_not_reach_the_terminal() {
        assert_eq!(visible_line("a\u{1b}[31mb"), "a?[31mb");
    }
}

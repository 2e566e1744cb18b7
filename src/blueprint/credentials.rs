//! Literal values that look like credentials: refused before they reach Git.
//!
//! Every string of the resolved blueprint (overlays included) and every config
//! file it includes is checked for keys named like credentials that carry a
//! literal value, private-key blocks, well-known token formats and long
//! high-entropy strings. Secret references (`secrets:`), image digests and
//! waiver reasons are not literals and are skipped.

use serde_json::Value;

use super::locator::Locator;
use super::model::Blueprint;
use crate::error::{Error, ErrorKind, Origin, Result};
use crate::pointer;
use crate::sources::{BLUEPRINTS_DIR, SourceFile, Sources};

/// Why a value looks like a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    NamedLiteral(String),
    PrivateKey,
    Token(&'static str),
    HighEntropy,
}

impl Finding {
    fn describe(&self) -> String {
        match self {
            Finding::NamedLiteral(key) => {
                format!("`{key}` is given a literal value; it looks like a credential")
            }
            Finding::PrivateKey => "a private key block is written in plain text".to_string(),
            Finding::Token(kind) => format!("a literal looks like {kind}"),
            Finding::HighEntropy => {
                "a long random-looking literal looks like a credential".to_string()
            }
        }
    }
}

const HELP: &str = "keep credentials in the secret store and reference them: `secrets: {NAME: \"<store>:<path>#<key>\"}` (with `secretFiles` to mount them as files); charts take an `existingSecret`";

/// Checks the merged blueprint value and the config files it includes.
pub fn check(merged: &Value, bp: &Blueprint, locator: &Locator, sources: &Sources) -> Result<()> {
    walk(merged, "", None, locator)?;
    for app in bp.apps.values() {
        let Some(cfg) = &app.config else { continue };
        for path in cfg.files.values() {
            let file = format!("{BLUEPRINTS_DIR}/{}", path.trim_start_matches("./"));
            if let Some(SourceFile::Regular(bytes)) = sources.get(&file)
                && let Ok(text) = std::str::from_utf8(bytes)
            {
                check_file(&file, text)?;
            }
        }
    }
    Ok(())
}

/// Pointers whose strings are references or prose, not values.
fn exempt(pointer: &str) -> bool {
    let parts: Vec<&str> = pointer.split('/').collect();
    matches!(
        parts.as_slice(),
        ["", "apps", _, "secrets", ..] | ["", "apps", _, "image", ..] | ["", "secretStores", ..]
    ) || parts.contains(&"waivers")
}

fn walk(value: &Value, at: &str, key: Option<&str>, locator: &Locator) -> Result<()> {
    if exempt(at) {
        return Ok(());
    }
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                walk(v, &pointer::push(at, k), Some(k), locator)?;
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                walk(v, &pointer::push(at, &i.to_string()), key, locator)?;
            }
        }
        Value::String(s) => {
            if let Some(finding) = key
                .and_then(|k| named_literal(k, s))
                .or_else(|| scan_text(s))
            {
                return Err(locator
                    .error(ErrorKind::Secret, at, finding.describe())
                    .with_help(HELP));
            }
        }
        Value::Number(n) => {
            if let Some(finding) = key.and_then(|k| named_literal(k, &n.to_string())) {
                return Err(locator
                    .error(ErrorKind::Secret, at, finding.describe())
                    .with_help(HELP));
            }
        }
        _ => {}
    }
    Ok(())
}

fn check_file(file: &str, text: &str) -> Result<()> {
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('#') || trimmed.starts_with(';') || trimmed.starts_with("//") {
            continue;
        }
        let assignment = line.split_once('=').or_else(|| line.split_once(':'));
        let finding = assignment
            .and_then(|(k, v)| {
                named_literal(k.trim(), v.trim().trim_matches(|c| c == '"' || c == '\''))
            })
            .or_else(|| scan_text(line));
        if let Some(finding) = finding {
            let column = line.len() - trimmed.len() + 1;
            let origin = Origin::in_text(
                file,
                text,
                n as u32 + 1,
                column as u32,
                trimmed.chars().count() as u32,
            );
            return Err(Error::at(
                ErrorKind::Secret,
                origin,
                format!("in a config file, {}", finding.describe()),
            )
            .with_help(HELP));
        }
    }
    Ok(())
}

/// A key named like a credential with a literal (not empty, not a reference) value.
pub fn named_literal(key: &str, value: &str) -> Option<Finding> {
    let norm: String = key
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    const CREDENTIAL: [&str; 13] = [
        "password",
        "passwd",
        "passphrase",
        "secret",
        "token",
        "apikey",
        "accesskey",
        "secretkey",
        "privatekey",
        "clientsecret",
        "credential",
        "credentials",
        "pwd",
    ];
    const NOT_A_VALUE: [&str; 10] = [
        "name", "ref", "file", "path", "type", "enabled", "mode", "url", "id", "key",
    ];
    let named = CREDENTIAL.iter().any(|c| norm.ends_with(c))
        && !norm.starts_with("existing")
        && !(NOT_A_VALUE.iter().any(|s| norm.ends_with(s))
            && !norm.ends_with("apikey")
            && !norm.ends_with("accesskey")
            && !norm.ends_with("secretkey")
            && !norm.ends_with("privatekey"));
    let value = value.trim();
    let reference = value.is_empty()
        || value.starts_with("$(")
        || value.starts_with("${")
        || value.starts_with('/')
        || value.eq_ignore_ascii_case("true")
        || value.eq_ignore_ascii_case("false");
    (named && !reference).then(|| Finding::NamedLiteral(key.to_string()))
}

/// Private keys, known token formats, long high-entropy words.
pub fn scan_text(text: &str) -> Option<Finding> {
    if text.contains("-----BEGIN") && text.contains("PRIVATE KEY") {
        return Some(Finding::PrivateKey);
    }
    let words = text.split(|c: char| !(c.is_ascii_alphanumeric() || "+/=_-.".contains(c)));
    let mut previous = "";
    for word in words {
        let token = word.trim_matches('.');
        if let Some(kind) = token_format(token) {
            return Some(Finding::Token(kind));
        }
        if !previous.ends_with("sha256") && !previous.ends_with("sha512") && high_entropy(token) {
            return Some(Finding::HighEntropy);
        }
        previous = word;
    }
    None
}

fn rest_is(s: &str, min: usize, ok: impl Fn(char) -> bool) -> bool {
    s.len() >= min && s.chars().all(ok)
}

fn token_format(word: &str) -> Option<&'static str> {
    let alnum = |c: char| c.is_ascii_alphanumeric();
    let b64url = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    for prefix in ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"] {
        if let Some(rest) = word.strip_prefix(prefix)
            && rest_is(rest, 36, alnum)
        {
            return Some("a GitHub token");
        }
    }
    if word
        .strip_prefix("github_pat_")
        .is_some_and(|r| rest_is(r, 22, b64url))
    {
        return Some("a GitHub token");
    }
    if (word.starts_with("AKIA") || word.starts_with("ASIA"))
        && word.len() == 20
        && word
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        return Some("an AWS access key");
    }
    if ["xoxb-", "xoxa-", "xoxp-", "xoxr-", "xoxs-"]
        .iter()
        .any(|p| word.starts_with(p))
        && word.len() > 15
    {
        return Some("a Slack token");
    }
    if ["sk_live_", "rk_live_"]
        .iter()
        .any(|p| word.strip_prefix(p).is_some_and(|r| rest_is(r, 20, alnum)))
    {
        return Some("a Stripe key");
    }
    if word
        .strip_prefix("AIza")
        .is_some_and(|r| rest_is(r, 35, b64url))
    {
        return Some("a Google API key");
    }
    if word
        .strip_prefix("glpat-")
        .is_some_and(|r| rest_is(r, 20, b64url))
    {
        return Some("a GitLab token");
    }
    let parts: Vec<&str> = word.split('.').collect();
    if parts.len() == 3
        && parts[0].starts_with("eyJ")
        && parts[1].starts_with("eyJ")
        && parts.iter().all(|p| rest_is(p, 10, b64url))
    {
        return Some("a JSON Web Token");
    }
    None
}

/// At least 32 characters mixing upper case, lower case and digits, with
/// more than 4.2 bits of entropy per character: random, not a word or a hash.
fn high_entropy(word: &str) -> bool {
    if word.len() < 32 || word.contains('/') && word.matches('/').count() > 1 {
        return false;
    }
    let upper = word.chars().any(|c| c.is_ascii_uppercase());
    let lower = word.chars().any(|c| c.is_ascii_lowercase());
    let digit = word.chars().any(|c| c.is_ascii_digit());
    if !(upper && lower && digit) {
        return false;
    }
    let mut counts = [0usize; 128];
    for b in word.bytes() {
        counts[usize::from(b & 0x7f)] += 1;
    }
    let len = word.len() as f64;
    let entropy: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / len;
            -p * p.log2()
        })
        .sum();
    entropy > 4.2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_credentials_with_literals() {
        assert!(named_literal("DB_PASSWORD", "hunter2").is_some());
        assert!(named_literal("adminPassword", "admin").is_some());
        assert!(named_literal("STRIPE_API_KEY", "abc").is_some());
        assert!(named_literal("JWT_SECRET", "x").is_some());
        assert!(named_literal("DB_PASSWORD_FILE", "/run/secrets/db").is_none());
        assert!(named_literal("existingSecret", "grafana-admin").is_none());
        assert!(named_literal("secretName", "tls").is_none());
        assert!(named_literal("tokenSecretRef", "x").is_none());
        assert!(named_literal("DB_PASSWORD", "").is_none());
        assert!(named_literal("DB_PASSWORD", "$(PASSWORD)").is_none());
        assert!(named_literal("LOG_LEVEL", "info").is_none());
    }

    #[test]
    fn token_formats_and_keys() {
        assert_eq!(
            scan_text("ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
            Some(Finding::Token("a GitHub token"))
        );
        assert_eq!(
            scan_text("key AKIAIOSFODNN7EXAMPLE here"),
            Some(Finding::Token("an AWS access key"))
        );
        assert_eq!(
            scan_text("-----BEGIN OPENSSH PRIVATE KEY-----\nabc"),
            Some(Finding::PrivateKey)
        );
        assert_eq!(
            scan_text(
                "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
            ),
            Some(Finding::Token("a JSON Web Token"))
        );
    }

    #[test]
    fn entropy_flags_random_but_not_hashes_or_prose() {
        assert_eq!(
            scan_text("Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MEFCQ0RFRkdISUpLTE1O"),
            Some(Finding::HighEntropy)
        );
        assert_eq!(
            scan_text("sha256:3383c9325e7082787c914fc05dfe5a1523f8889b7cc6d535bc64e1a230dcf3e5"),
            None
        );
        assert_eq!(
            scan_text("https://raw.githubusercontent.com/datreeio/CRDs-catalog/main"),
            None
        );
        assert_eq!(
            scan_text("AdonisJS reads its configuration from the environment"),
            None
        );
        assert_eq!(scan_text("app.kubernetes.io/managed-by"), None);
    }
}

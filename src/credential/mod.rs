//! What a credential looks like: pure detectors shared by the early check on
//! the blueprint (`blueprint::credentials`, best messages) and the final check
//! on the output (`verify::credentials`, the guarantee).
//!
//! A value is a credential when its key names one and it holds a literal, when
//! it carries a known token format, a private key block, a URL with a password,
//! an HTTP `Basic`/`Bearer` header, a long hex or high-entropy word, or base64
//! that decodes to any of these. Nothing here knows where a value came from.

mod formats;
mod memo;
mod names;

pub use formats::base64_decode;
use formats::{hex_key, high_entropy, token_format};
pub use names::names_credential;

/// The waiver prefix that names a key whose values are not credentials
/// (`credential:existingSecretPasswordKey`).
pub const WAIVER_PREFIX: &str = "credential:";

/// Why a value looks like a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    NamedLiteral(String),
    PrivateKey,
    Token(&'static str),
    UrlPassword,
    AuthHeader,
    HexKey,
    HighEntropy,
    Encoded(Box<Finding>),
}

impl Finding {
    pub fn describe(&self) -> String {
        match self {
            Finding::NamedLiteral(key) => {
                format!("`{key}` is given a literal value; it looks like a credential")
            }
            Finding::PrivateKey => "a private key block is written in plain text".to_string(),
            Finding::Token(kind) => format!("a literal looks like {kind}"),
            Finding::UrlPassword => "a URL carries a password in its user info".to_string(),
            Finding::AuthHeader => "a literal HTTP authorization header".to_string(),
            Finding::HexKey => "a long hexadecimal literal looks like a key".to_string(),
            Finding::HighEntropy => {
                "a long random-looking literal looks like a credential".to_string()
            }
            Finding::Encoded(inner) => format!("base64 that decodes to: {}", inner.describe()),
        }
    }
}

/// A value shown without giving it away: its first two characters, then stars.
pub fn mask(value: &str) -> String {
    let shown: String = value.chars().take(2).collect();
    format!("{shown}*****")
}

/// A key named like a credential with a literal (not empty, not a reference) value.
pub fn named_literal(key: &str, value: &str) -> Option<Finding> {
    (names_credential(key) && !is_reference(value)).then(|| Finding::NamedLiteral(key.to_string()))
}

/// A value that points at a credential instead of being one.
fn is_reference(value: &str) -> bool {
    let value = value.trim();
    value.is_empty()
        || value.starts_with("$(")
        || value.starts_with("${")
        || value.starts_with('/')
        || ["true", "false", "none", "null", "required", "optional"]
            .iter()
            .any(|w| value.eq_ignore_ascii_case(w))
}

/// One line of a config file (INI, properties, `key: value`): comments skip,
/// an assignment is judged by its key and value, anything else by its text.
pub fn scan_line(line: &str) -> Option<Finding> {
    let trimmed = line.trim_start();
    if trimmed.starts_with('#') || trimmed.starts_with(';') || trimmed.starts_with("//") {
        return None;
    }
    let assignment = line.split_once('=').or_else(|| line.split_once(':'));
    assignment
        .and_then(|(k, v)| {
            named_literal(k.trim(), v.trim().trim_matches(|c| c == '"' || c == '\''))
        })
        .or_else(|| scan_text(line))
}

/// Private keys, known token formats, URL passwords, auth headers, random words.
pub fn scan_text(text: &str) -> Option<Finding> {
    thread_local! {
        static CLEAN: memo::Table<memo::Clean> = memo::table();
    }
    memo::recall(
        &CLEAN,
        text,
        |text| scan_text_depth(text, 0),
        |finding| finding.is_none().then_some(memo::Clean),
        |memo::Clean| None,
    )
}

/// The fewest characters any word detector (token formats, hex keys, high
/// entropy, base64) fires on: a Slack token's prefix and eleven more. A word,
/// or a whole text, shorter than this is judged by the other tests alone.
const MIN_TOKEN: usize = 16;

fn scan_text_depth(text: &str, depth: u8) -> Option<Finding> {
    // Every string of every object comes through here, most of them short
    // names and labels: the cheap tests that rule a check out come first.
    const PRIVATE_KEY_MIN: usize = "-----BEGIN".len() + "PRIVATE KEY".len();
    if text.len() >= PRIVATE_KEY_MIN && text.contains("-----BEGIN") && text.contains("PRIVATE KEY")
    {
        return Some(Finding::PrivateKey);
    }
    if text.contains(':') && url_password(text) {
        return Some(Finding::UrlPassword);
    }
    if has_whitespace(text) && auth_header(text) {
        return Some(Finding::AuthHeader);
    }
    // No word detector fires on fewer characters: most strings end here.
    if text.len() < MIN_TOKEN {
        return None;
    }
    let mut previous = "";
    let word_char =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '_' | '-' | '.');
    for word in text.split(|c: char| !word_char(c)) {
        // `--key=AKIA...` and `token=...`: the value after `=` is a word of its own,
        // while base64 padding (`=` at the end) stays part of its word.
        for part in split_assignments(word) {
            let token = part.trim_matches('.');
            if token.len() < MIN_TOKEN {
                continue;
            }
            if let Some(kind) = token_format(token) {
                return Some(Finding::Token(kind));
            }
            let after_digest = previous.ends_with("sha256") || previous.ends_with("sha512");
            if !after_digest && hex_key(token) {
                return Some(Finding::HexKey);
            }
            if !after_digest && high_entropy(token) {
                return Some(Finding::HighEntropy);
            }
            if depth == 0
                && let Some(inner) = decoded_finding(token, depth)
            {
                return Some(Finding::Encoded(Box::new(inner)));
            }
        }
        previous = word;
    }
    None
}

/// The parts of `word` between `=` signs, the trailing padding (`==`) kept
/// on the last part.
fn split_assignments(word: &str) -> impl Iterator<Item = &str> {
    let body = word.trim_end_matches('=');
    let (leading, last) = match body.rfind('=') {
        Some(i) => (Some(&body[..i]), &word[i + 1..]),
        None => (None, word),
    };
    leading
        .into_iter()
        .flat_map(|l| l.split('='))
        .chain(std::iter::once(last))
}

/// `scheme://user:password@host`, with a password that is not a placeholder.
fn url_password(text: &str) -> bool {
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let after = &rest[at + 3..];
        let authority_end = after
            .find(|c: char| c == '/' || c == '?' || c == '#' || c.is_whitespace())
            .unwrap_or(after.len());
        let authority = &after[..authority_end];
        if let Some((userinfo, _host)) = authority.rsplit_once('@')
            && let Some((_user, password)) = userinfo.split_once(':')
            && !password.is_empty()
            && !is_reference(password)
            && !password.starts_with('$')
        {
            return true;
        }
        rest = after;
    }
    false
}

/// Whether `text` has a character `split_whitespace` splits at; a byte scan
/// for ASCII text.
fn has_whitespace(text: &str) -> bool {
    if text.is_ascii() {
        // `char::is_whitespace` on ASCII: space, tab, line feed, vertical tab, form feed, return.
        text.bytes()
            .any(|b| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
    } else {
        text.chars().any(char::is_whitespace)
    }
}

/// `Basic <base64 of user:password>` or `Bearer <token>`.
fn auth_header(text: &str) -> bool {
    let words = text.split_whitespace();
    words
        .clone()
        .zip(words.skip(1))
        .any(|(scheme, credential)| {
            let scheme = scheme.trim_start_matches(['"', '\'']);
            let credential = credential.trim_end_matches(['"', '\'', ',', ';']);
            if scheme.eq_ignore_ascii_case("basic") {
                base64_decode(credential)
                    .and_then(|b| String::from_utf8(b).ok())
                    .is_some_and(|s| s.contains(':'))
            } else if scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token")
            {
                credential.len() >= 16 && !credential.starts_with('$')
            } else {
                false
            }
        })
}

/// Base64 of at least 16 characters that decodes to text holding a credential.
fn decoded_finding(word: &str, depth: u8) -> Option<Finding> {
    if word.len() < MIN_TOKEN {
        return None;
    }
    let bytes = base64_decode(word)?;
    let text = String::from_utf8(bytes).ok()?;
    if !text.chars().all(|c| !c.is_control() || c.is_whitespace()) {
        return None;
    }
    if let Some((key, value)) = text.split_once(['=', ':'])
        && let Some(found) = named_literal(key.trim(), value.trim())
    {
        return Some(found);
    }
    scan_text_depth(&text, depth + 1)
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
        assert!(named_literal("DB_PASS", "hunter2").is_some());
        assert!(named_literal("AUTH", "hunter2").is_some());
        assert!(named_literal("SENTRY_DSN", "https://k@o1.ingest/1").is_some());
        assert!(named_literal("DB_PASSWORD_PLAIN", "hunter2").is_some());
        assert!(named_literal("DB_PASSWORD_FILE", "/run/secrets/db").is_none());
        assert!(named_literal("existingSecret", "grafana-admin").is_none());
        assert!(named_literal("existingSecretPasswordKey", "password").is_none());
        assert!(named_literal("secretName", "tls").is_none());
        assert!(named_literal("tokenSecretRef", "x").is_none());
        assert!(named_literal("DB_PASSWORD", "").is_none());
        assert!(named_literal("DB_PASSWORD", "$(PASSWORD)").is_none());
        assert!(named_literal("LOG_LEVEL", "info").is_none());
        assert!(named_literal("AUTH_ENABLED", "yes").is_none());
    }

    #[test]
    fn assignments_split_with_the_padding_kept_last() {
        let parts = |w| split_assignments(w).collect::<Vec<_>>();
        assert_eq!(parts("--key=AKIA=x=="), ["--key", "AKIA", "x=="]);
        assert_eq!(parts("=c"), ["", "c"]);
        assert_eq!(parts("abc=="), ["abc=="]);
        assert_eq!(parts("==="), ["==="]);
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
            scan_text("--key=AKIAIOSFODNN7EXAMPLE"),
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
    fn urls_headers_hex_and_base64() {
        assert_eq!(
            scan_text("postgres://app:hunter2@db/x"),
            Some(Finding::UrlPassword)
        );
        assert_eq!(
            scan_text("https://user:tok@github.com/o/r.git"),
            Some(Finding::UrlPassword)
        );
        assert_eq!(scan_text("postgres://app@db/x"), None);
        assert_eq!(scan_text("postgres://app:$(DB_PASSWORD)@db/x"), None);
        assert_eq!(
            scan_text("Authorization: Basic YWRtaW46aHVudGVyMg=="),
            Some(Finding::AuthHeader)
        );
        assert_eq!(
            scan_text(&"a1b2".repeat(16)),
            Some(Finding::HexKey),
            "64 hex digits"
        );
        assert_eq!(scan_text("2cc111cb7b170bf09735f413df49f357c64ce56b"), None);
        // "password=hunter2" in base64
        assert!(matches!(
            scan_text("cGFzc3dvcmQ9aHVudGVyMg=="),
            Some(Finding::Encoded(_))
        ));
        assert_eq!(mask("hunter2"), "hu*****");
    }

    #[test]
    fn no_word_detector_fires_below_the_shortest_token() {
        // The scan skips words shorter than `MIN_TOKEN` unjudged: that holds
        // only while no detector flags a shorter word. The shortest flagged
        // is a Slack token, `xoxb-` and eleven more.
        assert_eq!(token_format("xoxb-0123456789a"), Some("a Slack token"));
        assert_eq!(
            scan_text("xoxb-0123456789a"),
            Some(Finding::Token("a Slack token"))
        );
        let flagged = [
            "xoxb-0123456789abcdef",
            "AKIAIOSFODNN7EXAMPLE",
            "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            "github_pat_abcdefghijklmnopqrstuvwx",
            "sk_live_abcdefghijklmnopqrst",
            "glpat-abcdefghijklmnopqrst",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
            "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MEFCQ0RFRkdISUpLTE1O",
            "cGFzc3dvcmQ9aHVudGVyMg==",
            "cGFzcz14",
        ];
        for word in flagged {
            for len in 1..MIN_TOKEN.min(word.len() + 1) {
                for piece in [&word[..len], &word[word.len() - len..]] {
                    assert_eq!(token_format(piece), None, "{piece}");
                    assert!(!hex_key(piece) && !high_entropy(piece), "{piece}");
                    assert_eq!(decoded_finding(piece, 0), None, "{piece}");
                }
            }
        }
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
        assert_eq!(scan_text("configtree:/run/secrets/api/"), None);
    }

    #[test]
    fn a_remembered_verdict_is_the_scans_at_every_asking() {
        let texts = [
            "",
            "app",
            "app.kubernetes.io/managed-by",
            "postgres://app:hunter2@db/x",
            "postgres://app@db/x",
            "Authorization: Basic YWRtaW46aHVudGVyMg==",
            "AKIAIOSFODNN7EXAMPLE",
            "xoxb-0123456789a",
            "cGFzc3dvcmQ9aHVudGVyMg==",
            "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MEFCQ0RFRkdISUpLTE1O",
            "sha256:3383c9325e7082787c914fc05dfe5a1523f8889b7cc6d535bc64e1a230dcf3e5",
            "-----BEGIN RSA PRIVATE KEY-----",
        ];
        let padded: Vec<String> = texts
            .iter()
            .flat_map(|t| {
                // Each text at, and one past, the longest the memo keeps.
                let pad = |n: usize| format!("{t}{}", " x".repeat(n.saturating_sub(t.len()) / 2));
                [pad(memo::MAX_LEN), pad(memo::MAX_LEN + 2)]
            })
            .collect();
        let all = texts
            .iter()
            .copied()
            .chain(padded.iter().map(String::as_str));
        for text in all {
            let direct = scan_text_depth(text, 0);
            for asking in 0..3 {
                assert_eq!(
                    scan_text(text),
                    direct,
                    "{text:?}, asked {asking} times before"
                );
            }
        }
        assert!(scan_text("AKIAIOSFODNN7EXAMPLE").is_some());
        assert!(scan_text("postgres://app:hunter2@db/x").is_some());
    }
}

//! What a credential's text looks like on its own: base64, the known token
//! formats (GitHub, AWS, Slack, Stripe, Google, GitLab, JWT), long hex keys
//! and high-entropy words.

/// Standard or URL-safe base64, padded or not; `None` unless every character fits.
pub fn base64_decode(word: &str) -> Option<Vec<u8>> {
    let body = word.trim_end_matches('=');
    if word.len() - body.len() > 2 || body.len() % 4 == 1 {
        return None;
    }
    // Most words fail on a character: refuse them before allocating.
    let alphabet = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'/' | b'_');
    if !body.bytes().all(alphabet) {
        return None;
    }
    let mut bits: u32 = 0;
    let mut count = 0;
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    for c in body.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(v);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    Some(out)
}

fn rest_is(s: &str, min: usize, ok: impl Fn(char) -> bool) -> bool {
    s.len() >= min && s.chars().all(ok)
}

pub(super) fn token_format(word: &str) -> Option<&'static str> {
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
    if ["sk_live_", "rk_live_", "sk_test_"]
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
    if word
        .strip_prefix("sk-")
        .is_some_and(|r| rest_is(r, 32, b64url))
    {
        return Some("an API secret key");
    }
    let mut parts = word.split('.');
    if let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
        && header.starts_with("eyJ")
        && payload.starts_with("eyJ")
        && [header, payload, signature]
            .iter()
            .all(|p| rest_is(p, 10, b64url))
    {
        return Some("a JSON Web Token");
    }
    None
}

/// 64 or more hex digits: a raw key (git commit IDs are 40 and pass).
pub(super) fn hex_key(word: &str) -> bool {
    word.len() >= 64 && word.chars().all(|c| c.is_ascii_hexdigit())
}

/// At least 32 characters mixing upper case, lower case and digits, with
/// more than 4.2 bits of entropy per character: random, not a word or a hash.
pub(super) fn high_entropy(word: &str) -> bool {
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

//! Whether a key's name says it holds a credential: the word lists and the
//! one question asked of every keyed value of every object.

/// Key names that mean "this holds a credential" wherever they appear in the key.
const CONTAINED: [&str; 3] = ["password", "passwd", "passphrase"];
/// Key names that mean a credential as the key's last word.
const ENDING: [&str; 16] = [
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
    "pass",
    "auth",
    "dsn",
    "connectionstring",
    "signingkey",
    "encryptionkey",
];
/// Whether a byte ends one of the `ENDING` words: most keys (`name`,
/// `image`, `replicas`) end in none, and skip comparing with each.
const ENDING_LAST: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < ENDING.len() {
        let word = ENDING[i].as_bytes();
        table[word[word.len() - 1] as usize] = true;
        i += 1;
    }
    table
};
/// Endings that make a credential-named key hold a name or switch, not a value.
const NOT_A_VALUE: [&str; 12] = [
    "name",
    "ref",
    "file",
    "path",
    "type",
    "enabled",
    "mode",
    "url",
    "id",
    "key",
    "keys",
    "secretref",
];
/// Endings of `NOT_A_VALUE` that are credentials after all.
const KEY_IS_VALUE: [&str; 6] = [
    "apikey",
    "accesskey",
    "secretkey",
    "privatekey",
    "signingkey",
    "encryptionkey",
];

/// Whether a key's name says it holds a credential (`DB_PASSWORD`, `apiKey`),
/// not the name of one or a switch (`passwordFile`, `tokenSecretRef`).
pub fn names_credential(key: &str) -> bool {
    thread_local! {
        static NAMES: super::memo::Table<bool> = super::memo::table();
    }
    super::memo::recall(&NAMES, key, judge_name, |&named| Some(named), |named| named)
}

/// [`names_credential`], judged afresh.
fn judge_name(key: &str) -> bool {
    // Its ASCII letters and digits, lowercased, as bytes. On the stack: the
    // final check asks this for every keyed value of every object.
    const STACK: usize = 128;
    let mut buf = [0u8; STACK];
    let owned: Vec<u8>;
    let norm: &[u8] = if key.len() <= STACK {
        let mut len = 0;
        for b in key.bytes().filter(u8::is_ascii_alphanumeric) {
            buf[len] = b.to_ascii_lowercase();
            len += 1;
        }
        &buf[..len]
    } else {
        owned = key
            .bytes()
            .filter(u8::is_ascii_alphanumeric)
            .map(|b| b.to_ascii_lowercase())
            .collect();
        &owned
    };
    let ends = |word: &str| norm.ends_with(word.as_bytes());
    // A scan of a short key's windows costs less than setting up a
    // substring search.
    let holds = |word: &str| norm.windows(word.len()).any(|w| w == word.as_bytes());
    let ends_like_one = norm.last().is_some_and(|&b| ENDING_LAST[usize::from(b)]);
    // Every word of `CONTAINED` holds "pass": one search rules them all out
    // for most keys.
    let credential_word = (ends_like_one && ENDING.iter().any(|w| ends(w)))
        || (holds("pass") && CONTAINED.iter().any(|w| holds(w)));
    let names_something =
        || NOT_A_VALUE.iter().any(|w| ends(w)) && !KEY_IS_VALUE.iter().any(|w| ends(w));
    credential_word
        && !norm.starts_with(b"existing")
        && !names_something()
        && !ends("oauth")
        && !ends("bypass")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, spelled plainly: what the fast paths must answer.
    fn plainly(key: &str) -> bool {
        let norm: String = key
            .bytes()
            .filter(u8::is_ascii_alphanumeric)
            .map(|b| char::from(b.to_ascii_lowercase()))
            .collect();
        let credential_word =
            ENDING.iter().any(|c| norm.ends_with(c)) || CONTAINED.iter().any(|c| norm.contains(c));
        let names_something = NOT_A_VALUE.iter().any(|s| norm.ends_with(s))
            && !KEY_IS_VALUE.iter().any(|s| norm.ends_with(s));
        credential_word
            && !norm.starts_with("existing")
            && !names_something
            && !norm.ends_with("oauth")
            && !norm.ends_with("bypass")
    }

    #[test]
    fn every_word_in_every_spelling_is_judged_as_the_definition_says() {
        let words = CONTAINED
            .iter()
            .chain(&ENDING)
            .chain(&NOT_A_VALUE)
            .chain(&KEY_IS_VALUE)
            .chain(&["oauth", "bypass", "existing", "pas", "image", "", "x"]);
        let around = ["", "db_", "X-", "existing", "my.", "pass", "9"];
        let after = ["", "_name", "File", "s", "Ref", "x", "_KEY", "-", "\u{e9}"];
        let mut judged = 0;
        for word in words {
            for spelled in [word.to_string(), word.to_uppercase()] {
                for before in around {
                    for end in after {
                        let key = format!("{before}{spelled}{end}");
                        assert_eq!(names_credential(&key), plainly(&key), "{key:?}");
                        // Asked again, the memo answers.
                        assert_eq!(names_credential(&key), plainly(&key), "{key:?}");
                        judged += 1;
                    }
                }
            }
        }
        let long = format!("{}password", "a".repeat(200));
        assert_eq!(names_credential(&long), plainly(&long));
        assert!(judged > 2000 && names_credential("DB_PASSWORD") && !names_credential("name"));
    }
}

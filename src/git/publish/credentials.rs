//! Credentials in a target URL: split off before the URL is used or shown,
//! handed to libgit2's credential callback for the run only, and redacted
//! from every message.

/// `https://user:token@host/x` as `https://host/x` and `(user, token)`.
pub fn split_credentials(url: &str) -> (String, Option<(String, String)>) {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return (url.to_string(), None);
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return (url.to_string(), None);
    };
    let userinfo = &rest[..at];
    let Some((user, secret)) = userinfo.split_once(':') else {
        // `ssh://git@host`: a user name only, nothing secret.
        return (url.to_string(), None);
    };
    let clean = format!("{}{}@{}", &url[..scheme_end], user, &rest[at + 1..]);
    let clean = if user.is_empty() {
        format!("{}{}", &url[..scheme_end], &rest[at + 1..])
    } else {
        clean
    };
    (clean, Some((user.to_string(), secret.to_string())))
}

/// A URL fit for messages: any password or token in it replaced by `*****`.
pub fn redact_url(url: &str) -> String {
    match split_credentials(url) {
        (clean, Some(_)) => match clean.find("://") {
            Some(i)
                if clean[i + 3..]
                    .split('/')
                    .next()
                    .is_some_and(|a| a.contains('@')) =>
            {
                clean.replacen('@', ":*****@", 1)
            }
            Some(i) => format!("{}*****@{}", &clean[..i + 3], &clean[i + 3..]),
            None => clean,
        },
        (clean, None) => clean,
    }
}

thread_local! {
    /// Credentials taken from the target URL, for this thread's pushes and fetches only.
    pub(super) static URL_CREDENTIALS: std::cell::RefCell<Option<(String, String)>> = const { std::cell::RefCell::new(None) };
}

/// Holds the URL's credentials while a publish runs; clears them when dropped.
pub(super) struct UrlCredentials;

impl UrlCredentials {
    pub(super) fn set(userinfo: Option<(String, String)>) -> UrlCredentials {
        URL_CREDENTIALS.with(|c| *c.borrow_mut() = userinfo);
        UrlCredentials
    }
}

impl Drop for UrlCredentials {
    fn drop(&mut self) {
        URL_CREDENTIALS.with(|c| *c.borrow_mut() = None);
    }
}

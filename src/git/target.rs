//! Checks on where a publish writes, made before anything is fetched or
//! written: branch names by git's own rules, the directory inside the
//! GitOps repository, the source repository as its own target, and a token
//! that would travel over plain HTTP.

use std::path::{Path, PathBuf};

use git2::{Reference, Repository};

use super::Checkout;
use super::publish::{Target, origin_url};
use crate::error::{Error, ErrorKind, Result};

/// The environment variable holding the HTTPS token.
pub const TOKEN_VAR: &str = "GITOPSC_GIT_TOKEN";

/// Refuses a branch name git would refuse. `git check-ref-format --branch`
/// also refuses `HEAD` and a leading `-`, which libgit2 alone accepts.
pub fn check_branch(branch: &str, from: &str) -> Result<()> {
    let valid = branch != "HEAD"
        && !branch.starts_with('-')
        && Reference::is_valid_name(&format!("refs/heads/{branch}"));
    if valid {
        return Ok(());
    }
    Err(Error::plain(
        ErrorKind::Usage,
        format!("`{branch}` ({from}) is not a valid branch name"),
    )
    .with_help(
        "git refuses `HEAD`, a leading `-`, `..`, spaces, `~^:?*[\\`, and a trailing `.lock` or `/`; \
         see `git check-ref-format --branch`",
    ))
}

/// Refuses a directory that is absolute, empty, or steps out of (or into the
/// `.git` of) the GitOps repository: the path names a directory gitopsc owns there.
pub fn check_path(path: &str, from: &str) -> Result<()> {
    let bad_part = path
        .split('/')
        .find(|p| p.is_empty() || *p == "." || *p == ".." || p.eq_ignore_ascii_case(".git"));
    let why = if path.starts_with('/') {
        "is absolute"
    } else if path.contains('\\') {
        "contains a backslash"
    } else if bad_part.is_some() {
        "is empty or has an empty, `.`, `..` or `.git` part"
    } else {
        return Ok(());
    };
    Err(Error::plain(
        ErrorKind::Usage,
        format!("the path `{path}` ({from}) {why}"),
    )
    .with_help("name a directory relative to the GitOps repository's root, like `clusters`"))
}

/// Refuses to publish onto the branch the source itself is on, in the source
/// repository: the render would be committed over its own blueprints. Another
/// branch of the same repository is fine (Argo CD's source hydrator writes
/// hydrated manifests to a branch of the dry source's repository).
pub fn check_not_source(checkout: &Checkout, target: &Target, branches: &[String]) -> Result<()> {
    let Some(source_branch) = current_branch(&checkout.repo) else {
        return Ok(());
    };
    if !branches.contains(&source_branch) || !is_source(checkout, target) {
        return Ok(());
    }
    Err(Error::plain(
        ErrorKind::Usage,
        format!(
            "the target is the source repository, and `{source_branch}` is the branch its blueprints are on"
        ),
    )
    .with_help(
        "publish to the GitOps repository (--repo), or to another branch of this one (--branch or --layout branch)",
    ))
}

/// Refuses credentials (the token, or a `user:password@` in the URL) over
/// `http://`: they would cross the network in clear text.
pub fn check_transport(target: &Target, token_set: bool) -> Result<()> {
    match target {
        Target::Url(url) if is_plain_http(url) && (token_set || has_userinfo(url)) => {
            let what = if token_set {
                TOKEN_VAR
            } else {
                "the URL's credentials"
            };
            Err(Error::plain(
                ErrorKind::Usage,
                format!("refusing to send {what} over plain HTTP"),
            )
            .with_help("use the repository's https:// URL, or drop the credentials for an anonymous remote"))
        }
        _ => Ok(()),
    }
}

/// True when the URL's authority carries `user[:password]@`.
fn has_userinfo(url: &str) -> bool {
    url.split_once("://")
        .map(|(_, rest)| rest.split('/').next().unwrap_or(""))
        .is_some_and(|authority| authority.contains('@'))
}

/// True for an `http://` URL (any case), where credentials travel unencrypted.
pub fn is_plain_http(url: &str) -> bool {
    url.get(..7)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://"))
}

/// The branch HEAD is on, if it is on one.
fn current_branch(repo: &Repository) -> Option<String> {
    let head = repo.head().ok()?;
    if !head.is_branch() {
        return None;
    }
    head.shorthand().ok().map(str::to_string)
}

fn is_source(checkout: &Checkout, target: &Target) -> bool {
    let local = match target {
        Target::Local(path) => Some(path.clone()),
        Target::Url(url) => url.strip_prefix("file://").map(PathBuf::from),
    };
    match local {
        Some(path) => {
            git_dir(&path).is_some_and(|dir| Some(dir) == canonical(checkout.repo.path()))
        }
        None => match (target, origin_url(&checkout.repo)) {
            (Target::Url(url), Some(origin)) => same_url(url, &origin),
            _ => false,
        },
    }
}

fn git_dir(path: &Path) -> Option<PathBuf> {
    canonical(Repository::open(path).ok()?.path())
}

fn canonical(path: &Path) -> Option<PathBuf> {
    path.canonicalize().ok()
}

/// Two remote URLs naming one repository: credentials, case of the host part,
/// a trailing `/` and `.git` do not count.
fn same_url(a: &str, b: &str) -> bool {
    normal_url(a) == normal_url(b)
}

fn normal_url(url: &str) -> String {
    let without_user = match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url.to_string(),
    };
    let trimmed = without_user.trim_end_matches('/');
    let trimmed = trimmed.strip_suffix(".git").unwrap_or(trimmed);
    match trimmed.find("://") {
        Some(scheme) => {
            let rest = &trimmed[scheme + 3..];
            let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            format!(
                "{}{}{path}",
                trimmed[..scheme + 3].to_ascii_lowercase(),
                host.to_ascii_lowercase()
            )
        }
        None => trimmed.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_names_follow_git() {
        for good in ["main", "environments/prod", "release-1.2", "feature/x_y"] {
            assert!(check_branch(good, "test").is_ok(), "{good}");
        }
        for bad in [
            "HEAD", "-x", "a..b", "a b", "x.lock", "a/", "/a", "a~1", "a:b", "@{x", "",
        ] {
            assert!(check_branch(bad, "test").is_err(), "{bad}");
        }
    }

    #[test]
    fn paths_stay_inside_the_repository() {
        for good in ["clusters", "deploy/clusters", "a.b"] {
            assert!(check_path(good, "test").is_ok(), "{good}");
        }
        for bad in [
            "/abs",
            "",
            "a//b",
            "../up",
            "a/../../b",
            "./a",
            ".git",
            "a/.GIT/x",
            "a\\b",
        ] {
            assert!(check_path(bad, "test").is_err(), "{bad}");
        }
    }

    #[test]
    fn urls_compare_without_credentials_case_or_suffix() {
        assert!(same_url(
            "https://x-access-token:t@GitHub.com/acme/repo.git",
            "https://github.com/acme/repo/"
        ));
        assert!(!same_url(
            "https://github.com/acme/repo",
            "https://github.com/acme/other"
        ));
        assert!(!same_url(
            "https://github.com/Acme/repo",
            "https://github.com/acme/repo"
        ));
    }

    #[test]
    fn plain_http_is_told_from_https() {
        assert!(is_plain_http("http://git.example.com/r.git"));
        assert!(is_plain_http("HTTP://git.example.com/r.git"));
        assert!(!is_plain_http("https://git.example.com/r.git"));
        assert!(!is_plain_http("ssh://git@example.com/r.git"));
        assert!(has_userinfo("http://ci:t0ken@git.example.com/r.git"));
        assert!(!has_userinfo("http://git.example.com/a@b.git"));
        let anonymous = Target::Url("http://git.example.com/r.git".into());
        assert!(check_transport(&anonymous, false).is_ok());
        assert!(check_transport(&anonymous, true).is_err());
        let with_user = Target::Url("http://ci:t0ken@git.example.com/r.git".into());
        let err = check_transport(&with_user, false).unwrap_err();
        assert!(!err.message.contains("t0ken"), "{}", err.message);
    }
}

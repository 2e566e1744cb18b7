//! Where a render came from: the source commit (author, date, message) and
//! the origin URL that publish messages cite, and the RFC 3339 dates they use.

use super::*;

/// The commit a render came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceCommit {
    pub sha: String,
    pub author: String,
    /// Committer date, RFC 3339 with the committer's offset.
    pub date: String,
    pub subject: String,
    pub body: String,
}

pub fn source_commit(repo: &Repository, rev: &str) -> Result<SourceCommit> {
    let commit = repo
        .revparse_single(rev)
        .and_then(|o| o.peel_to_commit())
        .map_err(|e| git_error(&format!("cannot resolve source revision `{rev}`"), &e))?;
    let author = commit.author();
    let message = commit.message().unwrap_or_default();
    let (subject, body) = message.split_once('\n').unwrap_or((message, ""));
    let time = commit.committer().when();
    Ok(SourceCommit {
        sha: commit.id().to_string(),
        author: format!(
            "{} <{}>",
            author.name().unwrap_or_default(),
            author.email().unwrap_or_default()
        ),
        date: rfc3339(time.seconds(), time.offset_minutes()),
        subject: subject.trim().to_string(),
        body: body.trim().to_string(),
    })
}

/// The URL of `origin`, with any credentials removed, if the repository has one.
pub fn origin_url(repo: &Repository) -> Option<String> {
    let url = repo.find_remote("origin").ok()?.url().ok()?.to_string();
    Some(match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url,
    })
}

/// `seconds` since the epoch at `offset` minutes east, as RFC 3339.
pub fn rfc3339(seconds: i64, offset_minutes: i32) -> String {
    let local = seconds + i64::from(offset_minutes) * 60;
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let sign = if offset_minutes < 0 { '-' } else { '+' };
    let off = offset_minutes.unsigned_abs();
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}{sign}{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60,
        off / 60,
        off % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00+00:00");
        assert_eq!(rfc3339(1_795_000_000, 60), "2026-11-18T12:06:40+01:00");
        assert_eq!(rfc3339(951_782_400, -330), "2000-02-28T18:30:00-05:30");
    }
}

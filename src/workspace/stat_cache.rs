//! The stat cache: what `stat` said of every input and output file when a
//! tree was last found up to date, so `check` can vouch for an unchanged
//! project without reading it again.

use std::collections::HashSet;

use super::*;

/// What `stat` says of a file; any write to it changes `ctime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStat {
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
    ino: u64,
    dev: u64,
}

impl FileStat {
    fn of(path: &Path) -> Option<FileStat> {
        use std::os::unix::fs::MetadataExt;
        let m = fs::symlink_metadata(path).ok()?;
        m.is_file().then(|| FileStat {
            len: m.len(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
            ino: m.ino(),
            dev: m.dev(),
        })
    }

    /// Written in the same clock tick as the record that lists it, so a
    /// later write in that tick could leave every field as it was: such a
    /// file is read again, never vouched for by `stat` (git's "racy clean").
    fn racy(&self, record: &FileStat) -> bool {
        self.mtime >= record.mtime || self.ctime >= record.ctime
    }

    fn encode(&self) -> String {
        format!(
            "{} {} {} {} {} {} {}",
            self.len, self.mtime.0, self.mtime.1, self.ctime.0, self.ctime.1, self.ino, self.dev
        )
    }

    fn decode(text: &str) -> Option<FileStat> {
        let n: Vec<i128> = text
            .split(' ')
            .map(|p| p.parse().ok())
            .collect::<Option<_>>()?;
        let [len, ms, mn, cs, cn, ino, dev] = n.as_slice() else {
            return None;
        };
        Some(FileStat {
            len: *len as u64,
            mtime: (*ms as i64, *mn as i64),
            ctime: (*cs as i64, *cn as i64),
            ino: *ino as u64,
            dev: *dev as u64,
        })
    }
}

/// The local check cache of a `rendered` directory: in the user's cache, never in the project.
fn stat_cache_path(rendered: &Path) -> Option<PathBuf> {
    let base = user_cache_dir()?;
    let canonical = rendered.canonicalize().ok()?;
    let key = crate::sources::sha256_hex(canonical.to_string_lossy().as_bytes());
    Some(base.join("check").join(&key[..24]))
}

/// What a cached verdict depends on besides the files: the inputs and the
/// very binary that judged them (a rebuilt gitopsc may render differently
/// from the same inputs, so its verdict is not reused).
fn stat_cache_header(inputs: &str) -> String {
    format!("{STAT_RECORD_TAG}{} {inputs}", binary_identity())
}

/// The first word of every record, with the format's version.
const STAT_RECORD_TAG: &str = "gitopsc-check v2 ";

/// The tool version and what `stat` says of the running binary, without
/// spaces: a rebuilt gitopsc may render differently from the same inputs, so
/// nothing an older build cached is reused.
pub(super) fn binary_identity() -> String {
    let binary = std::env::current_exe()
        .ok()
        .and_then(|exe| FileStat::of(&exe))
        .map(|s| s.encode())
        .unwrap_or_default();
    format!(
        "{} {}",
        crate::tree::tool_version().replace(' ', "-"),
        binary.replace(' ', "-")
    )
}

/// What the stat record says of `rendered` now.
#[derive(Debug, Default)]
pub struct StatRecord {
    /// The record was taken for exactly these inputs and by this binary, and
    /// `stat` shows no owned file (nor the index) touched since.
    pub vouches_all: bool,
    /// The owned files `stat` shows untouched since the record was taken,
    /// with the index also untouched. Every file a record lists held, when
    /// it was taken, what the index says of it (the record is written only
    /// right after a tree was written or found fresh), so each of these
    /// still holds the content whose hash the index on disk gives, whatever
    /// the inputs are now.
    pub untouched: HashSet<String>,
}

/// Reads the stat record of `rendered` and compares it with `stat` now.
pub fn stat_record(rendered: &Path, inputs: &str) -> StatRecord {
    read_stat_record(rendered, inputs).unwrap_or_default()
}

fn read_stat_record(rendered: &Path, inputs: &str) -> Option<StatRecord> {
    let path = stat_cache_path(rendered)?;
    let text = fs::read_to_string(&path).ok()?;
    let recorded = FileStat::of(&path)?;
    let mut lines = text.lines();
    let header = lines.next()?;
    // The format's own tag, whatever binary wrote it: a file's stat says the
    // same of its content under any build.
    if !header.starts_with(STAT_RECORD_TAG) {
        return None;
    }
    let index_stat = lines.next().and_then(FileStat::decode)?;
    if FileStat::of(&rendered.join(INDEX_FILE)) != Some(index_stat) {
        return None;
    }
    let entries: Vec<(&str, &str)> = lines.filter_map(|l| l.split_once('\t')).collect();
    let verdicts: Vec<bool> = entries
        .par_iter()
        .map(|(stat, file)| {
            FileStat::decode(stat).is_some_and(|s| {
                !s.racy(&recorded) && FileStat::of(&rendered.join(file)) == Some(s)
            })
        })
        .collect();
    let vouches_all =
        !entries.is_empty() && verdicts.iter().all(|v| *v) && header == stat_cache_header(inputs);
    let untouched = entries
        .iter()
        .zip(&verdicts)
        .filter(|(_, untouched)| **untouched)
        .map(|((_, file), _)| file.to_string())
        .collect();
    Some(StatRecord {
        vouches_all,
        untouched,
    })
}

/// True when a check of exactly these inputs found `rendered` fresh and no
/// owned file (nor the index) has been touched since: `stat` alone decides.
pub fn stat_cache_vouches(rendered: &Path, inputs: &str) -> bool {
    stat_record(rendered, inputs).vouches_all
}

/// Records the stat data of `files` (owned, just verified fresh) for the next check.
pub fn stat_cache_record<'a>(
    rendered: &Path,
    inputs: &str,
    files: impl Iterator<Item = &'a String>,
) {
    let Some(path) = stat_cache_path(rendered) else {
        return;
    };
    let Some(index_stat) = FileStat::of(&rendered.join(INDEX_FILE)) else {
        return;
    };
    let files: Vec<&String> = files.collect();
    // In parallel: a render records tens of thousands of files.
    let stats: Option<Vec<FileStat>> = files
        .par_iter()
        .map(|file| FileStat::of(&rendered.join(file)))
        .collect();
    let Some(stats) = stats else {
        return;
    };
    let mut text = format!("{}\n{}\n", stat_cache_header(inputs), index_stat.encode());
    for (file, stat) in files.iter().zip(&stats) {
        text.push_str(&stat.encode());
        text.push('\t');
        text.push_str(file);
        text.push('\n');
    }
    // Best effort: without a cache the next check hashes the files instead.
    if let Some(dir) = path.parent()
        && fs::create_dir_all(dir).is_ok()
    {
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        if fs::write(&tmp, text).is_ok() {
            let _ = fs::rename(&tmp, &path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::FileStat;

    fn stat(mtime: (i64, i64), ctime: (i64, i64)) -> FileStat {
        FileStat {
            len: 10,
            mtime,
            ctime,
            ino: 1,
            dev: 1,
        }
    }

    #[test]
    fn a_file_from_the_records_own_tick_is_racy() {
        let record = stat((100, 500), (100, 600));
        assert!(
            !stat((100, 499), (100, 499)).racy(&record),
            "older: stat decides"
        );
        assert!(
            stat((100, 500), (100, 500)).racy(&record),
            "same mtime tick"
        );
        assert!(
            stat((100, 499), (100, 600)).racy(&record),
            "same ctime tick"
        );
        assert!(
            stat((101, 0), (101, 0)).racy(&record),
            "newer than the record"
        );
    }
}

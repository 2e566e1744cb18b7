//! The stat cache: what `stat` said of every input and output file when a
//! tree was last found up to date, so `check` can vouch for an unchanged
//! project without reading it again.

use std::collections::HashSet;
use std::time::SystemTime;

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
        at_or_after(self.mtime, record.mtime) || at_or_after(self.ctime, record.ctime)
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

/// Whether a file's timestamp `t` may be as late as `since`. The record lives
/// in the user's cache, maybe on another file system than `rendered/`: one
/// whose timestamps are coarser (FAT keeps 2 s, ext4 with small inodes and
/// some NFS servers 1 s) stores a write in a later part of the same second
/// as its start, so a timestamp on a whole millisecond counts as 2 s later.
fn at_or_after(t: (i64, i64), since: (i64, i64)) -> bool {
    let slack = if t.1 % 1_000_000 == 0 { 2 } else { 0 };
    (t.0.saturating_add(slack), t.1) >= since
}

/// `time` as `(seconds, nanoseconds)` since the epoch, moved back by the
/// tick a file system's coarse clock may lag the system's.
fn stamp_before(time: SystemTime) -> (i64, i64) {
    let lag = std::time::Duration::from_millis(20);
    let since = time
        .checked_sub(lag)
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .unwrap_or_default();
    (since.as_secs() as i64, i64::from(since.subsec_nanos()))
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
    let untouched: HashSet<String> = entries
        .par_iter()
        .filter(|(stat, file)| {
            FileStat::decode(stat).is_some_and(|s| {
                !s.racy(&recorded) && FileStat::of(&rendered.join(file)) == Some(s)
            })
        })
        .map(|(_, file)| file.to_string())
        .collect();
    // Each owned file is listed once, so all are untouched when as many are.
    let vouches_all = !entries.is_empty()
        && untouched.len() == entries.len()
        && header == stat_cache_header(inputs);
    Some(StatRecord {
        vouches_all,
        untouched,
    })
}

/// How the files of a record came to hold what the index says.
#[derive(Debug, Clone, Copy)]
pub enum Provenance<'a> {
    /// Read and found fresh (`check`): a change of either timestamp since
    /// their content was judged is suspect.
    Read,
    /// Written by a render, except those it `kept` from the old tree: those
    /// were judged, then hard-linked forward, which moves their ctime, so
    /// only their mtime tells.
    Rendered { kept: &'a BTreeSet<&'a str> },
}

impl Provenance<'_> {
    /// Whether `file` may have changed after its content was judged at `judged`.
    fn suspect(&self, file: &str, stat: &FileStat, judged: (i64, i64)) -> bool {
        match self {
            Provenance::Read => at_or_after(stat.mtime, judged) || at_or_after(stat.ctime, judged),
            Provenance::Rendered { kept } => kept.contains(file) && at_or_after(stat.mtime, judged),
        }
    }
}

/// Records the stat data of `files` (owned, just verified fresh) for the next
/// check. `verified_from` is when reading (or vouching for) their content
/// began: a file that may have changed since (see [`Provenance`]) is
/// recorded as unknown and read next time.
pub fn stat_cache_record<'a>(
    rendered: &Path,
    inputs: &str,
    files: impl Iterator<Item = &'a String>,
    verified_from: SystemTime,
    provenance: Provenance,
) {
    let Some(path) = stat_cache_path(rendered) else {
        return;
    };
    let files: Vec<&String> = files.collect();
    let Some(text) = record_text(rendered, inputs, &files, verified_from, provenance) else {
        return;
    };
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

/// The record of `files` as `stat` shows them now; `None` when one is gone.
fn record_text(
    rendered: &Path,
    inputs: &str,
    files: &[&String],
    verified_from: SystemTime,
    provenance: Provenance,
) -> Option<String> {
    let judged = stamp_before(verified_from);
    let index_stat = FileStat::of(&rendered.join(INDEX_FILE))?;
    // In parallel: a render records tens of thousands of files.
    let stats: Vec<FileStat> = files
        .par_iter()
        .map(|file| FileStat::of(&rendered.join(file)))
        .collect::<Option<_>>()?;
    let mut text = format!("{}\n{}\n", stat_cache_header(inputs), index_stat.encode());
    for (file, stat) in files.iter().zip(&stats) {
        if provenance.suspect(file, stat, judged) {
            // `decode` refuses it: never vouched for.
            text.push('-');
        } else {
            text.push_str(&stat.encode());
        }
        text.push('\t');
        text.push_str(file);
        text.push('\n');
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::{FileStat, Provenance, stamp_before};
    use std::time::SystemTime;

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
    fn a_coarse_timestamp_is_racy_for_two_seconds() {
        let record = stat((100, 500), (100, 600));
        // A whole second (FAT, small-inode ext4): written up to 2 s later, so
        // 99 s may share the record's tick, while 98 s ended before it.
        assert!(stat((99, 0), (99, 0)).racy(&record));
        assert!(!stat((98, 0), (98, 0)).racy(&record));
        // A fine timestamp a second older is older.
        assert!(!stat((99, 999), (99, 999)).racy(&record));
    }

    /// A file kept from the old tree and modified since its content was
    /// judged may hold an edit made after the judgement: never vouched for.
    /// One this run wrote itself is recorded.
    #[test]
    fn a_kept_file_modified_after_it_was_judged_is_recorded_unknown() {
        // Beside the test binary: inside the target directory, wherever it is.
        let deps = std::env::current_exe()
            .unwrap()
            .parent()
            .unwrap()
            .to_path_buf();
        let dir = tempfile::Builder::new()
            .prefix("stat-record-")
            .tempdir_in(deps)
            .unwrap();
        std::fs::write(dir.path().join(super::INDEX_FILE), "{}").unwrap();
        std::fs::write(dir.path().join("a.yaml"), "a").unwrap();
        let files = ["a.yaml".to_string()];
        let files: Vec<&String> = files.iter().collect();
        let long_ago = SystemTime::now() - std::time::Duration::from_secs(60);
        let later = SystemTime::now() + std::time::Duration::from_secs(60);
        let kept: std::collections::BTreeSet<&str> = ["a.yaml"].into();
        let written = std::collections::BTreeSet::new();
        let line = |judged, provenance| {
            let text = super::record_text(dir.path(), "i", &files, judged, provenance).unwrap();
            text.lines().nth(2).unwrap().to_string()
        };
        let vouches = |line: String| FileStat::decode(line.split('\t').next().unwrap()).is_some();
        let kept = Provenance::Rendered { kept: &kept };
        let written = Provenance::Rendered { kept: &written };
        assert_eq!(line(long_ago, kept), "-\ta.yaml");
        assert_eq!(line(long_ago, Provenance::Read), "-\ta.yaml");
        assert!(vouches(line(long_ago, written)));
        assert!(vouches(line(later, kept)));
        assert!(vouches(line(later, Provenance::Read)));
    }

    #[test]
    fn the_stamp_lags_the_clock() {
        let now = SystemTime::UNIX_EPOCH + std::time::Duration::new(100, 10_000_000);
        assert_eq!(stamp_before(now), (99, 990_000_000));
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

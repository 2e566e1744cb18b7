//! The environment cache on disk: one file per environment tree, named by
//! its [`crate::incremental::env_key`], under `gitopsc/envs/` in the user's
//! cache directory.
//!
//! An entry is never trusted: it opens with a format line and its own key,
//! holds the tree as an LZ4 frame, and closes with the length and checksum
//! of all before, so a truncated, corrupt
//! or foreign file is ignored (and the compile that follows rewrites it).
//! Entries are written to a temporary file and renamed into place, so a
//! concurrent run reads a whole entry or none. When the directory passes its
//! size bound the least recently used entries go. `GITOPSC_NO_CACHE` (any
//! value but empty or `0`) turns it off.

use std::fs;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use lz4_flex::frame::{BlockSize, FrameDecoder, FrameEncoder, FrameInfo};

use crate::EnvSelection;
use crate::error::Result;
use crate::incremental::EnvCache;
use crate::sources::Sources;
use crate::tree::{Destination, EnvTree, RenderedTree};

/// The environment variable that turns the cache off.
pub const NO_CACHE_VAR: &str = "GITOPSC_NO_CACHE";
/// The environment variable that bounds the cache, in MiB.
pub const MAX_MIB_VAR: &str = "GITOPSC_CACHE_MAX_MIB";
const DEFAULT_MAX_MIB: u64 = 1024;
const MAGIC: &[u8] = b"gitopsc-env-cache 2\n";
/// A temporary file older than this was left by a run that died.
const ABANDONED: Duration = Duration::from_secs(3600);

/// The cache in a directory; [`env_cache`] finds the user's.
pub struct DiskCache {
    dir: PathBuf,
    max_bytes: u64,
    salt: String,
}

/// [`crate::compile`] with the user's environment cache, when it is on.
pub fn compile_incremental(
    sources: Arc<Sources>,
    selection: &EnvSelection,
) -> Result<RenderedTree> {
    match env_cache() {
        Some(cache) => crate::compile_cached(sources, selection, &cache),
        None => crate::compile(sources, selection),
    }
}

/// The user's environment cache, unless caches are turned off or there is no cache directory.
pub fn env_cache() -> Option<DiskCache> {
    let max_mib = std::env::var(MAX_MIB_VAR)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(DEFAULT_MAX_MIB);
    let dir = super::user_cache_dir()?.join("envs");
    Some(DiskCache::new(dir, max_mib << 20))
}

impl DiskCache {
    pub fn new(dir: PathBuf, max_bytes: u64) -> DiskCache {
        DiskCache {
            dir,
            max_bytes,
            salt: super::stat_cache::binary_identity(),
        }
    }

    fn entry(&self, key: &str) -> Option<PathBuf> {
        let plain = key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit());
        plain.then(|| self.dir.join(key))
    }

    /// Drops the least recently used entries until the directory fits its
    /// bound, and temporary files abandoned by runs that died.
    fn evict(&self) {
        let Ok(listing) = fs::read_dir(&self.dir) else {
            return;
        };
        let now = SystemTime::now();
        let mut entries: Vec<(SystemTime, u64, PathBuf)> = Vec::new();
        for item in listing.flatten() {
            let Ok(meta) = item.metadata() else { continue };
            let used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            let path = item.path();
            if item.file_name().to_string_lossy().contains(".tmp") {
                if now.duration_since(used).unwrap_or_default() > ABANDONED {
                    let _ = fs::remove_file(&path);
                }
                continue;
            }
            entries.push((used, meta.len(), path));
        }
        let mut total: u64 = entries.iter().map(|e| e.1).sum();
        entries.sort();
        for (_, len, path) in entries {
            if total <= self.max_bytes {
                break;
            }
            if fs::remove_file(&path).is_ok() {
                total = total.saturating_sub(len);
            }
        }
    }
}

impl EnvCache for DiskCache {
    fn salt(&self) -> Option<String> {
        Some(self.salt.clone())
    }

    fn get(&self, key: &str) -> Option<EnvTree> {
        let path = self.entry(key)?;
        let bytes = fs::read(&path).ok()?;
        let tree = decode(&bytes, key)?;
        // Marks the entry used, for eviction; best effort.
        if let Ok(file) = fs::File::options().write(true).open(&path) {
            let _ = file.set_modified(SystemTime::now());
        }
        Some(tree)
    }

    fn put(&self, key: &str, tree: &EnvTree) {
        let Some(path) = self.entry(key) else { return };
        if fs::create_dir_all(&self.dir).is_err() {
            return;
        }
        static SERIAL: AtomicU64 = AtomicU64::new(0);
        let tmp = self.dir.join(format!(
            "{key}.tmp{}-{}",
            std::process::id(),
            SERIAL.fetch_add(1, Ordering::Relaxed)
        ));
        // Best effort: without an entry the next run compiles instead.
        if write_entry(&tmp, key, tree).is_ok() && fs::rename(&tmp, &path).is_ok() {
            self.evict();
        } else {
            let _ = fs::remove_file(&tmp);
        }
    }
}

fn write_entry(tmp: &Path, key: &str, tree: &EnvTree) -> std::io::Result<()> {
    let file = fs::File::create(tmp)?;
    let mut out = BufWriter::with_capacity(64 << 10, file);
    encode(&mut out, key, tree)?;
    // No fsync: an entry a crash left short fails its checksum and is ignored.
    out.flush()
}

/// Writes the entry of `tree` under `key`: format line, key, the body
/// compressed, and a checksum of all that. YAML compresses about tenfold, and
/// an entry is written on every compile the cache lacks: on a real disk the
/// bytes written, not the compressing, are the cost.
fn encode(out: &mut impl Write, key: &str, tree: &EnvTree) -> std::io::Result<()> {
    let mut file = Checked {
        out,
        check: Checksum::default(),
    };
    file.write_all(MAGIC)?;
    file.write_all(key.as_bytes())?;
    let frame = FrameInfo::new().block_size(BlockSize::Max256KB);
    let mut body = FrameEncoder::with_frame_info(frame, &mut file);
    write_body(&mut body, tree)?;
    body.finish().map_err(std::io::Error::other)?;
    let (sum, len) = file.check.finish();
    file.out.write_all(&sum.to_le_bytes())?;
    file.out.write_all(&len.to_le_bytes())
}

fn write_body(out: &mut impl Write, tree: &EnvTree) -> std::io::Result<()> {
    let number = |out: &mut dyn Write, n: u64| out.write_all(&n.to_le_bytes());
    let text = |out: &mut dyn Write, s: &str| {
        number(out, s.len() as u64)?;
        out.write_all(s.as_bytes())
    };
    text(out, &tree.env)?;
    number(out, tree.files.len() as u64)?;
    for (path, body) in &tree.files {
        text(out, path)?;
        text(out, body)?;
    }
    match &tree.destination {
        None => number(out, 0)?,
        Some(d) => {
            number(out, 1)?;
            text(out, &d.repo)?;
            text(out, &d.branch)?;
            text(out, &d.path)?;
        }
    }
    number(out, tree.notices.len() as u64)?;
    for notice in &tree.notices {
        text(out, notice)?;
    }
    Ok(())
}

/// A writer that checksums what it passes on.
struct Checked<'a, W: Write> {
    out: &'a mut W,
    check: Checksum,
}

impl<W: Write> Write for Checked<'_, W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(bytes)?;
        self.check.update(&bytes[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// The entry in `bytes`, if it is whole, intact and stored under `key`.
fn decode(bytes: &[u8], key: &str) -> Option<EnvTree> {
    let body_len = bytes.len().checked_sub(16)?;
    let (stored, trailer) = bytes.split_at(body_len);
    let sum = u64::from_le_bytes(trailer[..8].try_into().ok()?);
    let len = u64::from_le_bytes(trailer[8..].try_into().ok()?);
    let mut check = Checksum::default();
    check.update(stored);
    if check.finish() != (sum, len) {
        return None;
    }
    let mut r = Reader { rest: stored };
    if r.take(MAGIC.len())? != MAGIC || r.take(key.len())? != key.as_bytes() {
        return None;
    }
    let body = decompress(r.rest)?;
    read_body(&body)
}

/// The body compressed in `frame`, bounded by what LZ4 can expand to (a
/// byte per 255 at most, and a block's worth), so no damaged entry that
/// passed its checksum asks for more memory than that.
fn decompress(frame: &[u8]) -> Option<Vec<u8>> {
    let bound = (frame.len() as u64).saturating_mul(255) + (256 << 10);
    let mut body = Vec::new();
    let mut reader = FrameDecoder::new(frame).take(bound + 1);
    reader.read_to_end(&mut body).ok()?;
    (body.len() as u64 <= bound).then_some(body)
}

fn read_body(body: &[u8]) -> Option<EnvTree> {
    let mut r = Reader { rest: body };
    let env = r.text()?;
    let mut files = std::collections::BTreeMap::new();
    for _ in 0..r.number()? {
        let path = r.text()?;
        let text = r.text()?;
        files.insert(path, text);
    }
    let destination = match r.number()? {
        0 => None,
        1 => Some(Destination {
            repo: r.text()?,
            branch: r.text()?,
            path: r.text()?,
        }),
        _ => return None,
    };
    let notices = (0..r.number()?)
        .map(|_| r.text())
        .collect::<Option<Vec<_>>>()?;
    r.rest.is_empty().then_some(EnvTree {
        env,
        files,
        destination,
        notices,
    })
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.rest.len() {
            return None;
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Some(head)
    }
    fn number(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn text(&mut self) -> Option<String> {
        let len = usize::try_from(self.number()?).ok()?;
        String::from_utf8(self.take(len)?.to_vec()).ok()
    }
}

/// A fast 64-bit checksum over 8-byte words (not a cryptographic hash: it
/// guards against damage, the key against confusion). Each step is a
/// bijection of the state for a given word, so changing any one word always
/// changes the result.
#[derive(Default)]
struct Checksum {
    state: u64,
    tail: [u8; 8],
    pending: usize,
    len: u64,
}

impl Checksum {
    fn word(&mut self, w: u64) {
        self.state = (self.state.rotate_left(23) ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn update(&mut self, mut bytes: &[u8]) {
        self.len += bytes.len() as u64;
        while self.pending > 0 && !bytes.is_empty() {
            self.tail[self.pending] = bytes[0];
            self.pending += 1;
            bytes = &bytes[1..];
            if self.pending == 8 {
                self.word(u64::from_le_bytes(self.tail));
                self.pending = 0;
            }
        }
        if bytes.is_empty() {
            return;
        }
        let words = bytes.chunks_exact(8);
        let rest = words.remainder();
        for w in words {
            let mut word = [0; 8];
            word.copy_from_slice(w);
            self.word(u64::from_le_bytes(word));
        }
        self.tail[..rest.len()].copy_from_slice(rest);
        self.pending = rest.len();
    }

    fn finish(mut self) -> (u64, u64) {
        if self.pending > 0 {
            self.tail[self.pending..].fill(0);
            self.word(u64::from_le_bytes(self.tail));
        }
        self.word(self.len);
        (self.state, self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> EnvTree {
        let mut files = std::collections::BTreeMap::new();
        files.insert("dev/a.yaml".to_string(), "kind: A\n".to_string());
        files.insert("dev/kustomization.yaml".to_string(), "x: é\n".to_string());
        EnvTree {
            env: "dev".into(),
            files,
            destination: Some(Destination {
                repo: "r".into(),
                branch: "b".into(),
                path: "p".into(),
            }),
            notices: vec!["note".into()],
        }
    }

    const KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn encoded() -> Vec<u8> {
        let mut bytes = Vec::new();
        encode(&mut bytes, KEY, &tree()).unwrap();
        bytes
    }

    #[test]
    fn an_entry_decodes_as_written_and_only_under_its_key() {
        let good = encoded();
        assert_eq!(decode(&good, KEY), Some(tree()));
        assert_eq!(decode(&good, &KEY.replace('0', "1")), None);
    }

    #[test]
    fn every_truncation_and_every_flipped_byte_is_refused() {
        let good = encoded();
        for cut in 0..good.len() {
            assert_eq!(decode(&good[..cut], KEY), None, "cut at {cut}");
        }
        for at in 0..good.len() {
            let mut bad = good.clone();
            bad[at] ^= 0x20;
            assert_eq!(decode(&bad, KEY), None, "byte {at} flipped");
        }
    }

    #[test]
    fn an_entry_is_compressed_and_the_bound_admits_the_most_compressible_tree() {
        // A rendered tree repeats itself (labels, selectors, probes): its
        // entry is a small part of its text. A run of one byte compresses
        // best of all, so the bound on expansion must still admit it.
        let mut big = tree();
        let kinds = (0..2000).map(|i| format!("kind: Deployment\nname: app-{i:04}\n"));
        big.files.insert("dev/apps.yaml".into(), kinds.collect());
        big.files
            .insert("dev/zeros.yaml".into(), "0".repeat(8 << 20));
        let text: usize = big.files.values().map(String::len).sum();
        let mut bytes = Vec::new();
        encode(&mut bytes, KEY, &big).unwrap();
        assert!(bytes.len() * 20 < text, "{} of {text} bytes", bytes.len());
        assert_eq!(decode(&bytes, KEY), Some(big));
    }

    #[test]
    fn an_intact_entry_of_the_uncompressed_format_is_ignored() {
        // Format 1: the same fields, uncompressed, under the same checksum.
        let entry = |magic: &[u8]| {
            let mut bytes = magic.to_vec();
            bytes.extend_from_slice(KEY.as_bytes());
            write_body(&mut bytes, &tree()).unwrap();
            let mut check = Checksum::default();
            check.update(&bytes);
            let (sum, len) = check.finish();
            bytes.extend_from_slice(&sum.to_le_bytes());
            bytes.extend_from_slice(&len.to_le_bytes());
            bytes
        };
        assert_eq!(decode(&entry(b"gitopsc-env-cache 1\n"), KEY), None);
        assert_eq!(decode(&entry(MAGIC), KEY), None, "a body that is no frame");
    }

    #[test]
    fn the_checksum_does_not_depend_on_how_the_bytes_arrive() {
        let bytes: Vec<u8> = (0..=255).collect();
        let mut whole = Checksum::default();
        whole.update(&bytes);
        let mut pieces = Checksum::default();
        for piece in bytes.chunks(3) {
            pieces.update(piece);
        }
        assert_eq!(whole.finish(), pieces.finish());
    }

    #[test]
    fn a_key_is_a_file_name_only_when_it_is_a_digest() {
        let cache = DiskCache::new(PathBuf::from("/nonexistent"), 0);
        assert!(cache.entry(KEY).is_some());
        assert_eq!(cache.entry("../../etc/passwd"), None);
    }
}

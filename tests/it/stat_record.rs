//! `render` leaves check's `stat` record of what it wrote, so the
//! pre-commit hook that runs next answers without reading the tree back; and
//! no record ever vouches for a file edited after it, whatever the edit.

use std::fs;
use std::path::{Path, PathBuf};

use crate::support::{Run, copy_inputs, gitopsc_env, repo_root, tempdir};

const DEPLOYMENT: &str = "rendered/prod/apps/web/deployment-web.yaml";

/// A copy of the repository's own project with a cache directory of its own.
struct Case {
    project: tempfile::TempDir,
    cache: tempfile::TempDir,
}

impl Case {
    fn new() -> Case {
        let case = Case {
            project: tempdir(),
            cache: tempdir(),
        };
        copy_inputs(&repo_root(), case.project.path());
        case
    }

    fn run(&self, args: &[&str]) -> Run {
        let env = [("XDG_CACHE_HOME", self.cache.path().to_str().unwrap())];
        gitopsc_env(args, self.project.path(), &env)
    }

    /// Edits the rendered Deployment in place at the same size, as a hand
    /// would; returns what it held.
    fn hand_edit(&self) -> String {
        let path = self.project.path().join(DEPLOYMENT);
        let text = fs::read_to_string(&path).unwrap();
        let edited = text.replacen("revisionHistoryLimit: 5", "revisionHistoryLimit: 6", 1);
        assert_ne!(text, edited, "the edit changes the file");
        fs::write(&path, &edited).unwrap();
        text
    }

    fn deployment(&self) -> String {
        fs::read_to_string(self.project.path().join(DEPLOYMENT)).unwrap()
    }
}

/// The one record in a private cache directory (one `rendered/`, one record).
fn record(cache: &Path) -> Vec<String> {
    let dir = cache.join("gitopsc/check");
    let files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "one record for one rendered/: {files:?}");
    fs::read_to_string(&files[0])
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn indexed_files(project: &Path) -> usize {
    let index = fs::read_to_string(project.join("rendered/.gitopsc-index.json")).unwrap();
    let index: serde_json::Value = serde_json::from_str(&index).unwrap();
    index["environments"]
        .as_object()
        .unwrap()
        .values()
        .map(|e| e["files"].as_object().unwrap().len())
        .sum()
}

#[test]
fn render_records_every_file_it_owns_and_no_record_hides_an_edit() {
    let case = Case::new();
    let render = case.run(&["render"]);
    assert_eq!(render.code, 0, "{}", render.stderr);
    let lines = record(case.cache.path());
    // A header, the index's own stat, then one line per owned file.
    assert_eq!(lines.len(), 2 + indexed_files(case.project.path()));
    assert!(
        lines.iter().any(|l| l.ends_with(&format!(
            "\t{}",
            DEPLOYMENT.strip_prefix("rendered/").unwrap()
        ))),
        "the record lists {DEPLOYMENT}"
    );
    assert_eq!(case.run(&["check"]).code, 0);

    // The same size, in place, at once: the inode and length are unchanged and
    // the clock may not have ticked, so only ctime or the racy rule can tell.
    let text = case.hand_edit();
    let check = case.run(&["check"]);
    assert_eq!(check.code, 1, "{}", check.stdout);
    assert!(
        check.stdout.contains(&format!("changed  {DEPLOYMENT}")),
        "{}",
        check.stdout
    );

    // A render of the same inputs must not take the record's word for it either.
    let again = case.run(&["render"]);
    assert!(again.stdout.contains("(1 written,"), "{}", again.stdout);
    assert_eq!(case.deployment(), text);
    assert_eq!(case.run(&["check"]).code, 0);
}

#[test]
fn no_cache_keeps_no_record() {
    let project = tempdir();
    let cache = tempdir();
    copy_inputs(&repo_root(), project.path());
    let env = [
        ("XDG_CACHE_HOME", cache.path().to_str().unwrap()),
        ("GITOPSC_NO_CACHE", "1"),
    ];
    assert_eq!(gitopsc_env(&["render"], project.path(), &env).code, 0);
    assert_eq!(gitopsc_env(&["check"], project.path(), &env).code, 0);
    assert!(
        !cache.path().join("gitopsc").exists(),
        "GITOPSC_NO_CACHE leaves the cache directory alone"
    );
}

/// After an input edit the record no longer vouches for the whole tree, but
/// still for each file `stat` shows untouched, which `check` and `render`
/// then judge by the index's hash instead of reading it: a file edited after
/// the record is read, and found, all the same.
#[test]
fn after_an_input_edit_the_record_vouches_per_file_and_hides_no_hand_edit() {
    let case = Case::new();
    assert_eq!(case.run(&["render"]).code, 0);
    // Past the clock tick of the files just written, so the record taken by
    // this check vouches for them (the racy rule would have them read).
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert_eq!(case.run(&["check"]).code, 0);

    // An edit of the inputs that changes no output file.
    let blueprint = case.project.path().join("blueprints/system.yaml");
    let source = fs::read_to_string(&blueprint).unwrap();
    fs::write(&blueprint, format!("{source}# a comment\n")).unwrap();
    let text = case.hand_edit();

    let check = case.run(&["check"]);
    assert_eq!(check.code, 1, "{}", check.stdout);
    let changed: Vec<&str> = check
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("changed"))
        .collect();
    assert!(
        changed.iter().any(|l| l.ends_with(DEPLOYMENT)),
        "{}",
        check.stdout
    );
    // Only the hand-edited file and the index (it names the new inputs).
    assert_eq!(changed.len(), 2, "{}", check.stdout);

    let render = case.run(&["render"]);
    assert!(render.stdout.contains("(1 written,"), "{}", render.stdout);
    assert_eq!(case.deployment(), text);
    assert_eq!(case.run(&["check"]).code, 0);
}

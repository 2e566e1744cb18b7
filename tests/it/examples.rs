//! Every environment of every example, as a reviewable snapshot, and the
//! committed `rendered/` trees kept in step with their blueprints.

use crate::support::{compile_project, projects, read_tree};
use gitopsc::tree::INDEX_FILE;

#[test]
fn every_environment_of_every_example_is_snapshotted() {
    for (name, path) in projects() {
        let tree = compile_project(&path);
        assert!(!tree.envs.is_empty(), "{name} has environments");
        for (env, files) in &tree.envs {
            let mut text = String::new();
            for (file, body) in &files.files {
                text.push_str(&format!("--- {file}\n{body}"));
            }
            insta::assert_snapshot!(format!("{name}__{env}"), text);
        }
    }
}

#[test]
fn committed_rendered_trees_are_current() {
    for (name, path) in projects() {
        let tree = compile_project(&path);
        let on_disk = read_tree(&path.join("rendered"));
        let mut expected: std::collections::BTreeMap<String, Vec<u8>> = tree
            .envs
            .values()
            .flat_map(|e| {
                e.files
                    .iter()
                    .map(|(p, t)| (p.clone(), t.as_bytes().to_vec()))
            })
            .collect();
        expected.insert(
            INDEX_FILE.to_string(),
            tree.index(None, true).to_json().into_bytes(),
        );
        let stale: Vec<&String> = expected
            .keys()
            .filter(|p| on_disk.get(*p) != expected.get(*p))
            .collect();
        let extra: Vec<&String> = on_disk
            .keys()
            .filter(|p| !expected.contains_key(*p))
            .collect();
        assert!(
            stale.is_empty() && extra.is_empty(),
            "{name}: rendered/ is stale (run `gitopsc render --root {}`): changed or missing {stale:?}, extra {extra:?}",
            path.display()
        );
    }
}

//! Same input, same bytes: twice, from two checkout paths, and with one thread or many.

use crate::support::{copy_inputs, gitopsc_env, read_tree, repo_root};

#[test]
fn rendering_is_byte_identical_across_paths_and_thread_counts() {
    let short = crate::support::tempdir();
    let long = crate::support::tempdir();
    let long_root = long.path().join("a/much/longer/checkout path/with spaces");
    for root in [short.path(), long_root.as_path()] {
        copy_inputs(&repo_root(), root);
    }
    let single = gitopsc_env(&["render"], short.path(), &[("RAYON_NUM_THREADS", "1")]);
    assert_eq!(single.code, 0, "{}", single.stderr);
    let parallel = gitopsc_env(&["render"], &long_root, &[("RAYON_NUM_THREADS", "8")]);
    assert_eq!(parallel.code, 0, "{}", parallel.stderr);
    let a = read_tree(&short.path().join("rendered"));
    let b = read_tree(&long_root.join("rendered"));
    assert!(a.len() > 100, "the example renders a real tree");
    assert_eq!(a, b, "two paths, one thread vs eight: identical bytes");
    let again = gitopsc_env(&["render"], short.path(), &[]);
    assert_eq!(again.code, 0);
    assert!(
        again.stdout.contains("0 written"),
        "a second render changes nothing: {}",
        again.stdout
    );
    assert_eq!(read_tree(&short.path().join("rendered")), a);
}

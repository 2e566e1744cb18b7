//! Hostile input through the real binary, under a 1 GiB address-space limit:
//! each is a clear error, exit 2, no panic, no stack overflow, nothing written.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::write_case;

const MINIMAL: &str = "system: {name: demo}\nlayers: [apps]\nenvironments: {dev: {}}\napps:\n  api:\n    layer: apps\n    image: ghcr.io/acme/api:1.0.0\n    ports: {http: 8080}\n";

/// Runs `gitopsc render` with memory capped by `ulimit -v`; a hang is killed
/// after five minutes and fails the test (a watchdog, not a timing assertion).
fn render_capped(dir: &Path) -> (i32, String) {
    let mut child = crate::support::hermetic(&mut Command::new("bash"))
        .arg("-c")
        .arg(format!(
            "ulimit -v 1048576; exec '{}' render",
            env!("CARGO_BIN_EXE_gitopsc")
        ))
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
            return (status.code().unwrap_or(-1), stderr);
        }
        if start.elapsed() > Duration::from_secs(300) {
            let _ = child.kill();
            panic!("gitopsc did not finish on hostile input");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn assert_refused(dir: &Path, expect: &str) {
    let (code, stderr) = render_capped(dir);
    assert_eq!(code, 2, "exit 2, not a crash:\n{stderr}");
    assert!(stderr.starts_with("error["), "{stderr}");
    assert!(stderr.contains("-->"), "located:\n{stderr}");
    assert!(stderr.contains(expect), "expected {expect:?} in:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!dir.join("rendered").exists(), "nothing written");
}

fn project(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = crate::support::tempdir();
    for (path, bytes) in files {
        let target = dir.path().join(path);
        fs::create_dir_all(target.parent().unwrap()).unwrap();
        fs::write(target, bytes).unwrap();
    }
    dir
}

fn hundred_megabytes() -> Vec<u8> {
    b"key: value\n".repeat(100 * 1024 * 1024 / 11)
}

#[test]
fn a_hundred_megabyte_file_is_refused_unread() {
    let big = hundred_megabytes();
    assert_refused(project(&[("blueprints/system.yaml", &big)]).path(), "bytes");
    assert_refused(
        project(&[
            ("blueprints/system.yaml", MINIMAL.as_bytes()),
            ("overlays/dev.yaml", &big),
        ])
        .path(),
        "bytes",
    );
    let with_config = format!(
        "{MINIMAL}    config: {{mountPath: /etc/api, files: {{big.conf: config/big.conf}}}}\n"
    );
    assert_refused(
        project(&[
            ("blueprints/system.yaml", with_config.as_bytes()),
            ("blueprints/config/big.conf", &big),
        ])
        .path(),
        "too large",
    );
}

#[test]
fn nesting_ten_thousand_levels_deep_is_refused() {
    let flow = format!("system: {}1{}\n", "[".repeat(10_000), "]".repeat(10_000));
    assert_refused(
        project(&[("blueprints/system.yaml", flow.as_bytes())]).path(),
        "too deep",
    );
    let block = format!("system:\n{}x\n", "- ".repeat(10_000));
    assert_refused(
        project(&[("blueprints/system.yaml", block.as_bytes())]).path(),
        "too deep",
    );
    let overlay = format!(
        "apps: {}\n",
        "{a: ".repeat(10_000) + "1" + &"}".repeat(10_000)
    );
    assert_refused(
        project(&[
            ("blueprints/system.yaml", MINIMAL.as_bytes()),
            ("overlays/dev.yaml", overlay.as_bytes()),
        ])
        .path(),
        "invalid YAML",
    );
}

#[test]
fn binary_garbage_is_refused() {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let garbage: Vec<u8> = (0..64 * 1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    assert_refused(
        project(&[("blueprints/system.yaml", &garbage)]).path(),
        "UTF-8",
    );
    let mut nul = MINIMAL.as_bytes().to_vec();
    nul.extend_from_slice(b"\0\0\0");
    assert_refused(project(&[("blueprints/system.yaml", &nul)]).path(), "NUL");
}

#[test]
fn an_alias_bomb_is_refused() {
    let mut text = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..12 {
        text.push_str(&format!(
            "a{i}: &a{i} [{}]\n",
            vec![format!("*a{}", i - 1); 10].join(", ")
        ));
    }
    assert_refused(
        project(&[("blueprints/system.yaml", text.as_bytes())]).path(),
        "invalid YAML",
    );
}

#[test]
fn symlinks_out_of_the_project_are_refused() {
    let with_config =
        format!("{MINIMAL}    config: {{mountPath: /etc/api, files: {{passwd: config/passwd}}}}\n");
    let dir = project(&[("blueprints/system.yaml", with_config.as_bytes())]);
    fs::create_dir_all(dir.path().join("blueprints/config")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", dir.path().join("blueprints/config/passwd")).unwrap();
    assert_refused(dir.path(), "symbolic link");
    let linked = crate::support::tempdir();
    let outside = linked.path().join("system.yaml");
    fs::write(&outside, MINIMAL).unwrap();
    fs::create_dir_all(linked.path().join("p/blueprints")).unwrap();
    std::os::unix::fs::symlink(&outside, linked.path().join("p/blueprints/system.yaml")).unwrap();
    assert_refused(&linked.path().join("p"), "symbolic link");
}

#[test]
fn the_empty_blueprint_is_refused() {
    let dir = crate::support::tempdir();
    write_case("-- blueprints/system.yaml --\n", dir.path());
    assert_refused(dir.path(), "empty");
}

//! A bounded property test: random mutations of valid blueprints and overlays
//! never panic, and end in valid output or a located error.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use gitopsc::sources::{SourceFile, Sources};
use gitopsc::{EnvSelection, compile};

use crate::support::{Rng, projects};

const TOKENS: &[&str] = &[
    ": ",
    "- ",
    "[",
    "]",
    "{",
    "}",
    "\t",
    "\"",
    "'",
    "&a",
    "*a",
    "<<: *a",
    "{{ env.nope }}",
    "{% for %}",
    "null",
    "~",
    "-1",
    "99999999999",
    "0x10",
    "1e400",
    ".nan",
    "yes",
    "Ⅻ",
    "\u{0}",
    "\\u0000",
    "../../",
    "/etc/passwd",
    "#",
    "uses: [ghost]",
    "extends: prod",
    "layer: nowhere",
    "image: UPPER/Case",
    "ports: {http: 0}",
];

fn mutate(text: &str, rng: &mut Rng) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        return TOKENS[rng.below(TOKENS.len())].to_string();
    }
    let i = rng.below(lines.len());
    match rng.below(8) {
        0 => {
            lines.remove(i);
        }
        1 => {
            let line = lines[i].clone();
            lines.insert(i, line);
        }
        2 => {
            let j = rng.below(lines.len());
            lines.swap(i, j);
        }
        3 => lines[i] = format!("  {}", lines[i]),
        4 => lines[i] = lines[i].trim_start().to_string(),
        5 => {
            let chars: Vec<char> = lines[i].chars().collect();
            let at = rng.below(chars.len() + 1);
            let token = TOKENS[rng.below(TOKENS.len())];
            lines[i] = chars[..at].iter().collect::<String>()
                + token
                + &chars[at..].iter().collect::<String>();
        }
        6 => {
            if let Some((key, _)) = lines[i].split_once(": ") {
                lines[i] = format!("{key}: {}", TOKENS[rng.below(TOKENS.len())]);
            }
        }
        _ => lines.truncate(i),
    }
    lines.join("\n") + "\n"
}

#[test]
fn mutated_blueprints_never_panic_and_errors_are_located() {
    let mut rng = Rng(0x5EED_CAFE_F00D_D00D);
    let mut outcomes = (0usize, 0usize);
    for (name, path) in projects() {
        let sources = gitopsc::workspace::read_sources(&path).unwrap();
        let editable: Vec<String> = ["blueprints/system.yaml".to_string()]
            .into_iter()
            .chain(sources.under("overlays/").map(|(p, _)| p.to_string()))
            .collect();
        for round in 0..120 {
            let file = &editable[rng.below(editable.len())];
            let Some(SourceFile::Regular(bytes)) = sources.get(file) else {
                continue;
            };
            let mut text = String::from_utf8_lossy(bytes).into_owned();
            for _ in 0..=rng.below(3) {
                text = mutate(&text, &mut rng);
            }
            let mut mutated: Sources = sources.clone();
            mutated.insert_text(file.clone(), &text);
            let result = catch_unwind(AssertUnwindSafe(|| {
                compile(Arc::new(mutated), &EnvSelection::All)
            }));
            match result {
                Err(_) => panic!(
                    "{name} round {round}: compiling a mutation of {file} panicked; the mutated file:\n{text}"
                ),
                Ok(Ok(_)) => outcomes.0 += 1,
                Ok(Err(err)) => {
                    assert!(
                        err.origin.is_some(),
                        "{name} round {round}: unlocated error {}\n{text}",
                        err.render()
                    );
                    outcomes.1 += 1;
                }
            }
        }
    }
    assert!(
        outcomes.0 > 0 && outcomes.1 > 0,
        "both outcomes occur: {outcomes:?}"
    );
}

//! A large file parsed in pieces side by side: its largest top-level block
//! mapping (a blueprint's `apps:`) is cut at its own keys, every piece and the
//! rest of the file parse alone, and the values are joined in order.
//!
//! Only text where a piece cannot mean anything else alone is cut: no
//! anchors, aliases, merge keys, tags, directives, document markers, tabs or
//! carriage returns, and every line at column 0 a plain key of its own.
//! Whatever goes wrong in any piece (a syntax error, a duplicate
//! key across pieces, a budget that only the whole would reach) makes the
//! caller parse the whole file as one, so every error, and every value that
//! the cut could change, is the whole parse's.

use rayon::prelude::*;
use serde_json::{Map, Value};

/// Below this a file parses whole: cutting would cost more than it saves.
pub(super) const MIN_BYTES: usize = 64 * 1024;

/// Pieces per file: a few per core, so uneven pieces still keep both busy.
const PIECES: usize = 16;

/// The whole-file limits a joined value must stay within by a wide margin,
/// since the pieces' budgets are counted apart.
pub(super) struct Limits {
    pub max_depth: usize,
    pub max_nodes: usize,
}

/// A cut of the text: the rest of the file (the block's key with nothing
/// under it) and the block's pieces, each a block mapping of its own.
struct Cut<'t> {
    key: &'t str,
    /// Lines at column 0, each a key of the file's mapping.
    top_keys: usize,
    rest: String,
    pieces: Vec<&'t str>,
}

/// The value of `text` parsed in pieces by `parse_one(piece, max_depth)`,
/// or `None` when it must be parsed whole.
pub(super) fn parse<F>(text: &str, min_bytes: usize, limits: &Limits, parse_one: F) -> Option<Value>
where
    F: Fn(&str, usize) -> Option<Value> + Sync,
{
    if text.len() < min_bytes || !cuttable(text) {
        return None;
    }
    let cut = cut(text)?;
    // A piece's root is one level below the file's: its depth limit is one less.
    let inner_depth = limits.max_depth.checked_sub(1)?;
    // On gitopsc's pool whoever calls: a piece recurses as deep as the
    // whole file may, which rayon's default stacks do not hold in every build.
    let (rest, pieces) = crate::pool::on_pool(|| {
        rayon::join(
            || parse_one(&cut.rest, limits.max_depth),
            || {
                cut.pieces
                    .par_iter()
                    .map(|piece| parse_one(piece, inner_depth))
                    .collect::<Option<Vec<Value>>>()
            },
        )
    });
    let (mut rest, pieces) = (rest?, pieces?);
    // A line of the rest inside another key's scalar, not a key of its own,
    // would change what the block's lines mean.
    if rest.as_object()?.len() != cut.top_keys {
        return None;
    }
    let joined = join(pieces)?;
    let slot = rest.as_object_mut()?.get_mut(cut.key)?;
    if !slot.is_null() {
        return None;
    }
    *slot = Value::Object(joined);
    (nodes(&rest) <= limits.max_nodes / 2).then_some(rest)
}

/// Whether nothing in the text could tie one piece to another or change
/// how a line reads out of its context.
fn cuttable(text: &str) -> bool {
    let ties = |b: u8| matches!(b, b'&' | b'*' | b'!' | b'\t' | b'\r');
    // A merge key (`<<`) moves entries to the end of its mapping and counts
    // against a budget of the whole file.
    !text.starts_with('\u{feff}')
        && !text.bytes().any(ties)
        && !text.contains("<<")
        && !text
            .lines()
            .any(|l| l.starts_with("---") || l.starts_with("...") || l.starts_with('%'))
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// Blank or only a comment: belongs to whatever piece it falls in.
fn is_content(line: &str) -> bool {
    let body = line.trim_start_matches(' ').trim_end_matches('\n');
    !body.is_empty() && !body.starts_with('#')
}

/// A top-level line that starts a key of its own: a plain name starting
/// with a letter (so no other spelling reads as the same name), a colon,
/// then a space or nothing. Returns the name and what follows the colon.
fn plain_key(line: &str) -> Option<(&str, &str)> {
    let (key, after) = line.trim_end_matches('\n').split_once(':')?;
    let plain = key.starts_with(|c: char| c.is_ascii_alphabetic())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    (plain && (after.is_empty() || after.starts_with(' '))).then_some((key, after))
}

/// `key:` alone on its line (a comment may follow): a block whose value is
/// written on the lines under it.
fn block_key(line: &str) -> Option<&str> {
    let (key, after) = plain_key(line)?;
    let after = after.trim_start_matches(' ');
    (after.is_empty() || after.starts_with('#')).then_some(key)
}

/// Byte offsets and text of every line, its newline included.
fn lines(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        out.push((at, line));
        at += line.len();
    }
    out
}

/// The largest top-level block mapping, cut at its keys into [`PIECES`].
fn cut(text: &str) -> Option<Cut<'_>> {
    let lines = lines(text);
    let tops: Vec<usize> = (0..lines.len())
        .filter(|&i| is_content(lines[i].1) && indent(lines[i].1) == 0)
        .collect();
    // Every line at column 0 starts a key: then a scalar that runs over one
    // of them (which makes the parse hold fewer keys than lines) is found.
    if !tops.iter().all(|&i| plain_key(lines[i].1).is_some()) {
        return None;
    }
    // Where line `i` starts (the text's end past the last line).
    let offset = |i: usize| lines.get(i).map_or(text.len(), |(at, _)| *at);
    let (key, key_line, end_line) = tops
        .iter()
        .enumerate()
        .filter_map(|(n, &i)| {
            let end = tops.get(n + 1).copied().unwrap_or(lines.len());
            block_key(lines[i].1).map(|key| (key, i, end))
        })
        .max_by_key(|&(_, i, end)| offset(end) - offset(i + 1))?;
    let block = &lines[key_line + 1..end_line];
    let children = block
        .iter()
        .find(|(_, l)| is_content(l))
        .map(|(_, l)| indent(l))?;
    let starts_a_key = |l: &str| {
        let body = l.trim_start_matches(' ');
        !body.starts_with(['-', '?', ':', '{', '[', '#'])
    };
    let mut cuts = Vec::new();
    for (at, line) in block.iter().filter(|(_, l)| is_content(l)) {
        match indent(line) {
            n if n < children => return None,
            n if n == children => {
                if !starts_a_key(line) {
                    return None;
                }
                cuts.push(*at);
            }
            _ => {}
        }
    }
    let (start, end) = (offset(key_line + 1), offset(end_line));
    let target = (end - start) / PIECES + 1;
    let mut bounds = vec![start];
    for at in cuts {
        if at - bounds[bounds.len() - 1] >= target {
            bounds.push(at);
        }
    }
    bounds.push(end);
    bounds.dedup();
    let pieces: Vec<&str> = bounds.windows(2).map(|w| &text[w[0]..w[1]]).collect();
    if pieces.len() < 2 {
        return None;
    }
    let rest = format!("{}{}", &text[..start], &text[end..]);
    Some(Cut {
        key,
        top_keys: tops.len(),
        rest,
        pieces,
    })
}

/// The pieces' mappings as one, in order; `None` if a key repeats (the
/// whole parse says how).
fn join(pieces: Vec<Value>) -> Option<Map<String, Value>> {
    let mut joined = Map::new();
    for piece in pieces {
        let Value::Object(map) = piece else {
            return None;
        };
        for (key, value) in map {
            if joined.insert(key, value).is_some() {
                return None;
            }
        }
    }
    Some(joined)
}

/// Nodes in a value, keys counted, as a budget counts them at most.
fn nodes(value: &Value) -> usize {
    match value {
        Value::Object(map) => 1 + map.values().map(|v| 1 + nodes(v)).sum::<usize>(),
        Value::Array(items) => 1 + items.iter().map(nodes).sum::<usize>(),
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::super::read::parse_value;
    use super::*;

    const LIMITS: Limits = Limits {
        max_depth: 64,
        max_nodes: 200_000,
    };

    fn in_pieces(text: &str, limits: &Limits) -> Option<Value> {
        parse(text, 0, limits, |t, depth| {
            parse_value("b.yaml", t, depth).ok()
        })
    }

    /// The whole parse, on the pool as a compile runs it: sixty nested maps
    /// take more than a test thread's stack in a debug build.
    fn whole(text: &str, depth: usize) -> Option<Value> {
        crate::pool::on_pool(|| parse_value("b.yaml", text, depth).ok())
    }

    /// A value as JSON text: `Map`'s `==` ignores key order, the output does not.
    fn ordered(value: Option<&Value>) -> Option<String> {
        value.map(|v| serde_json::to_string(v).expect("a value prints"))
    }

    /// Apps written in most of the forms a blueprint uses: flow and block
    /// maps, block scalars, quoted keys, comments between and inside entries.
    fn blueprint(apps: usize) -> String {
        let mut text = String::from("system: {name: shop}\n# the apps\napps:\n");
        for i in 0..apps {
            text.push_str(&format!(
                "  app-{i}:\n    image: ghcr.io/acme/app-{i}:1.{i}\n    ports: {{http: 80{i}}}\n\
                 \x20   # a comment inside\n    config:\n      inline:\n        a.yaml: |\n\
                 \x20         name: app-{i}\n          list:\n            - x\n\
                 \x20   env: {{\"K-{i}\": 'v: {i}', B: \"x # y\"}}\n    uses: [db, \"app-{i}x\"]\n\n\
                 \x20 \"quoted-{i}\": {{image: x, replicas: {i}}}\n"
            ));
        }
        text.push_str("environments:\n  dev: {}\n");
        text
    }

    #[test]
    fn a_blueprint_in_pieces_is_the_blueprint_whole() {
        let text = blueprint(40);
        let pieces = in_pieces(&text, &LIMITS).expect("this text is cut");
        assert_eq!(ordered(Some(&pieces)), ordered(whole(&text, 64).as_ref()));
        let cut = cut(&text).expect("cut");
        assert_eq!(cut.key, "apps");
        assert!(cut.pieces.len() > 8, "{} pieces", cut.pieces.len());
        assert!(
            cut.pieces
                .iter()
                .all(|p| p.starts_with("  app-") || p.starts_with("  \"quoted-"))
        );
    }

    #[test]
    fn what_could_tie_pieces_together_is_parsed_whole() {
        let text = blueprint(20);
        for (from, to) in [
            ("image: x", "image: &i x"),
            ("image: x", "image: !!str x"),
            ("system:", "---\nsystem:"),
            ("\n", "\r\n"),
            ("uses: [db", "uses: [\tdb"),
        ] {
            let tied = text.replacen(from, to, 1);
            assert_eq!(in_pieces(&tied, &LIMITS), None, "{to:?}");
        }
        assert_eq!(parse(&text, MIN_BYTES, &LIMITS, |_, _| None), None);
    }

    /// Found in review: a merge key (budgeted for the whole file, its
    /// entries moved to the end of the mapping), a key that reads as the
    /// same name as another, and a quoted scalar that runs over the block's
    /// key line (its continuation lines' indentation is not checked).
    #[test]
    fn what_only_the_whole_file_can_tell_is_parsed_whole() {
        let apps = blueprint(20);
        let apps = apps
            .split_once("apps:\n")
            .unwrap()
            .1
            .split_once("environments:")
            .unwrap()
            .0;
        let merge = blueprint(20).replacen("  app-3:\n", "  <<: {zz: 1}\n  app-3:\n", 1);
        let same_name = format!("1:\n{apps}\"1\":\n");
        let over_the_key = format!("note: \"\napps:\n{apps}\"\napps:\n");
        let over_and_quoted = format!("note: \"\napps:\n{apps}\"\n\"q\": 1\napps:\n");
        let over_and_plain = format!("note: \"x\napps:\n{apps}y: z\"\napps:\n");
        for text in [
            merge,
            same_name,
            over_the_key,
            over_and_quoted,
            over_and_plain,
        ] {
            assert_eq!(in_pieces(&text, &LIMITS), None, "{text}");
        }
    }

    #[test]
    fn a_key_repeated_across_pieces_is_left_to_the_whole_parse() {
        let text = blueprint(40).replace("  app-39:", "  app-0:");
        assert_eq!(whole(&text, 64), None, "the whole parse refuses it");
        assert_eq!(in_pieces(&text, &LIMITS), None);
    }

    #[test]
    fn the_limits_are_the_whole_files() {
        let nest = |depth: usize| "{a: ".repeat(depth) + "1" + &"}".repeat(depth);
        let text =
            |depth: usize| blueprint(20).replace("replicas: 7}", &format!("d: {}}}", nest(depth)));
        // Root, apps and the app hold the nesting: 3 + 61 collections are
        // within the whole file's 64, one more is not, in pieces as whole.
        let fits = text(61);
        assert!(whole(&fits, 64).is_some());
        let cut = in_pieces(&fits, &LIMITS);
        assert!(cut.is_some());
        assert_eq!(ordered(cut.as_ref()), ordered(whole(&fits, 64).as_ref()));
        let deep = text(62);
        assert_eq!(whole(&deep, 64), None);
        assert_eq!(in_pieces(&deep, &LIMITS), None);
        let small = Limits {
            max_depth: 64,
            max_nodes: 400,
        };
        assert_eq!(in_pieces(&blueprint(20), &small), None);
    }

    /// Random edits, many of them breaking the YAML or the cut: whenever the
    /// pieces give a value, the whole file parses to that very value.
    #[test]
    fn random_edits_never_make_the_pieces_disagree_with_the_whole() {
        const EDITS: [&str; 26] = [
            "\n",
            "\n  ",
            "\n    ",
            "\nx",
            "  ",
            "\"",
            "'",
            "{",
            "}",
            "[",
            "]",
            ",",
            ": ",
            ":",
            "#",
            " #",
            "|",
            ">",
            "- ",
            "? ",
            "1.0",
            "\n  app-3:",
            "\n1: ",
            "\n\"1\": ",
            "\napps:\n",
            "\n  <<: {zz: 1}\n",
        ];
        let base = blueprint(12);
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let (mut cut_ok, mut refused) = (0, 0);
        for _ in 0..1000 {
            let mut text = base.clone();
            for _ in 0..1 + next(3) {
                let mut at = next(text.len());
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                text.insert_str(at, EDITS[next(EDITS.len())]);
            }
            match in_pieces(&text, &LIMITS) {
                Some(value) => {
                    let whole = whole(&text, 64);
                    assert_eq!(ordered(Some(&value)), ordered(whole.as_ref()), "{text}");
                    cut_ok += 1;
                }
                None => refused += 1,
            }
        }
        assert!(
            cut_ok > 100 && refused > 100,
            "{cut_ok} cut, {refused} whole"
        );
    }
}

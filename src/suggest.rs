//! "Did you mean ...?" for names that refer to nothing.

/// The candidate closest to `name` by edit distance, if it is close enough to be a typo.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| {
            let prefix = name.len() >= 2 && c.starts_with(name);
            (if prefix { 0 } else { edit_distance(name, c) }, c)
        })
        .filter(|(d, c)| *d <= limit && *d < c.chars().count())
        .min()
        .map(|(_, c)| c)
}

/// A help line: the closest candidate, or the list of valid names.
pub fn help_for<'a>(
    name: &str,
    what: &str,
    candidates: impl IntoIterator<Item = &'a str> + Clone,
) -> String {
    match closest(name, candidates.clone()) {
        Some(c) => format!("did you mean `{c}`?"),
        None => {
            let all: Vec<String> = candidates.into_iter().map(|c| format!("`{c}`")).collect();
            if all.is_empty() {
                format!("no {what} is defined")
            } else {
                format!("known {what}: {}", all.join(", "))
            }
        }
    }
}

/// Optimal string alignment distance: a swap of two neighbours counts as one edit.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_typos_but_not_strangers() {
        assert_eq!(closest("replicsa", ["replicas", "image"]), Some("replicas"));
        assert_eq!(
            closest("pgbouncr", ["pgbouncer", "postgres"]),
            Some("pgbouncer")
        );
        assert_eq!(closest("zzz", ["replicas", "image"]), None);
        assert_eq!(closest("dve", ["dev", "prod"]), Some("dev"));
        assert_eq!(closest("ap", ["apps", "charts"]), Some("apps"));
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}

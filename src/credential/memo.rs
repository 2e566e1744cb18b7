//! Answers already given on this thread. The final check asks the same few
//! questions of every object (`name`, `app.kubernetes.io/part-of`, `http`),
//! and each answer is a pure function of one short string, so the second
//! asking of a string is a lookup. Only short strings are kept, and only up
//! to a bound, so the memo stays small whatever the input; a text found to
//! hold a credential is never kept (only [`Clean`] verdicts are), so no
//! secret outlives the check in here.

use std::cell::RefCell;
use std::collections::HashMap;
use std::thread::LocalKey;

/// A fixed-seed hasher: the tables are bounded and local to one thread, so
/// no input can make them grow or slow past what [`MAX_ENTRIES`] allows.
type Hasher = foldhash::fast::FixedState;

/// One question's answers by the string asked about.
pub(super) type Table<V> = RefCell<HashMap<Box<str>, V, Hasher>>;

/// Strings longer than this are judged every time: long texts (config
/// files, certificates) seldom repeat, and hashing them costs what judging does.
pub(super) const MAX_LEN: usize = 64;

/// Answers kept per question and thread; past this, new ones are not kept.
pub(super) const MAX_ENTRIES: usize = 1 << 14;

/// A text the detectors found nothing in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Clean;

pub(super) fn table<V>() -> Table<V> {
    RefCell::new(HashMap::with_hasher(Hasher::default()))
}

/// `judge(key)`, from `memo` when this thread has answered it before. An
/// answer `keep` refuses is returned but not kept.
pub(super) fn recall<V: Copy, R>(
    memo: &'static LocalKey<Table<V>>,
    key: &str,
    judge: impl FnOnce(&str) -> R,
    keep: impl FnOnce(&R) -> Option<V>,
    known: impl FnOnce(V) -> R,
) -> R {
    if key.len() > MAX_LEN {
        return judge(key);
    }
    // The borrow ends before `judge` runs: a judge may ask other questions.
    if let Some(v) = memo.with_borrow(|t| t.get(key).copied()) {
        return known(v);
    }
    let answer = judge(key);
    if let Some(v) = keep(&answer) {
        memo.with_borrow_mut(|t| {
            if t.len() < MAX_ENTRIES {
                t.insert(key.into(), v);
            }
        });
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        static LENGTHS: Table<usize> = table();
    }

    fn length(key: &str) -> usize {
        recall(
            &LENGTHS,
            key,
            str::len,
            |&n| (n % 2 == 0).then_some(n),
            |n| n,
        )
    }

    #[test]
    fn an_answer_is_the_judges_whether_kept_refused_or_too_long() {
        let long = "x".repeat(MAX_LEN + 1);
        for key in ["", "ab", "abc", "name", long.as_str()] {
            assert_eq!(length(key), key.len());
            assert_eq!(length(key), key.len(), "asked again: {key:?}");
        }
        // Kept: even lengths of short keys; refused by `keep`: "abc"; too long: `long`.
        let kept: Vec<usize> = LENGTHS.with_borrow(|t| {
            let mut v: Vec<usize> = t.values().copied().collect();
            v.sort();
            v
        });
        assert_eq!(kept, [0, 2, 4]);
    }

    #[test]
    fn past_the_bound_answers_are_given_and_not_kept() {
        thread_local! {
            static COUNT: Table<bool> = table();
        }
        let judged = std::cell::Cell::new(0);
        let ask = |key: &str| {
            recall(
                &COUNT,
                key,
                |_| {
                    judged.set(judged.get() + 1);
                    true
                },
                |&b| Some(b),
                |b| b,
            )
        };
        for i in 0..MAX_ENTRIES + 10 {
            assert!(ask(&format!("k{i}")));
        }
        assert_eq!(COUNT.with_borrow(|t| t.len()), MAX_ENTRIES);
        let before = judged.get();
        assert!(ask("k0"));
        assert_eq!(judged.get(), before, "a kept answer is not judged again");
        assert!(ask(&format!("k{}", MAX_ENTRIES + 5)));
        assert_eq!(
            judged.get(),
            before + 1,
            "one past the bound is judged again"
        );
    }
}

//! The automatic review: every text of an activity is checked against the
//! tenant's word list, in a form that ordinary evasion does not change
//! ([`normalise`]), and for contact details ([`contacts`]).
//!
//! - One Aho-Corasick automaton, leftmost-longest, holds the words and the
//!   allowed phrases folded alike: where an allowed phrase starts first or
//!   runs longer, it wins and hides the word inside it (`三黄片` hides
//!   `黄片`; `路口` and `交通` hide `口交` in `路口交通`).
//! - A word of Latin letters or digits matches only from the start of an
//!   original word to the end of one (`av` is not in `have a`, but
//!   `F u c k` is one word spaced out).
//! - Each finding names the original span, the word and its category.

mod contacts;
pub mod normalise;
pub mod rules;

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use edgepoints_protocol::review::{Finding, ReviewRules, CONTACT_CATEGORY};

pub use contacts::{contacts, ContactKind};
use normalise::{fold, fold_pattern};

/// Rules the review cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    #[error("`{0}` has no letters or digits: it would match everywhere or nowhere")]
    EmptyPattern(String),
    #[error("a category is 1 to 32 characters")]
    BadCategory,
    #[error("at most {max} words and allowed phrases in all")]
    TooMany { max: usize },
    #[error("the word list cannot be compiled: {0}")]
    Compile(String),
}

/// Most words and allowed phrases one tenant may have.
pub const MAX_PATTERNS: usize = 100_000;

struct Entry {
    word: String,
    /// `None` for an allowed phrase.
    category: Option<String>,
    /// Whether the folded pattern starts / ends with a Latin letter or
    /// digit, which must then start / end an original word.
    latin_start: bool,
    latin_end: bool,
}

/// A compiled rule set.
pub struct Reviewer {
    automaton: AhoCorasick,
    entries: Vec<Entry>,
}

impl Reviewer {
    pub fn new(rules: &ReviewRules) -> Result<Reviewer, RulesError> {
        if rules.words.len() + rules.allowed.len() > MAX_PATTERNS {
            return Err(RulesError::TooMany { max: MAX_PATTERNS });
        }
        // One entry per folded form; an allowed phrase beats a word that
        // folds the same.
        let mut by_fold: HashMap<String, usize> = HashMap::new();
        let mut patterns: Vec<String> = Vec::new();
        let mut entries: Vec<Entry> = Vec::new();
        let candidates = rules
            .allowed
            .iter()
            .map(|phrase| (phrase, None))
            .chain(rules.words.iter().map(|w| (&w.word, Some(&w.category))));
        for (text, category) in candidates {
            if let Some(category) = category {
                if category.is_empty() || category.chars().count() > 32 {
                    return Err(RulesError::BadCategory);
                }
            }
            let folded = fold_pattern(text);
            if folded.is_empty() {
                return Err(RulesError::EmptyPattern(text.clone()));
            }
            if by_fold.contains_key(&folded) {
                continue;
            }
            by_fold.insert(folded.clone(), entries.len());
            entries.push(Entry {
                word: text.clone(),
                category: category.cloned(),
                latin_start: folded.starts_with(|c: char| c.is_ascii_alphanumeric()),
                latin_end: folded.ends_with(|c: char| c.is_ascii_alphanumeric()),
            });
            patterns.push(folded);
        }
        let automaton = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&patterns)
            .map_err(|e| RulesError::Compile(e.to_string()))?;
        Ok(Reviewer { automaton, entries })
    }

    /// Everything the rules find in `text`, in the order it appears.
    pub fn review(&self, text: &str) -> Vec<Finding> {
        let folded = fold(text);
        let mut findings = Vec::new();
        for found in self.automaton.find_iter(&folded.text) {
            let entry = &self.entries[found.pattern().as_usize()];
            let Some(category) = &entry.category else {
                continue;
            };
            if (entry.latin_start && !folded.starts_word(found.start()))
                || (entry.latin_end && !folded.ends_word(found.end()))
            {
                continue;
            }
            let span = folded.origin(found.range());
            findings.push(Finding {
                category: category.clone(),
                word: entry.word.clone(),
                start: span.start,
                end: span.end,
                text: text[span].to_owned(),
            });
        }
        for (kind, span) in contacts(text) {
            findings.push(Finding {
                category: CONTACT_CATEGORY.to_owned(),
                word: match kind {
                    ContactKind::Phone => "phone",
                    ContactKind::Url => "url",
                }
                .to_owned(),
                start: span.start,
                end: span.end,
                text: text[span].to_owned(),
            });
        }
        findings.sort_by_key(|f| (f.start, f.end));
        findings
    }
}

/// The rules a tenant starts with: a small list for the demo and the tests
/// (a real tenant loads its own over the admin API).
pub fn default_rules() -> ReviewRules {
    serde_json::from_str(include_str!("default_rules.json")).expect("the default rules parse")
}

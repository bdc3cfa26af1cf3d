//! The text the review matches against, and the way back to the original.
//!
//! Each character of the original is folded on its own, in this order:
//! Unicode NFKC (full-width → half-width, circled digits → digits,
//! ligatures → letters), lower case, then the UTS #39 confusable skeleton
//! (Cyrillic `а` → Latin `a`, `0` → `o`-like prototypes, …), and lower case
//! again, since a skeleton may end in capitals. Combining marks are dropped
//! (`fück` reads `fuck`). Characters that are neither letters nor digits —
//! spaces, punctuation, symbols, zero-width characters — are separators:
//! they are left out of the folded text, so `代.开.发.票` and `F u c k`
//! read as the words they hide, but each folded character remembers
//! whether a separator stood before it (a word boundary for Latin words).
//!
//! Patterns go through the same fold, so both sides agree whatever the
//! tables say. Every folded character keeps the byte span of the original
//! character it came from: a match on the folded text names its span in
//! the original.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::OnceLock;

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;
use unicode_security::confusable_detection::skeleton;

/// The folded form of a text.
#[derive(Debug, Clone, Default)]
pub struct Folded {
    /// Letters and digits only, folded.
    pub text: String,
    /// Per character of `text`: its byte offset in `text`, the original
    /// span it came from, and whether a separator (or the text's start)
    /// stood before its original character.
    chars: Vec<FoldedChar>,
}

#[derive(Debug, Clone)]
struct FoldedChar {
    at: usize,
    origin: Range<usize>,
    after_separator: bool,
}

impl Folded {
    /// The original byte span of the folded bytes `range`.
    pub fn origin(&self, range: Range<usize>) -> Range<usize> {
        let first = self.char_at(range.start);
        let last = self.char_at(range.end.saturating_sub(1).max(range.start));
        self.chars[first].origin.start..self.chars[last].origin.end
    }

    /// Whether folded byte `at` starts an original word: a separator (or
    /// nothing) stands before its original character.
    pub fn starts_word(&self, at: usize) -> bool {
        let index = self.char_at(at);
        // Characters folded from one original character share its span: only
        // the first of them can start a word.
        self.chars[index].after_separator && (index == 0 || self.chars[index - 1].origin != self.chars[index].origin)
    }

    /// Whether folded byte `end` (exclusive) ends an original word.
    pub fn ends_word(&self, end: usize) -> bool {
        let index = self.char_at(end.saturating_sub(1));
        match self.chars.get(index + 1) {
            None => true,
            Some(next) => next.after_separator && next.origin != self.chars[index].origin,
        }
    }

    fn char_at(&self, at: usize) -> usize {
        match self.chars.binary_search_by(|c| c.at.cmp(&at)) {
            Ok(index) => index,
            Err(index) => index.saturating_sub(1),
        }
    }
}

/// Whether `c` counts as part of a word (everything else separates).
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

/// Distinct characters outside the Basic Multilingual Plane a thread
/// remembers the fold of; past it, it starts over.
const CACHE_LIMIT: usize = 65_536;

/// Folds already computed on this thread: the Basic Multilingual Plane by
/// code point (where nearly all text is), the rest by character.
#[derive(Default)]
struct FoldCache {
    plane: Vec<Option<Box<str>>>,
    astral: HashMap<char, Box<str>>,
}

thread_local! {
    static FOLDS: RefCell<FoldCache> = RefCell::new(FoldCache::default());
}

/// The fold of every ASCII character, made once.
fn ascii_folds() -> &'static [Box<str>] {
    static ASCII: OnceLock<Vec<Box<str>>> = OnceLock::new();
    ASCII.get_or_init(|| {
        (0u8..128)
            .map(|b| {
                let mut out = String::new();
                fold_char_uncached(char::from(b), &mut out);
                out.into_boxed_str()
            })
            .collect()
    })
}

/// The fold of one character (letters and digits only; empty for a
/// separator or a combining mark). Each character's fold depends on it
/// alone, so it is computed once per thread and looked up after.
pub fn fold_char(c: char, out: &mut String) {
    if c.is_ascii() {
        out.push_str(&ascii_folds()[c as usize]);
        return;
    }
    FOLDS.with(|cache| {
        let mut cache = cache.borrow_mut();
        let code = c as usize;
        if code < 0x1_0000 {
            if cache.plane.is_empty() {
                cache.plane.resize(0x1_0000, None);
            }
            if let Some(folded) = &cache.plane[code] {
                out.push_str(folded);
                return;
            }
            let start = out.len();
            fold_char_uncached(c, out);
            cache.plane[code] = Some(out[start..].into());
            return;
        }
        if let Some(folded) = cache.astral.get(&c) {
            out.push_str(folded);
            return;
        }
        let start = out.len();
        fold_char_uncached(c, out);
        if cache.astral.len() >= CACHE_LIMIT {
            cache.astral.clear();
        }
        cache.astral.insert(c, out[start..].into());
    });
}

fn fold_char_uncached(c: char, out: &mut String) {
    for compatible in std::iter::once(c).nfkc() {
        for lower in compatible.to_lowercase() {
            if is_combining_mark(lower) {
                continue;
            }
            let mut buffer = [0u8; 4];
            for prototype in skeleton(lower.encode_utf8(&mut buffer)) {
                for folded in prototype.to_lowercase() {
                    if is_word_char(folded) && !is_combining_mark(folded) {
                        out.push(folded);
                    }
                }
            }
        }
    }
}

/// Folds `original`, keeping the way back.
pub fn fold(original: &str) -> Folded {
    let mut folded = Folded::default();
    let mut after_separator = true;
    let mut piece = String::new();
    for (start, c) in original.char_indices() {
        let origin = start..start + c.len_utf8();
        if is_combining_mark(c) {
            // Part of the character before it: neither a letter nor a break.
            continue;
        }
        piece.clear();
        fold_char(c, &mut piece);
        if piece.is_empty() {
            after_separator = true;
            continue;
        }
        for folded_char in piece.chars() {
            folded.chars.push(FoldedChar {
                at: folded.text.len(),
                origin: origin.clone(),
                after_separator,
            });
            folded.text.push(folded_char);
        }
        after_separator = false;
    }
    folded
}

/// The fold of a pattern: what it looks like in folded text.
pub fn fold_pattern(pattern: &str) -> String {
    fold(pattern).text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_circled_and_cased_forms_fold_alike() {
        assert_eq!(fold_pattern("ＦＵＣＫ"), fold_pattern("fuck"));
        assert_eq!(fold_pattern("①②③"), fold_pattern("123"));
        assert_eq!(fold_pattern("Ｗｅｉ Ｘｉｎ"), fold_pattern("weixin"));
    }

    #[test]
    fn separators_vanish_and_spans_lead_back_to_the_original() {
        let original = "买 代.开.发.票!";
        let folded = fold(original);
        assert_eq!(folded.text, fold_pattern("买代开发票"));
        let at = folded.text.find(&fold_pattern("代开")).unwrap();
        let span = folded.origin(at..at + fold_pattern("代开发票").len());
        assert_eq!(&original[span], "代.开.发.票");
    }

    #[test]
    fn word_boundaries_are_those_of_the_original() {
        let folded = fold("have a");
        let at = folded.text.find(&fold_pattern("av")).unwrap();
        assert!(!folded.starts_word(at), "the a of have starts no word");
        let spaced = fold("F u c k");
        assert!(spaced.starts_word(0) && spaced.ends_word(spaced.text.len()));
    }
}

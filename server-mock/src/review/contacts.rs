//! Contact details in an ad — phone numbers and web addresses — are
//! findings of their own category: a promotion routes customers through
//! the platform, not around it.
//!
//! Matched on the NFKC form of each character (so full-width and circled
//! digits count), with the span of the original.

use std::ops::Range;
use std::sync::OnceLock;

use regex::Regex;
use unicode_normalization::{is_nfkc_quick, IsNormalized, UnicodeNormalization};

/// What a contact finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactKind {
    Phone,
    Url,
}

/// Digits in a row, with the separators people put in phone numbers.
fn phone() -> &'static Regex {
    static PHONE: OnceLock<Regex> = OnceLock::new();
    PHONE.get_or_init(|| Regex::new(r"\+?\d(?:[ \-.()]{0,2}\d){6,}").expect("valid pattern"))
}

/// A date at the start of a digit run (`2026-12-01 10…`), which is not a
/// phone number.
fn date() -> &'static Regex {
    static DATE: OnceLock<Regex> = OnceLock::new();
    DATE.get_or_init(|| Regex::new(r"^\d{4}[-./]\d{1,2}[-./]\d{1,2}").expect("valid pattern"))
}

/// Whether a digit run reads as a phone number: 10 to 15 digits (a
/// mobile, or a landline with its area code), or 8 or more after a `+`;
/// prices, counts and dates are shorter or shaped otherwise.
fn is_phone(candidate: &str) -> bool {
    let digits = candidate.chars().filter(char::is_ascii_digit).count();
    !date().is_match(candidate)
        && ((10..=15).contains(&digits) || (candidate.starts_with('+') && (8..=15).contains(&digits)))
}

/// A scheme, `www.`, or a host name ending in a common top-level domain.
fn url() -> &'static Regex {
    static URL: OnceLock<Regex> = OnceLock::new();
    URL.get_or_init(|| {
        Regex::new(
            r"(?i)(?:https?://|www\.)[^\s]+|\b[a-z0-9][a-z0-9\-]*(?:\.[a-z0-9\-]+)*\.(?:com|cn|net|org|io|cc|top|xyz|info|me|co|shop|vip)\b(?:/[^\s]*)?",
        )
        .expect("valid pattern")
    })
}

/// The NFKC form of `original`, character by character, with the offset
/// of the original character each output byte came from.
fn compatible(original: &str) -> (String, Vec<u32>) {
    let mut text = String::with_capacity(original.len());
    let mut origins = Vec::with_capacity(original.len());
    for (start, c) in original.char_indices() {
        let before = text.len();
        // Most characters are their own NFKC form: a table lookup says so.
        if is_nfkc_quick(std::iter::once(c)) == IsNormalized::Yes {
            text.push(c);
        } else {
            text.extend(std::iter::once(c).nfkc());
        }
        origins.extend(std::iter::repeat_n(start as u32, text.len() - before));
    }
    (text, origins)
}

/// Every contact detail in `original`, with its original span.
pub fn contacts(original: &str) -> Vec<(ContactKind, Range<usize>)> {
    let (text, origins) = compatible(original);
    let span = |m: regex::Match<'_>| {
        let last = origins[m.end() - 1] as usize;
        let last_len = original[last..].chars().next().map_or(1, char::len_utf8);
        origins[m.start()] as usize..last + last_len
    };
    let mut found: Vec<(ContactKind, Range<usize>)> =
        url().find_iter(&text).map(|m| (ContactKind::Url, span(m))).collect();
    for m in phone().find_iter(&text).filter(|m| is_phone(m.as_str())) {
        let at = span(m);
        // Digits inside an address are the address's.
        if !found.iter().any(|(_, url)| url.start <= at.start && at.end <= url.end) {
            found.push((ContactKind::Phone, at));
        }
    }
    found.sort_by_key(|(_, span)| span.start);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_and_addresses_are_found_in_any_width() {
        let text = "加微信 １３８-0013-8000 或访问 ｗｗｗ．ｄｅａｌｓ．ｃｏｍ 价格 199 元";
        let found = contacts(text);
        let kinds: Vec<ContactKind> = found.iter().map(|(k, _)| *k).collect();
        assert_eq!(kinds, [ContactKind::Phone, ContactKind::Url], "{found:?}");
        assert_eq!(&text[found[0].1.clone()], "１３８-0013-8000");
        assert!(text[found[1].1.clone()].starts_with("ｗｗｗ"));
    }

    #[test]
    fn prices_dates_and_plain_words_are_not_contacts() {
        assert!(contacts("满 199 减 30，2026-12-01 10:30 起，每人限 2 张").is_empty());
        assert!(contacts("Order 1234567 ships 2026.12.01").is_empty());
        assert!(contacts("Fresh coffee. Come in").is_empty());
    }
}

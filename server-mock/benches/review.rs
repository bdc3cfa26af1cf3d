//! Review throughput: 1 MB of mixed Chinese and English text against a
//! 10 000-word list, the whole review (fold, match, boundaries, contacts)
//! beside the bare automaton over the raw text with the raw words, in the
//! same run. The ratio is the price of matching that evasion does not beat.
//!
//! ```sh
//! cargo bench -p edgepoints-mock-server --bench review
//! EDGEPOINTS_REVIEW_KB=64 EDGEPOINTS_REVIEW_RUNS=1 cargo test -p edgepoints-mock-server --bench review
//! ```
//!
//! Runs alternate (bare, review, bare, review, …) so both see the same
//! machine; each figure is the median of the runs.

use std::time::{Duration, Instant};

use aho_corasick::{AhoCorasickBuilder, MatchKind};
use edgepoints_mock_server::review::Reviewer;
use edgepoints_protocol::review::{ReviewRules, ReviewWord};

const WORDS: usize = 10_000;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn han(rng: &mut fastrand::Rng) -> char {
    // The common CJK block.
    char::from_u32(0x4E00 + rng.u32(0..0x2000)).expect("a Han character")
}

/// A lower-case word of `min` to `max - 1` letters.
fn latin_word(rng: &mut fastrand::Rng, min: usize, max: usize) -> String {
    let len = rng.usize(min..max);
    (0..len).map(|_| rng.lowercase()).collect()
}

fn word_list(rng: &mut fastrand::Rng) -> Vec<String> {
    (0..WORDS)
        .map(|n| {
            if n % 2 == 0 {
                (0..rng.usize(2..5)).map(|_| han(rng)).collect()
            } else {
                latin_word(rng, 5, 9)
            }
        })
        .collect()
}

/// About `bytes` of text: Han runs, English words, spaces and punctuation,
/// with a list word every few hundred bytes, some of them spaced out.
fn text(rng: &mut fastrand::Rng, words: &[String], bytes: usize) -> String {
    let mut text = String::with_capacity(bytes + 64);
    while text.len() < bytes {
        match rng.u8(0..20) {
            0..=8 => (0..rng.usize(3..12)).for_each(|_| text.push(han(rng))),
            9..=16 => {
                text.push_str(&latin_word(rng, 2, 9));
                text.push(' ');
            }
            17 => text.push('，'),
            18 => text.push_str(". "),
            _ => {
                let word = &words[rng.usize(..words.len())];
                if rng.bool() {
                    text.push_str(word);
                } else {
                    let spaced: Vec<String> = word.chars().map(String::from).collect();
                    text.push_str(&spaced.join("."));
                }
                text.push(' ');
            }
        }
    }
    text
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn main() {
    let kilobytes = env("EDGEPOINTS_REVIEW_KB", 1024);
    let runs = env("EDGEPOINTS_REVIEW_RUNS", 7).max(1);
    let mut rng = fastrand::Rng::with_seed(11);
    let words = word_list(&mut rng);
    let text = text(&mut rng, &words, kilobytes * 1024);
    let rules = ReviewRules {
        words: words
            .iter()
            .map(|w| ReviewWord {
                word: w.clone(),
                category: "test".into(),
            })
            .collect(),
        allowed: Vec::new(),
    };

    let built = Instant::now();
    let reviewer = Reviewer::new(&rules).expect("the rules compile");
    let review_build = built.elapsed();
    let built = Instant::now();
    let bare = AhoCorasickBuilder::new()
        .match_kind(MatchKind::LeftmostLongest)
        .build(&words)
        .expect("the words compile");
    let bare_build = built.elapsed();

    let (mut bare_runs, mut review_runs) = (Vec::new(), Vec::new());
    let (mut bare_hits, mut review_hits) = (0, 0);
    for _ in 0..runs {
        let start = Instant::now();
        bare_hits = bare.find_iter(&text).count();
        bare_runs.push(start.elapsed());
        let start = Instant::now();
        review_hits = reviewer.review(&text).len();
        review_runs.push(start.elapsed());
    }
    let (bare_time, review_time) = (median(bare_runs), median(review_runs));
    let mb = text.len() as f64 / 1e6;
    println!("text {:.2} MB, {WORDS} words, {runs} runs each (median)", mb);
    println!(
        "bare automaton  {:>9.2} ms  {:>8.1} MB/s  {bare_hits} hits  (build {:.1} ms)",
        bare_time.as_secs_f64() * 1e3,
        mb / bare_time.as_secs_f64(),
        bare_build.as_secs_f64() * 1e3
    );
    println!(
        "review          {:>9.2} ms  {:>8.1} MB/s  {review_hits} findings  (build {:.1} ms)",
        review_time.as_secs_f64() * 1e3,
        mb / review_time.as_secs_f64(),
        review_build.as_secs_f64() * 1e3
    );
    println!(
        "review / bare   {:>9.1}x",
        review_time.as_secs_f64() / bare_time.as_secs_f64()
    );
    assert!(review_hits > 0, "the list words in the text are found");
}

//! Cutting clean text into overlapping passages.
//!
//! Passages are what gets indexed and later quoted to the model, so they must
//! be small enough to be specific (and cheap in a prompt) yet big enough to
//! carry a whole fact. Cuts prefer paragraph breaks, then sentence ends, then
//! spaces, so passages read naturally. Consecutive passages overlap by about
//! 20% so a fact spanning a cut is complete in at least one of them.
//!
//! All sizes are counted in `char`s, never bytes, so multibyte text is never
//! split inside a character. Each chunk's text is the exact slice of the input
//! starting at `start_char`, which keeps overlap and coverage checkable.

use serde::{Deserialize, Serialize};

/// Target passage size, in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkSize {
    /// Smallest passage, except the last one of a text.
    pub min: usize,
    /// Largest passage.
    pub max: usize,
    /// How much of a passage is repeated at the start of the next (clamped to 0–50).
    pub overlap_percent: usize,
}

impl Default for ChunkSize {
    fn default() -> Self {
        Self {
            min: 500,
            max: 1000,
            overlap_percent: 20,
        }
    }
}

/// One passage of a text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    /// Position of the passage within its text, from 0.
    pub index: usize,
    /// The passage: exactly the input's characters from `start_char`.
    pub text: String,
    /// Offset of the first character, counted in chars.
    pub start_char: usize,
}

/// Cuts `text` into passages of `target.min..=target.max` characters (the last
/// may be shorter) that overlap by about `target.overlap_percent`.
///
/// A cut lands mid-word only when no space exists in the allowed window, i.e.
/// a single "word" (a URL, a code) longer than `max - min`; the size bounds win.
pub fn chunk(text: &str, target: ChunkSize) -> Vec<Chunk> {
    let chars: Vec<char> = text.chars().collect();
    let n = chars.len();
    let max = target.max.max(1);
    let min = target.min.min(max);
    let percent = target.overlap_percent.min(50);

    let mut chunks = Vec::new();
    let mut start = 0;
    while start < n {
        let end = if n - start <= max {
            n
        } else {
            best_end(&chars, start + min.max(1), start + max)
        };
        chunks.push(Chunk {
            index: chunks.len(),
            text: chars[start..end].iter().collect(),
            start_char: start,
        });
        if end == n {
            break;
        }
        start = next_start(&chars, start, end, percent);
    }
    chunks
}

/// How good a cut just before position `p` is (higher is better).
fn boundary_rank(chars: &[char], p: usize) -> u8 {
    if p == 0 || p >= chars.len() {
        return 3;
    }
    let before = chars[p - 1];
    let after = chars[p];
    if !before.is_whitespace() || after.is_whitespace() {
        // Only cut at the start of a word, so whitespace stays with the
        // earlier passage and every passage begins with a word.
        return 0;
    }
    if before == '\n' && p >= 2 && chars[p - 2] == '\n' {
        return 3;
    }
    let prev_visible = chars[..p].iter().rev().find(|c| !c.is_whitespace());
    if before == '\n' || matches!(prev_visible, Some('.' | '?' | '!')) {
        return 2;
    }
    1
}

/// The best cut in `lo..=hi`: the latest paragraph break, else the latest
/// sentence end, else the latest word start, else `hi` itself.
fn best_end(chars: &[char], lo: usize, hi: usize) -> usize {
    let mut best: Option<(u8, usize)> = None;
    for p in lo..=hi {
        let rank = boundary_rank(chars, p);
        if rank > 0 && best.is_none_or(|(r, _)| rank >= r) {
            best = Some((rank, p));
        }
    }
    best.map_or(hi, |(_, p)| p)
}

/// Where the passage after `start..end` begins: a boundary near
/// `end - overlap`, preferring sentence starts, then word starts.
fn next_start(chars: &[char], start: usize, end: usize, percent: usize) -> usize {
    let overlap = (end - start) * percent / 100;
    if overlap == 0 {
        return end;
    }
    let target = end - overlap;
    let slack = overlap / 4;
    let lo = target.saturating_sub(slack).max(start + 1);
    let hi = (target + slack).min(end - 1);
    let mut best: Option<(u8, usize, usize)> = None; // (rank, distance, position)
    for p in lo..=hi {
        let rank = boundary_rank(chars, p).min(2);
        if rank == 0 {
            continue;
        }
        let distance = p.abs_diff(target);
        let better = match best {
            None => true,
            Some((r, d, _)) => rank > r || (rank == r && distance < d),
        };
        if better {
            best = Some((rank, distance, p));
        }
    }
    best.map_or(target, |(_, _, p)| p)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sample(paragraphs: usize) -> String {
        (0..paragraphs)
            .map(|i| {
                format!(
                    "Paragraph {i} talks about the café and its opening hours. \
                     Prices change every season, so ask at the desk! Is parking free? \
                     Yes, behind the building 🚗. We accept most insurance plans and \
                     cancellations need 24 hours notice."
                )
            })
            .collect::<Vec<_>>()
            .join("\n\n")
    }

    fn check_invariants(text: &str, size: ChunkSize) -> Vec<Chunk> {
        let chunks = chunk(text, size);
        let chars: Vec<char> = text.chars().collect();
        let mut covered_to = 0;
        for (i, c) in chunks.iter().enumerate() {
            let len = c.text.chars().count();
            assert_eq!(c.index, i);
            assert!(len <= size.max, "chunk {i} too long: {len}");
            if i + 1 < chunks.len() {
                assert!(len >= size.min.min(size.max), "chunk {i} too short: {len}");
            }
            // The text is the exact slice at start_char.
            let slice: String = chars[c.start_char..c.start_char + len].iter().collect();
            assert_eq!(slice, c.text);
            // Coverage: no gap before this chunk.
            assert!(c.start_char <= covered_to, "gap before chunk {i}");
            covered_to = covered_to.max(c.start_char + len);
        }
        assert_eq!(covered_to, chars.len(), "tail not covered");
        chunks
    }

    #[test]
    fn empty_and_short_texts() {
        assert!(chunk("", ChunkSize::default()).is_empty());
        let short = chunk("Open 9 to 5.", ChunkSize::default());
        assert_eq!(short.len(), 1);
        assert_eq!(short[0].text, "Open 9 to 5.");
        assert_eq!(short[0].start_char, 0);
    }

    #[test]
    fn bounds_coverage_and_overlap() {
        let text = sample(40);
        let chunks = check_invariants(&text, ChunkSize::default());
        assert!(chunks.len() > 5);
        for pair in chunks.windows(2) {
            let prev_len = pair[0].text.chars().count();
            let prev_end = pair[0].start_char + prev_len;
            let overlap = prev_end - pair[1].start_char;
            // About 20%: within 14–26% of the previous chunk (rounding included).
            assert!(
                overlap * 100 >= prev_len * 14 && overlap * 100 <= prev_len * 26,
                "overlap {overlap} of {prev_len}"
            );
            // The next chunk begins with the tail of the previous one.
            let tail: String = pair[0].text.chars().skip(prev_len - overlap).collect();
            assert!(pair[1].text.starts_with(&tail));
        }
    }

    #[test]
    fn prefers_paragraph_then_sentence_boundaries() {
        let text = sample(40);
        let chunks = chunk(&text, ChunkSize::default());
        for c in &chunks[..chunks.len() - 1] {
            assert!(
                c.text.ends_with("\n\n"),
                "not cut at a paragraph: {:?}",
                c.text
            );
        }
        let one_paragraph = vec![sample(1); 8].join(" ");
        for c in check_invariants(&one_paragraph, ChunkSize::default()) {
            let first = c.text.chars().next().unwrap();
            assert!(first.is_alphanumeric(), "starts mid-word: {:?}", c.text);
            if c.start_char > 0 {
                let before: String = one_paragraph.chars().take(c.start_char).collect();
                let last = before.trim_end().chars().last().unwrap();
                assert!(
                    matches!(last, '.' | '?' | '!'),
                    "next chunk not at a sentence"
                );
            }
        }
    }

    #[test]
    fn multibyte_text_is_safe() {
        let text = "café 🦷 naïve résumé 😀 ".repeat(300);
        let size = ChunkSize::default();
        let chunks = check_invariants(&text, size);
        assert!(chunks.len() > 3);
        for c in &chunks {
            // Cuts happen at word starts, never inside a word.
            assert!(!c.text.starts_with(' '));
            assert!(c.text.ends_with(' '));
        }
    }

    #[test]
    fn long_words_are_split_only_when_unavoidable() {
        let word = "x".repeat(2500);
        let size = ChunkSize::default();
        let chunks = check_invariants(&word, size);
        assert!(chunks.iter().all(|c| c.text.chars().count() <= 1000));
        let text = format!("short words here {}", "y".repeat(600));
        check_invariants(&text.repeat(4), size);
    }

    #[test]
    fn other_sizes_and_no_overlap() {
        let text = sample(10);
        let small = ChunkSize {
            min: 50,
            max: 120,
            overlap_percent: 0,
        };
        let chunks = check_invariants(&text, small);
        for pair in chunks.windows(2) {
            assert_eq!(
                pair[0].start_char + pair[0].text.chars().count(),
                pair[1].start_char
            );
        }
        let joined: String = chunks.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(joined, text);
        // Degenerate settings still terminate and cover everything.
        let odd = ChunkSize {
            min: 900,
            max: 10,
            overlap_percent: 100,
        };
        check_invariants(&text, odd);
    }

    #[test]
    fn invariants_hold_on_generated_text() {
        // A tiny LCG gives varied word lengths, punctuation and breaks without a dependency.
        let mut seed: u64 = 42;
        let mut next = move |m: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % m
        };
        let pieces = ["é", "🦷", "a", "ß", "x", "漢"];
        for round in 0..20 {
            let mut text = String::new();
            for _ in 0..(200 + next(900)) {
                for _ in 0..(1 + next(12)) {
                    text.push_str(pieces[next(6) as usize]);
                }
                text.push_str([" ", " ", " ", ". ", "\n", "\n\n", "! "][next(7) as usize]);
            }
            let min = 20 + next(500) as usize;
            let max = min + 1 + next(600) as usize;
            let percent = next(40) as usize;
            let size = ChunkSize {
                min,
                max,
                overlap_percent: percent,
            };
            check_invariants(&text, size);
            assert_eq!(chunk(&text, size), chunk(&text, size), "round {round}");
        }
    }

    #[test]
    fn deterministic() {
        let text = sample(25);
        assert_eq!(
            chunk(&text, ChunkSize::default()),
            chunk(&text, ChunkSize::default())
        );
    }
}

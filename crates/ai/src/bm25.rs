//! Lexical search over passages with Okapi BM25.
//!
//! BM25 is the retrieval that always works: it needs no embedding model, is
//! cheap to rebuild from stored passages, and is strong on the exact words
//! leads use (prices, product names, street names). The index lives in memory
//! and is rebuilt from the database by the caller; `add` and `remove` keep it
//! current as sources change.

use std::collections::{BTreeMap, HashMap};

use crate::tokens::tokenize;
use crate::ChunkId;

/// BM25 tuning constants.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bm25Params {
    /// Term-frequency saturation.
    pub k1: f64,
    /// Strength of document-length normalisation (0 = none, 1 = full).
    pub b: f64,
}

impl Default for Bm25Params {
    fn default() -> Self {
        Self { k1: 1.2, b: 0.75 }
    }
}

/// One indexed passage: its term frequencies and length in terms.
#[derive(Debug, Clone)]
struct Passage {
    terms: HashMap<String, u32>,
    len: usize,
}

/// In-memory BM25 index of passages.
#[derive(Debug, Clone, Default)]
pub struct Bm25Index {
    params: Bm25Params,
    passages: HashMap<ChunkId, Passage>,
    /// term → passages containing it, with the term's frequency there.
    postings: HashMap<String, BTreeMap<ChunkId, u32>>,
    total_len: usize,
}

impl Bm25Index {
    /// An empty index with the standard parameters (k1 = 1.2, b = 0.75).
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty index with custom parameters.
    pub fn with_params(params: Bm25Params) -> Self {
        Self {
            params,
            ..Self::default()
        }
    }

    /// Builds an index from `(id, text)` pairs; a repeated id keeps the last text.
    pub fn from_passages<I, T>(passages: I) -> Self
    where
        I: IntoIterator<Item = (ChunkId, T)>,
        T: AsRef<str>,
    {
        let mut index = Self::new();
        for (id, text) in passages {
            index.add(id, text.as_ref());
        }
        index
    }

    /// Indexes a passage, replacing any passage with the same id.
    pub fn add(&mut self, id: ChunkId, text: &str) {
        self.remove(&id);
        let tokens = tokenize(text);
        let mut terms: HashMap<String, u32> = HashMap::new();
        for token in tokens.iter() {
            *terms.entry(token.clone()).or_default() += 1;
        }
        for (term, &count) in &terms {
            self.postings
                .entry(term.clone())
                .or_default()
                .insert(id.clone(), count);
        }
        self.total_len += tokens.len();
        self.passages.insert(
            id,
            Passage {
                terms,
                len: tokens.len(),
            },
        );
    }

    /// Removes a passage; returns whether it was present.
    pub fn remove(&mut self, id: &ChunkId) -> bool {
        let Some(passage) = self.passages.remove(id) else {
            return false;
        };
        self.total_len -= passage.len;
        for term in passage.terms.keys() {
            if let Some(list) = self.postings.get_mut(term) {
                list.remove(id);
                if list.is_empty() {
                    self.postings.remove(term);
                }
            }
        }
        true
    }

    /// Number of indexed passages.
    pub fn len(&self) -> usize {
        self.passages.len()
    }

    /// Whether no passage is indexed.
    pub fn is_empty(&self) -> bool {
        self.passages.is_empty()
    }

    /// Whether a passage with this id is indexed.
    pub fn contains(&self, id: &ChunkId) -> bool {
        self.passages.contains_key(id)
    }

    /// The `k` best passages for `query`, best first; ties are ordered by id.
    ///
    /// Repeated query terms count once, so "price price price" does not
    /// outweigh the rest of a question. Passages sharing no term are omitted.
    pub fn search(&self, query: &str, k: usize) -> Vec<(ChunkId, f64)> {
        if k == 0 || self.passages.is_empty() {
            return Vec::new();
        }
        let mut terms = tokenize(query);
        terms.sort();
        terms.dedup();

        let n = self.passages.len() as f64;
        let avg_len = (self.total_len as f64 / n).max(1.0);
        let Bm25Params { k1, b } = self.params;
        let mut scores: HashMap<&ChunkId, f64> = HashMap::new();
        for term in &terms {
            let Some(list) = self.postings.get(term) else {
                continue;
            };
            let df = list.len() as f64;
            let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
            for (id, &tf) in list {
                let len = self.passages.get(id).map_or(0, |p| p.len) as f64;
                let tf = f64::from(tf);
                let norm = tf + k1 * (1.0 - b + b * len / avg_len);
                *scores.entry(id).or_default() += idf * tf * (k1 + 1.0) / norm;
            }
        }
        let mut ranked: Vec<(ChunkId, f64)> = scores
            .into_iter()
            .map(|(id, score)| (id.clone(), score))
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        ranked.truncate(k);
        ranked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> ChunkId {
        ChunkId::from(s)
    }

    fn index(docs: &[(&str, &str)]) -> Bm25Index {
        Bm25Index::from_passages(docs.iter().map(|(i, t)| (id(i), *t)))
    }

    fn ids(hits: &[(ChunkId, f64)]) -> Vec<&str> {
        hits.iter().map(|(i, _)| i.as_str()).collect()
    }

    #[test]
    fn exact_term_beats_unrelated() {
        let idx = index(&[
            ("hours", "We are open Monday to Friday from 9 to 5."),
            ("parking", "Free parking is available behind the building."),
        ]);
        let hits = idx.search("Where can I park?", 10);
        assert_eq!(ids(&hits), ["parking"]);
        assert!(hits[0].1 > 0.0);
    }

    #[test]
    fn rarer_term_weighs_more() {
        let idx = index(&[
            ("a", "dentist appointment"),
            ("b", "dentist whitening"),
            ("c", "dentist checkup"),
        ]);
        let hits = idx.search("dentist whitening", 10);
        assert_eq!(ids(&hits)[0], "b");
        let common = idx.search("dentist", 1)[0].1;
        let rare = idx.search("whitening", 1)[0].1;
        assert!(rare > common, "rare {rare} common {common}");
    }

    #[test]
    fn shorter_passage_wins_for_same_term_count() {
        let idx = index(&[
            ("long", "implants cost a lot and there are many other words in this passage about teeth gums and more"),
            ("short", "implants cost"),
        ]);
        assert_eq!(ids(&idx.search("implants", 10)), ["short", "long"]);
    }

    #[test]
    fn empty_and_unknown_queries() {
        let idx = index(&[("a", "crowns and bridges")]);
        assert!(idx.search("", 10).is_empty());
        assert!(idx.search("the and of", 10).is_empty());
        assert!(idx.search("xylophone", 10).is_empty());
        assert!(idx.search("crowns", 0).is_empty());
        assert!(Bm25Index::new().search("crowns", 5).is_empty());
    }

    #[test]
    fn ties_break_by_id_and_k_limits() {
        let idx = index(&[("c", "braces"), ("a", "braces"), ("b", "braces")]);
        assert_eq!(ids(&idx.search("braces", 10)), ["a", "b", "c"]);
        assert_eq!(ids(&idx.search("braces", 2)), ["a", "b"]);
    }

    #[test]
    fn add_replace_and_remove() {
        let mut idx = index(&[("a", "root canal"), ("b", "teeth whitening")]);
        assert_eq!(idx.len(), 2);
        idx.add(id("a"), "emergency appointments");
        assert_eq!(idx.len(), 2);
        assert!(idx.search("canal", 5).is_empty());
        assert_eq!(ids(&idx.search("emergency", 5)), ["a"]);
        assert!(idx.remove(&id("a")));
        assert!(!idx.remove(&id("a")));
        assert!(!idx.contains(&id("a")));
        assert!(idx.search("emergency", 5).is_empty());
        assert!(idx.remove(&id("b")));
        assert!(idx.is_empty());
        assert!(idx.postings.is_empty());
        assert_eq!(idx.total_len, 0);
    }
}

//! A retrieval evaluation set, and recall@k measured on it.
//!
//! Retrieval quality decides whether the agent can answer at all: if the
//! passage with the answer is not among the few put in the prompt, the model
//! can only guess or hand off. This module measures that, on a small but
//! realistic knowledge base of a fictional home-services company (plumbing,
//! heating and cooling, electrical: services, prices, hours, emergencies,
//! booking, payment, warranty, membership, service area, FAQ) and questions
//! written the way leads text them. Some questions share key words with their
//! answer; others are paraphrased ("can I pay over time?" for a passage about
//! financing) so lexical search alone must miss some of them.
//!
//! Each question names its answer by a distinctive substring of the source
//! text, not by a chunk id: chunk boundaries come from the chunker, and the
//! set must survive changes to it. A question is answered at `k` when one of
//! the top `k` passages contains that substring.
//!
//! The passages go through the product's own path: [`normalise_text`],
//! [`chunk`] with the default sizes, and a [`KnowledgeIndex`] (BM25, a
//! [`BruteForceIndex`], reciprocal rank fusion). Embeddings come from the
//! caller, so this stays pure: the `switchboard eval retrieval` command passes
//! the configured model or the sandbox's deterministic embeddings.

mod dataset;

use std::fmt::Display;

use serde::Serialize;

use crate::clean::normalise_text;
use crate::retrieve::KnowledgeIndex;
use crate::vector::{BruteForceIndex, VectorError, VectorIndex};
use crate::{chunk, ChunkId, ChunkSize};

pub use dataset::{dataset, Dataset, Document, Question, QuestionKind};

/// How many texts go to the embedding function per call: embedding APIs
/// cap batch sizes, and small batches keep each request modest.
pub const EMBED_BATCH: usize = 64;

/// Which retrieval is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// BM25 alone, what a location without an embedding model gets.
    Lexical,
    /// Cosine similarity of embeddings alone (for comparison; the product
    /// never searches vectors alone).
    Vector,
    /// Both, fused with RRF: what the product does when a model is set.
    Hybrid,
}

/// Why an evaluation could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    /// Vector and hybrid modes need an embedding function.
    #[error("{0:?} retrieval needs an embedding function")]
    NoEmbeddings(Mode),
    /// The embedding function failed.
    #[error("embedding failed: {0}")]
    Embed(String),
    /// The embedding function returned the wrong number of vectors.
    #[error("asked for {asked} embeddings, got {got}")]
    EmbedCount {
        /// Texts sent.
        asked: usize,
        /// Vectors returned.
        got: usize,
    },
    /// A vector was refused (empty, zero, wrong dimensions).
    #[error(transparent)]
    Vector(#[from] VectorError),
}

/// One question's outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuestionResult {
    /// The question as asked.
    pub question: &'static str,
    /// Whether it is a paraphrased question.
    pub kind: QuestionKind,
    /// Position (from 1) of the first passage containing the answer, if it
    /// was within the top `k`.
    pub rank: Option<usize>,
}

/// Recall@k of one retrieval mode on a dataset.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The retrieval measured.
    pub mode: Mode,
    /// How many passages were retrieved per question.
    pub k: usize,
    /// How many passages the knowledge base was cut into.
    pub passages: usize,
    /// Every question's outcome, in dataset order.
    pub results: Vec<QuestionResult>,
}

impl Report {
    /// Share of questions answered within the top `k` (0 to 1).
    pub fn recall(&self) -> f64 {
        ratio(self.results.iter())
    }

    /// Recall over the questions of one kind only.
    pub fn recall_of(&self, kind: QuestionKind) -> f64 {
        ratio(self.results.iter().filter(|r| r.kind == kind))
    }

    /// Mean reciprocal rank within the top `k` (0 when not found).
    pub fn mrr(&self) -> f64 {
        if self.results.is_empty() {
            return 0.0;
        }
        let sum: f64 = self
            .results
            .iter()
            .filter_map(|r| r.rank)
            .map(|rank| 1.0 / rank as f64)
            .sum();
        sum / self.results.len() as f64
    }

    /// The questions not answered within the top `k`.
    pub fn misses(&self) -> impl Iterator<Item = &QuestionResult> {
        self.results.iter().filter(|r| r.rank.is_none())
    }
}

fn ratio<'a>(results: impl Iterator<Item = &'a QuestionResult>) -> f64 {
    let (found, total) = results.fold((0usize, 0usize), |(found, total), r| {
        (found + usize::from(r.rank.is_some()), total + 1)
    });
    if total == 0 {
        0.0
    } else {
        found as f64 / total as f64
    }
}

/// An embedding function: texts in, one vector per text out, in order.
pub type Embed<'a, E> = &'a dyn Fn(&[String]) -> Result<Vec<Vec<f32>>, E>;

/// Measures recall@`k` of `mode` on `dataset`.
///
/// `embed` is required for [`Mode::Vector`] and [`Mode::Hybrid`] and ignored
/// for [`Mode::Lexical`]. It is called in batches of at most
/// [`EMBED_BATCH`] texts, first for the passages, then for the questions.
pub fn recall_at_k<E: Display>(
    dataset: &Dataset,
    k: usize,
    mode: Mode,
    embed: Option<Embed<'_, E>>,
) -> Result<Report, EvalError> {
    let passages = passages(dataset);
    let embed = match (mode, embed) {
        (Mode::Lexical, _) => None,
        (_, Some(embed)) => Some(embed),
        (_, None) => return Err(EvalError::NoEmbeddings(mode)),
    };
    let mut index = match embed {
        Some(_) => KnowledgeIndex::with_vectors(Box::new(BruteForceIndex::new())),
        None => KnowledgeIndex::new(),
    };
    // Vector mode searches the same vectors without fusion; the product's
    // `KnowledgeIndex` has no vector-only path, by design.
    let mut vectors_only = BruteForceIndex::new();
    for (id, text) in &passages {
        index.add_passage(id.clone(), text);
    }
    let question_vectors = match embed {
        Some(embed) => {
            let texts: Vec<String> = passages.iter().map(|(_, t)| t.clone()).collect();
            for ((id, _), vector) in passages.iter().zip(embed_all(embed, &texts)?) {
                index.add_vector(id.clone(), vector.clone())?;
                vectors_only.upsert(id.clone(), vector)?;
            }
            let questions: Vec<String> = dataset
                .questions
                .iter()
                .map(|q| q.text.to_owned())
                .collect();
            Some(embed_all(embed, &questions)?)
        }
        None => None,
    };
    let mut results = Vec::with_capacity(dataset.questions.len());
    for (i, question) in dataset.questions.iter().enumerate() {
        let query_vector = question_vectors.as_ref().and_then(|v| v.get(i));
        let ids: Vec<ChunkId> = match (mode, query_vector) {
            (Mode::Vector, Some(v)) => vectors_only
                .search(v, k)?
                .into_iter()
                .map(|(id, _)| id)
                .collect(),
            (_, v) => index
                .search(question.text, v.map(Vec::as_slice), k)?
                .into_iter()
                .map(|hit| hit.id)
                .collect(),
        };
        let rank = ids.iter().position(|id| {
            passages
                .iter()
                .find(|(pid, _)| pid == id)
                .is_some_and(|(_, text)| contains_answer(text, question.answer))
        });
        results.push(QuestionResult {
            question: question.text,
            kind: question.kind,
            rank: rank.map(|r| r + 1),
        });
    }
    Ok(Report {
        mode,
        k,
        passages: passages.len(),
        results,
    })
}

/// The dataset's passages as the product would store them: each document
/// normalised and chunked with the default sizes, ids `"doc-id#n"`.
pub fn passages(dataset: &Dataset) -> Vec<(ChunkId, String)> {
    dataset
        .documents
        .iter()
        .flat_map(|doc| {
            chunk(&normalise_text(doc.text), ChunkSize::default())
                .into_iter()
                .map(move |c| (ChunkId::from(format!("{}#{}", doc.id, c.index)), c.text))
        })
        .collect()
}

/// Whether a passage holds the answer: whitespace runs are compared as one
/// space, so line breaks from cleaning or chunking do not matter.
pub fn contains_answer(passage: &str, answer: &str) -> bool {
    let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    squash(passage).contains(&squash(answer))
}

fn embed_all<E: Display>(
    embed: Embed<'_, E>,
    texts: &[String],
) -> Result<Vec<Vec<f32>>, EvalError> {
    let mut out = Vec::with_capacity(texts.len());
    for batch in texts.chunks(EMBED_BATCH) {
        let vectors = embed(batch).map_err(|e| EvalError::Embed(e.to_string()))?;
        if vectors.len() != batch.len() {
            return Err(EvalError::EmbedCount {
                asked: batch.len(),
                got: vectors.len(),
            });
        }
        out.extend(vectors);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;

//! Knowledge-base retrieval core for the Switchboard AI agent.
//!
//! The agent answers leads from a per-location knowledge base. This crate holds
//! the pure, I/O-free part of that pipeline so it can be tested exhaustively and
//! reused by whichever service does the fetching and storing:
//!
//! 0. **Gather** ([`crawl`], [`pdf`]): the decisions of a same-site crawler
//!    (which links, which pages next, what robots.txt allows; the fetching
//!    loop lives with the I/O) and text from a PDF's bytes.
//! 1. **Clean** ([`clean`]): crawled HTML, PDF-extracted text or pasted text is
//!    turned into plain text with paragraph breaks kept, because paragraph
//!    breaks are what the chunker prefers to cut on.
//! 2. **Chunk** ([`mod@chunk`]): text is cut into passages of 500–1000 characters
//!    with about 20% overlap, so a fact that straddles a cut is still whole in
//!    at least one passage.
//! 3. **Index**: every passage goes into a lexical [`Bm25Index`] (always; it
//!    needs no model) and, when an embedding model is configured, its vector
//!    goes into a [`VectorIndex`]. Vectors live in the database; other code
//!    loads them into an index such as [`BruteForceIndex`].
//! 4. **Retrieve** ([`retrieve`]): a question is searched lexically and, if a
//!    query vector is available, by vector too; the two rankings are merged by
//!    [`reciprocal_rank_fusion`], which needs no score calibration between them.
//! 5. **Guard** ([`injection`]): inbound messages and retrieved passages are
//!    screened for prompt-injection phrasing, and untrusted text is wrapped in
//!    data fences ([`fence()`]) before it reaches a prompt.
//!
//! How well this retrieves is measured by [`eval`]: recall@k of lexical,
//! vector and hybrid search on a sample knowledge base, through the same code.
//!
//! The model API ([`model`]) is here too, sans I/O like the other clients: requests to
//! build and answers to read for chat completions with tools and for embeddings.
//!
//! Nothing here does network, file or database access.

#![forbid(unsafe_code)]

pub mod bm25;
pub mod chunk;
pub mod clean;
pub mod crawl;
pub mod eval;
pub mod fence;
pub mod fusion;
pub mod injection;
pub mod model;
pub mod pdf;
pub mod retrieve;
pub mod tokens;
pub mod vector;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use bm25::{Bm25Index, Bm25Params};
pub use chunk::{chunk, Chunk, ChunkSize};
pub use clean::{html_to_text, normalise_text, page_title};
pub use fence::{fence, FENCE_INSTRUCTION};
pub use fusion::{reciprocal_rank_fusion, DEFAULT_RRF_K};
pub use injection::{assess, Assessment};
pub use pdf::{pdf_text, PdfError};
pub use retrieve::{Hit, KnowledgeIndex};
pub use tokens::tokenize;
pub use vector::{decode_f32_le, encode_f32_le, BruteForceIndex, VectorError, VectorIndex};

/// Identifies one stored passage (chunk) of a knowledge source.
///
/// It is an opaque string chosen by the storing code (for example
/// `"source-42#3"`), so the lexical and vector indexes can refer to the same
/// passage without knowing the database schema.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ChunkId(pub String);

impl ChunkId {
    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChunkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for ChunkId {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

impl From<String> for ChunkId {
    fn from(s: String) -> Self {
        Self(s)
    }
}

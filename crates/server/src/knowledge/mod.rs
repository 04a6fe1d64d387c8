//! A location's knowledge base (flow 7): ingesting sources ([`ingest`]) and searching
//! them for the agent ([`search`]).
//!
//! Ingest: a website is crawled ([`crawl`]), a PDF's text extracted, a text taken as it
//! is; every page is cleaned, cut into passages of 500–1000 characters with 20% overlap
//! and, when the location has an embedding model, embedded. The passages replace the
//! source's old ones in one transaction. Search: the location's passages are indexed in
//! memory (BM25, plus vectors of the current embedding model) and ranked by reciprocal
//! rank fusion, or lexically alone when there are no vectors.

pub mod crawl;
pub mod search;

use ai::model::ModelEndpoint;
use outbound::{Failure, Outbound};
use store::repo::{KnowledgeSource, NewKnowledgeChunk};

/// Largest PDF or text a location may upload as a source.
pub const MAX_DOCUMENT_BYTES: usize = 10 * 1024 * 1024;
/// Limits a location may choose for a crawl.
pub const MAX_CRAWL_DEPTH: u32 = 5;
pub const MAX_CRAWL_PAGES: u32 = 200;
/// Passages embedded per call.
pub const EMBED_BATCH: usize = 64;

/// One page of a source, as clean text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub url: Option<String>,
    pub title: String,
    pub text: String,
}

/// Why a source could not be ingested.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    /// For good, until someone changes the source: robots.txt forbids it, a PDF without
    /// text, nothing readable.
    #[error("{0}")]
    Refused(String),
    /// Worth another try: the site or the model is failing now.
    #[error("{0}")]
    Transient(String),
}

/// The pages of a PDF or text source's document.
pub fn document_pages(source: &KnowledgeSource, document: &[u8]) -> Result<Vec<Page>, IngestError> {
    let text = match source.kind.as_str() {
        "pdf" => ai::pdf_text(document)
            .map_err(|e| IngestError::Refused(format!("the PDF can't be read: {e}")))?,
        _ => String::from_utf8(document.to_vec())
            .map_err(|_| IngestError::Refused("the text is not UTF-8".into()))?,
    };
    let text = ai::normalise_text(&text);
    if text.trim().is_empty() {
        return Err(IngestError::Refused("it holds no readable text".into()));
    }
    Ok(vec![Page {
        url: None,
        title: source.title.clone(),
        text,
    }])
}

/// The pages' passages, in reading order, each with the page it came from.
pub fn passages(pages: &[Page]) -> Vec<NewKnowledgeChunk> {
    pages
        .iter()
        .flat_map(|page| {
            ai::chunk(&page.text, ai::ChunkSize::default())
                .into_iter()
                .map(|chunk| NewKnowledgeChunk {
                    page_url: page.url.clone(),
                    title: page.title.clone(),
                    text: chunk.text,
                    embedding: None,
                })
        })
        .filter(|c| !c.text.trim().is_empty())
        .collect()
}

/// Embeds the passages in batches, when the endpoint has an embedding model.
pub async fn embed_passages(
    outbound: &Outbound,
    endpoint: Option<&ModelEndpoint>,
    passages: &mut [NewKnowledgeChunk],
) -> Result<(), Failure> {
    let Some(endpoint) = endpoint else {
        return Ok(());
    };
    let Some(model) = endpoint.embedding_model.clone() else {
        return Ok(());
    };
    for batch in passages.chunks_mut(EMBED_BATCH) {
        let inputs: Vec<String> = batch.iter().map(|c| c.text.clone()).collect();
        let Some(embedded) = crate::agent::embed(outbound, endpoint, &inputs).await? else {
            return Ok(());
        };
        for (chunk, vector) in batch.iter_mut().zip(embedded.vectors) {
            chunk.embedding = Some((vector, model.clone()));
        }
    }
    Ok(())
}

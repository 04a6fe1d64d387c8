//! Searching a location's knowledge base for the agent.
//!
//! The index is built in memory from the stored passages at each search: BM25 always,
//! plus the vectors made by the location's current embedding model (vectors of another
//! model are never compared with this one's). A location's knowledge base is small
//! (hundreds of passages), so building it costs milliseconds. If the question can't be
//! embedded now, the search is lexical and says so, rather than failing the reply.

use ai::model::ModelEndpoint;
use ai::{BruteForceIndex, ChunkId, KnowledgeIndex};
use domain::LocationId;
use outbound::Outbound;
use store::{Store, StoreError, TenantScope};

/// Passages the agent is given.
pub const TOP_K: usize = 5;

/// A passage found for a question.
#[derive(Debug, Clone, PartialEq)]
pub struct Passage {
    pub id: String,
    pub source_id: String,
    pub title: String,
    pub page_url: Option<String>,
    pub text: String,
    pub score: f64,
    pub lexical_rank: Option<usize>,
    pub vector_rank: Option<usize>,
    /// The passage reads like an instruction to the model (`ai::assess`): it is still
    /// given, fenced as data, and the timeline says so.
    pub injection_suspected: bool,
}

/// What a search found, and how.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Found {
    pub passages: Vec<Passage>,
    /// `hybrid` (BM25 and vectors, fused) or `lexical`.
    pub mode: &'static str,
    /// Why vectors were not used although the location has an embedding model.
    pub vector_problem: Option<String>,
}

/// The top passages of the location's knowledge base for `question`.
pub async fn search(
    store: &Store,
    outbound: &Outbound,
    scope: &TenantScope,
    location: &LocationId,
    endpoint: Option<&ModelEndpoint>,
    question: &str,
    k: usize,
) -> Result<Found, StoreError> {
    let chunks = store.knowledge_chunks(scope, location).await?;
    if chunks.is_empty() || question.trim().is_empty() {
        return Ok(Found {
            mode: "lexical",
            ..Found::default()
        });
    }
    let model = endpoint.and_then(|e| e.embedding_model.clone());
    let mut vector_problem = None;
    let query_vector = match (endpoint, &model) {
        (Some(endpoint), Some(_)) => {
            match crate::agent::embed(outbound, endpoint, &[question.to_string()]).await {
                Ok(Some(mut embedded)) => embedded.vectors.pop(),
                Ok(None) => None,
                Err(failure) => {
                    vector_problem = Some(format!(
                        "the question could not be embedded: {}",
                        failure.detail()
                    ));
                    None
                }
            }
        }
        _ => None,
    };
    let mut index = match &query_vector {
        Some(_) => KnowledgeIndex::with_vectors(Box::new(BruteForceIndex::new())),
        None => KnowledgeIndex::new(),
    };
    for chunk in &chunks {
        let id = ChunkId(chunk.id.to_string());
        index.add_passage(id.clone(), &chunk.text);
        if let (Some(_), Some((blob, made_by))) = (&query_vector, &chunk.embedding) {
            if Some(made_by) == model.as_ref() {
                if let Ok(vector) = ai::decode_f32_le(blob) {
                    // A vector of the wrong size (the model changed its output) is
                    // skipped: the passage is still found lexically.
                    let _ = index.add_vector(id, vector);
                }
            }
        }
    }
    let (hits, mode) = match index.search(question, query_vector.as_deref(), k) {
        Ok(hits) if query_vector.is_some() => (hits, "hybrid"),
        Ok(hits) => (hits, "lexical"),
        Err(e) => {
            vector_problem = Some(format!("vector search failed: {e}"));
            (
                index.search(question, None, k).unwrap_or_default(),
                "lexical",
            )
        }
    };
    let passages = hits
        .into_iter()
        .filter_map(|hit| {
            let chunk = chunks.iter().find(|c| c.id.as_str() == hit.id.0)?;
            Some(Passage {
                id: chunk.id.to_string(),
                source_id: chunk.source_id.to_string(),
                title: chunk.title.clone(),
                page_url: chunk.page_url.clone(),
                text: chunk.text.clone(),
                score: hit.score,
                lexical_rank: hit.lexical_rank,
                vector_rank: hit.vector_rank,
                injection_suspected: ai::assess(&chunk.text).suspicious,
            })
        })
        .collect();
    Ok(Found {
        passages,
        mode,
        vector_problem,
    })
}

//! Hybrid retrieval over one location's knowledge base.
//!
//! Lexical search always runs, so a location without an embedding model still
//! gets answers. When the caller has a query vector (a model is configured and
//! vectors were loaded), the lexical and vector rankings are fused with RRF,
//! which rewards passages both methods agree on.

use serde::Serialize;

use crate::bm25::Bm25Index;
use crate::fusion::{reciprocal_rank_fusion, DEFAULT_RRF_K};
use crate::vector::{VectorError, VectorIndex};
use crate::ChunkId;

/// How many candidates each method contributes per requested hit: fusion
/// needs a deeper list than `k` to see where the methods agree.
const CANDIDATES_PER_HIT: usize = 4;
/// Fewest candidates taken from each method.
const MIN_CANDIDATES: usize = 20;

/// One retrieved passage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    /// The passage.
    pub id: ChunkId,
    /// Lexical-only search: the BM25 score. Hybrid search: the RRF score.
    /// Only comparable within one result list.
    pub score: f64,
    /// Position in the lexical ranking, from 1, if the passage was in it.
    pub lexical_rank: Option<usize>,
    /// Position in the vector ranking, from 1, if the passage was in it.
    pub vector_rank: Option<usize>,
}

/// A location's searchable passages: always lexical, optionally vectors too.
#[derive(Debug, Default)]
pub struct KnowledgeIndex {
    lexical: Bm25Index,
    vectors: Option<Box<dyn VectorIndex + Send + Sync>>,
}

impl KnowledgeIndex {
    /// A lexical-only index, for locations without an embedding model.
    pub fn new() -> Self {
        Self::default()
    }

    /// An index that also searches vectors.
    pub fn with_vectors(vectors: Box<dyn VectorIndex + Send + Sync>) -> Self {
        Self {
            lexical: Bm25Index::new(),
            vectors: Some(vectors),
        }
    }

    /// Whether a vector index is configured.
    pub fn has_vectors(&self) -> bool {
        self.vectors.is_some()
    }

    /// Number of passages in the lexical index.
    pub fn len(&self) -> usize {
        self.lexical.len()
    }

    /// Whether no passage is indexed.
    pub fn is_empty(&self) -> bool {
        self.lexical.is_empty()
    }

    /// Adds or replaces a passage's text.
    pub fn add_passage(&mut self, id: ChunkId, text: &str) {
        self.lexical.add(id, text);
    }

    /// Adds or replaces a passage's vector.
    pub fn add_vector(&mut self, id: ChunkId, vector: Vec<f32>) -> Result<(), VectorError> {
        match &mut self.vectors {
            Some(index) => index.upsert(id, vector),
            None => Err(VectorError::NotConfigured),
        }
    }

    /// Removes a passage's text and vector; returns whether either was present.
    pub fn remove(&mut self, id: &ChunkId) -> bool {
        let lexical = self.lexical.remove(id);
        let vector = self.vectors.as_mut().is_some_and(|v| v.remove(id));
        lexical || vector
    }

    /// The `k` best passages for a question.
    ///
    /// Without `query_vector`, or without a vector index, this is lexical
    /// search alone. With both, the two rankings are fused. A query vector of
    /// the wrong dimensions is an error rather than a silent fallback, since
    /// it means the configured model and the stored vectors disagree.
    pub fn search(
        &self,
        query_text: &str,
        query_vector: Option<&[f32]>,
        k: usize,
    ) -> Result<Vec<Hit>, VectorError> {
        let (Some(vectors), Some(query_vector)) = (&self.vectors, query_vector) else {
            return Ok(self.lexical_only(query_text, k));
        };
        let depth = k.saturating_mul(CANDIDATES_PER_HIT).max(MIN_CANDIDATES);
        let lexical: Vec<ChunkId> = self
            .lexical
            .search(query_text, depth)
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        let semantic: Vec<ChunkId> = vectors
            .search(query_vector, depth)?
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        let rank_in =
            |list: &[ChunkId], id: &ChunkId| list.iter().position(|x| x == id).map(|p| p + 1);
        Ok(
            reciprocal_rank_fusion(&[&lexical[..], &semantic[..]], DEFAULT_RRF_K, k)
                .into_iter()
                .map(|(id, score)| Hit {
                    lexical_rank: rank_in(&lexical, &id),
                    vector_rank: rank_in(&semantic, &id),
                    id,
                    score,
                })
                .collect(),
        )
    }

    fn lexical_only(&self, query_text: &str, k: usize) -> Vec<Hit> {
        self.lexical
            .search(query_text, k)
            .into_iter()
            .enumerate()
            .map(|(i, (id, score))| Hit {
                id,
                score,
                lexical_rank: Some(i + 1),
                vector_rank: None,
            })
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::vector::BruteForceIndex;

    /// A small dental clinic knowledge base.
    const CLINIC: &[(&str, &str)] = &[
        ("hours", "Opening hours: we are open Monday to Friday from 8am to 6pm and on Saturday from 9am to 1pm. We are closed on Sundays and public holidays."),
        ("prices", "Prices: a check-up costs $60, a professional cleaning costs $95 and teeth whitening costs $350. A filling starts at $120."),
        ("cancellation", "Cancellation policy: if you need to cancel or reschedule your appointment, please tell us at least 24 hours before. Late cancellations and missed appointments are charged a $40 fee."),
        ("parking", "Parking: free parking for patients is available behind the building on Elm Street. The car park entrance is next to the pharmacy."),
        ("insurance", "Insurance: we accept Delta Dental, Cigna and Aetna plans. Bring your insurance card to your first visit and we will bill your insurer directly."),
        ("emergency", "Dental emergencies: if you have severe tooth pain, swelling or a broken tooth, call us first thing and we will fit you in the same day."),
    ];

    fn clinic(index: KnowledgeIndex) -> KnowledgeIndex {
        let mut index = index;
        for (id, text) in CLINIC {
            index.add_passage(ChunkId::from(*id), text);
        }
        index
    }

    fn top(index: &KnowledgeIndex, question: &str) -> String {
        let hits = index.search(question, None, 3).unwrap();
        hits.first().map(|h| h.id.to_string()).unwrap_or_default()
    }

    #[test]
    fn lexical_answers_clinic_questions() {
        let index = clinic(KnowledgeIndex::new());
        let cases = [
            ("What time do you open on Saturday?", "hours"),
            ("Are you open on Sundays?", "hours"),
            ("How much does a cleaning cost?", "prices"),
            ("What do you charge for whitening?", "prices"),
            (
                "What happens if I cancel my appointment late?",
                "cancellation",
            ),
            ("Can I park my car nearby?", "parking"),
            ("Do you take Cigna insurance?", "insurance"),
            (
                "I broke a tooth and it's swelling, can you see me today?",
                "emergency",
            ),
        ];
        for (question, expected) in cases {
            assert_eq!(top(&index, question), expected, "question: {question}");
        }
    }

    #[test]
    fn lexical_hits_have_ranks_and_bm25_scores() {
        let index = clinic(KnowledgeIndex::new());
        let hits = index.search("parking fee", Some(&[1.0, 0.0]), 10).unwrap();
        assert!(!hits.is_empty());
        for (i, hit) in hits.iter().enumerate() {
            assert_eq!(hit.lexical_rank, Some(i + 1));
            assert_eq!(hit.vector_rank, None);
        }
        assert!(index.search("zebra", None, 5).unwrap().is_empty());
        assert!(index.search("parking", None, 0).unwrap().is_empty());
    }

    fn hybrid() -> KnowledgeIndex {
        // Toy 3-d "embeddings": axis 0 = money, 1 = time, 2 = place.
        let mut index = clinic(KnowledgeIndex::with_vectors(Box::new(
            BruteForceIndex::new(),
        )));
        let vectors = [
            ("hours", [0.0, 1.0, 0.1]),
            ("prices", [1.0, 0.0, 0.0]),
            ("cancellation", [0.6, 0.8, 0.0]),
            ("parking", [0.0, 0.1, 1.0]),
            ("insurance", [0.9, 0.0, 0.1]),
            ("emergency", [0.1, 0.7, 0.3]),
        ];
        for (id, v) in vectors {
            index.add_vector(ChunkId::from(id), v.to_vec()).unwrap();
        }
        index
    }

    #[test]
    fn hybrid_fuses_both_rankings() {
        let index = hybrid();
        assert!(index.has_vectors());
        // No shared words, but the vector points at "money".
        let hits = index
            .search("How expensive is it?", Some(&[1.0, 0.0, 0.0]), 3)
            .unwrap();
        assert_eq!(hits[0].id.as_str(), "prices");
        assert_eq!(hits[0].lexical_rank, None);
        assert_eq!(hits[0].vector_rank, Some(1));
        // Vectors favour "prices" (money); only the cancellation passage has
        // the words. Ranked by both, it beats the vector list's favourite.
        let hits = index
            .search("late cancellation fee", Some(&[1.0, 0.2, 0.0]), 3)
            .unwrap();
        assert_eq!(hits[0].id.as_str(), "cancellation");
        assert_eq!(hits[0].lexical_rank, Some(1));
        assert_eq!(hits[0].vector_rank, Some(3));
        assert_eq!(hits[1].id.as_str(), "prices");
        assert_eq!(hits[1].vector_rank, Some(1));
        assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
    }

    #[test]
    fn hybrid_without_query_vector_is_lexical() {
        let index = hybrid();
        let hits = index.search("Where can I park?", None, 3).unwrap();
        assert_eq!(hits[0].id.as_str(), "parking");
        assert_eq!(hits[0].vector_rank, None);
    }

    #[test]
    fn errors_and_removal() {
        let mut index = hybrid();
        assert_eq!(
            index.search("price", Some(&[1.0, 0.0]), 3).unwrap_err(),
            VectorError::Dimensions {
                expected: 3,
                got: 2
            }
        );
        let mut lexical = KnowledgeIndex::new();
        assert_eq!(
            lexical.add_vector(ChunkId::from("x"), vec![1.0]),
            Err(VectorError::NotConfigured)
        );
        assert!(lexical.is_empty());
        let parking = ChunkId::from("parking");
        assert!(index.remove(&parking));
        assert!(!index.remove(&parking));
        assert_eq!(index.len(), CLINIC.len() - 1);
        let hits = index.search("parking", Some(&[0.0, 0.0, 1.0]), 10).unwrap();
        assert!(hits.iter().all(|h| h.id != parking));
    }
}

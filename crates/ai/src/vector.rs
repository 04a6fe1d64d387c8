//! Vector (embedding) search behind one trait.
//!
//! Embeddings are optional: they exist only when a location configures an
//! embedding model. They are stored in the database by other code (as BLOBs,
//! see [`encode_f32_le`]) and searched through [`VectorIndex`], so the agent
//! does not care where the search happens. [`BruteForceIndex`] scans every
//! vector in memory, which is fast enough for a per-location knowledge base
//! of a few thousand passages; a pgvector or sqlite-vec implementation can be
//! added later behind the same trait without touching retrieval code.

use std::collections::BTreeMap;
use std::fmt;

use crate::ChunkId;

/// Why a vector was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VectorError {
    /// The vector's length differs from the index's.
    #[error("vector has {got} dimensions, the index expects {expected}")]
    Dimensions {
        /// Dimensions of the vectors already in the index.
        expected: usize,
        /// Dimensions of the vector offered.
        got: usize,
    },
    /// The vector has no components.
    #[error("vector is empty")]
    Empty,
    /// All components are zero, so it has no direction to compare.
    #[error("vector is all zeros")]
    Zero,
    /// A component is NaN or infinite.
    #[error("vector contains NaN or infinite values")]
    NotFinite,
    /// A stored BLOB's length is not a multiple of 4 bytes.
    #[error("vector blob of {0} bytes is not a whole number of f32 values")]
    BlobLength(usize),
    /// Vectors were given but no vector index is configured.
    #[error("no vector index is configured")]
    NotConfigured,
}

/// A searchable set of passage vectors, compared by cosine similarity.
pub trait VectorIndex: fmt::Debug {
    /// Inserts or replaces the vector of a passage.
    fn upsert(&mut self, id: ChunkId, vector: Vec<f32>) -> Result<(), VectorError>;
    /// Removes a passage's vector; returns whether it was present.
    fn remove(&mut self, id: &ChunkId) -> bool;
    /// The `k` most similar passages, most similar first, ties ordered by id.
    fn search(&self, query: &[f32], k: usize) -> Result<Vec<(ChunkId, f32)>, VectorError>;
    /// The dimensions this index holds, once known.
    fn dimensions(&self) -> Option<usize>;
    /// Number of stored vectors.
    fn len(&self) -> usize;
    /// Whether no vector is stored.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Exhaustive in-memory cosine search.
///
/// Vectors are normalised at insert, so a search is one dot product per
/// stored passage. Once set, the dimensions stay fixed even if every vector
/// is removed: they belong to the embedding model, not to the data.
#[derive(Debug, Clone, Default)]
pub struct BruteForceIndex {
    dimensions: Option<usize>,
    vectors: BTreeMap<ChunkId, Vec<f32>>,
}

impl BruteForceIndex {
    /// An empty index that takes its dimensions from the first vector.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty index fixed to the embedding model's dimensions.
    pub fn with_dimensions(dimensions: usize) -> Self {
        Self {
            dimensions: Some(dimensions),
            vectors: BTreeMap::new(),
        }
    }

    /// Builds an index from stored `(id, vector)` pairs.
    pub fn from_stored<I>(stored: I) -> Result<Self, VectorError>
    where
        I: IntoIterator<Item = (ChunkId, Vec<f32>)>,
    {
        let mut index = Self::new();
        for (id, vector) in stored {
            index.upsert(id, vector)?;
        }
        Ok(index)
    }

    /// Checks a vector against this index and returns it at unit length.
    fn unit(&self, vector: &[f32]) -> Result<Vec<f32>, VectorError> {
        if vector.is_empty() {
            return Err(VectorError::Empty);
        }
        if let Some(expected) = self.dimensions {
            if vector.len() != expected {
                return Err(VectorError::Dimensions {
                    expected,
                    got: vector.len(),
                });
            }
        }
        if vector.iter().any(|x| !x.is_finite()) {
            return Err(VectorError::NotFinite);
        }
        // Accumulate in f64 so large components cannot overflow the norm.
        let norm = vector
            .iter()
            .map(|&x| f64::from(x) * f64::from(x))
            .sum::<f64>()
            .sqrt();
        if norm == 0.0 {
            return Err(VectorError::Zero);
        }
        Ok(vector
            .iter()
            .map(|&x| (f64::from(x) / norm) as f32)
            .collect())
    }
}

impl VectorIndex for BruteForceIndex {
    fn upsert(&mut self, id: ChunkId, vector: Vec<f32>) -> Result<(), VectorError> {
        let unit = self.unit(&vector)?;
        self.dimensions = Some(unit.len());
        self.vectors.insert(id, unit);
        Ok(())
    }

    fn remove(&mut self, id: &ChunkId) -> bool {
        self.vectors.remove(id).is_some()
    }

    fn search(&self, query: &[f32], k: usize) -> Result<Vec<(ChunkId, f32)>, VectorError> {
        let query = self.unit(query)?;
        let mut scored: Vec<(ChunkId, f32)> = self
            .vectors
            .iter()
            .map(|(id, v)| (id.clone(), dot(&query, v)))
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        scored.truncate(k);
        Ok(scored)
    }

    fn dimensions(&self) -> Option<usize> {
        self.dimensions
    }

    fn len(&self) -> usize {
        self.vectors.len()
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Encodes a vector as little-endian `f32` bytes, the BLOB layout used in
/// both SQLite and PostgreSQL (`bytea`) so stored vectors move between them.
pub fn encode_f32_le(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Decodes a BLOB written by [`encode_f32_le`].
pub fn decode_f32_le(bytes: &[u8]) -> Result<Vec<f32>, VectorError> {
    if !bytes.len().is_multiple_of(4) {
        return Err(VectorError::BlobLength(bytes.len()));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn id(s: &str) -> ChunkId {
        ChunkId::from(s)
    }

    fn sample() -> BruteForceIndex {
        BruteForceIndex::from_stored([
            (id("east"), vec![1.0, 0.0, 0.0]),
            (id("north"), vec![0.0, 5.0, 0.0]),
            (id("north-east"), vec![1.0, 1.0, 0.0]),
        ])
        .unwrap()
    }

    #[test]
    fn cosine_ranking_ignores_magnitude() {
        let idx = sample();
        let hits = idx.search(&[0.0, 100.0, 0.0], 3).unwrap();
        let names: Vec<_> = hits.iter().map(|(i, _)| i.as_str()).collect();
        assert_eq!(names, ["north", "north-east", "east"]);
        assert!((hits[0].1 - 1.0).abs() < 1e-6);
        assert!((hits[1].1 - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
        assert!(hits[2].1.abs() < 1e-6);
        assert_eq!(idx.search(&[1.0, 0.0, 0.0], 1).unwrap().len(), 1);
        assert!(idx.search(&[1.0, 0.0, 0.0], 0).unwrap().is_empty());
    }

    #[test]
    fn ties_break_by_id() {
        let idx =
            BruteForceIndex::from_stored([(id("b"), vec![1.0, 0.0]), (id("a"), vec![2.0, 0.0])])
                .unwrap();
        let hits = idx.search(&[1.0, 0.0], 2).unwrap();
        assert_eq!(hits[0].0, id("a"));
        assert_eq!(hits[1].0, id("b"));
    }

    #[test]
    fn refuses_bad_vectors() {
        let mut idx = sample();
        assert_eq!(idx.dimensions(), Some(3));
        assert_eq!(
            idx.upsert(id("x"), vec![1.0, 2.0]),
            Err(VectorError::Dimensions {
                expected: 3,
                got: 2
            })
        );
        assert_eq!(idx.upsert(id("x"), vec![0.0; 3]), Err(VectorError::Zero));
        assert_eq!(
            idx.upsert(id("x"), vec![f32::NAN, 1.0, 0.0]),
            Err(VectorError::NotFinite)
        );
        assert_eq!(idx.upsert(id("x"), vec![]), Err(VectorError::Empty));
        assert_eq!(
            idx.search(&[1.0], 3).unwrap_err(),
            VectorError::Dimensions {
                expected: 3,
                got: 1
            }
        );
        assert_eq!(idx.len(), 3);
        let fixed = BruteForceIndex::with_dimensions(4);
        assert!(fixed.search(&[1.0, 0.0, 0.0], 1).is_err());
    }

    #[test]
    fn upsert_replaces_and_remove_keeps_dimensions() {
        let mut idx = sample();
        idx.upsert(id("east"), vec![0.0, 0.0, 1.0]).unwrap();
        assert_eq!(idx.len(), 3);
        assert_eq!(idx.search(&[0.0, 0.0, 1.0], 1).unwrap()[0].0, id("east"));
        for name in ["east", "north", "north-east"] {
            assert!(idx.remove(&id(name)));
        }
        assert!(!idx.remove(&id("east")));
        assert!(idx.is_empty());
        assert_eq!(idx.dimensions(), Some(3));
        assert!(idx.search(&[1.0, 0.0, 0.0], 5).unwrap().is_empty());
        assert!(BruteForceIndex::new().search(&[1.0], 5).unwrap().is_empty());
    }

    #[test]
    fn blob_round_trip() {
        let v = vec![0.0, -1.5, f32::MAX, 1e-30, 3.25];
        let bytes = encode_f32_le(&v);
        assert_eq!(bytes.len(), 20);
        assert_eq!(&bytes[4..8], &(-1.5f32).to_le_bytes());
        assert_eq!(decode_f32_le(&bytes).unwrap(), v);
        assert_eq!(decode_f32_le(&[]).unwrap(), Vec::<f32>::new());
        assert_eq!(decode_f32_le(&[0; 5]), Err(VectorError::BlobLength(5)));
    }
}

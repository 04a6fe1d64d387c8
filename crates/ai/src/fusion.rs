//! Merging rankings with reciprocal rank fusion (RRF).
//!
//! BM25 scores and cosine similarities live on unrelated scales, so adding
//! them would need per-knowledge-base calibration. RRF uses only positions:
//! each list gives an item `1 / (k + rank)` (rank from 1), and the sums are
//! sorted. An item that several lists rank reasonably well beats one that a
//! single list ranks first, which is what hybrid retrieval wants. The usual
//! constant `k = 60` keeps the top positions from dominating.

use std::collections::BTreeMap;

/// The customary RRF constant.
pub const DEFAULT_RRF_K: f64 = 60.0;

/// Fuses `rankings` (each best first) and returns at most `limit` items with
/// their fused scores, best first.
///
/// An item listed twice in one ranking counts only at its first position.
/// Equal scores are ordered by the best single position, then by the item
/// itself, so the result never depends on hash order.
pub fn reciprocal_rank_fusion<T: Clone + Ord>(
    rankings: &[&[T]],
    k: f64,
    limit: usize,
) -> Vec<(T, f64)> {
    // item → (score, best rank)
    let mut fused: BTreeMap<&T, (f64, usize)> = BTreeMap::new();
    for ranking in rankings {
        let mut seen: BTreeMap<&T, ()> = BTreeMap::new();
        for (position, item) in ranking.iter().enumerate() {
            if seen.insert(item, ()).is_some() {
                continue;
            }
            let rank = position + 1;
            let entry = fused.entry(item).or_insert((0.0, usize::MAX));
            entry.0 += 1.0 / (k + rank as f64);
            entry.1 = entry.1.min(rank);
        }
    }
    let mut result: Vec<(&T, f64, usize)> = fused
        .into_iter()
        .map(|(item, (score, best))| (item, score, best))
        .collect();
    result.sort_by(|a, b| {
        b.1.total_cmp(&a.1)
            .then_with(|| a.2.cmp(&b.2))
            .then_with(|| a.0.cmp(b.0))
    });
    result
        .into_iter()
        .take(limit)
        .map(|(item, score, _)| (item.clone(), score))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names<'a>(fused: &[(&'a str, f64)]) -> Vec<&'a str> {
        fused.iter().map(|(n, _)| *n).collect()
    }

    #[test]
    fn agreement_beats_a_single_first_place() {
        let lexical = ["solo", "both", "x", "y"];
        let vector = ["z", "both", "w"];
        let fused = reciprocal_rank_fusion(&[&lexical[..], &vector[..]], DEFAULT_RRF_K, 10);
        assert_eq!(fused[0].0, "both");
        assert!((fused[0].1 - 2.0 / 62.0).abs() < 1e-12);
        // Ranked first once: tie between "solo" and "z", broken by name.
        assert_eq!(names(&fused[1..3]), ["solo", "z"]);
    }

    #[test]
    fn single_list_passes_through() {
        let only = ["c", "a", "b"];
        let fused = reciprocal_rank_fusion(&[&only], DEFAULT_RRF_K, 10);
        assert_eq!(names(&fused), ["c", "a", "b"]);
        assert!(fused.windows(2).all(|w| w[0].1 > w[1].1));
    }

    #[test]
    fn empty_inputs_and_limit() {
        let none: [&[&str]; 0] = [];
        assert!(reciprocal_rank_fusion(&none, DEFAULT_RRF_K, 10).is_empty());
        let empty: [&str; 0] = [];
        assert!(reciprocal_rank_fusion(&[&empty, &empty], DEFAULT_RRF_K, 10).is_empty());
        let list = ["a", "b", "c"];
        assert_eq!(reciprocal_rank_fusion(&[&list], DEFAULT_RRF_K, 2).len(), 2);
        assert!(reciprocal_rank_fusion(&[&list], DEFAULT_RRF_K, 0).is_empty());
    }

    #[test]
    fn duplicates_count_once_and_result_is_deterministic() {
        let a = ["x", "x", "y"];
        let b = ["y", "x"];
        let first = reciprocal_rank_fusion(&[&a[..], &b[..]], DEFAULT_RRF_K, 10);
        assert!((first[0].1 - (1.0 / 61.0 + 1.0 / 62.0)).abs() < 1e-12);
        // "y" keeps position 3 in `a`: a duplicate does not promote later items.
        assert_eq!(names(&first), ["x", "y"]);
        assert_eq!(
            first,
            reciprocal_rank_fusion(&[&a[..], &b[..]], DEFAULT_RRF_K, 10)
        );
    }
}

//! Ranking metrics (nDCG, MRR, recall, hit rate) and latency percentiles.

use std::collections::HashMap;

/// nDCG@k with graded judgments (`relevant`: id → grade), as BEIR/trec_eval compute it.
pub fn ndcg_at(k: usize, ranked: &[String], relevant: &HashMap<String, u32>) -> f64 {
    let dcg: f64 = ranked
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, id)| {
            let grade = relevant.get(id).copied().unwrap_or(0) as f64;
            (2f64.powf(grade) - 1.0) / ((i + 2) as f64).log2()
        })
        .sum();
    let mut grades: Vec<u32> = relevant.values().copied().filter(|g| *g > 0).collect();
    grades.sort_unstable_by(|a, b| b.cmp(a));
    let ideal: f64 = grades
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, g)| (2f64.powf(*g as f64) - 1.0) / ((i + 2) as f64).log2())
        .sum();
    if ideal == 0.0 {
        0.0
    } else {
        dcg / ideal
    }
}

/// Reciprocal rank of the first relevant result within the top k (0 if none).
pub fn rr_at(k: usize, ranked: &[String], relevant: &HashMap<String, u32>) -> f64 {
    ranked
        .iter()
        .take(k)
        .position(|id| relevant.get(id).is_some_and(|g| *g > 0))
        .map_or(0.0, |i| 1.0 / (i + 1) as f64)
}

/// Share of the relevant ids found in the top k.
pub fn recall_at(k: usize, ranked: &[String], relevant: &HashMap<String, u32>) -> f64 {
    let wanted = relevant.values().filter(|g| **g > 0).count();
    if wanted == 0 {
        return 0.0;
    }
    let found = ranked
        .iter()
        .take(k)
        .filter(|id| relevant.get(*id).is_some_and(|g| *g > 0))
        .count();
    found as f64 / wanted as f64
}

/// The p-th percentile (0..=100) of `values` by nearest rank; 0 for none.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judged(pairs: &[(&str, u32)]) -> HashMap<String, u32> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn ndcg_perfect_and_shifted() {
        let rel = judged(&[("a", 1)]);
        assert!((ndcg_at(10, &ids(&["a", "b"]), &rel) - 1.0).abs() < 1e-12);
        let second = ndcg_at(10, &ids(&["b", "a"]), &rel);
        assert!((second - 1.0 / 3f64.log2()).abs() < 1e-12);
        assert_eq!(ndcg_at(1, &ids(&["b", "a"]), &rel), 0.0);
    }

    #[test]
    fn rr_recall_percentile() {
        let rel = judged(&[("a", 1), ("c", 1)]);
        assert_eq!(rr_at(10, &ids(&["b", "c", "a"]), &rel), 0.5);
        assert_eq!(recall_at(2, &ids(&["b", "c", "a"]), &rel), 0.5);
        assert_eq!(recall_at(3, &ids(&["b", "c", "a"]), &rel), 1.0);
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }
}

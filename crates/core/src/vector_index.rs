//! The in-process vector index: every vector of one model in one flat
//! `f32` array, searched exactly (no approximation, so recall is exact).
//!
//! A full scan of 100,000 × 384 floats is memory-bound (about 150 MB read).
//! So a search reads first a compact copy of the rows (one byte per
//! dimension, [`compact`]), which gives every row an interval that provably
//! holds its exact score; only the rows whose upper bound reaches the k-th
//! best lower bound are scored again from the `f32` rows, best bound first,
//! until no remaining bound can enter the top k. The result is the full
//! scan's, scores and ties included (tested against it). Filters (time
//! range, source) are checked from columns kept beside the vectors, so a
//! filtered search never asks the database anything.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};

use crate::memory::{Filters, MemoryId, Source};

mod compact;
#[cfg(test)]
mod exact_tests;

/// A vector of the wrong length for this index.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("memory #{id}: vector has {got} dimensions, the index has {want}")]
pub struct DimensionMismatch {
    pub id: MemoryId,
    pub got: usize,
    pub want: usize,
}

/// Exact dense index over unit vectors (dot product = cosine).
#[derive(Debug, Clone)]
pub struct VectorIndex {
    dim: usize,
    ids: Vec<MemoryId>,
    /// `created_at` of each row, microseconds since the Unix epoch.
    created: Vec<i64>,
    /// Index into `sources` for each row.
    source: Vec<u32>,
    sources: Vec<Source>,
    data: Vec<f32>,
    row_of: HashMap<MemoryId, usize>,
    /// The compact copy of `data` (`dim` bytes per row) and each row's scale
    /// and error bounds, for the first pass of a search.
    codes: Vec<i8>,
    code: Vec<compact::RowCode>,
}

impl VectorIndex {
    pub fn new(dim: usize) -> Self {
        Self {
            dim,
            ids: Vec::new(),
            created: Vec::new(),
            source: Vec::new(),
            sources: Vec::new(),
            data: Vec::new(),
            row_of: HashMap::new(),
            codes: Vec::new(),
            code: Vec::new(),
        }
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Adds a vector, or replaces the one stored for `id`.
    pub fn upsert(
        &mut self,
        id: MemoryId,
        created_at_micros: i64,
        source: &Source,
        vector: &[f32],
    ) -> Result<(), DimensionMismatch> {
        if vector.len() != self.dim {
            return Err(DimensionMismatch {
                id,
                got: vector.len(),
                want: self.dim,
            });
        }
        let s = self.intern(source);
        match self.row_of.get(&id) {
            Some(&row) => {
                self.created[row] = created_at_micros;
                self.source[row] = s;
                self.data[row * self.dim..(row + 1) * self.dim].copy_from_slice(vector);
                self.code[row] = compact::encode(
                    vector,
                    &mut self.codes[row * self.dim..(row + 1) * self.dim],
                );
            }
            None => {
                self.row_of.insert(id, self.ids.len());
                self.ids.push(id);
                self.created.push(created_at_micros);
                self.source.push(s);
                self.data.extend_from_slice(vector);
                let start = self.codes.len();
                self.codes.resize(start + self.dim, 0);
                self.code
                    .push(compact::encode(vector, &mut self.codes[start..]));
            }
        }
        Ok(())
    }

    /// Removes `id`'s vector (the last row moves into its place). False if absent.
    pub fn remove(&mut self, id: MemoryId) -> bool {
        let Some(row) = self.row_of.remove(&id) else {
            return false;
        };
        let last = self.ids.len() - 1;
        if row != last {
            let moved = self.ids[last];
            self.ids.swap(row, last);
            self.created.swap(row, last);
            self.source.swap(row, last);
            let (head, tail) = self.data.split_at_mut(last * self.dim);
            head[row * self.dim..(row + 1) * self.dim].copy_from_slice(&tail[..self.dim]);
            let (head, tail) = self.codes.split_at_mut(last * self.dim);
            head[row * self.dim..(row + 1) * self.dim].copy_from_slice(&tail[..self.dim]);
            self.code.swap(row, last);
            self.row_of.insert(moved, row);
        }
        self.ids.pop();
        self.created.pop();
        self.source.pop();
        self.data.truncate(last * self.dim);
        self.codes.truncate(last * self.dim);
        self.code.pop();
        true
    }

    fn intern(&mut self, source: &Source) -> u32 {
        match self.sources.iter().position(|s| s == source) {
            Some(i) => i as u32,
            None => {
                self.sources.push(source.clone());
                (self.sources.len() - 1) as u32
            }
        }
    }

    /// The `k` most similar vectors with a score of at least `min_score`,
    /// best first (ties: lower id first). A query of the wrong length finds
    /// nothing rather than comparing unlike things.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        min_score: f32,
        filters: &Filters,
    ) -> Vec<(MemoryId, f32)> {
        if query.len() != self.dim || k == 0 {
            return Vec::new();
        }
        let Some(keep) = RowFilter::new(filters, &self.sources) else {
            return Vec::new();
        };
        match compact::Query::new(query) {
            Some(q) => self.search_two_pass(query, &q, k, min_score, &keep).0,
            None => self.scan_exact(query, k, min_score, &keep),
        }
    }

    fn row(&self, row: usize) -> &[f32] {
        &self.data[row * self.dim..(row + 1) * self.dim]
    }

    /// Every row scored from the `f32` data: for the queries whose bounds
    /// cannot be trusted (non-finite or huge values), and the reference the
    /// tests hold the two-pass search to.
    fn scan_exact(
        &self,
        query: &[f32],
        k: usize,
        min_score: f32,
        keep: &RowFilter,
    ) -> Vec<(MemoryId, f32)> {
        let mut top = Top::new(k);
        for row in 0..self.len() {
            if !keep.keeps(self, row) {
                continue;
            }
            let score = dot(query, self.row(row));
            if score >= min_score {
                top.offer(Scored {
                    score,
                    id: self.ids[row],
                });
            }
        }
        top.into_sorted()
    }

    /// The compact first pass, then the exact rescore of every row that
    /// could still reach the top k (see the module's documentation). Also
    /// says how many rows were rescored.
    fn search_two_pass(
        &self,
        query: &[f32],
        q: &compact::Query,
        k: usize,
        min_score: f32,
        keep: &RowFilter,
    ) -> (Vec<(MemoryId, f32)>, usize) {
        let floor = f64::from(min_score);
        // The k best lower bounds of rows sure to pass `min_score`: the
        // k-th best exact score is at least the least of them, so a row
        // whose upper bound is below it cannot be in the top k.
        let mut lower: BinaryHeap<Reverse<Bound>> = BinaryHeap::with_capacity(k.min(4096) + 1);
        let mut cutoff = floor;
        let mut candidates: Vec<(f64, usize)> = Vec::new();
        let mut dots = [0i32; compact::BLOCK];
        for start in (0..self.len()).step_by(compact::BLOCK) {
            let end = (start + compact::BLOCK).min(self.len());
            let out = &mut dots[..end - start];
            compact::dots(q, &self.codes[start * self.dim..end * self.dim], out);
            for (row, &d) in (start..end).zip(out.iter()) {
                if !keep.keeps(self, row) {
                    continue;
                }
                let (lb, ub) = q.bounds(d, &self.code[row]);
                if ub < cutoff {
                    continue;
                }
                candidates.push((ub, row));
                if lb >= floor {
                    if lower.len() < k {
                        lower.push(Reverse(Bound(lb)));
                    } else if lower.peek().is_some_and(|m| lb > m.0.0) {
                        lower.pop();
                        lower.push(Reverse(Bound(lb)));
                    }
                    if lower.len() == k
                        && let Some(m) = lower.peek()
                    {
                        cutoff = cutoff.max(m.0.0);
                    }
                }
            }
        }
        candidates.retain(|c| c.0 >= cutoff);
        candidates.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
        let mut top = Top::new(k);
        let mut rescored = 0;
        for (ub, row) in candidates {
            // Best bound first: once a bound is below the k-th exact score,
            // no later row can enter (nor tie: ties need an equal score).
            if top.worst().is_some_and(|w| ub < f64::from(w)) {
                break;
            }
            rescored += 1;
            let score = dot(query, self.row(row));
            if score >= min_score {
                top.offer(Scored {
                    score,
                    id: self.ids[row],
                });
            }
        }
        (top.into_sorted(), rescored)
    }
}

/// A search's filters, resolved against the index's columns.
#[derive(Debug)]
struct RowFilter {
    since: Option<i64>,
    until: Option<i64>,
    source: Option<u32>,
}

impl RowFilter {
    /// None when the wanted source has no row at all.
    fn new(filters: &Filters, sources: &[Source]) -> Option<Self> {
        let source = match &filters.source {
            Some(s) => Some(sources.iter().position(|x| x == s)? as u32),
            None => None,
        };
        Some(Self {
            since: filters.since.map(|t| t.timestamp_micros()),
            until: filters.until.map(|t| t.timestamp_micros()),
            source,
        })
    }

    #[inline]
    fn keeps(&self, index: &VectorIndex, row: usize) -> bool {
        let c = index.created[row];
        !(self.since.is_some_and(|s| c < s)
            || self.until.is_some_and(|u| c >= u)
            || self.source.is_some_and(|s| index.source[row] != s))
    }
}

/// A lower bound in a heap (bounds are never NaN).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bound(f64);

impl Eq for Bound {}

impl Ord for Bound {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

impl PartialOrd for Bound {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The best `k` results seen so far.
#[derive(Debug)]
struct Top {
    k: usize,
    heap: BinaryHeap<Scored>,
}

impl Top {
    fn new(k: usize) -> Self {
        Self {
            k,
            heap: BinaryHeap::with_capacity(k.min(4096) + 1),
        }
    }

    fn offer(&mut self, cand: Scored) {
        if self.heap.len() < self.k {
            self.heap.push(cand);
        } else if self.heap.peek().is_some_and(|worst| cand < *worst) {
            self.heap.pop();
            self.heap.push(cand);
        }
    }

    /// The k-th best score, once there are k.
    fn worst(&self) -> Option<f32> {
        if self.heap.len() < self.k {
            return None;
        }
        self.heap.peek().map(|w| w.score)
    }

    fn into_sorted(self) -> Vec<(MemoryId, f32)> {
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|s| (s.id, s.score))
            .collect()
    }
}

/// A result ordered best-first: "less" means better, so the max-heap's top
/// is the worst of the kept results.
#[derive(Debug, Clone, Copy)]
struct Scored {
    score: f32,
    id: MemoryId,
}

impl Ord for Scored {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then(self.id.cmp(&other.id))
    }
}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Scored {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Scored {}

/// Dot product with 16 independent accumulators, which the compiler turns
/// into SIMD without `unsafe`.
/// Cosine similarity of two vectors (0 when either is all zeros).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let na = dot(a, a).sqrt();
    let nb = dot(b, b).sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot(a, b) / (na * nb)
    }
}

pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let (ca, ra) = a.as_chunks::<16>();
    let (cb, rb) = b.as_chunks::<16>();
    let mut acc = [0f32; 16];
    for (x, y) in ca.iter().zip(cb) {
        for i in 0..16 {
            acc[i] += x[i] * y[i];
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

/// Row lookups for the full ranking (context, freshness, duplicates).
impl VectorIndex {
    /// The stored vector of `id`.
    pub fn vector(&self, id: MemoryId) -> Option<&[f32]> {
        let row = *self.row_of.get(&id)?;
        self.data.get(row * self.dim..(row + 1) * self.dim)
    }

    /// When `id` was created (microseconds since the epoch) and its source.
    pub fn meta(&self, id: MemoryId) -> Option<(i64, &Source)> {
        let row = *self.row_of.get(&id)?;
        let source = self.sources.get(*self.source.get(row)? as usize)?;
        Some((*self.created.get(row)?, source))
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    fn src(s: &str) -> Source {
        Source::new(s).expect("valid source")
    }

    /// Small deterministic pseudo-random unit vectors.
    fn vectors(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut s = seed.max(1);
        (0..n)
            .map(|_| {
                let v: Vec<f32> = (0..dim)
                    .map(|_| {
                        s ^= s << 13;
                        s ^= s >> 7;
                        s ^= s << 17;
                        (s % 2001) as f32 / 1000.0 - 1.0
                    })
                    .collect();
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.into_iter().map(|x| x / norm).collect()
            })
            .collect()
    }

    /// The obvious way: score everything, sort, cut.
    fn brute(q: &[f32], vs: &[(MemoryId, Vec<f32>)], k: usize, min: f32) -> Vec<MemoryId> {
        let mut s: Vec<(MemoryId, f32)> = vs
            .iter()
            .map(|(id, v)| (*id, v.iter().zip(q).map(|(a, b)| a * b).sum::<f32>()))
            .filter(|t| t.1 >= min)
            .collect();
        s.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        s.into_iter().take(k).map(|t| t.0).collect()
    }

    #[test]
    fn search_equals_brute_force_ranking() {
        let dim = 37; // not a multiple of 16: the tail path is used
        let vs: Vec<(MemoryId, Vec<f32>)> = vectors(500, dim, 7)
            .into_iter()
            .enumerate()
            .map(|(i, v)| (i as MemoryId + 1, v))
            .collect();
        let mut idx = VectorIndex::new(dim);
        for (id, v) in &vs {
            idx.upsert(*id, 0, &src("chat"), v)
                .expect("right dimension");
        }
        for q in vectors(20, dim, 99) {
            let got: Vec<MemoryId> = idx
                .search(&q, 10, -1.0, &Filters::default())
                .into_iter()
                .map(|t| t.0)
                .collect();
            assert_eq!(got, brute(&q, &vs, 10, -1.0));
            let related: Vec<MemoryId> = idx
                .search(&q, 50, 0.2, &Filters::default())
                .into_iter()
                .map(|t| t.0)
                .collect();
            assert_eq!(related, brute(&q, &vs, 50, 0.2));
        }
    }

    #[test]
    fn scores_are_cosines_best_first() {
        let mut idx = VectorIndex::new(2);
        idx.upsert(1, 0, &src("chat"), &[1.0, 0.0]).expect("dim");
        idx.upsert(2, 0, &src("chat"), &[0.6, 0.8]).expect("dim");
        idx.upsert(3, 0, &src("chat"), &[0.0, 1.0]).expect("dim");
        let top = idx.search(&[0.0, 1.0], 2, -1.0, &Filters::default());
        assert_eq!(top, [(3, 1.0), (2, 0.8)]);
        assert!(
            idx.search(&[0.0, 1.0, 0.0], 2, -1.0, &Filters::default())
                .is_empty()
        );
    }

    #[test]
    fn wrong_dimension_is_refused() {
        let mut idx = VectorIndex::new(3);
        let err = idx.upsert(9, 0, &src("chat"), &[1.0, 0.0]);
        assert_eq!(
            err,
            Err(DimensionMismatch {
                id: 9,
                got: 2,
                want: 3
            })
        );
        assert!(idx.is_empty());
    }

    #[test]
    fn removed_and_replaced_vectors_are_never_found_again() {
        let dim = 16;
        let vs = vectors(50, dim, 3);
        let mut idx = VectorIndex::new(dim);
        for (i, v) in vs.iter().enumerate() {
            idx.upsert(i as MemoryId, 0, &src("chat"), v).expect("dim");
        }
        // Remove from the middle, the end and the start; the last row moves.
        for id in [10, 49, 0] {
            assert!(idx.remove(id));
            assert!(!idx.remove(id), "second removal finds nothing");
        }
        assert_eq!(idx.len(), 47);
        for (i, v) in vs.iter().enumerate() {
            let top = idx.search(v, 1, -1.0, &Filters::default());
            if [10, 49, 0].contains(&i) {
                assert_ne!(top[0].0, i as MemoryId, "forgotten #{i} came back");
            } else {
                assert_eq!(top[0].0, i as MemoryId, "#{i} lost after a removal");
                assert!((top[0].1 - 1.0).abs() < 1e-5);
            }
        }
        // Replacing a vector: the old one is gone, the new one is found.
        idx.upsert(5, 0, &src("chat"), &vs[10]).expect("dim");
        assert_eq!(idx.search(&vs[10], 1, -1.0, &Filters::default())[0].0, 5);
        assert_ne!(idx.search(&vs[5], 1, -1.0, &Filters::default())[0].0, 5);
        assert_eq!(idx.len(), 47);
    }

    #[test]
    fn filters_limit_by_time_and_source() {
        let t = |d: u32| {
            Utc.with_ymd_and_hms(2026, 11, d, 12, 0, 0)
                .single()
                .expect("valid date")
        };
        let mut idx = VectorIndex::new(2);
        idx.upsert(1, t(1).timestamp_micros(), &src("email"), &[1.0, 0.0])
            .expect("dim");
        idx.upsert(2, t(10).timestamp_micros(), &src("chat"), &[1.0, 0.0])
            .expect("dim");
        idx.upsert(3, t(20).timestamp_micros(), &src("email"), &[1.0, 0.0])
            .expect("dim");
        let ids = |f: Filters| -> Vec<MemoryId> {
            idx.search(&[1.0, 0.0], 10, -1.0, &f)
                .into_iter()
                .map(|t| t.0)
                .collect()
        };
        let email = Filters {
            source: Some(src("email")),
            ..Filters::default()
        };
        assert_eq!(ids(email), [1, 3]);
        let window = Filters {
            since: Some(t(10)),
            until: Some(t(20)),
            ..Filters::default()
        };
        assert_eq!(ids(window), [2], "since is inclusive, until exclusive");
        let nobody = Filters {
            source: Some(src("strava")),
            ..Filters::default()
        };
        assert!(ids(nobody).is_empty());
    }

    #[test]
    fn dot_matches_the_plain_sum() {
        for n in [0, 1, 15, 16, 17, 384] {
            let v = vectors(2, n.max(1), n as u64 + 1);
            let (a, b) = (&v[0][..n.min(v[0].len())], &v[1][..n.min(v[1].len())]);
            let plain: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            assert!((dot(a, b) - plain).abs() < 1e-5, "n = {n}");
        }
    }
}

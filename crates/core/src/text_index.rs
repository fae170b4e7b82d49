//! Full-text ranking in memory: SQLite FTS5's `bm25()` computed from
//! postings, so a search reads only the postings of its words — never a
//! row, never a document size it will not rank. Each word's postings are
//! kept in id order, so a search merges its words' lists and keeps only the
//! best `limit` in a heap: no allocation in proportion to the matches.
//!
//! FTS5 ranks by reading every matching row's size and positions (about a
//! microsecond per match; a common word matches thousands of memories).
//! Here each word's postings carry its count in the document and each
//! document its length, and the score is FTS5's formula term by term in
//! query order (the same `f64` sums, so the same order, ties by id):
//!
//! ```text
//! idf(t)  = ln((N − n_t + 0.5) / (n_t + 0.5)), 1e-6 if ≤ 0
//! score   = Σ_t idf(t) · f·(k1 + 1) / (f + k1·(1 − b + b·D/avgdl)),  k1 = 1.2, b = 0.75
//! ```
//!
//! Words are runs of letters and digits, lower-cased and with diacritics
//! folded as FTS5's `unicode61 remove_diacritics 2` does ([`fold`], taken
//! from FTS5 for Latin, Greek, Cyrillic and Vietnamese: `Café` finds
//! `cafe`). Scripts outside those ranges are lower-cased only and may split
//! words slightly differently from FTS5.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

use crate::memory::{Filters, MemoryId, Source};

const K1: f64 = 1.2;
const B: f64 = 0.75;

mod fold;

/// The words of `text` as this index and its queries see them.
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut out = String::with_capacity(w.len());
            for c in w.chars() {
                fold::fold(c, &mut out);
            }
            out
        })
}

/// A document of a word's postings, with what its score needs.
#[derive(Debug, Clone, Copy)]
struct Posting {
    id: MemoryId,
    /// Times the word occurs in the document.
    count: u32,
    /// The document's length in words.
    len: u32,
}

#[derive(Debug, Clone)]
struct Doc {
    len: u32,
    created: i64,
    source: u32,
    /// Distinct word ids, for removal.
    terms: Vec<u32>,
}

/// Postings of every word of every document held.
#[derive(Debug, Clone, Default)]
pub struct TextIndex {
    term_of: HashMap<String, u32>,
    /// Per word: its documents, by id (a search merges its words' lists).
    postings: Vec<Vec<Posting>>,
    docs: HashMap<MemoryId, Doc>,
    sources: Vec<Source>,
    tokens: u64,
}

impl TextIndex {
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// Adds `id`'s text, or replaces what was held for it.
    pub fn upsert(&mut self, id: MemoryId, created_at_micros: i64, source: &Source, text: &str) {
        self.remove(id);
        let source = match self.sources.iter().position(|s| s == source) {
            Some(i) => i as u32,
            None => {
                self.sources.push(source.clone());
                (self.sources.len() - 1) as u32
            }
        };
        let mut counts: HashMap<u32, u32> = HashMap::new();
        let mut len = 0u32;
        for w in words(text) {
            let next = self.postings.len() as u32;
            let t = *self.term_of.entry(w).or_insert(next);
            if t == next {
                self.postings.push(Vec::new());
            }
            *counts.entry(t).or_default() += 1;
            len = len.saturating_add(1);
        }
        let mut terms = Vec::with_capacity(counts.len());
        for (t, n) in counts {
            let list = &mut self.postings[t as usize];
            let p = Posting { id, count: n, len };
            // Ids mostly come in increasing order: appended; else inserted in place.
            if list.last().is_none_or(|l| l.id < id) {
                list.push(p);
            } else {
                let at = list.partition_point(|x| x.id < id);
                list.insert(at, p);
            }
            terms.push(t);
        }
        self.tokens += u64::from(len);
        self.docs.insert(
            id,
            Doc {
                len,
                created: created_at_micros,
                source,
                terms,
            },
        );
    }

    /// Forgets `id`'s text. False if it was not held.
    pub fn remove(&mut self, id: MemoryId) -> bool {
        let Some(doc) = self.docs.remove(&id) else {
            return false;
        };
        for t in doc.terms {
            let list = &mut self.postings[t as usize];
            let at = list.partition_point(|p| p.id < id);
            if list.get(at).is_some_and(|p| p.id == id) {
                list.remove(at);
            }
        }
        self.tokens -= u64::from(doc.len);
        true
    }

    /// The `limit` best documents for `terms` (each one word, as
    /// [`crate::memory::query_terms`] gives them; any of them may match),
    /// best first, ties by id. `until` is inclusive here, as in the stores'
    /// SQL (the vector index's is exclusive). None when a term is not one word here
    /// (it would be a phrase to FTS5): the caller asks FTS5 instead.
    pub fn search(
        &self,
        terms: &[String],
        filters: &Filters,
        limit: usize,
    ) -> Option<Vec<MemoryId>> {
        let mut phrases = Vec::with_capacity(terms.len());
        for t in terms {
            let mut w = words(t);
            let first = w.next();
            if w.next().is_some() {
                return None;
            }
            // A term with no word matches nothing (FTS5: an empty phrase).
            phrases.push(first.and_then(|f| self.term_of.get(&f).copied()));
        }
        let n = self.docs.len() as f64;
        if n == 0.0 || limit == 0 {
            return Some(Vec::new());
        }
        let avgdl = self.tokens as f64 / n;
        let since = filters.since.map(|t| t.timestamp_micros());
        let until = filters.until.map(|t| t.timestamp_micros());
        let source = match &filters.source {
            Some(s) => match self.sources.iter().position(|x| x == s) {
                Some(i) => Some(i as u32),
                None => return Some(Vec::new()),
            },
            None => None,
        };
        let filtered = since.is_some() || until.is_some() || source.is_some();
        // Each word of the question (repeats included, as FTS5 counts them)
        // with its idf and its postings, merged by id: a document's score
        // is summed term by term in the question's order, as FTS5 sums it,
        // and only the best `limit` are kept.
        let lists: Vec<(f64, &[Posting])> = phrases
            .into_iter()
            .flatten()
            .map(|t| {
                let list = self.postings[t as usize].as_slice();
                let hits = list.len() as f64;
                let idf = ((n - hits + 0.5) / (hits + 0.5)).ln();
                (if idf <= 0.0 { 1e-6 } else { idf }, list)
            })
            .collect();
        let mut at = vec![0usize; lists.len()];
        let mut top: BinaryHeap<Ranked> = BinaryHeap::with_capacity(limit.min(4096) + 1);
        while let Some(id) = lists
            .iter()
            .zip(&at)
            .filter_map(|((_, l), i)| l.get(*i).map(|p| p.id))
            .min()
        {
            // Only a filtered search looks a document up.
            let skip = filtered
                && self.docs.get(&id).is_none_or(|doc| {
                    since.is_some_and(|s| doc.created < s)
                        || until.is_some_and(|u| doc.created > u)
                        || source.is_some_and(|s| doc.source != s)
                });
            let mut score = 0.0;
            for ((idf, list), i) in lists.iter().zip(at.iter_mut()) {
                let Some(p) = list.get(*i).filter(|p| p.id == id) else {
                    continue;
                };
                *i += 1;
                if skip {
                    continue;
                }
                let f = f64::from(p.count);
                let d = f64::from(p.len);
                // Grouped as fts5_aux.c groups it: the same rounding.
                score += idf * ((f * (K1 + 1.0)) / (f + K1 * (1.0 - B + B * d / avgdl)));
            }
            if skip {
                continue;
            }
            let r = Ranked { score, id };
            if top.len() < limit {
                top.push(r);
            } else if top.peek().is_some_and(|worst| r < *worst) {
                top.pop();
                top.push(r);
            }
        }
        Some(top.into_sorted_vec().into_iter().map(|r| r.id).collect())
    }
}

/// A scored document ordered best-first: "less" is better (higher score,
/// then lower id), so the max-heap's top is the worst kept.
#[derive(Debug, Clone, Copy)]
struct Ranked {
    score: f64,
    id: MemoryId,
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then(self.id.cmp(&other.id))
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Ranked {}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    fn src(s: &str) -> Source {
        Source::new(s).expect("valid source")
    }

    fn terms(q: &str) -> Vec<String> {
        crate::memory::query_terms(q)
    }

    #[test]
    fn ranks_by_bm25_with_more_matching_words_first() {
        let mut ix = TextIndex::default();
        ix.upsert(1, 0, &src("chat"), "Dentist appointment on Tuesday");
        ix.upsert(
            2,
            0,
            &src("email"),
            "Call the dentist about the dentist bill",
        );
        ix.upsert(3, 0, &src("chat"), "Marathon training on Tuesday");
        ix.upsert(4, 0, &src("chat"), "Die Steuererklärung ist fällig");
        let s = |q: &str| ix.search(&terms(q), &Filters::default(), 10);
        assert_eq!(s("dentist tuesday"), Some(vec![1, 2, 3]));
        assert_eq!(s("steuererklärung"), Some(vec![4]));
        assert_eq!(s("STEUERERKLARUNG"), Some(vec![4]), "diacritics folded");
        assert_eq!(s("nothing"), Some(vec![]));
        // A dentist twice in a longer text against once in a shorter one:
        // FTS5 ranks them so too (bm25 −1.2134e-6 vs −1.0691e-6 here).
        assert_eq!(s("dentist"), Some(vec![2, 1]));
        assert_eq!(ix.search(&["a b".into()], &Filters::default(), 10), None);
    }

    #[test]
    fn ids_out_of_order_still_tie_by_id() {
        let mut ix = TextIndex::default();
        for id in [5, 1, 3, 4] {
            ix.upsert(id, 0, &src("chat"), "bike");
        }
        ix.upsert(2, 0, &src("chat"), "bike bike");
        // Re-put in the middle of the list, and one forgotten.
        ix.upsert(3, 0, &src("chat"), "bike");
        assert!(ix.remove(4));
        let s = |limit| ix.search(&terms("bike"), &Filters::default(), limit);
        assert_eq!(s(10), Some(vec![2, 1, 3, 5]));
        assert_eq!(s(2), Some(vec![2, 1]));
    }

    #[test]
    fn filters_removal_and_replacement() {
        let t = |d: u32| {
            Utc.with_ymd_and_hms(2026, 11, d, 12, 0, 0)
                .single()
                .expect("valid date")
        };
        let mut ix = TextIndex::default();
        ix.upsert(1, t(1).timestamp_micros(), &src("email"), "bike repair");
        ix.upsert(2, t(10).timestamp_micros(), &src("chat"), "bike shop");
        ix.upsert(3, t(20).timestamp_micros(), &src("email"), "new bike");
        let ids =
            |ix: &TextIndex, f: Filters| ix.search(&terms("bike"), &f, 10).expect("one word each");
        let email = Filters {
            source: Some(src("email")),
            ..Filters::default()
        };
        assert_eq!(ids(&ix, email), [1, 3]);
        let window = Filters {
            since: Some(t(10)),
            until: Some(t(20)),
            ..Filters::default()
        };
        assert_eq!(ids(&ix, window), [2, 3], "since and until inclusive");
        assert!(ix.remove(2));
        assert!(!ix.remove(2));
        ix.upsert(3, t(20).timestamp_micros(), &src("email"), "a car");
        assert_eq!(ids(&ix, Filters::default()), [1]);
        assert_eq!(ix.len(), 2);
        assert_eq!(ix.tokens, 4);
    }
}

//! The two-pass search against the obvious one: score every row with the
//! same `f32` dot product, sort, cut. Ids and scores must be equal, bit for
//! bit, for clustered data (where the first pass prunes most rows), ties,
//! filters, thresholds, removals and replacements.

use chrono::{TimeZone, Utc};

use super::*;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f32 {
        (self.next() % 2001) as f32 / 1000.0 - 1.0
    }
    fn vector(&mut self, dim: usize) -> Vec<f32> {
        normalise((0..dim).map(|_| self.unit()).collect())
    }
}

fn normalise(v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.into_iter().map(|x| x / n).collect()
}

/// A vector near centroid `c`: same-topic cosines about 0.5, as real
/// embeddings of related notes.
fn near(rng: &mut Rng, c: &[f32]) -> Vec<f32> {
    let noise = rng.vector(c.len());
    normalise(c.iter().zip(noise).map(|(a, b)| a + b).collect())
}

const SOURCES: [&str; 3] = ["chat", "email", "telegram"];

fn src(s: &str) -> Source {
    Source::new(s).expect("valid source")
}

/// What the index holds, kept beside it for the brute force.
struct Model {
    rows: HashMap<MemoryId, (i64, usize, Vec<f32>)>,
}

impl Model {
    fn brute(&self, q: &[f32], k: usize, min: f32, f: &Filters) -> Vec<(MemoryId, f32)> {
        let since = f.since.map(|t| t.timestamp_micros());
        let until = f.until.map(|t| t.timestamp_micros());
        let mut all: Vec<(MemoryId, f32)> = self
            .rows
            .iter()
            .filter(|(_, (c, s, _))| {
                since.is_none_or(|x| *c >= x)
                    && until.is_none_or(|x| *c < x)
                    && f.source.as_ref().is_none_or(|x| x.as_str() == SOURCES[*s])
            })
            .map(|(id, (_, _, v))| (*id, dot(q, v)))
            .filter(|t| t.1 >= min)
            .collect();
        all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        all.truncate(k);
        all
    }
}

fn put(idx: &mut VectorIndex, m: &mut Model, id: MemoryId, created: i64, s: usize, v: Vec<f32>) {
    idx.upsert(id, created, &src(SOURCES[s]), &v).expect("dim");
    m.rows.insert(id, (created, s, v));
}

/// Every combination of k, threshold and filter for `queries`.
fn check_all(idx: &VectorIndex, m: &Model, queries: &[Vec<f32>], span: i64) {
    let t = |micros: i64| Utc.timestamp_micros(micros).single().expect("valid time");
    let filters = [
        Filters::default(),
        Filters {
            source: Some(src("email")),
            ..Filters::default()
        },
        Filters {
            since: Some(t(span / 4)),
            until: Some(t(span / 2)),
            ..Filters::default()
        },
        Filters {
            since: Some(t(span / 3)),
            source: Some(src("chat")),
            ..Filters::default()
        },
    ];
    for q in queries {
        for f in &filters {
            for (k, min) in [(1, -1.0), (10, 0.2), (50, 0.2), (10, 0.6), (300, -1.0)] {
                let got = idx.search(q, k, min, f);
                assert_eq!(got, m.brute(q, k, min, f), "k {k} min {min} {f:?}");
                let keep = RowFilter::new(f, &idx.sources).expect("known source");
                if k == 10 && f.source.is_none() {
                    assert_eq!(got, idx.scan_exact(q, k, min, &keep));
                }
            }
        }
    }
}

#[test]
fn two_pass_equals_brute_force_on_clustered_vectors() {
    for dim in [37, 384] {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ dim as u64);
        let centroids: Vec<Vec<f32>> = (0..16).map(|_| rng.vector(dim)).collect();
        let mut idx = VectorIndex::new(dim);
        let mut m = Model {
            rows: HashMap::new(),
        };
        let n = 1000;
        for id in 1..=n {
            let c = &centroids[(rng.next() % 16) as usize];
            let v = near(&mut rng, c);
            put(&mut idx, &mut m, id, id * 1_000, (id % 3) as usize, v);
        }
        // Ties: the same vector under several ids, found in id order.
        let twin = near(&mut rng, &centroids[3]);
        for id in [n + 7, n + 2, n + 5] {
            put(&mut idx, &mut m, id, id * 1_000, 1, twin.clone());
        }
        let mut queries: Vec<Vec<f32>> =
            (0..6).map(|i| near(&mut rng, &centroids[i % 16])).collect();
        queries.push(twin.clone());
        queries.push(rng.vector(dim));
        check_all(&idx, &m, &queries, (n + 10) * 1_000);
        // The first pass did prune: a top 10 rescored a few rows, not all.
        let keep = RowFilter::new(&Filters::default(), &idx.sources).expect("no source");
        let q = compact::Query::new(&queries[0]).expect("finite");
        let (top, rescored) = idx.search_two_pass(&queries[0], &q, 10, 0.2, &keep);
        assert_eq!(top.len(), 10);
        assert!(rescored < n as usize / 5, "rescored {rescored} of {n}");

        // Removals (the last row moves) and replacements, then again.
        for id in (1..=n).step_by(7) {
            assert!(idx.remove(id));
            m.rows.remove(&id);
        }
        assert!(idx.remove(n + 2));
        m.rows.remove(&(n + 2));
        for id in (3..=n).step_by(11) {
            let c = &centroids[(rng.next() % 16) as usize];
            let v = near(&mut rng, c);
            put(&mut idx, &mut m, id, id * 1_000, ((id + 1) % 3) as usize, v);
        }
        put(&mut idx, &mut m, 4, 4_000, 1, twin.clone());
        assert_eq!(idx.len(), m.rows.len());
        check_all(&idx, &m, &queries, (n + 10) * 1_000);
    }
}

#[test]
fn rows_without_bounds_are_still_ranked_exactly() {
    let dim = 16;
    let mut rng = Rng(42);
    let mut idx = VectorIndex::new(dim);
    let mut m = Model {
        rows: HashMap::new(),
    };
    for id in 1..=200 {
        put(&mut idx, &mut m, id, 0, 0, rng.vector(dim));
    }
    let mut huge = rng.vector(dim);
    huge[0] = 1e20;
    put(&mut idx, &mut m, 500, 0, 0, huge);
    let mut nan = rng.vector(dim);
    nan[3] = f32::NAN;
    idx.upsert(501, 0, &src("chat"), &nan).expect("dim");
    let zero = vec![0.0; dim];
    put(&mut idx, &mut m, 502, 0, 0, zero.clone());
    let queries = [rng.vector(dim), zero, {
        let mut q = rng.vector(dim);
        q[0] = -1.0;
        q
    }];
    for q in &queries {
        for (k, min) in [(1, -1.0), (5, 0.0), (300, -1.0)] {
            let got = idx.search(q, k, min, &Filters::default());
            assert_eq!(got, m.brute(q, k, min, &Filters::default()));
            assert!(got.iter().all(|h| h.0 != 501), "a NaN score is never found");
        }
    }
    // A query with a NaN takes the full scan, with its results.
    let mut bad = rng.vector(dim);
    bad[1] = f32::NAN;
    assert!(idx.search(&bad, 5, -1.0, &Filters::default()).is_empty());
}

/// Timing at the bench's scale (run by hand, in release:
/// `cargo test --release -p openzero-core --lib timing_100k -- --ignored --nocapture`).
#[test]
#[ignore = "timing, by hand"]
fn timing_100k() {
    let dim = 384;
    let n = 100_000;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let centroids: Vec<Vec<f32>> = (0..64).map(|_| rng.vector(dim)).collect();
    let mut idx = VectorIndex::new(dim);
    for id in 1..=n {
        let c = &centroids[(rng.next() % 64) as usize];
        let v = near(&mut rng, c);
        idx.upsert(id, id, &src(SOURCES[(id % 3) as usize]), &v)
            .expect("dim");
    }
    let queries: Vec<Vec<f32>> = (0..300)
        .map(|i| near(&mut rng, &centroids[(i * 7) % 64]))
        .collect();
    let keep = RowFilter::new(&Filters::default(), &idx.sources).expect("no source");
    for (k, min) in [(10, 0.2), (50, 0.2)] {
        let mut times = Vec::new();
        let mut rescored = Vec::new();
        for q in &queries {
            let cq = compact::Query::new(q).expect("finite");
            let t = std::time::Instant::now();
            let (top, r) = idx.search_two_pass(q, &cq, k, min, &keep);
            times.push(t.elapsed());
            rescored.push(r);
            std::hint::black_box(top);
        }
        times.sort();
        rescored.sort();
        println!(
            "k {k}: p50 {:?} p99 {:?}, rescored p50 {} max {}",
            times[times.len() / 2],
            times[times.len() * 99 / 100],
            rescored[rescored.len() / 2],
            rescored[rescored.len() - 1]
        );
    }
    // The first pass alone.
    let cq = compact::Query::new(&queries[0]).expect("finite");
    let mut out = vec![0i32; n as usize];
    let mut times = Vec::new();
    for _ in 0..50 {
        let t = std::time::Instant::now();
        compact::dots(&cq, &idx.codes, &mut out);
        times.push(t.elapsed());
        std::hint::black_box(&out);
    }
    times.sort();
    println!("dots alone: p50 {:?}", times[times.len() / 2]);
    // Reading the bytes alone.
    let mut times = Vec::new();
    for _ in 0..50 {
        let t = std::time::Instant::now();
        let s: i64 = idx
            .codes
            .chunks_exact(64)
            .map(|c| i64::from(c[0]) + i64::from(c[63]))
            .sum();
        times.push(t.elapsed());
        std::hint::black_box(s);
    }
    times.sort();
    println!("touching every line: p50 {:?}", times[times.len() / 2]);
}

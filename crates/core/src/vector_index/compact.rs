//! The compact copy of the index's vectors and the bounds that make a first
//! pass over it exact.
//!
//! Each row is kept a second time as one signed byte per dimension with its
//! own scale (`v ≈ scale · code`). A query is rounded to bytes the same way,
//! so the first pass is a byte dot product over a quarter of the bytes of
//! the `f32` rows (on AVX2: `vpsignb` + `vpmaddubsw` + `vpmaddwd`, 32
//! dimensions per step, exact because codes stay within ±127). For every
//! row it yields an interval that provably holds the exact `f32` score the
//! full scan would compute:
//!
//! ```text
//! v·q = v̂·q̂ + v̂·e_q + e_v·q            (v = v̂ + e_v, q = q̂ + e_q)
//! |v̂·e_q| ≤ |v̂|·|e_q|,  |e_v·q| ≤ |e_v|·|q|              (Cauchy–Schwarz)
//! |fl(v·q) − v·q| ≤ γ·|q|·|v|,  γ = (dim + 2)·2⁻²⁴·1.01   (the f32 sum)
//! ```
//!
//! `v̂·q̂ = scale_v · scale_q · Σ code_v·code_q` is exact in integers and
//! computed in `f64`; the norms are computed in `f64` and rounded up. Only
//! rows whose upper bound reaches the k-th best lower bound are scored
//! again from the `f32` rows, so the result is the full scan's, bit for bit.
//!
//! Rows or queries that do not fit the bounds' assumptions (non-finite or
//! huge values) are never pruned: such a row is always rescored, such a query
//! takes the full scan.

/// Above this magnitude a product could overflow `f32`; such vectors are
/// always compared exactly.
const HUGE: f32 = 1.0e15;
/// Rows per block of the first pass: the integer scores of a block stay in L1.
pub(super) const BLOCK: usize = 256;

/// What the first pass needs of one row besides its bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct RowCode {
    /// `v̂ = scale · code`.
    scale: f32,
    /// `|v̂|`, rounded up.
    code_norm: f32,
    /// `|v − v̂|`, rounded up; infinite for a row that is always rescored.
    err_norm: f32,
}

impl RowCode {
    /// A row whose bounds are unknown: always rescored.
    const UNBOUNDED: RowCode = RowCode {
        scale: 0.0,
        code_norm: 0.0,
        err_norm: f32::INFINITY,
    };
}

/// Rounds a non-negative `f64` up to an `f32` that is at least as large.
fn up(x: f64) -> f32 {
    (x * (1.0 + 1e-6) + 1e-30) as f32
}

/// Writes `v`'s bytes into `out` (same length) and returns its scale and norms.
pub(super) fn encode(v: &[f32], out: &mut [i8]) -> RowCode {
    let max = v.iter().fold(0f32, |m, x| m.max(x.abs()));
    if !v.iter().all(|x| x.is_finite()) || max > HUGE {
        out.fill(0);
        return RowCode::UNBOUNDED;
    }
    if max == 0.0 {
        out.fill(0);
        return RowCode {
            scale: 0.0,
            code_norm: 0.0,
            err_norm: 0.0,
        };
    }
    let scale = max / 127.0;
    let s = f64::from(scale);
    let (mut code_sq, mut err_sq) = (0f64, 0f64);
    for (x, c) in v.iter().zip(out.iter_mut()) {
        let q = (f64::from(*x) / s).round().clamp(-127.0, 127.0);
        *c = q as i8;
        let hat = s * q;
        code_sq += hat * hat;
        let e = f64::from(*x) - hat;
        err_sq += e * e;
    }
    RowCode {
        scale,
        code_norm: up(code_sq.sqrt()),
        err_norm: up(err_sq.sqrt()),
    }
}

/// A query rounded for the first pass, with what its bounds need.
#[derive(Debug, Clone)]
pub(super) struct Query {
    /// `q̂ = scale · codes`, every code within ±127.
    pub(super) codes: Vec<i8>,
    /// `|codes|`, the unsigned side of `vpmaddubsw`.
    magnitudes: Vec<i8>,
    scale: f64,
    /// Multiplies a row's `|v̂|` in its error bound: `|e_q| + γ·|q|`.
    per_code_norm: f64,
    /// Multiplies a row's `|e_v|` in its error bound: `(1 + γ)·|q|`.
    per_err_norm: f64,
}

impl Query {
    /// None when the bounds cannot be trusted for this query (non-finite or
    /// huge values, or a dimension so large the integer sum could overflow):
    /// the caller scans exactly instead.
    pub(super) fn new(q: &[f32]) -> Option<Query> {
        let dim = q.len().max(1);
        let max = q.iter().fold(0f32, |m, x| m.max(x.abs()));
        if !q.iter().all(|x| x.is_finite()) || max > HUGE || dim > 100_000 {
            return None;
        }
        // |Σ code_q·code_v| ≤ dim · 127 · 127 fits an i32 (dim ≤ 100,000).
        let limit = 127.0;
        let scale = if max == 0.0 {
            1.0
        } else {
            f64::from(max) / limit
        };
        let (mut norm_sq, mut err_sq) = (0f64, 0f64);
        let codes: Vec<i8> = q
            .iter()
            .map(|x| {
                let x = f64::from(*x);
                let c = (x / scale).round().clamp(-limit, limit);
                let e = x - scale * c;
                norm_sq += x * x;
                err_sq += e * e;
                c as i8
            })
            .collect();
        let magnitudes = codes.iter().map(|c| c.abs()).collect();
        let norm = norm_sq.sqrt() * (1.0 + 1e-9);
        let gamma = (dim as f64 + 2.0) * f64::from(f32::EPSILON) / 2.0 * 1.01;
        Some(Query {
            codes,
            magnitudes,
            scale,
            per_code_norm: err_sq.sqrt() * (1.0 + 1e-9) + 1e-12 * norm + gamma * norm,
            per_err_norm: (1.0 + gamma) * norm,
        })
    }

    /// Lower and upper bounds of the exact `f32` score of a row whose
    /// integer dot product with this query is `dot`.
    #[inline]
    pub(super) fn bounds(&self, dot: i32, row: &RowCode) -> (f64, f64) {
        if row.err_norm == f32::INFINITY {
            return (f64::NEG_INFINITY, f64::INFINITY);
        }
        let approx = f64::from(row.scale) * self.scale * f64::from(dot);
        let err = f64::from(row.code_norm) * self.per_code_norm
            + f64::from(row.err_norm) * self.per_err_norm
            + 1e-30;
        (approx - err, approx + err)
    }
}

/// `out[r] = Σ query[i] · codes[r·dim + i]` for each row `r` of `codes`:
/// with AVX2 where the CPU has it (checked once per call by `pulp`), else
/// the plain sum compiled for what the CPU has.
pub(super) fn dots(query: &Query, codes: &[i8], out: &mut [i32]) {
    let dim = query.codes.len();
    if dim == 0 {
        out.fill(0);
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if let Some(v3) = pulp::x86::V3::try_new() {
        v3.vectorize(|| dots_avx2(v3, query, codes, out));
        return;
    }
    pulp::Arch::new().dispatch(Dots {
        query: &query.codes,
        codes,
        out,
    });
}

struct Dots<'a> {
    query: &'a [i8],
    codes: &'a [i8],
    out: &'a mut [i32],
}

impl pulp::WithSimd for Dots<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let dim = self.query.len();
        for (o, row) in self.out.iter_mut().zip(self.codes.chunks_exact(dim)) {
            *o = int_dot(self.query, row);
        }
    }
}

/// The plain sum (integer sums may be reordered freely, unlike `f32`
/// ones). Never overflows: see [`Query::new`].
#[inline(always)]
fn int_dot(q: &[i8], row: &[i8]) -> i32 {
    q.iter()
        .zip(row)
        .map(|(a, b)| i32::from(*a) * i32::from(*b))
        .sum()
}

/// The first pass with AVX2, 32 dimensions per step: `vpsignb` moves the
/// query's signs onto the row's bytes, `vpmaddubsw` multiplies them by the
/// query's magnitudes and adds pairs (at most 2·127·127 < 2¹⁵: never
/// saturates), `vpmaddwd` widens to 32 bits. The same integers as
/// [`int_dot`], exactly.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn dots_avx2(v3: pulp::x86::V3, query: &Query, codes: &[i8], out: &mut [i32]) {
    use core::arch::x86_64::__m256i;
    let avx2 = v3.avx2;
    let dim = query.codes.len();
    let (signs, sign_tail) = query.codes.as_chunks::<32>();
    let (mags, _) = query.magnitudes.as_chunks::<32>();
    let ones: __m256i = pulp::cast([1i16; 16]);
    for (o, row) in out.iter_mut().zip(codes.chunks_exact(dim)) {
        let (chunks, tail) = row.as_chunks::<32>();
        let mut acc: __m256i = pulp::cast([0i32; 8]);
        for ((r, s), m) in chunks.iter().zip(signs).zip(mags) {
            let signed = avx2._mm256_sign_epi8(pulp::cast(*r), pulp::cast(*s));
            let pairs = avx2._mm256_maddubs_epi16(pulp::cast(*m), signed);
            acc = avx2._mm256_add_epi32(acc, avx2._mm256_madd_epi16(pairs, ones));
        }
        let lanes: [i32; 8] = pulp::cast(acc);
        *o = lanes.iter().sum::<i32>() + int_dot(sign_tail, tail);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32_dot(a: &[f32], b: &[f32]) -> f32 {
        crate::vector_index::dot(a, b)
    }

    /// Deterministic values in [-1, 1], some of them exact zeros.
    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed.max(1);
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s % 2001) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn bounds_hold_the_exact_f32_score() {
        for dim in [1, 3, 16, 37, 384, 1024] {
            for seed in 1..40u64 {
                let mut v = values(dim, seed);
                let q = values(dim, seed * 7919 + 3);
                if seed % 5 == 0 {
                    // Uneven magnitudes: one large coordinate, the rest tiny.
                    v.iter_mut().for_each(|x| *x *= 1e-3);
                    v[0] = 3.0;
                }
                let mut codes = vec![0i8; dim];
                let row = encode(&v, &mut codes);
                let query = Query::new(&q).expect("finite query");
                let mut d = [0i32];
                dots(&query, &codes, &mut d);
                let plain: i32 = query
                    .codes
                    .iter()
                    .zip(&codes)
                    .map(|(a, b)| i32::from(*a) * i32::from(*b))
                    .sum();
                assert_eq!(d[0], plain, "dim {dim} seed {seed}");
                let (lb, ub) = query.bounds(d[0], &row);
                let exact = f64::from(f32_dot(&q, &v));
                assert!(lb <= exact && exact <= ub, "{lb} ≤ {exact} ≤ {ub}");
                let (qn, vn) = (f32_dot(&q, &q).sqrt(), f32_dot(&v, &v).sqrt());
                assert!(ub - lb < 0.05 * f64::from(qn * vn), "bound too loose");
            }
        }
    }

    #[test]
    fn byte_dots_are_exact_at_the_extremes() {
        // Codes of ±127 everywhere: the largest pair sums the AVX2 path
        // adds in 16 bits, and every sign combination.
        for dim in [1, 31, 32, 33, 384, 1000] {
            let q: Vec<f32> = (0..dim)
                .map(|i| if i % 3 == 0 { -1.0 } else { 1.0 })
                .collect();
            let query = Query::new(&q).expect("finite");
            for pattern in 0..4usize {
                let codes: Vec<i8> = (0..dim)
                    .map(|i| match (pattern + i) % 4 {
                        0 => 127,
                        1 => -127,
                        2 if pattern == 0 => 0,
                        _ => 127,
                    })
                    .collect();
                let rows = [codes.clone(), codes].concat();
                let mut d = [0i32; 2];
                dots(&query, &rows, &mut d);
                let plain = int_dot(&query.codes, &rows[..dim]);
                assert_eq!(d, [plain, plain], "dim {dim} pattern {pattern}");
            }
        }
    }

    #[test]
    fn zero_vectors_score_exactly_zero() {
        let mut codes = vec![0i8; 4];
        let row = encode(&[0.0; 4], &mut codes);
        let query = Query::new(&[0.5, -0.5, 0.0, 1.0]).expect("finite");
        let (lb, ub) = query.bounds(0, &row);
        assert!(lb <= 0.0 && 0.0 <= ub && ub - lb < 1e-20);
        let zero_query = Query::new(&[0.0; 4]).expect("finite");
        let v = [0.25f32, 1.0, -1.0, 0.0];
        let row = encode(&v, &mut codes);
        assert_eq!(zero_query.bounds(0, &row), (-1e-30, 1e-30));
    }

    #[test]
    fn unbounded_rows_and_queries_are_left_to_the_exact_scan() {
        let mut codes = vec![0i8; 3];
        for v in [
            [f32::NAN, 0.0, 1.0],
            [f32::INFINITY, 0.0, 0.0],
            [1e20, 1.0, 0.0],
        ] {
            let row = encode(&v, &mut codes);
            let query = Query::new(&[1.0, 0.0, 0.0]).expect("finite");
            assert_eq!(query.bounds(0, &row), (f64::NEG_INFINITY, f64::INFINITY));
            assert!(Query::new(&v).is_none());
        }
    }
}

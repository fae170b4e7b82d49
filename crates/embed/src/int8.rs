//! The int8 weights of [`Precision::Int8`](crate::Precision): the f32
//! matrices of the safetensors turned into what ONNX Runtime's integer
//! kernels read (VNNI on x86 where the CPU has it). Activations are
//! quantised by ONNX Runtime at run time; only weights are prepared here.
//!
//! Two layouts: per-column symmetric int8 for `DynamicQuantizeMatMul` (the
//! fast one: one activation scale per call), and 8-bit blocks of 32 for
//! `MatMulNBits` (activations quantised per row and block, slower but
//! robust to the outliers after GELU, so it serves the FFN's down
//! projection and the attention's output projection — the two inputs no
//! LayerNorm smooths). Inputs fed by a LayerNorm are smoothed first (SmoothQuant,
//! α = ½, from the LayerNorm's own γ and β, no calibration data): channel
//! `j` of the activation is divided by `s_j` and row `j` of the weight
//! multiplied by it, which changes nothing in exact arithmetic and moves the
//! LayerNorm's outlier channels into the weights, where per-column scales
//! absorb them.
//!
//! **Invariants:** pure functions of the weights (no I/O, deterministic);
//! every matrix is `[in, out]` row-major, as ONNX's MatMul wants it.

/// A weight matrix, `[rows = in, cols = out]`, row-major.
pub(crate) struct Matrix {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f32>,
}

/// Block length of the `MatMulNBits` layout (along the input dimension).
pub(crate) const BLOCK: usize = 32;

/// Per-column symmetric int8: `w ≈ q × scale[col]`.
pub(crate) fn per_column(m: &Matrix) -> (Vec<i8>, Vec<f32>) {
    let mut scale = vec![0f32; m.cols];
    for row in m.data.chunks_exact(m.cols) {
        for (s, w) in scale.iter_mut().zip(row) {
            *s = s.max(w.abs());
        }
    }
    for s in &mut scale {
        *s = if *s > 0.0 { *s / 127.0 } else { 1.0 };
    }
    let q = m
        .data
        .chunks_exact(m.cols)
        .flat_map(|row| row.iter().zip(&scale).map(|(w, s)| quantise(w / s)))
        .collect();
    (q, scale)
}

/// `MatMulNBits` with 8 bits: `[cols, rows / BLOCK, BLOCK]` unsigned bytes
/// around the default zero point 128, and one scale per column and block.
/// `None` when the rows do not split into whole blocks.
pub(crate) fn blockwise(m: &Matrix) -> Option<(Vec<u8>, Vec<f32>)> {
    if !m.rows.is_multiple_of(BLOCK) {
        return None;
    }
    let blocks = m.rows / BLOCK;
    let mut q = Vec::with_capacity(m.rows * m.cols);
    let mut scales = Vec::with_capacity(m.cols * blocks);
    let mut block = [0f32; BLOCK];
    for c in 0..m.cols {
        for b in 0..blocks {
            for (i, x) in block.iter_mut().enumerate() {
                *x = m.data[(b * BLOCK + i) * m.cols + c];
            }
            let max = block.iter().fold(0f32, |a, x| a.max(x.abs()));
            let s = if max > 0.0 { max / 127.0 } else { 1.0 };
            scales.push(s);
            // quantise() is within ±127, so the sum is within 1..=255.
            q.extend(
                block
                    .iter()
                    .map(|x| (i16::from(quantise(x / s)) + 128) as u8),
            );
        }
    }
    Some((q, scales))
}

/// SmoothQuant factors for an input produced by a LayerNorm with `gamma`
/// and `beta`: `s_j = sqrt(amax_j / wmax_j)`, with the activation's range
/// estimated as `|β_j| + 2|γ_j|`. Returns the factors; the caller multiplies
/// the activation by `1 / s` and the weight's rows by `s` ([`scale_rows`]).
pub(crate) fn smoothing(gamma: &[f32], beta: &[f32], w: &Matrix) -> Vec<f32> {
    w.data
        .chunks_exact(w.cols)
        .zip(gamma.iter().zip(beta))
        .map(|(row, (g, b))| {
            let wmax = row.iter().fold(0f32, |a, x| a.max(x.abs())).max(1e-5);
            let amax = (b.abs() + 2.0 * g.abs()).max(1e-5);
            (amax / wmax).sqrt()
        })
        .collect()
}

/// Row `j` of `w` multiplied by `s[j]`.
pub(crate) fn scale_rows(w: &mut Matrix, s: &[f32]) {
    for (row, f) in w.data.chunks_exact_mut(w.cols).zip(s) {
        row.iter_mut().for_each(|x| *x *= f);
    }
}

fn quantise(x: f32) -> i8 {
    // Clamped first, so the cast cannot saturate unexpectedly.
    x.round().clamp(-127.0, 127.0) as i8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m() -> Matrix {
        let (rows, cols) = (64, 3);
        let data = (0..rows * cols)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0)
            .collect();
        Matrix { rows, cols, data }
    }

    #[test]
    fn per_column_round_trips_within_half_a_step() {
        let m = m();
        let (q, s) = per_column(&m);
        for (i, w) in m.data.iter().enumerate() {
            let c = i % m.cols;
            assert!((f32::from(q[i]) * s[c] - w).abs() <= s[c] * 0.5 + 1e-6);
        }
    }

    #[test]
    fn blockwise_round_trips_and_keeps_its_layout() {
        let m = m();
        let (q, s) = blockwise(&m).unwrap();
        assert_eq!(q.len(), m.rows * m.cols);
        assert_eq!(s.len(), m.cols * m.rows / BLOCK);
        let blocks = m.rows / BLOCK;
        for r in 0..m.rows {
            for c in 0..m.cols {
                let (b, i) = (r / BLOCK, r % BLOCK);
                let scale = s[c * blocks + b];
                let got = (f32::from(q[(c * blocks + b) * BLOCK + i]) - 128.0) * scale;
                assert!((got - m.data[r * m.cols + c]).abs() <= scale * 0.5 + 1e-6);
            }
        }
        let odd = Matrix {
            rows: 33,
            cols: 1,
            data: vec![1.0; 33],
        };
        assert!(blockwise(&odd).is_none());
    }

    #[test]
    fn smoothing_changes_nothing_in_exact_arithmetic() {
        let mut w = m();
        let gamma: Vec<f32> = (0..w.rows).map(|i| 1.0 + i as f32).collect();
        let beta = vec![0.5; w.rows];
        let x: Vec<f32> = (0..w.rows).map(|i| (i as f32).sin()).collect();
        let y = |w: &Matrix, x: &[f32]| -> Vec<f32> {
            (0..w.cols)
                .map(|c| (0..w.rows).map(|r| x[r] * w.data[r * w.cols + c]).sum())
                .collect()
        };
        let before = y(&w, &x);
        let s = smoothing(&gamma, &beta, &w);
        scale_rows(&mut w, &s);
        let xs: Vec<f32> = x.iter().zip(&s).map(|(a, f)| a / f).collect();
        for (a, b) in before.iter().zip(y(&w, &xs)) {
            assert!((a - b).abs() < 1e-3, "{a} vs {b}");
        }
    }
}

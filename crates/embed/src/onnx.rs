//! The fast path: the same BERT run by ONNX Runtime, loaded at run time
//! from `libonnxruntime.so` (the file the PyPI `onnxruntime` wheel ships;
//! `scripts/fetch-models` unpacks it). No `.onnx` file is involved: the
//! graph is built here, in memory, from `model.safetensors`, with ONNX
//! Runtime's fused BERT operators (`EmbedLayerNormalization`, `Attention`,
//! `SkipLayerNormalization`, `BiasGelu`) — which is where the speed comes
//! from — through its Model Editor API.
//!
//! Memory (measured with `openzero bench footprint`; the figures are in
//! docs/benchmarks.md): the vocabulary table, half of the file, stays on
//! disk — each batch reads the rows of its tokens, once each, and hands
//! them to `EmbedLayerNormalization` as an input, with the ids turned into
//! indices into those rows (same arithmetic, same vectors). Every other
//! weight is read from the file straight into a buffer ONNX Runtime
//! allocated, and given to the graph as external data, so ONNX Runtime
//! refers to it instead of copying it into a protobuf. ONNX Runtime then
//! repacks the matrices for its kernels and frees the originals: one copy
//! at rest. Prepacking stays on: without it batch 1 embeds about 40%
//! slower for 13 MB less at rest.
//!
//! **Invariants:** one ONNX Runtime library per process (the first one
//! loaded; asking for another is an error that names both); the output
//! is the model's last hidden state, pooled by the caller exactly as the
//! candle path is; `model.safetensors` stays open while the model is
//! loaded (the vocabulary rows are read from it).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ort::editor::{Graph, Model, Node, ONNX_DOMAIN, Opset};
use ort::environment::Environment;
use ort::memory::Allocator;
use ort::operator::Attribute;
use ort::session::Session;
use ort::session::builder::{GraphOptimizationLevel, SessionBuilder};
use ort::value::{Outlet, Shape, SymbolicDimensions, Tensor, TensorElementType, ValueType};

use crate::int8::{self, Matrix};
use crate::weights::WeightFile;
use crate::{EmbedError, Precision};

const MS_DOMAIN: &str = "com.microsoft";

/// The process's ONNX Runtime: which library, and its environment.
static RUNTIME: OnceLock<Result<(PathBuf, Environment), String>> = OnceLock::new();

fn environment(lib: &Path) -> Result<&'static Environment, EmbedError> {
    let loaded = RUNTIME.get_or_init(|| {
        let env = ort::init_from(lib)
            .map_err(|e| format!("cannot load {}: {e}", lib.display()))?
            .with_name("openzero")
            .build()
            .map_err(|e| format!("ONNX Runtime from {}: {e}", lib.display()))?;
        Ok((lib.to_owned(), env))
    });
    match loaded {
        Ok((path, env)) if path == lib => Ok(env),
        Ok((path, _)) => Err(EmbedError::Runtime(format!(
            "ONNX Runtime is already loaded from {} in this process; cannot load {} too",
            path.display(),
            lib.display()
        ))),
        Err(e) => Err(EmbedError::Runtime(e.clone())),
    }
}

/// The BERT shape read from `config.json`.
pub(crate) struct BertShape {
    pub layers: usize,
    pub hidden: usize,
    pub heads: usize,
    pub eps: f32,
}

impl BertShape {
    pub(crate) fn from_config(config: &serde_json::Value) -> Option<Self> {
        let n = |k: &str| {
            config
                .get(k)
                .and_then(serde_json::Value::as_u64)
                .map(|v| v as usize)
        };
        Some(Self {
            layers: n("num_hidden_layers")?,
            hidden: n("hidden_size")?,
            heads: n("num_attention_heads")?,
            eps: config
                .get("layer_norm_eps")
                .and_then(serde_json::Value::as_f64)
                .unwrap_or(1e-12) as f32,
        })
    }
}

/// The vocabulary table: not in the graph, its rows are read per batch.
const WORDS: &str = "embeddings.word_embeddings.weight";

/// A BERT encoder on ONNX Runtime.
pub(crate) struct OnnxBert {
    session: Mutex<Session>,
    /// Where each batch's vocabulary rows come from.
    weights: WeightFile,
    hidden: usize,
}

impl OnnxBert {
    /// Builds the graph from the weights file and opens a session using
    /// `threads` threads (0: ONNX Runtime's choice). Each weight is read
    /// from the file straight into the buffer ONNX Runtime keeps, which the
    /// graph refers to rather than copies: no weight exists twice while
    /// loading, except as ONNX Runtime repacks them for its kernels.
    pub(crate) fn load(
        lib: &Path,
        weights: WeightFile,
        shape: &BertShape,
        threads: usize,
        precision: Precision,
    ) -> Result<Self, String> {
        let env = environment(lib).map_err(|e| e.to_string())?;
        let graph = build_graph(&weights, shape, precision).map_err(|e| e.to_string())?;
        let mut model = Model::new([
            Opset::new(ONNX_DOMAIN, 17).map_err(|e| e.to_string())?,
            Opset::new(MS_DOMAIN, 1).map_err(|e| e.to_string())?,
        ])
        .map_err(|e| e.to_string())?;
        model.set_graph(graph).map_err(|e| e.to_string())?;
        let mut builder = SessionBuilder::new(env)
            .map_err(|e| e.to_string())?
            .with_optimization_level(GraphOptimizationLevel::All)
            .map_err(|e| e.to_string())?
            .with_inter_threads(1)
            .map_err(|e| e.to_string())?;
        if threads > 0 {
            builder = builder
                .with_intra_threads(threads)
                .map_err(|e| e.to_string())?;
        }
        let session = model.into_session(&builder).map_err(|e| e.to_string())?;
        Ok(Self {
            session: Mutex::new(session),
            weights,
            hidden: shape.hidden,
        })
    }

    /// The last hidden state, `[n, len, hidden]` flattened, for right-padded
    /// token ids and their attention mask (`n × len` each).
    pub(crate) fn forward(
        &self,
        ids: &[u32],
        mask: Vec<i32>,
        n: usize,
        len: usize,
    ) -> Result<Vec<f32>, EmbedError> {
        // The vocabulary rows this batch uses, once each, read from the
        // file; the ids become indices into them.
        let mut rows = ids.to_vec();
        rows.sort_unstable();
        rows.dedup();
        let mut words = vec![0f32; rows.len() * self.hidden];
        self.weights
            .rows(WORDS, &rows, &mut words)
            .map_err(EmbedError::Inference)?;
        let index: Vec<i32> = ids
            .iter()
            .map(|id| rows.binary_search(id).map_or(0, |i| i as i32))
            .collect();
        let err = |e: ort::Error| EmbedError::Inference(e.to_string());
        let shape = [n as i64, len as i64];
        let segments = vec![0i32; n * len];
        let inputs = ort::inputs![
            "ids" => Tensor::from_array((shape, index)).map_err(err)?,
            "segments" => Tensor::from_array((shape, segments)).map_err(err)?,
            "mask" => Tensor::from_array((shape, mask)).map_err(err)?,
            "words" => Tensor::from_array(([rows.len() as i64, self.hidden as i64], words)).map_err(err)?,
        ];
        let mut session = self
            .session
            .lock()
            .map_err(|_| EmbedError::Inference("the ONNX session was poisoned".into()))?;
        let outputs = session.run(inputs).map_err(err)?;
        let (_, hidden) = outputs["hidden"].try_extract_tensor::<f32>().map_err(err)?;
        Ok(hidden.to_vec())
    }
}

/// The shape of `files` (PyTorch Linear weights, `[out, in]` each)
/// transposed and set side by side: `(in, k × out)`.
fn transposed_shape(w: &WeightFile, files: &[String]) -> Result<(usize, usize), String> {
    let first = files.first().ok_or("no matrix")?;
    let &[out, inputs] = w.shape(first)? else {
        return Err(format!("{first} is not a matrix"));
    };
    for f in files {
        if w.shape(f)? != [out, inputs] {
            return Err(format!("{f} is not {out} × {inputs} like {first}"));
        }
    }
    Ok((inputs, files.len() * out))
}

/// Writes `files` transposed and side by side into `dst` (row-major,
/// [`transposed_shape`]): MatMul wants `[in, out]`, Attention Q, K and V in
/// one `[in, 3 × out]`.
fn transpose_into(w: &WeightFile, files: &[String], dst: &mut [f32]) -> Result<(), String> {
    let (inputs, cols) = transposed_shape(w, files)?;
    if dst.len() != inputs * cols {
        return Err("transposed weights do not fit".into());
    }
    let out = cols / files.len();
    for (j, f) in files.iter().enumerate() {
        w.each(f, |e, v| {
            dst[(e % inputs) * cols + j * out + e / inputs] = v
        })?;
    }
    Ok(())
}

/// [`transpose_into`] a new matrix.
fn transposed(w: &WeightFile, files: &[String]) -> Result<Matrix, String> {
    let (rows, cols) = transposed_shape(w, files)?;
    let mut data = vec![0f32; rows * cols];
    transpose_into(w, files, &mut data)?;
    Ok(Matrix { rows, cols, data })
}

/// An initializer in a buffer ONNX Runtime allocated, written by `fill`
/// and handed over as external data: the graph refers to the buffer where
/// it would otherwise copy it into a protobuf (a second copy of every
/// weight while the session is made).
fn init_with<T: ort::value::PrimitiveTensorElementType + std::fmt::Debug + Copy>(
    g: &mut Graph,
    name: &str,
    shape: Vec<i64>,
    fill: impl FnOnce(&mut [T]) -> Result<(), String>,
) -> ort::Result<()> {
    let mut t = Tensor::<T>::new(&Allocator::default(), shape)?;
    fill(t.extract_tensor_mut().1).map_err(ort::Error::new)?;
    g.add_initializer(name, t, true)
}

/// An initializer from a flat buffer.
fn init<T: ort::value::PrimitiveTensorElementType + std::fmt::Debug + Copy>(
    g: &mut Graph,
    name: &str,
    shape: Vec<i64>,
    data: &[T],
) -> ort::Result<()> {
    init_with(g, name, shape, |out: &mut [T]| {
        out.copy_from_slice(data);
        Ok(())
    })
}

/// An initializer read from the file as it is there.
fn init_file(g: &mut Graph, w: &WeightFile, name: &str, file: &str) -> ort::Result<()> {
    let shape = w.shape(file).map_err(ort::Error::new)?;
    let shape = shape.iter().map(|&d| d as i64).collect();
    init_with(g, name, shape, |out| w.read(file, out))
}

/// An initializer of `files` transposed side by side ([`transpose_into`]).
fn init_transposed(g: &mut Graph, w: &WeightFile, name: &str, files: &[String]) -> ort::Result<()> {
    let (rows, cols) = transposed_shape(w, files).map_err(ort::Error::new)?;
    init_with(g, name, vec![rows as i64, cols as i64], |out| {
        transpose_into(w, files, out)
    })
}

fn node<I: AsRef<str>, O: AsRef<str>>(
    g: &mut Graph,
    op: &str,
    domain: &str,
    name: &str,
    inputs: impl AsRef<[I]>,
    outputs: impl AsRef<[O]>,
    attributes: impl IntoIterator<Item = Attribute>,
) -> ort::Result<()> {
    g.add_node(Node::new(op, domain, name, inputs, outputs, attributes)?)
}

/// How a dense layer's weights are stored and multiplied.
#[derive(Clone, Copy)]
enum Dense {
    /// f32 MatMul: exact.
    F32,
    /// int8 weights per column, activations quantised per call
    /// (`DynamicQuantizeMatMul`).
    Int8,
    /// 8-bit blocks, activations quantised per row and block
    /// (`MatMulNBits`, accuracy level 4: int8 compute).
    Int8Blocks,
}

/// `out = x · w [+ bias]`, `w` being `files` transposed side by side
/// ([`transpose_into`]) and stored as `kind` says. For int8 kinds, `smooth`
/// gives the γ and β of the LayerNorm that produced `x`, whose range they
/// estimate: `x` is divided by the smoothing factors and `w`'s rows
/// multiplied by them. `bias` is only given for int8 kinds (f32 layers
/// leave their bias to the fused operator that follows).
fn dense(
    g: &mut Graph,
    kind: Dense,
    name: &str,
    (x, out): (&str, &str),
    (weights, files): (&WeightFile, &[String]),
    smooth: Option<(&[f32], &[f32])>,
    bias: Option<&str>,
) -> ort::Result<()> {
    let shape = |a: usize, b: usize| vec![a as i64, b as i64];
    if let Dense::F32 = kind {
        init_transposed(g, weights, name, files)?;
        return node(g, "MatMul", ONNX_DOMAIN, name, [x, name], [out], []);
    }
    let mut w = transposed(weights, files).map_err(ort::Error::new)?;
    let smooth = smooth.map(|(gamma, beta)| int8::smoothing(gamma, beta, &w));
    let mut input = x.to_owned();
    if let Some(s) = smooth {
        let inv: Vec<f32> = s.iter().map(|f| 1.0 / f).collect();
        int8::scale_rows(&mut w, &s);
        let (inv_name, xs) = (format!("{name}_inv"), format!("{name}_xs"));
        init(g, &inv_name, vec![w.rows as i64], &inv)?;
        node(
            g,
            "Mul",
            ONNX_DOMAIN,
            &format!("{name}_smooth"),
            [x, &inv_name],
            [&xs],
            [],
        )?;
        input = xs;
    }
    let (q, s) = (format!("{name}_q"), format!("{name}_s"));
    let blocks = match kind {
        Dense::Int8Blocks => int8::blockwise(&w),
        _ => None,
    };
    if let Some((bytes, scales)) = blocks {
        let n_blocks = w.rows / int8::BLOCK;
        init(
            g,
            &q,
            vec![w.cols as i64, n_blocks as i64, int8::BLOCK as i64],
            &bytes,
        )?;
        init(g, &s, vec![scales.len() as i64], &scales)?;
        let mut inputs = vec![input, q, s];
        if let Some(b) = bias {
            inputs.extend([String::new(), String::new(), b.to_owned()]);
        }
        let attributes = [
            Attribute::new("K", w.rows as i64)?,
            Attribute::new("N", w.cols as i64)?,
            Attribute::new("bits", 8i64)?,
            Attribute::new("block_size", int8::BLOCK as i64)?,
            Attribute::new("accuracy_level", 4i64)?,
        ];
        return node(g, "MatMulNBits", MS_DOMAIN, name, inputs, [out], attributes);
    }
    let (bytes, scales) = int8::per_column(&w);
    init(g, &q, shape(w.rows, w.cols), &bytes)?;
    init(g, &s, vec![w.cols as i64], &scales)?;
    let mut inputs = vec![input, q, s];
    if let Some(b) = bias {
        inputs.extend([String::new(), b.to_owned()]);
    }
    node(
        g,
        "DynamicQuantizeMatMul",
        MS_DOMAIN,
        name,
        inputs,
        [out],
        [],
    )
}

fn build_graph(w: &WeightFile, s: &BertShape, precision: Precision) -> ort::Result<Graph> {
    let mut g = Graph::new()?;
    let ids_type = || ValueType::Tensor {
        ty: TensorElementType::Int32,
        shape: Shape::new([-1, -1]),
        dimension_symbols: SymbolicDimensions::new(["batch".to_owned(), "seq".to_owned()]),
    };
    g.set_inputs([
        // Indices into `words`, not vocabulary ids (see `OnnxBert::forward`).
        Outlet::new("ids", ids_type()),
        Outlet::new("segments", ids_type()),
        Outlet::new("mask", ids_type()),
        Outlet::new(
            "words",
            ValueType::Tensor {
                ty: TensorElementType::Float32,
                shape: Shape::new([-1, s.hidden as i64]),
                dimension_symbols: SymbolicDimensions::new(["rows".to_owned(), String::new()]),
            },
        ),
    ])?;
    g.set_outputs([Outlet::new(
        "hidden",
        ValueType::Tensor {
            ty: TensorElementType::Float32,
            shape: Shape::new([-1, -1, s.hidden as i64]),
            dimension_symbols: SymbolicDimensions::new([
                "batch".to_owned(),
                "seq".to_owned(),
                String::new(),
            ]),
        },
    )])?;
    let bad = |e: String| ort::Error::new(e);
    let vector = |name: &str| w.vector(name).map_err(bad);
    let eps = || Attribute::new("epsilon", s.eps);
    let int8 = precision == Precision::Int8;
    let (dense_kind, down_kind) = if int8 {
        (Dense::Int8, Dense::Int8Blocks)
    } else {
        (Dense::F32, Dense::F32)
    };

    for (key, file) in [
        ("position", "embeddings.position_embeddings.weight"),
        ("segment", "embeddings.token_type_embeddings.weight"),
        ("emb_gamma", "embeddings.LayerNorm.weight"),
        ("emb_beta", "embeddings.LayerNorm.bias"),
    ] {
        init_file(&mut g, w, key, file)?;
    }
    node(
        &mut g,
        "EmbedLayerNormalization",
        MS_DOMAIN,
        "embeddings",
        [
            "ids",
            "segments",
            "words",
            "position",
            "segment",
            "emb_gamma",
            "emb_beta",
            "mask",
        ],
        ["x0", "mask_index"],
        [eps()?],
    )?;

    // The LayerNorm that produced each layer's input: its γ and β estimate
    // the input's range for int8 smoothing.
    let mut input_norm = (
        "embeddings.LayerNorm.weight".to_owned(),
        "embeddings.LayerNorm.bias".to_owned(),
    );
    for l in 0..s.layers {
        let p = format!("encoder.layer.{l}.");
        let n = |x: &str| format!("l{l}_{x}");
        let files = |names: &[&str]| -> Vec<String> {
            names.iter().map(|f| format!("{p}{f}.weight")).collect()
        };
        // Q, K and V side by side: [hidden, 3 × hidden], as Attention wants.
        let qkv = files(&[
            "attention.self.query",
            "attention.self.key",
            "attention.self.value",
        ]);
        let mut bias = vector(&format!("{p}attention.self.query.bias"))?;
        bias.extend(vector(&format!("{p}attention.self.key.bias"))?);
        bias.extend(vector(&format!("{p}attention.self.value.bias"))?);
        init(&mut g, &n("qkv_b"), vec![bias.len() as i64], &bias)?;
        for (key, file) in [
            ("out_b", "attention.output.dense.bias"),
            ("ln1_g", "attention.output.LayerNorm.weight"),
            ("ln1_b", "attention.output.LayerNorm.bias"),
            ("up_b", "intermediate.dense.bias"),
            ("down_b", "output.dense.bias"),
            ("ln2_g", "output.LayerNorm.weight"),
            ("ln2_b", "output.LayerNorm.bias"),
        ] {
            init_file(&mut g, w, &n(key), &format!("{p}{file}"))?;
        }

        let x = format!("x{l}");
        let out = if l + 1 == s.layers {
            "hidden".to_owned()
        } else {
            format!("x{}", l + 1)
        };
        let heads = || Attribute::new("num_heads", s.heads as i64);
        if int8 {
            let (gamma, beta) = (vector(&input_norm.0)?, vector(&input_norm.1)?);
            let qkv_b = n("qkv_b");
            dense(
                &mut g,
                dense_kind,
                &n("qkv"),
                (&x, &n("qkv_o")),
                (w, &qkv),
                Some((&gamma, &beta)),
                Some(&qkv_b),
            )?;
            let (qn, kn, vn) = (n("q"), n("k"), n("v"));
            node(
                &mut g,
                "Split",
                ONNX_DOMAIN,
                &n("split"),
                [n("qkv_o")],
                [&qn, &kn, &vn],
                [Attribute::new("axis", 2i64)?],
            )?;
            node(
                &mut g,
                "MultiHeadAttention",
                MS_DOMAIN,
                &n("attention"),
                [qn, kn, vn, String::new(), "mask_index".to_owned()],
                [n("att")],
                [heads()?],
            )?;
        } else {
            init_transposed(&mut g, w, &n("qkv"), &qkv)?;
            node(
                &mut g,
                "Attention",
                MS_DOMAIN,
                &n("attention"),
                [x.clone(), n("qkv"), n("qkv_b"), "mask_index".to_owned()],
                [n("att")],
                [heads()?],
            )?;
        }
        // The attention's output has no LayerNorm before it to smooth it
        // and is the smallest matrix: it stays f32.
        dense(
            &mut g,
            Dense::F32,
            &n("out"),
            (&n("att"), &n("att_o")),
            (w, &files(&["attention.output.dense"])),
            None,
            None,
        )?;
        node(
            &mut g,
            "SkipLayerNormalization",
            MS_DOMAIN,
            &n("ln1"),
            [n("att_o"), x, n("ln1_g"), n("ln1_b"), n("out_b")],
            [n("h")],
            [eps()?],
        )?;
        let (gamma, beta) = if int8 {
            (
                vector(&format!("{p}attention.output.LayerNorm.weight"))?,
                vector(&format!("{p}attention.output.LayerNorm.bias"))?,
            )
        } else {
            (Vec::new(), Vec::new())
        };
        dense(
            &mut g,
            dense_kind,
            &n("up"),
            (&n("h"), &n("u")),
            (w, &files(&["intermediate.dense"])),
            int8.then_some((&gamma[..], &beta[..])),
            None,
        )?;
        node(
            &mut g,
            "BiasGelu",
            MS_DOMAIN,
            &n("gelu"),
            [n("u"), n("up_b")],
            [n("a")],
            [],
        )?;
        dense(
            &mut g,
            down_kind,
            &n("down"),
            (&n("a"), &n("d")),
            (w, &files(&["output.dense"])),
            None,
            None,
        )?;
        node(
            &mut g,
            "SkipLayerNormalization",
            MS_DOMAIN,
            &n("ln2"),
            [n("d"), n("h"), n("ln2_g"), n("ln2_b"), n("down_b")],
            [out],
            [eps()?],
        )?;
        input_norm = (
            format!("{p}output.LayerNorm.weight"),
            format!("{p}output.LayerNorm.bias"),
        );
    }
    Ok(g)
}

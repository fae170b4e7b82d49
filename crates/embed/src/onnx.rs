//! The fast path: the same BERT run by ONNX Runtime, loaded at run time
//! from `libonnxruntime.so` (the file the PyPI `onnxruntime` wheel ships;
//! `scripts/fetch-models` unpacks it). No `.onnx` file is involved: the
//! graph is built here, in memory, from `model.safetensors`, with ONNX
//! Runtime's fused BERT operators (`EmbedLayerNormalization`, `Attention`,
//! `SkipLayerNormalization`, `BiasGelu`) — which is where the speed comes
//! from — through its Model Editor API.
//!
//! **Invariants:** one ONNX Runtime library per process (the first one
//! loaded; asking for another is an error that names both); the output
//! is the model's last hidden state, pooled by the caller exactly as the
//! candle path is.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ort::editor::{Graph, Model, Node, ONNX_DOMAIN, Opset};
use ort::environment::Environment;
use ort::memory::Allocator;
use ort::operator::Attribute;
use ort::session::Session;
use ort::session::builder::{GraphOptimizationLevel, SessionBuilder};
use ort::value::{Outlet, Shape, SymbolicDimensions, Tensor, TensorElementType, ValueType};
use safetensors::SafeTensors;

use crate::int8::{self, Matrix};
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

/// A BERT encoder on ONNX Runtime.
pub(crate) struct OnnxBert {
    session: Mutex<Session>,
}

impl OnnxBert {
    /// Builds the graph from the safetensors bytes and opens a session
    /// using `threads` threads (0: ONNX Runtime's choice). The file's bytes
    /// are dropped once the graph holds the weights, before the session is
    /// made: ONNX Runtime's own copies then never meet ours (peak memory).
    pub(crate) fn load(
        lib: &Path,
        weights: Vec<u8>,
        shape: &BertShape,
        threads: usize,
        precision: Precision,
    ) -> Result<Self, String> {
        let env = environment(lib).map_err(|e| e.to_string())?;
        let graph = {
            let st = SafeTensors::deserialize(&weights).map_err(|e| e.to_string())?;
            build_graph(&st, shape, precision).map_err(|e| e.to_string())?
        };
        drop(weights);
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
        })
    }

    /// The last hidden state, `[n, len, hidden]` flattened, for right-padded
    /// token ids and their attention mask (`n × len` each).
    pub(crate) fn forward(
        &self,
        ids: Vec<i32>,
        mask: Vec<i32>,
        n: usize,
        len: usize,
    ) -> Result<Vec<f32>, EmbedError> {
        let err = |e: ort::Error| EmbedError::Inference(e.to_string());
        let shape = [n as i64, len as i64];
        let segments = vec![0i32; n * len];
        let inputs = ort::inputs![
            "ids" => Tensor::from_array((shape, ids)).map_err(err)?,
            "segments" => Tensor::from_array((shape, segments)).map_err(err)?,
            "mask" => Tensor::from_array((shape, mask)).map_err(err)?,
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

/// A tensor from the file as f32, transposed when `transpose` (PyTorch's
/// Linear keeps `[out, in]`; MatMul wants `[in, out]`).
fn weight(
    st: &SafeTensors<'_>,
    name: &str,
    transpose: bool,
) -> Result<(Vec<i64>, Vec<f32>), String> {
    let t = st
        .tensor(name)
        .map_err(|e| format!("no {name} in model.safetensors ({e})"))?;
    if t.dtype() != safetensors::Dtype::F32 {
        return Err(format!("{name} is {:?}, not F32", t.dtype()));
    }
    let data: Vec<f32> = t
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let shape: Vec<i64> = t.shape().iter().map(|&d| d as i64).collect();
    if !transpose {
        return Ok((shape, data));
    }
    let [rows, cols] = t.shape() else {
        return Err(format!("{name} is not a matrix"));
    };
    let (rows, cols) = (*rows, *cols);
    let mut out = vec![0f32; data.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = data[r * cols + c];
        }
    }
    Ok((vec![cols as i64, rows as i64], out))
}

/// An initializer from a flat buffer; it must own memory ONNX Runtime
/// allocated.
fn init<T: ort::value::PrimitiveTensorElementType + std::fmt::Debug + Copy>(
    g: &mut Graph,
    name: &str,
    shape: Vec<i64>,
    data: &[T],
) -> ort::Result<()> {
    let mut t = Tensor::<T>::new(&Allocator::default(), shape)?;
    t.extract_tensor_mut().1.copy_from_slice(data);
    g.add_initializer(name, t, false)
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

/// `out = (x [· 1/smooth]) · w [+ bias]`, the weight stored as `kind` says.
/// `bias` is only given for int8 kinds (f32 layers leave their bias to the
/// fused operator that follows).
fn dense(
    g: &mut Graph,
    kind: Dense,
    name: &str,
    (x, out): (&str, &str),
    mut w: Matrix,
    smooth: Option<Vec<f32>>,
    bias: Option<&str>,
) -> ort::Result<()> {
    let shape = |a: usize, b: usize| vec![a as i64, b as i64];
    if let Dense::F32 = kind {
        init(g, name, shape(w.rows, w.cols), &w.data)?;
        return node(g, "MatMul", ONNX_DOMAIN, name, [x, name], [out], []);
    }
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

fn build_graph(st: &SafeTensors<'_>, s: &BertShape, precision: Precision) -> ort::Result<Graph> {
    let mut g = Graph::new()?;
    let ids_type = || ValueType::Tensor {
        ty: TensorElementType::Int32,
        shape: Shape::new([-1, -1]),
        dimension_symbols: SymbolicDimensions::new(["batch".to_owned(), "seq".to_owned()]),
    };
    g.set_inputs([
        Outlet::new("ids", ids_type()),
        Outlet::new("segments", ids_type()),
        Outlet::new("mask", ids_type()),
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
    let vector = |name: &str| weight(st, name, false).map(|(_, d)| d).map_err(bad);
    let matrix = |name: &str| {
        weight(st, name, true)
            .map_err(bad)
            .map(|(shape, data)| Matrix {
                rows: shape[0] as usize,
                cols: shape[1] as usize,
                data,
            })
    };
    let eps = || Attribute::new("epsilon", s.eps);
    let int8 = precision == Precision::Int8;
    let (dense_kind, down_kind) = if int8 {
        (Dense::Int8, Dense::Int8Blocks)
    } else {
        (Dense::F32, Dense::F32)
    };

    for (key, file) in [
        ("word", "embeddings.word_embeddings.weight"),
        ("position", "embeddings.position_embeddings.weight"),
        ("segment", "embeddings.token_type_embeddings.weight"),
        ("emb_gamma", "embeddings.LayerNorm.weight"),
        ("emb_beta", "embeddings.LayerNorm.bias"),
    ] {
        let (shape, data) = weight(st, file, false).map_err(bad)?;
        init(&mut g, key, shape, &data)?;
    }
    node(
        &mut g,
        "EmbedLayerNormalization",
        MS_DOMAIN,
        "embeddings",
        [
            "ids",
            "segments",
            "word",
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
        let h = s.hidden;
        // Q, K and V side by side: [hidden, 3 × hidden], as Attention wants.
        let (q, k, v) = (
            matrix(&format!("{p}attention.self.query.weight"))?.data,
            matrix(&format!("{p}attention.self.key.weight"))?.data,
            matrix(&format!("{p}attention.self.value.weight"))?.data,
        );
        let mut qkv = Vec::with_capacity(3 * h * h);
        for r in 0..h {
            for m in [&q, &k, &v] {
                qkv.extend_from_slice(&m[r * h..(r + 1) * h]);
            }
        }
        let qkv = Matrix {
            rows: h,
            cols: 3 * h,
            data: qkv,
        };
        let mut bias = vector(&format!("{p}attention.self.query.bias"))?;
        bias.extend(vector(&format!("{p}attention.self.key.bias"))?);
        bias.extend(vector(&format!("{p}attention.self.value.bias"))?);
        init(&mut g, &n("qkv_b"), vec![3 * h as i64], &bias)?;
        for (key, file) in [
            ("out_b", "attention.output.dense.bias"),
            ("ln1_g", "attention.output.LayerNorm.weight"),
            ("ln1_b", "attention.output.LayerNorm.bias"),
            ("up_b", "intermediate.dense.bias"),
            ("down_b", "output.dense.bias"),
            ("ln2_g", "output.LayerNorm.weight"),
            ("ln2_b", "output.LayerNorm.bias"),
        ] {
            let data = vector(&format!("{p}{file}"))?;
            init(&mut g, &n(key), vec![data.len() as i64], &data)?;
        }

        let x = format!("x{l}");
        let out = if l + 1 == s.layers {
            "hidden".to_owned()
        } else {
            format!("x{}", l + 1)
        };
        let heads = || Attribute::new("num_heads", s.heads as i64);
        if int8 {
            let smooth = int8::smoothing(&vector(&input_norm.0)?, &vector(&input_norm.1)?, &qkv);
            let qkv_b = n("qkv_b");
            dense(
                &mut g,
                dense_kind,
                &n("qkv"),
                (&x, &n("qkv_o")),
                qkv,
                Some(smooth),
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
            init(&mut g, &n("qkv"), vec![h as i64, 3 * h as i64], &qkv.data)?;
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
        let out_w = matrix(&format!("{p}attention.output.dense.weight"))?;
        dense(
            &mut g,
            dense_kind,
            &n("out"),
            (&n("att"), &n("att_o")),
            out_w,
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
        let up_w = matrix(&format!("{p}intermediate.dense.weight"))?;
        let smooth = if int8 {
            let (gamma, beta) = (
                vector(&format!("{p}attention.output.LayerNorm.weight"))?,
                vector(&format!("{p}attention.output.LayerNorm.bias"))?,
            );
            Some(int8::smoothing(&gamma, &beta, &up_w))
        } else {
            None
        };
        dense(
            &mut g,
            dense_kind,
            &n("up"),
            (&n("h"), &n("u")),
            up_w,
            smooth,
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
        let down_w = matrix(&format!("{p}output.dense.weight"))?;
        dense(
            &mut g,
            down_kind,
            &n("down"),
            (&n("a"), &n("d")),
            down_w,
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

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

use crate::EmbedError;

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
    ) -> Result<Self, String> {
        let env = environment(lib).map_err(|e| e.to_string())?;
        let graph = {
            let st = SafeTensors::deserialize(&weights).map_err(|e| e.to_string())?;
            build_graph(&st, shape).map_err(|e| e.to_string())?
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

fn build_graph(st: &SafeTensors<'_>, s: &BertShape) -> ort::Result<Graph> {
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
    // Initializers must own memory ONNX Runtime allocated.
    let init = |g: &mut Graph, name: &str, (shape, data): (Vec<i64>, Vec<f32>)| {
        let mut t = Tensor::<f32>::new(&Allocator::default(), shape)?;
        t.extract_tensor_mut().1.copy_from_slice(&data);
        g.add_initializer(name, t, false)
    };
    let eps = || Attribute::new("epsilon", s.eps);

    for (key, file) in [
        ("word", "embeddings.word_embeddings.weight"),
        ("position", "embeddings.position_embeddings.weight"),
        ("segment", "embeddings.token_type_embeddings.weight"),
        ("emb_gamma", "embeddings.LayerNorm.weight"),
        ("emb_beta", "embeddings.LayerNorm.bias"),
    ] {
        init(&mut g, key, weight(st, file, false).map_err(bad)?)?;
    }
    g.add_node(Node::new(
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
    )?)?;

    for l in 0..s.layers {
        let p = format!("encoder.layer.{l}.");
        let w = |n: &str, t: bool| weight(st, &format!("{p}{n}"), t).map_err(bad);
        // Q, K and V side by side: [hidden, 3 × hidden], as Attention wants.
        let (q, k, v) = (
            w("attention.self.query.weight", true)?.1,
            w("attention.self.key.weight", true)?.1,
            w("attention.self.value.weight", true)?.1,
        );
        let h = s.hidden;
        let mut qkv = Vec::with_capacity(3 * h * h);
        for r in 0..h {
            for m in [&q, &k, &v] {
                qkv.extend_from_slice(&m[r * h..(r + 1) * h]);
            }
        }
        let mut bias = w("attention.self.query.bias", false)?.1;
        bias.extend(w("attention.self.key.bias", false)?.1);
        bias.extend(w("attention.self.value.bias", false)?.1);
        let n = |x: &str| format!("l{l}_{x}");
        init(&mut g, &n("qkv"), (vec![h as i64, 3 * h as i64], qkv))?;
        init(&mut g, &n("qkv_b"), (vec![3 * h as i64], bias))?;
        init(&mut g, &n("out"), w("attention.output.dense.weight", true)?)?;
        init(
            &mut g,
            &n("out_b"),
            w("attention.output.dense.bias", false)?,
        )?;
        init(
            &mut g,
            &n("ln1_g"),
            w("attention.output.LayerNorm.weight", false)?,
        )?;
        init(
            &mut g,
            &n("ln1_b"),
            w("attention.output.LayerNorm.bias", false)?,
        )?;
        init(&mut g, &n("up"), w("intermediate.dense.weight", true)?)?;
        init(&mut g, &n("up_b"), w("intermediate.dense.bias", false)?)?;
        init(&mut g, &n("down"), w("output.dense.weight", true)?)?;
        init(&mut g, &n("down_b"), w("output.dense.bias", false)?)?;
        init(&mut g, &n("ln2_g"), w("output.LayerNorm.weight", false)?)?;
        init(&mut g, &n("ln2_b"), w("output.LayerNorm.bias", false)?)?;

        let x = format!("x{l}");
        let out = if l + 1 == s.layers {
            "hidden".to_owned()
        } else {
            format!("x{}", l + 1)
        };
        g.add_node(Node::new(
            "Attention",
            MS_DOMAIN,
            n("attention"),
            [x.clone(), n("qkv"), n("qkv_b"), "mask_index".to_owned()],
            [n("att")],
            [Attribute::new("num_heads", s.heads as i64)?],
        )?)?;
        g.add_node(Node::new(
            "MatMul",
            ONNX_DOMAIN,
            n("att_out"),
            [n("att"), n("out")],
            [n("att_o")],
            [],
        )?)?;
        g.add_node(Node::new(
            "SkipLayerNormalization",
            MS_DOMAIN,
            n("ln1"),
            [n("att_o"), x, n("ln1_g"), n("ln1_b"), n("out_b")],
            [n("h")],
            [eps()?],
        )?)?;
        g.add_node(Node::new(
            "MatMul",
            ONNX_DOMAIN,
            n("up_mm"),
            [n("h"), n("up")],
            [n("u")],
            [],
        )?)?;
        g.add_node(Node::new(
            "BiasGelu",
            MS_DOMAIN,
            n("gelu"),
            [n("u"), n("up_b")],
            [n("a")],
            [],
        )?)?;
        g.add_node(Node::new(
            "MatMul",
            ONNX_DOMAIN,
            n("down_mm"),
            [n("a"), n("down")],
            [n("d")],
            [],
        )?)?;
        g.add_node(Node::new(
            "SkipLayerNormalization",
            MS_DOMAIN,
            n("ln2"),
            [n("d"), n("h"), n("ln2_g"), n("ln2_b"), n("down_b")],
            [out],
            [eps()?],
        )?)?;
    }
    Ok(g)
}

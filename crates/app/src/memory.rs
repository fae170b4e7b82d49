//! Memory use cases: remember, search by meaning and words, forget, import
//! and export. Embedding runs on blocking threads; storage through the port.
//!
//! Memory never fails silently: when the model is missing, text is stored
//! anyway (embedded later, the backlog shows in `memory stats`), and search
//! says it fell back to words only.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};
use openzero_config::{EmbedRuntime, Loaded};
use openzero_core::embedding::TextEmbedder;
use openzero_core::memory::{Filters, Memory, MemoryError, MemoryId, Source, validate_text};
use openzero_core::recall::Ranking;
use openzero_embed::{EmbedError, Embedder, MODEL_ID, Runtime};
use openzero_store::{Embedding, MemoryRecord, MemoryStats, MemoryStore};
use serde::{Deserialize, Serialize};

use crate::AppError;
use crate::memory_index::{KEEP_CHANGES, MemoryIndex};
pub use crate::memory_search::Question;

/// Texts embedded per call during import and reindex.
const BATCH: usize = 64;

/// Where the embedding model lives for these settings.
pub fn model_dir(loaded: &Loaded) -> PathBuf {
    loaded
        .settings
        .memory
        .model_dir
        .clone()
        .unwrap_or_else(|| loaded.data_dir.join("models").join("all-MiniLM-L6-v2"))
}

/// The engine the settings ask for: `auto` takes ONNX Runtime when its
/// library is where it should be, candle otherwise.
pub fn embed_runtime(loaded: &Loaded) -> Runtime {
    let m = &loaded.settings.memory;
    let library = m.onnxruntime.clone().unwrap_or_else(|| {
        model_dir(loaded)
            .parent()
            .map(|p| p.join(openzero_embed::ONNXRUNTIME_LIBRARY))
            .unwrap_or_default()
    });
    let threads = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    match m.runtime {
        EmbedRuntime::Candle => Runtime::Candle,
        EmbedRuntime::Onnxruntime => Runtime::Onnx { library, threads },
        EmbedRuntime::Auto if library.is_file() => Runtime::Onnx { library, threads },
        EmbedRuntime::Auto => Runtime::Candle,
    }
}

/// The number format the settings name for the ONNX Runtime embedder.
pub fn embed_precision(loaded: &Loaded) -> openzero_embed::Precision {
    match loaded.settings.memory.precision {
        openzero_config::EmbedPrecision::F32 => openzero_embed::Precision::F32,
        openzero_config::EmbedPrecision::Int8 => openzero_embed::Precision::Int8,
    }
}

/// Loads the embedding model on a blocking thread. With `auto`, a library
/// that fails to load falls back to candle (logged), so memory still works.
pub async fn load_embedder(loaded: &Loaded) -> Result<Arc<dyn TextEmbedder>, EmbedError> {
    let dir = model_dir(loaded);
    let runtime = embed_runtime(loaded);
    let auto = loaded.settings.memory.runtime == EmbedRuntime::Auto;
    let precision = embed_precision(loaded);
    tokio::task::spawn_blocking(move || {
        match Embedder::load_with_precision(&dir, &runtime, precision) {
            Err(EmbedError::Runtime(why)) if auto => {
                tracing::warn!(%why, "embedding on candle: ONNX Runtime did not load");
                Embedder::load(&dir).map(|e| Arc::new(e) as Arc<dyn TextEmbedder>)
            }
            other => other.map(|e| Arc::new(e) as Arc<dyn TextEmbedder>),
        }
    })
    .await
    .map_err(|e| EmbedError::Inference(format!("embedding task failed: {e}")))?
}

/// A memory to remember, as the owner gave it.
#[derive(Debug, Clone, Default)]
pub struct AddMemory {
    pub text: String,
    pub created_at: Option<DateTime<Utc>>,
    pub source: Option<String>,
    pub external_id: Option<String>,
    /// JSON text.
    pub metadata: Option<String>,
}

/// What `add` did.
#[derive(Debug, Clone)]
pub struct Added {
    pub memory: Memory,
    /// False when the same text from the same source was already stored.
    pub new: bool,
    /// Set when the text was stored without a vector (it will be embedded later).
    pub warning: Option<String>,
}

/// One search result.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    pub id: MemoryId,
    pub external_id: Option<String>,
    pub score: f32,
    pub text: String,
    pub created_at: DateTime<Utc>,
    pub source: Source,
}

/// Search results and how they were found.
#[derive(Debug, Clone)]
pub struct Found {
    pub hits: Vec<Hit>,
    /// Set when search could not use meaning (no model) and used words only.
    pub warning: Option<String>,
}

/// Result of an import.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub added: usize,
    pub already_present: usize,
    /// Line number (1-based) and what was wrong with it.
    pub rejected: Vec<(usize, String)>,
    /// Stored without a vector because the model is unavailable.
    pub not_embedded: usize,
}

/// One line of the import/export format.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Line {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
}

/// Memory operations over a store and, when available, the embedding model.
#[derive(Debug)]
pub struct MemoryService<'a> {
    store: &'a dyn MemoryStore,
    embedder: Result<Arc<dyn TextEmbedder>, String>,
    index: Arc<MemoryIndex>,
    /// The owner's zone, for periods a question names ("last week").
    tz: chrono_tz::Tz,
}

impl<'a> MemoryService<'a> {
    /// A service with its own vector index, built at the first search (for
    /// one-shot commands).
    pub fn new(
        store: &'a dyn MemoryStore,
        embedder: Result<Arc<dyn TextEmbedder>, EmbedError>,
    ) -> Self {
        Self::with_index(store, embedder, Arc::default())
    }

    /// A service sharing a long-lived index (the server's).
    pub fn with_index(
        store: &'a dyn MemoryStore,
        embedder: Result<Arc<dyn TextEmbedder>, EmbedError>,
        index: Arc<MemoryIndex>,
    ) -> Self {
        Self {
            store,
            embedder: embedder.map_err(|e| e.to_string()),
            index,
            tz: chrono_tz::UTC,
        }
    }

    /// A service over an embedder loaded once and shared (`Err` says why
    /// there is none), for long-running channels.
    pub fn shared(
        store: &'a dyn MemoryStore,
        embedder: Result<Arc<dyn TextEmbedder>, String>,
        index: Arc<MemoryIndex>,
    ) -> Self {
        Self {
            store,
            embedder,
            index,
            tz: chrono_tz::UTC,
        }
    }

    /// Reads periods in questions ("in May") in the owner's zone `tz`.
    pub fn in_zone(mut self, tz: chrono_tz::Tz) -> Self {
        self.tz = tz;
        self
    }

    /// Why semantic search is off, if it is.
    pub fn unavailable(&self) -> Option<&str> {
        self.embedder.as_ref().err().map(String::as_str)
    }

    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, String> {
        let embedder = self.embedder.clone()?;
        tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            embedder.embed(&refs)
        })
        .await
        .map_err(|e| format!("embedding task failed: {e}"))?
        .map_err(|e| e.0)
    }

    /// Cosine similarity of each text to `query` by the local embedding
    /// model, or `None` when the model is unavailable.
    pub async fn similarity(&self, query: &str, texts: &[String]) -> Option<Vec<f32>> {
        if texts.is_empty() {
            return Some(Vec::new());
        }
        let mut all = vec![query.to_owned()];
        all.extend(texts.iter().cloned());
        let vecs = self.embed(all).await.ok()?;
        let (q, rest) = vecs.split_first()?;
        Some(
            rest.iter()
                .map(|v| openzero_core::vector_index::cosine(q, v))
                .collect(),
        )
    }

    fn record(req: &AddMemory) -> Result<MemoryRecord, AppError> {
        validate_text(&req.text)?;
        let source = Source::new(req.source.as_deref().unwrap_or("cli"))?;
        if let Some(m) = &req.metadata {
            serde_json::from_str::<serde_json::Value>(m)
                .map_err(|e| AppError::Invalid(format!("metadata is not valid JSON: {e}")))?;
        }
        Ok(MemoryRecord {
            text: req.text.clone(),
            created_at: req.created_at.unwrap_or_else(Utc::now).trunc_subsecs(6),
            source,
            external_id: req.external_id.clone().filter(|s| !s.is_empty()),
            metadata: req.metadata.clone(),
            embedding: None,
        })
    }

    /// Remembers one text. The text is stored even when embedding fails.
    pub async fn add(&self, req: AddMemory) -> Result<Added, AppError> {
        let mut record = Self::record(&req)?;
        let warning = match self.embed(vec![record.text.clone()]).await {
            Ok(mut v) => {
                record.embedding = v.pop().map(|vector| Embedding {
                    model: MODEL_ID.to_owned(),
                    vector,
                });
                None
            }
            Err(e) => Some(format!(
                "stored without a vector ({e}); it will be embedded by `openzero memory reindex` once the model is available"
            )),
        };
        let (memory, new) = self.store.add_memory(&record).await?;
        Ok(Added {
            memory,
            new,
            warning,
        })
    }

    /// Hybrid search: meaning (exact cosine over this model's vectors) and
    /// words (full-text), fused by reciprocal rank.
    pub async fn search(
        &self,
        query: &str,
        k: usize,
        filters: &Filters,
    ) -> Result<Found, AppError> {
        let mut all = self.search_many(&[query.to_owned()], k, filters).await?;
        all.pop()
            .ok_or_else(|| AppError::Invalid("search returned nothing".into()))
    }

    /// Searches several queries with the same filters: the queries are
    /// embedded in one batch and the vectors are read once, not per query.
    pub async fn search_many(
        &self,
        queries: &[String],
        k: usize,
        filters: &Filters,
    ) -> Result<Vec<Found>, AppError> {
        let questions: Vec<Question> = queries.iter().map(|q| Question::now(q)).collect();
        self.search_questions(&questions, k, filters, Ranking::default())
            .await
    }

    /// The search after embedding: `query_vectors[i]` is the vector of
    /// `queries[i]`, or there are none and search is by words only (with
    /// `warning` saying why). Public for the benchmarks, which time search
    /// apart from embedding.
    pub async fn search_embedded(
        &self,
        queries: &[String],
        query_vectors: Option<&[Vec<f32>]>,
        warning: Option<String>,
        k: usize,
        filters: &Filters,
    ) -> Result<Vec<Found>, AppError> {
        let questions: Vec<Question> = queries.iter().map(|q| Question::now(q)).collect();
        self.search_ranked(
            &questions,
            query_vectors,
            warning,
            k,
            filters,
            Ranking::default(),
        )
        .await
    }

    /// Searches questions, each asked at its own moment (`at`: memories
    /// made later are not searched, and "last week" counts back from it),
    /// ranked by `ranking`. The questions are embedded in one batch.
    pub async fn search_questions(
        &self,
        questions: &[Question],
        k: usize,
        filters: &Filters,
        ranking: Ranking,
    ) -> Result<Vec<Found>, AppError> {
        let texts: Vec<String> = questions.iter().map(|q| q.text.clone()).collect();
        let (query_vectors, warning) = match self.embed(texts).await {
            Ok(v) => (Some(v), None),
            Err(e) => (None, Some(format!("searched by words only: {e}"))),
        };
        self.search_ranked(
            questions,
            query_vectors.as_deref(),
            warning,
            k,
            filters,
            ranking,
        )
        .await
    }

    pub(crate) fn store(&self) -> &dyn MemoryStore {
        self.store
    }

    pub(crate) fn index(&self) -> &MemoryIndex {
        &self.index
    }

    pub(crate) fn zone(&self) -> chrono_tz::Tz {
        self.tz
    }

    /// Forgets a memory everywhere.
    pub async fn forget(&self, id: MemoryId) -> Result<(), AppError> {
        if self.store.forget_memory(id).await? {
            Ok(())
        } else {
            Err(MemoryError::NotFound(id).into())
        }
    }

    pub async fn stats(&self) -> Result<MemoryStats, AppError> {
        Ok(self.store.memory_stats(MODEL_ID).await?)
    }

    /// Embeds everything without a vector of the current model (new texts
    /// stored while the model was missing, or vectors of another model).
    /// Calls `progress(done, total)` after each batch.
    pub async fn reindex(&self, progress: &dyn Fn(usize, usize)) -> Result<usize, AppError> {
        if let Err(e) = &self.embedder {
            return Err(AppError::Invalid(e.clone()));
        }
        let total = self.stats().await?.backlog.max(0) as usize;
        let mut done = 0;
        loop {
            let batch = self
                .store
                .memories_needing_embedding(MODEL_ID, BATCH as i64)
                .await?;
            if batch.is_empty() {
                break;
            }
            let texts = batch.iter().map(|(_, t)| t.clone()).collect();
            let vectors = self.embed(texts).await.map_err(AppError::Invalid)?;
            for ((id, _), vector) in batch.iter().zip(vectors) {
                self.store
                    .set_embedding(
                        *id,
                        &Embedding {
                            model: MODEL_ID.to_owned(),
                            vector,
                        },
                    )
                    .await?;
            }
            done += batch.len();
            progress(done, total.max(done));
        }
        self.store.prune_memory_changes(KEEP_CHANGES).await?;
        Ok(done)
    }

    /// Imports JSONL. A malformed line is reported with its number and
    /// skipped; everything else is stored. `progress(bytes_read)` after each batch.
    pub async fn import(
        &self,
        input: impl BufRead,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<ImportReport, AppError> {
        let mut report = ImportReport::default();
        let mut pending: Vec<MemoryRecord> = Vec::with_capacity(BATCH);
        let mut bytes_read = 0;
        for (i, line) in input.lines().enumerate() {
            let n = i + 1;
            let line = line.map_err(|e| AppError::Invalid(format!("cannot read line {n}: {e}")))?;
            bytes_read += line.len() + 1;
            if line.trim().is_empty() {
                continue;
            }
            match parse_line(&line) {
                Ok(r) => pending.push(r),
                Err(msg) => report.rejected.push((n, msg)),
            }
            if pending.len() == BATCH {
                self.store_batch(&mut pending, &mut report).await?;
                progress(bytes_read);
            }
        }
        self.store_batch(&mut pending, &mut report).await?;
        progress(bytes_read);
        self.store.prune_memory_changes(KEEP_CHANGES).await?;
        Ok(report)
    }

    async fn store_batch(
        &self,
        pending: &mut Vec<MemoryRecord>,
        report: &mut ImportReport,
    ) -> Result<(), AppError> {
        if pending.is_empty() {
            return Ok(());
        }
        let texts = pending.iter().map(|r| r.text.clone()).collect();
        match self.embed(texts).await {
            Ok(vectors) => {
                for (r, vector) in pending.iter_mut().zip(vectors) {
                    r.embedding = Some(Embedding {
                        model: MODEL_ID.to_owned(),
                        vector,
                    });
                }
            }
            Err(_) => report.not_embedded += pending.len(),
        }
        for (_, new) in self.store.add_memories(pending).await? {
            if new {
                report.added += 1;
            } else {
                report.already_present += 1;
            }
        }
        pending.clear();
        Ok(())
    }

    /// Adds many memories at once, embedded in batches (those the model
    /// cannot embed now are stored without a vector, for `reindex`).
    pub async fn add_many(&self, reqs: &[AddMemory]) -> Result<ImportReport, AppError> {
        let mut report = ImportReport::default();
        for chunk in reqs.chunks(BATCH) {
            let mut pending = Vec::with_capacity(chunk.len());
            for req in chunk {
                match Self::record(req) {
                    Ok(r) => pending.push(r),
                    Err(e) => {
                        tracing::warn!(error = %e, "not remembered");
                        report.rejected.push((0, e.to_string()));
                    }
                }
            }
            self.store_batch(&mut pending, &mut report).await?;
        }
        Ok(report)
    }

    /// Writes every memory as JSONL that [`MemoryService::import`] reads back.
    pub async fn export<W: Write + ?Sized>(&self, out: &mut W) -> Result<usize, AppError> {
        let mut after = 0;
        let mut count = 0;
        loop {
            let page = self.store.list_memories(after, 500).await?;
            let Some(last) = page.last() else { break };
            after = last.id;
            for m in &page {
                let line = Line {
                    id: m.external_id.clone(),
                    text: m.text.clone(),
                    created_at: Some(m.created_at),
                    source: Some(m.source.to_string()),
                    metadata: m
                        .metadata
                        .as_deref()
                        .and_then(|t| serde_json::from_str(t).ok()),
                };
                let json = serde_json::to_string(&line)
                    .map_err(|e| AppError::Invalid(format!("export: {e}")))?;
                writeln!(out, "{json}").map_err(|e| AppError::Invalid(format!("export: {e}")))?;
                count += 1;
            }
        }
        Ok(count)
    }
}

fn parse_line(line: &str) -> Result<MemoryRecord, String> {
    let l: Line = serde_json::from_str(line).map_err(|e| format!("not a memory: {e}"))?;
    let req = AddMemory {
        text: l.text,
        created_at: l.created_at,
        source: Some(l.source.unwrap_or_else(|| "import".into())),
        external_id: l.id,
        metadata: l.metadata.map(|m| m.to_string()),
    };
    MemoryService::record(&req).map_err(|e| e.to_string())
}

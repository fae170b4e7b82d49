//! The embedding part of `bench memory`: this process's engines beside
//! Python sentence-transformers on the same texts.

use super::*;

pub(super) async fn embedding(
    opts: &Options,
    engines: &[Arc<Embedder>],
    report: &mut Report,
    say: &(dyn Fn(&str) + Sync),
) -> Result<(), AppError> {
    let embedder = &engines[0];
    let short: Vec<String> = (0..opts.short_texts)
        .map(|i| sentence(i.wrapping_mul(104_729) % 122_880))
        .collect();
    let paragraphs: Vec<String> = (0..opts.paragraphs)
        .map(|i| paragraph(embedder, i * 13, 128))
        .collect::<Result<_, _>>()?;
    // One list per engine, the same four measures in the same order.
    let mut per_engine: Vec<Vec<Figure>> = Vec::new();
    for (n, engine) in engines.iter().enumerate() {
        let mut figures = Vec::new();
        for (what, texts, unit) in [
            ("short sentences", &short, "sentences/s"),
            ("128-token paragraphs", &paragraphs, "paragraphs/s"),
        ] {
            for batch in [1usize, 32] {
                let name = match (engine.runtime_name(), engine.precision()) {
                    ("onnxruntime", openzero_embed::Precision::F32) => "onnxruntime f32",
                    (other, _) => other,
                };
                say(&format!(
                    "embedding {} {what}, batch {batch}, on {name}",
                    texts.len()
                ));
                let e = engine.clone();
                let t = texts.clone();
                let rate = tokio::task::spawn_blocking(move || embed_rate(&e, &t, batch))
                    .await
                    .map_err(|e| AppError::Invalid(format!("embedding task: {e}")))??;
                let measure = if n == 0 {
                    format!("{what}, batch {batch}")
                } else {
                    format!("{what}, batch {batch} ({name})")
                };
                figures.push(fig("embedding", &measure, unit, rate, true));
            }
        }
        per_engine.push(figures);
    }
    report
        .notes
        .push(format!("embedding engine: {}", embedder.runtime_name()));
    match &opts.python {
        Some((python, st_model)) => {
            say("the same texts with Python sentence-transformers");
            match python_rates(python, st_model, &short, &paragraphs, opts) {
                Ok((rates, version)) => {
                    for figures in &mut per_engine {
                        for (f, r) in figures.iter_mut().zip(&rates) {
                            f.baseline = Some(*r);
                            f.baseline_name = "Python sentence-transformers".into();
                        }
                    }
                    report.notes.push(format!(
                        "embedding baseline: {version}, {} threads",
                        opts.threads
                    ));
                }
                Err(e) => report
                    .notes
                    .push(format!("embedding baseline not measured: {e}")),
            }
        }
        None => report.notes.push(
            "embedding baseline not measured: pass --python (scripts/bench sets it up)".into(),
        ),
    }
    report.figures.extend(per_engine.into_iter().flatten());
    Ok(())
}

fn embed_rate(embedder: &Embedder, texts: &[String], batch: usize) -> Result<f64, AppError> {
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let fail = |e: openzero_embed::EmbedError| AppError::Invalid(e.to_string());
    embedder.embed(&refs[..refs.len().min(4)]).map_err(fail)?; // warm-up
    let start = Instant::now();
    if batch == 1 {
        for t in &refs {
            embedder.embed_one(t).map_err(fail)?;
        }
    } else {
        for chunk in refs.chunks(batch) {
            embedder.embed(chunk).map_err(fail)?;
        }
    }
    Ok(texts.len() as f64 / start.elapsed().as_secs_f64())
}

fn python_rates(
    python: &Path,
    st_model: &Path,
    short: &[String],
    paragraphs: &[String],
    opts: &Options,
) -> Result<([f64; 4], String), String> {
    let script = opts.work_dir.join("bench-embed-python.py");
    std::fs::write(&script, PYTHON_SCRIPT).map_err(|e| e.to_string())?;
    let texts = opts.work_dir.join("texts.json");
    let body = serde_json::json!({ "short": short, "paragraphs": paragraphs });
    std::fs::write(&texts, body.to_string()).map_err(|e| e.to_string())?;
    let out = std::process::Command::new(python)
        .arg(&script)
        .arg(st_model)
        .arg(&texts)
        .arg(opts.threads.to_string())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().last().unwrap_or("no error output");
        return Err(format!("{} failed: {last}", python.display()));
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("unreadable output: {e}"))?;
    let get = |k: &str| {
        v.get(k)
            .and_then(serde_json::Value::as_f64)
            .ok_or(format!("no {k}"))
    };
    Ok((
        [
            get("short_b1")?,
            get("short_b32")?,
            get("para_b1")?,
            get("para_b32")?,
        ],
        v.get("version")
            .and_then(|x| x.as_str())
            .unwrap_or("?")
            .to_owned(),
    ))
}

/// The Python side, shipped inside the binary so the bench needs no checkout.
const PYTHON_SCRIPT: &str = include_str!("../../../../scripts/bench-embed-python.py");

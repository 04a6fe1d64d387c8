//! `switchboard eval retrieval`: recall@k of the knowledge base's retrieval on the sample
//! evaluation set (`ai::eval`), lexical, vector and hybrid — the same chunker, indexes and
//! fusion the agent uses.
//!
//! Vectors come from the configured embedding model (`SWITCHBOARD_OPENAI_API_BASE`,
//! `_API_KEY`, `_EMBEDDING_MODEL`) through the same client as the product's, or, when
//! none is configured, from the sandbox's deterministic hashed embeddings (what tests
//! and the demo use; its figures say how the pipeline behaves, not how a real model
//! ranks). `--write FILE` puts the figures into the marked table of `docs/EVALUATION.md`.

use std::collections::HashMap;
use std::path::Path;

use ai::eval::{self, Mode, QuestionKind, Report};
use anyhow::{bail, Context, Result};
use serde_json::json;

use crate::cli::EvalRetrievalArgs;

const BEGIN: &str = "<!-- BEGIN switchboard eval retrieval";
const END: &str = "<!-- END switchboard eval retrieval -->";

/// Runs the evaluation and prints one JSON object.
pub async fn retrieval(config_path: Option<&Path>, args: EvalRetrievalArgs) -> Result<()> {
    let config = config::Config::from_process_env(config_path)
        .context("invalid configuration")?
        .config;
    let dataset = eval::dataset();
    let mut texts: Vec<String> = eval::passages(&dataset)
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    texts.extend(dataset.questions.iter().map(|q| q.text.to_string()));
    let (embeddings, vectors) = match (&config.openai_api_key, &config.openai_embedding_model) {
        (Some(_), Some(model)) if !args.sandbox => {
            let endpoint = server::agent::endpoint(&config, &Default::default(), None)
                .context("no model key")?;
            let connectors = server::connectors::Connectors::new(&config)?;
            let mut vectors = HashMap::new();
            for batch in texts.chunks(eval::EMBED_BATCH) {
                let embedded = server::agent::embed(&connectors.outbound, &endpoint, batch)
                    .await
                    .map_err(|f| anyhow::anyhow!("embeddings: {}", f.detail()))?
                    .context("no embedding model")?;
                if embedded.vectors.len() != batch.len() {
                    bail!(
                        "the model answered {} vectors for {} texts",
                        embedded.vectors.len(),
                        batch.len()
                    );
                }
                vectors.extend(batch.iter().cloned().zip(embedded.vectors));
            }
            (format!("{model} at {}", config.openai_api_base), vectors)
        }
        _ => (
            "sandbox hashed embeddings".to_string(),
            texts
                .iter()
                .map(|t| (t.clone(), sandbox::openai_embed(t)))
                .collect(),
        ),
    };
    let embed = |inputs: &[String]| -> Result<Vec<Vec<f32>>, String> {
        inputs
            .iter()
            .map(|t| {
                vectors
                    .get(t)
                    .cloned()
                    .ok_or_else(|| "a text was not embedded".to_string())
            })
            .collect()
    };
    let mut reports = Vec::new();
    for mode in [Mode::Lexical, Mode::Vector, Mode::Hybrid] {
        let embedder = (mode != Mode::Lexical).then_some(&embed as eval::Embed<'_, String>);
        reports.push(eval::recall_at_k(
            &dataset,
            usize::from(args.k),
            mode,
            embedder,
        )?);
    }
    let out = json!({
        "k": usize::from(args.k),
        "embeddings": embeddings,
        "questions": dataset.questions.len(),
        "passages": reports[0].passages,
        "modes": reports.iter().map(|r| json!({
            "mode": format!("{:?}", r.mode),
            "recall": r.recall(),
            "recall_direct": r.recall_of(QuestionKind::Direct),
            "recall_paraphrase": r.recall_of(QuestionKind::Paraphrase),
            "mrr": r.mrr(),
        })).collect::<Vec<_>>(),
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    if let Some(file) = args.write {
        let doc = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        let updated = with_table(&doc, &table(&embeddings, &reports))?;
        std::fs::write(&file, updated).with_context(|| format!("writing {}", file.display()))?;
    }
    Ok(())
}

/// The markdown rows of the figures.
fn table(embeddings: &str, reports: &[Report]) -> String {
    let date = jiff::Zoned::now().date();
    let mut rows = String::from(
        "| embeddings | mode | k | recall | direct | paraphrase | MRR | date |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for r in reports {
        rows.push_str(&format!(
            "| {embeddings} | {:?} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {date} |\n",
            r.mode,
            r.k,
            r.recall(),
            r.recall_of(QuestionKind::Direct),
            r.recall_of(QuestionKind::Paraphrase),
            r.mrr()
        ));
    }
    rows
}

/// `doc` with the marked table replaced by `rows`.
fn with_table(doc: &str, rows: &str) -> Result<String> {
    let (Some(begin), Some(end)) = (doc.find(BEGIN), doc.find(END)) else {
        bail!("the file has no `{BEGIN} …` / `{END}` markers");
    };
    let body_start = doc[begin..]
        .find('\n')
        .map(|n| begin + n + 1)
        .context("marker line")?;
    Ok(format!("{}{rows}{}", &doc[..body_start], &doc[end..]))
}

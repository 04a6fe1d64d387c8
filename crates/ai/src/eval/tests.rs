#![allow(clippy::unwrap_used)]

use std::cell::Cell;
use std::convert::Infallible;

use super::*;
use crate::tokenize;

/// Measured lexical recall@5 on this set is 36/42 = 0.857 (see
/// docs/EVALUATION.md); the floor allows one question of slack so a small
/// tokenizer change doesn't fail the build, while a real drop does.
const LEXICAL_RECALL_AT_5_FLOOR: f64 = 0.83;

fn lexical(k: usize) -> Report {
    recall_at_k::<Infallible>(&dataset(), k, Mode::Lexical, None).unwrap()
}

/// A toy embedding: hashed bag of the crate's search terms, 256 dimensions.
/// It knows no synonyms, so it mostly agrees with BM25; it exists to drive
/// the vector and hybrid paths, not to measure a model.
fn toy_embed(texts: &[String]) -> Result<Vec<Vec<f32>>, Infallible> {
    Ok(texts
        .iter()
        .map(|text| {
            let mut v = vec![0.0f32; 256];
            for term in tokenize(text) {
                let h = term.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                    (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
                });
                v[usize::try_from(h % 256).unwrap()] += 1.0;
            }
            // A constant component keeps stop-word-only texts from being zero.
            v[0] += 0.01;
            v
        })
        .collect())
}

fn print(report: &Report) {
    eprintln!(
        "{:?} recall@{}: {:.3} (direct {:.3}, paraphrase {:.3}), MRR {:.3}, {} passages",
        report.mode,
        report.k,
        report.recall(),
        report.recall_of(QuestionKind::Direct),
        report.recall_of(QuestionKind::Paraphrase),
        report.mrr(),
        report.passages
    );
    for miss in report.misses() {
        eprintln!("  missed ({:?}): {}", miss.kind, miss.question);
    }
}

#[test]
fn dataset_is_well_formed() {
    let data = dataset();
    assert_eq!(data.documents.len(), 13);
    assert_eq!(
        data.questions.len(),
        dataset::question_lines(),
        "a malformed question line"
    );
    assert!((30..=45).contains(&data.questions.len()));
    let paraphrased = data
        .questions
        .iter()
        .filter(|q| q.kind == QuestionKind::Paraphrase)
        .count();
    assert!(
        paraphrased * 3 >= data.questions.len(),
        "too few hard questions"
    );
    let passages = passages(&data);
    for q in &data.questions {
        let in_documents: Vec<&str> = data
            .documents
            .iter()
            .filter(|d| contains_answer(d.text, q.answer))
            .map(|d| d.id)
            .collect();
        assert_eq!(
            in_documents.len(),
            1,
            "{:?} is in {in_documents:?}",
            q.answer
        );
        assert!(
            passages
                .iter()
                .any(|(_, text)| contains_answer(text, q.answer)),
            "{:?} is split across passages",
            q.answer
        );
    }
    // Some documents are long enough to be cut, so the chunker matters.
    assert!(passages.len() > data.documents.len());
}

#[test]
fn contains_answer_ignores_whitespace_runs() {
    assert!(contains_answer("a 30%\n deposit when", "30% deposit"));
    assert!(!contains_answer("a 30% fee", "30% deposit"));
}

#[test]
fn lexical_recall_at_5_meets_the_measured_floor() {
    let report = lexical(5);
    print(&report);
    print(&lexical(1));
    assert!(report.recall() >= LEXICAL_RECALL_AT_5_FLOOR);
    // Honest set: paraphrases are harder than direct questions.
    assert!(report.recall_of(QuestionKind::Paraphrase) < report.recall_of(QuestionKind::Direct));
    assert!(report.recall() < 1.0, "no question is hard");
    // Recall grows with k.
    assert!(lexical(1).recall() <= report.recall());
    assert!(report.recall() <= lexical(20).recall());
    assert_eq!(lexical(0).recall(), 0.0);
}

#[test]
fn vector_and_hybrid_run_with_a_toy_embedder() {
    let data = dataset();
    let calls = Cell::new(0usize);
    let embed = |texts: &[String]| {
        calls.set(calls.get() + 1);
        assert!(texts.len() <= EMBED_BATCH);
        toy_embed(texts)
    };
    let vector = recall_at_k(&data, 5, Mode::Vector, Some(&embed)).unwrap();
    print(&vector);
    // Passages in one batch, 42 questions in one more.
    assert_eq!(calls.get(), 2);
    assert!(vector.recall() > 0.3);
    let hybrid = recall_at_k(&data, 5, Mode::Hybrid, Some(&embed)).unwrap();
    print(&hybrid);
    assert!(hybrid.recall() > 0.3);
    assert_eq!(hybrid.results.len(), data.questions.len());
    assert!(hybrid
        .results
        .iter()
        .all(|r| r.rank.is_none_or(|n| (1..=5).contains(&n))));
    // Lexical mode ignores the embedder.
    let before = calls.get();
    let lexical = recall_at_k(&data, 5, Mode::Lexical, Some(&embed)).unwrap();
    assert_eq!(calls.get(), before);
    assert_eq!(lexical, self::lexical(5));
}

#[test]
fn embedding_problems_are_errors() {
    let data = dataset();
    assert_eq!(
        recall_at_k::<Infallible>(&data, 5, Mode::Hybrid, None),
        Err(EvalError::NoEmbeddings(Mode::Hybrid))
    );
    let failing = |_: &[String]| -> Result<Vec<Vec<f32>>, String> { Err("model down".into()) };
    assert_eq!(
        recall_at_k(&data, 5, Mode::Vector, Some(&failing)),
        Err(EvalError::Embed("model down".into()))
    );
    let short = |texts: &[String]| -> Result<Vec<Vec<f32>>, Infallible> {
        Ok(vec![vec![1.0]; texts.len() - 1])
    };
    assert!(matches!(
        recall_at_k(&data, 5, Mode::Hybrid, Some(&short)),
        Err(EvalError::EmbedCount { .. })
    ));
    let zeros = |texts: &[String]| -> Result<Vec<Vec<f32>>, Infallible> {
        Ok(vec![vec![0.0; 4]; texts.len()])
    };
    assert_eq!(
        recall_at_k(&data, 5, Mode::Hybrid, Some(&zeros)),
        Err(EvalError::Vector(VectorError::Zero))
    );
}

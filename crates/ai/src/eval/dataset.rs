//! The embedded evaluation set: documents and questions.

use serde::Serialize;

/// One knowledge-base document of the sample business.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Document {
    /// Short name, used in passage ids.
    pub id: &'static str,
    /// The document's text, as a location would paste it.
    pub text: &'static str,
}

/// How a question relates to the wording of its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum QuestionKind {
    /// Shares its key words with the answer passage.
    Direct,
    /// Says it in other words ("pay over time" for "financing"): hard for
    /// lexical search, the case embeddings are for.
    Paraphrase,
}

/// A question and how to recognise the passage that answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Question {
    /// The question as a lead would text it, typos and all.
    pub text: &'static str,
    /// A substring of the answering document, distinctive to it (whitespace
    /// runs compare as one space).
    pub answer: &'static str,
    /// Direct or paraphrased.
    pub kind: QuestionKind,
}

/// Documents and questions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dataset {
    /// The knowledge base.
    pub documents: Vec<Document>,
    /// The questions, each answered by one document.
    pub questions: Vec<Question>,
}

/// The knowledge base of Harbor Home Services, a fictional plumbing, heating
/// and electrical company.
const DOCUMENTS: &[(&str, &str)] = &[
    ("about", include_str!("kb/about.md")),
    ("services", include_str!("kb/services.md")),
    ("prices", include_str!("kb/prices.md")),
    ("hours", include_str!("kb/hours.md")),
    ("emergency", include_str!("kb/emergency.md")),
    ("booking", include_str!("kb/booking.md")),
    ("payment", include_str!("kb/payment.md")),
    ("warranty", include_str!("kb/warranty.md")),
    ("membership", include_str!("kb/membership.md")),
    ("service-area", include_str!("kb/service_area.md")),
    ("faq", include_str!("kb/faq.md")),
    ("prepare", include_str!("kb/prepare.md")),
    ("water-heaters", include_str!("kb/water_heaters.md")),
];

/// `kind<TAB>question<TAB>answer substring` lines; `#` starts a comment.
const QUESTIONS: &str = include_str!("questions.tsv");

/// The evaluation set.
///
/// Questions are read from an embedded file whose shape the tests check, so
/// a malformed line is a test failure, not a runtime surprise; here it is
/// skipped rather than panicking.
pub fn dataset() -> Dataset {
    let documents = DOCUMENTS
        .iter()
        .map(|&(id, text)| Document { id, text })
        .collect();
    let questions = QUESTIONS
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let kind = match fields.next()? {
                "direct" => QuestionKind::Direct,
                "paraphrase" => QuestionKind::Paraphrase,
                _ => return None,
            };
            let text = fields.next()?.trim();
            let answer = fields.next()?.trim();
            (fields.next().is_none() && !text.is_empty() && !answer.is_empty())
                .then_some(Question { text, answer, kind })
        })
        .collect();
    Dataset {
        documents,
        questions,
    }
}

/// Number of question lines in the embedded file, for the shape test.
#[cfg(test)]
pub(super) fn question_lines() -> usize {
    QUESTIONS
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .count()
}

//! `knowledge_ingest` (flow 7): reads a knowledge source and replaces its passages.
//!
//! Enqueued with the source (added or re-crawled) in one transaction, ordered per source
//! so two ingests of one source never overlap. The source shows its progress on the
//! knowledge page as it goes: `ingesting` with pages read, then `ready` with its passage
//! count, or `failed` with why. A failure that can't pass by itself (robots.txt says no,
//! a PDF without text) fails the source at once; a site or model that is down is retried
//! with backoff, and fails the source only on the last attempt. Either way the job
//! completes: the knowledge page, not the dead-letter queue, is where people look, and a
//! re-crawl from there starts over. The old passages serve until new ones replace them.

use domain::{AgencyId, KnowledgeSourceId};
use serde::{Deserialize, Serialize};
use serde_json::json;
use store::queue::{Job, NewJob, Outcome};
use store::repo::KnowledgeSource;
use store::{StoreError, TenantScope};

use super::{storage, JobContext};
use crate::knowledge::{self, IngestError};

pub const KNOWLEDGE_INGEST: &str = "knowledge_ingest";

#[derive(Debug, Serialize, Deserialize)]
pub struct KnowledgeIngest {
    pub source_id: KnowledgeSourceId,
}

/// The job that ingests a source of `agency`.
pub fn job(agency: AgencyId) -> impl Fn(&KnowledgeSource) -> NewJob + Sync {
    move |source| {
        NewJob::new(
            KNOWLEDGE_INGEST,
            json!(KnowledgeIngest {
                source_id: source.id.clone(),
            }),
        )
        .for_agency(&agency)
        .ordered_by(format!("knowledge:{}", source.id))
    }
}

pub(super) async fn knowledge_ingest(ctx: JobContext, job: Job, p: KnowledgeIngest) -> Outcome {
    let scope = match ctx.store.agency_of_knowledge_source(&p.source_id).await {
        Ok(agency) => TenantScope::for_agency(&agency),
        // Deleted since: nothing to do.
        Err(StoreError::NotFound) => return Outcome::Completed,
        Err(e) => return storage(e),
    };
    let source = match ctx.store.knowledge_source(&scope, &p.source_id).await {
        Ok(source) => source,
        // Deleted since: nothing to do.
        Err(StoreError::NotFound) => return Outcome::Completed,
        Err(e) => return storage(e),
    };
    match ingest(&ctx, &scope, &source).await {
        Ok(()) => Outcome::Completed,
        Err(IngestError::Refused(why)) => fail(&ctx, &scope, &source, &why).await,
        Err(IngestError::Transient(why)) if job.is_last_attempt() => {
            fail(
                &ctx,
                &scope,
                &source,
                &format!("{why} (gave up after retrying)"),
            )
            .await
        }
        Err(IngestError::Transient(why)) => {
            let noted = ctx
                .store
                .set_knowledge_progress(
                    &scope,
                    &source.id,
                    "ingesting",
                    0,
                    Some(&format!("{why}; trying again shortly")),
                )
                .await;
            match noted {
                Err(StoreError::NotFound) => Outcome::Completed,
                _ => Outcome::Retry {
                    error: why,
                    after: None,
                },
            }
        }
    }
}

async fn fail(
    ctx: &JobContext,
    scope: &TenantScope,
    source: &KnowledgeSource,
    why: &str,
) -> Outcome {
    match ctx
        .store
        .set_knowledge_progress(scope, &source.id, "failed", 0, Some(why))
        .await
    {
        Ok(_) | Err(StoreError::NotFound) => Outcome::Completed,
        Err(e) => storage(e),
    }
}

fn stored(e: StoreError) -> IngestError {
    IngestError::Transient(format!("storage: {e}"))
}

async fn ingest(
    ctx: &JobContext,
    scope: &TenantScope,
    source: &KnowledgeSource,
) -> Result<(), IngestError> {
    let store = &ctx.store;
    store
        .set_knowledge_progress(scope, &source.id, "ingesting", 0, None)
        .await
        .map_err(stored)?;
    let (pages, problems) = match source.kind.as_str() {
        "url" => {
            let start = source.url.clone().unwrap_or_default();
            // Progress is written every few pages: often enough to watch, not a write
            // per page.
            let (progress_tx, mut progress_rx) = tokio::sync::watch::channel(0usize);
            let reporter = {
                let (store, scope, id) = (store.clone(), scope.clone(), source.id.clone());
                tokio::spawn(async move {
                    while progress_rx.changed().await.is_ok() {
                        let pages = *progress_rx.borrow_and_update();
                        let pages = u32::try_from(pages).unwrap_or(u32::MAX);
                        let _ = store
                            .set_knowledge_progress(&scope, &id, "ingesting", pages, None)
                            .await;
                        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                    }
                })
            };
            let crawled = knowledge::crawl::crawl(
                &ctx.media.downloader,
                &start,
                source.max_depth,
                usize::try_from(source.max_pages).unwrap_or(usize::MAX),
                |pages| {
                    let _ = progress_tx.send(pages);
                },
            )
            .await;
            drop(progress_tx);
            let _ = reporter.await;
            crawled?
        }
        _ => {
            let document = store
                .knowledge_document(scope, &source.id)
                .await
                .map_err(stored)?
                .unwrap_or_default();
            (knowledge::document_pages(source, &document)?, Vec::new())
        }
    };
    if pages.is_empty() {
        let why = problems.first().map_or_else(
            || "no page could be read".to_string(),
            |p| format!("no page could be read ({p})"),
        );
        return Err(IngestError::Refused(why));
    }
    let mut passages = knowledge::passages(&pages);
    let location = &source.location_id;
    let (endpoint, _) = crate::agent::endpoint_for(store, &ctx.config, scope, location)
        .await
        .map_err(stored)?;
    knowledge::embed_passages(&ctx.connectors.outbound, endpoint.as_ref(), &mut passages)
        .await
        .map_err(|f| IngestError::Transient(format!("embeddings: {}", f.detail())))?;
    let pages_read = u32::try_from(pages.len()).unwrap_or(u32::MAX);
    match store
        .replace_knowledge_chunks(scope, &source.id, pages_read, &passages)
        .await
    {
        Ok(_) | Err(StoreError::NotFound) => {}
        Err(e) => return Err(stored(e)),
    }
    if !problems.is_empty() {
        // Ready, with a note of the pages that could not be read.
        let note = format!(
            "{} page(s) skipped: {}",
            problems.len(),
            problems
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        );
        let _ = store
            .set_knowledge_progress(scope, &source.id, "ready", pages_read, Some(&note))
            .await;
    }
    Ok(())
}

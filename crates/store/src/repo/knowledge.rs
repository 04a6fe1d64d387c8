//! A location's knowledge base (flow 7): its sources and their passages.
//!
//! A source is added `queued` with its ingest job in the same transaction (an outbox, so a
//! source never waits for a job that doesn't exist). The job marks it `ingesting`, reports
//! pages as it goes, and replaces the source's passages in one transaction at the end, so
//! retrieval sees the old passages or the new ones, never half of each. Deleting a source
//! deletes its passages with it; an ingest that finishes after the delete finds no source
//! and writes nothing.

use domain::{KnowledgeChunkId, KnowledgeSourceId, LocationId};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::scope_filter;
use crate::error::StoreError;
use crate::queue::NewJob;
use crate::store::Store;
use crate::tenant::TenantScope;

/// What a source is.
pub const KNOWLEDGE_KINDS: [&str; 3] = ["url", "pdf", "text"];

/// A knowledge source as the knowledge page shows it (without its document).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnowledgeSource {
    pub id: KnowledgeSourceId,
    pub location_id: LocationId,
    /// `url`, `pdf` or `text`.
    pub kind: String,
    pub title: String,
    pub url: Option<String>,
    pub max_depth: u32,
    pub max_pages: u32,
    /// `queued`, `ingesting`, `ready` or `failed`.
    pub state: String,
    /// Pages read so far (a website's pages; 1 for a PDF or text).
    pub pages: u32,
    pub chunks: u32,
    pub error: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub ingested_at_ms: Option<i64>,
}

/// A source to add.
#[derive(Debug, Clone, Default)]
pub struct NewKnowledgeSource {
    pub kind: String,
    pub title: String,
    pub url: Option<String>,
    pub max_depth: u32,
    pub max_pages: u32,
    /// The PDF's bytes or the text's UTF-8.
    pub document: Option<Vec<u8>>,
}

/// A passage to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewKnowledgeChunk {
    pub page_url: Option<String>,
    pub title: String,
    pub text: String,
    /// Its embedding and the model that made it.
    pub embedding: Option<(Vec<f32>, String)>,
}

/// A stored passage, as retrieval loads it.
#[derive(Debug, Clone, PartialEq)]
pub struct KnowledgeChunk {
    pub id: KnowledgeChunkId,
    pub source_id: KnowledgeSourceId,
    pub page_url: Option<String>,
    pub title: String,
    pub text: String,
    /// Little-endian f32s, and the model that made them.
    pub embedding: Option<(Vec<u8>, String)>,
}

const COLUMNS: &str = "id, location_id, kind, title, url, max_depth, max_pages, state, pages, \
    chunks, error, created_at, updated_at, ingested_at";

fn small(row: &AnyRow, column: &str) -> Result<u32, StoreError> {
    Ok(u32::try_from(row.try_get::<i64, _>(column)?).unwrap_or(0))
}

impl KnowledgeSource {
    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: row.try_get::<String, _>("id")?.parse()?,
            location_id: row.try_get::<String, _>("location_id")?.parse()?,
            kind: row.try_get("kind")?,
            title: row.try_get("title")?,
            url: row.try_get("url")?,
            max_depth: small(row, "max_depth")?,
            max_pages: small(row, "max_pages")?,
            state: row.try_get("state")?,
            pages: small(row, "pages")?,
            chunks: small(row, "chunks")?,
            error: row.try_get("error")?,
            created_at_ms: row.try_get("created_at")?,
            updated_at_ms: row.try_get("updated_at")?,
            ingested_at_ms: row.try_get("ingested_at")?,
        })
    }
}

impl Store {
    /// Adds a source to a location, `queued`, and enqueues `ingest(source)` in the same
    /// transaction. `NotFound` for a location outside the scope.
    pub async fn add_knowledge_source(
        &self,
        scope: &TenantScope,
        location: &LocationId,
        new: &NewKnowledgeSource,
        ingest: &(dyn Fn(&KnowledgeSource) -> NewJob + Sync),
    ) -> Result<KnowledgeSource, StoreError> {
        let location = self.location(scope, location).await?;
        let mut tx = self.begin_for(scope).await?;
        let now = self.now_ms();
        let row = sqlx::query(&format!(
            "INSERT INTO knowledge_sources (id, agency_id, location_id, kind, title, url, \
             max_depth, max_pages, document, state, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'queued', $10, $10) RETURNING {COLUMNS}"
        ))
        .bind(KnowledgeSourceId::new().as_str())
        .bind(location.agency_id.as_str())
        .bind(location.id.as_str())
        .bind(&new.kind)
        .bind(&new.title)
        .bind(new.url.as_deref())
        .bind(i64::from(new.max_depth))
        .bind(i64::from(new.max_pages))
        .bind(new.document.clone())
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let source = KnowledgeSource::from_row(&row)?;
        self.queue().enqueue(&mut tx, ingest(&source)).await?;
        tx.commit().await?;
        Ok(source)
    }

    /// The location's sources, oldest first (`None`: every location in the scope).
    pub async fn knowledge_sources(
        &self,
        scope: &TenantScope,
        location: Option<&LocationId>,
    ) -> Result<Vec<KnowledgeSource>, StoreError> {
        let (agency, only) = scope.binds();
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM knowledge_sources WHERE {} AND ($3 IS NULL OR location_id = $3) \
             ORDER BY created_at, id",
            scope_filter(1, 2)
        ))
        .bind(agency)
        .bind(only)
        .bind(location.map(LocationId::as_str))
        .fetch_all(&mut *self.db().tenant_reader(scope).await?)
        .await?;
        rows.iter().map(KnowledgeSource::from_row).collect()
    }

    /// One source within the scope, or `NotFound`.
    pub async fn knowledge_source(
        &self,
        scope: &TenantScope,
        id: &KnowledgeSourceId,
    ) -> Result<KnowledgeSource, StoreError> {
        let row = self
            .scoped_row("knowledge_sources", COLUMNS, id.as_str(), scope)
            .await?;
        KnowledgeSource::from_row(&row)
    }

    /// A source's document (a PDF's bytes, a text's UTF-8); `None` for a website.
    pub async fn knowledge_document(
        &self,
        scope: &TenantScope,
        id: &KnowledgeSourceId,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let row = self
            .scoped_row("knowledge_sources", "document", id.as_str(), scope)
            .await?;
        Ok(row.try_get("document")?)
    }

    /// Sets a source's state, pages read and error (`ingesting` with progress, `failed`
    /// with why). `NotFound` when it was deleted meanwhile.
    pub async fn set_knowledge_progress(
        &self,
        scope: &TenantScope,
        id: &KnowledgeSourceId,
        state: &str,
        pages: u32,
        error: Option<&str>,
    ) -> Result<KnowledgeSource, StoreError> {
        let (agency, only) = scope.binds();
        let mut tx = self.begin_for(scope).await?;
        let row = sqlx::query(&format!(
            "UPDATE knowledge_sources SET state = $1, pages = $2, error = $3, updated_at = $4 \
             WHERE id = $5 AND {} RETURNING {COLUMNS}",
            scope_filter(6, 7)
        ))
        .bind(state)
        .bind(i64::from(pages))
        .bind(error)
        .bind(self.now_ms())
        .bind(id.as_str())
        .bind(agency)
        .bind(only)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        KnowledgeSource::from_row(&row)
    }

    /// Replaces a source's passages with `chunks` and marks it `ready`, in one
    /// transaction. `NotFound` (and nothing written) when the source was deleted.
    pub async fn replace_knowledge_chunks(
        &self,
        scope: &TenantScope,
        id: &KnowledgeSourceId,
        pages: u32,
        chunks: &[NewKnowledgeChunk],
    ) -> Result<KnowledgeSource, StoreError> {
        let (agency, only) = scope.binds();
        let mut tx = self.begin_for(scope).await?;
        let now = self.now_ms();
        let row = sqlx::query(&format!(
            "UPDATE knowledge_sources SET state = 'ready', pages = $1, chunks = $2, error = NULL, \
             updated_at = $3, ingested_at = $3 WHERE id = $4 AND {} RETURNING {COLUMNS}, agency_id",
            scope_filter(5, 6)
        ))
        .bind(i64::from(pages))
        .bind(i64::try_from(chunks.len()).unwrap_or(i64::MAX))
        .bind(now)
        .bind(id.as_str())
        .bind(agency)
        .bind(only)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let source = KnowledgeSource::from_row(&row)?;
        let owner: String = row.try_get("agency_id")?;
        sqlx::query("DELETE FROM knowledge_chunks WHERE source_id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        for (ordinal, chunk) in chunks.iter().enumerate() {
            let (vector, model) = chunk
                .embedding
                .as_ref()
                .map(|(v, m)| (ai_blob(v), m.as_str()))
                .unzip();
            sqlx::query(
                "INSERT INTO knowledge_chunks (id, agency_id, location_id, source_id, ordinal, \
                 page_url, title, text, embedding, embedding_model) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(KnowledgeChunkId::new().as_str())
            .bind(&owner)
            .bind(source.location_id.as_str())
            .bind(id.as_str())
            .bind(i64::try_from(ordinal).unwrap_or(i64::MAX))
            .bind(chunk.page_url.as_deref())
            .bind(&chunk.title)
            .bind(&chunk.text)
            .bind(vector)
            .bind(model)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(source)
    }

    /// Queues a source for ingesting again (a re-crawl) with its job, in one transaction.
    /// Its current passages serve until the new ones replace them.
    pub async fn requeue_knowledge_source(
        &self,
        scope: &TenantScope,
        id: &KnowledgeSourceId,
        ingest: &(dyn Fn(&KnowledgeSource) -> NewJob + Sync),
    ) -> Result<KnowledgeSource, StoreError> {
        let (agency, only) = scope.binds();
        let mut tx = self.begin_for(scope).await?;
        let row = sqlx::query(&format!(
            "UPDATE knowledge_sources SET state = 'queued', error = NULL, updated_at = $1 \
             WHERE id = $2 AND {} RETURNING {COLUMNS}",
            scope_filter(3, 4)
        ))
        .bind(self.now_ms())
        .bind(id.as_str())
        .bind(agency)
        .bind(only)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let source = KnowledgeSource::from_row(&row)?;
        self.queue().enqueue(&mut tx, ingest(&source)).await?;
        tx.commit().await?;
        Ok(source)
    }

    /// Deletes a source and its passages. `NotFound` outside the scope.
    pub async fn delete_knowledge_source(
        &self,
        scope: &TenantScope,
        id: &KnowledgeSourceId,
    ) -> Result<KnowledgeSource, StoreError> {
        let source = self.knowledge_source(scope, id).await?;
        let mut tx = self.begin_for(scope).await?;
        sqlx::query("DELETE FROM knowledge_chunks WHERE source_id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM knowledge_sources WHERE id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(source)
    }

    /// Every passage of the location, in source and reading order: what retrieval indexes.
    pub async fn knowledge_chunks(
        &self,
        scope: &TenantScope,
        location: &LocationId,
    ) -> Result<Vec<KnowledgeChunk>, StoreError> {
        let (agency, only) = scope.binds();
        let rows = sqlx::query(&format!(
            "SELECT id, source_id, page_url, title, text, embedding, embedding_model \
             FROM knowledge_chunks WHERE location_id = $3 AND {} ORDER BY source_id, ordinal",
            scope_filter(1, 2)
        ))
        .bind(agency)
        .bind(only)
        .bind(location.as_str())
        .fetch_all(&mut *self.db().tenant_reader(scope).await?)
        .await?;
        rows.iter()
            .map(|row| {
                let vector: Option<Vec<u8>> = row.try_get("embedding")?;
                let model: Option<String> = row.try_get("embedding_model")?;
                Ok(KnowledgeChunk {
                    id: row.try_get::<String, _>("id")?.parse()?,
                    source_id: row.try_get::<String, _>("source_id")?.parse()?,
                    page_url: row.try_get("page_url")?,
                    title: row.try_get("title")?,
                    text: row.try_get("text")?,
                    embedding: vector.zip(model),
                })
            })
            .collect()
    }
}

/// A vector as stored: little-endian f32s, the layout `ai::vector::decode_f32_le` reads.
fn ai_blob(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

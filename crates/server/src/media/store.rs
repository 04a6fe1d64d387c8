//! Where media bytes live: a local folder by default, an S3 bucket by configuration, both
//! through `object_store` so the rest of the server sees one [`MediaStore`].

use std::sync::Arc;

use bytes::Bytes;
use config::ObjectStoreUrl;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use super::kind;

/// A failure of the object store (or of opening it).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StoreFailure(String);

impl From<object_store::Error> for StoreFailure {
    fn from(e: object_store::Error) -> Self {
        StoreFailure(e.to_string())
    }
}

/// Media objects under keys like `{agency}/{location}/{message}/{n}-{name}.{ext}`.
#[derive(Debug, Clone)]
pub struct MediaStore {
    objects: Arc<dyn ObjectStore>,
    /// Prepended to every key (an S3 URL's prefix), without slashes around it.
    prefix: String,
    /// For logs: `file://…` or `s3://…`.
    describe: String,
}

impl MediaStore {
    /// Opens `SWITCHBOARD_OBJECT_STORE_URL`. A local folder is created if missing. S3 reads
    /// the standard `AWS_*` variables (endpoint, region, credentials, allow-http).
    pub fn open(url: &ObjectStoreUrl) -> Result<Self, StoreFailure> {
        Self::open_with(url, std::iter::empty())
    }

    /// [`Self::open`], with `AWS_*`-named settings that win over the environment's (tests
    /// point one store at a local S3-compatible server without touching the process
    /// environment, which other tests share).
    pub fn open_with(
        url: &ObjectStoreUrl,
        aws: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, StoreFailure> {
        match url {
            ObjectStoreUrl::File { root } => {
                std::fs::create_dir_all(root)
                    .map_err(|e| StoreFailure(format!("cannot create {}: {e}", root.display())))?;
                let objects = LocalFileSystem::new_with_prefix(root)?;
                Ok(Self {
                    objects: Arc::new(objects),
                    prefix: String::new(),
                    describe: url.to_string(),
                })
            }
            ObjectStoreUrl::S3 { bucket, prefix } => {
                let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
                for (name, value) in aws {
                    let key: AmazonS3ConfigKey = name
                        .to_ascii_lowercase()
                        .parse()
                        .map_err(|e| StoreFailure(format!("{name}: {e}")))?;
                    builder = builder.with_config(key, value);
                }
                Ok(Self {
                    objects: Arc::new(builder.build()?),
                    prefix: prefix.clone(),
                    describe: url.to_string(),
                })
            }
        }
    }

    fn path(&self, key: &str) -> Path {
        if self.prefix.is_empty() {
            Path::from(key)
        } else {
            Path::from(format!("{}/{key}", self.prefix))
        }
    }

    /// Stores `bytes` under `key` (replacing what is there: a rerun writes the same bytes).
    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), StoreFailure> {
        self.objects
            .put(&self.path(key), PutPayload::from_bytes(bytes))
            .await?;
        Ok(())
    }

    /// The object under `key` and its content type; `None` when there is none.
    pub async fn get(&self, key: &str) -> Result<Option<(Bytes, &'static str)>, StoreFailure> {
        match self.objects.get(&self.path(key)).await {
            Ok(result) => Ok(Some((
                result.bytes().await?,
                kind::content_type_for_key(key),
            ))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The key of an object already stored under `folder` whose name starts with
    /// `name_prefix` (a message's attachment `n`, whatever its name and type), so a rerun
    /// does not fetch it again.
    pub async fn find(
        &self,
        folder: &str,
        name_prefix: &str,
    ) -> Result<Option<String>, StoreFailure> {
        let listed = match self
            .objects
            .list_with_delimiter(Some(&self.path(folder)))
            .await
        {
            Ok(listed) => listed,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        Ok(listed
            .objects
            .iter()
            .filter_map(|o| o.location.filename())
            .find(|name| name.starts_with(name_prefix))
            .map(|name| format!("{folder}/{name}")))
    }
}

/// The folder of a message's media objects, `{agency}/{location}/{message}`: where
/// inbound attachments are stored and what erasure, retention and the purge delete.
pub fn message_folder(
    agency: &domain::AgencyId,
    location: &domain::LocationId,
    message: &domain::MessageId,
) -> String {
    format!("{agency}/{location}/{message}")
}

impl MediaStore {
    /// Deletes a message's stored media (see [`message_folder`]); returns how many objects
    /// went. Nothing stored is not an error, so deleting again is harmless.
    pub async fn remove_message_media(
        &self,
        agency: &domain::AgencyId,
        location: &domain::LocationId,
        message: &domain::MessageId,
    ) -> Result<usize, StoreFailure> {
        self.remove_folder(&message_folder(agency, location, message))
            .await
    }

    /// Deletes every object under `folder` (a message's files, on erasure); returns how
    /// many went. A folder with nothing in it is not an error.
    pub async fn remove_folder(&self, folder: &str) -> Result<usize, StoreFailure> {
        let listed = match self
            .objects
            .list_with_delimiter(Some(&self.path(folder)))
            .await
        {
            Ok(listed) => listed,
            Err(object_store::Error::NotFound { .. }) => return Ok(0),
            Err(e) => return Err(e.into()),
        };
        let mut removed = 0;
        for object in &listed.objects {
            match self.objects.delete(&object.location).await {
                Ok(()) => removed += 1,
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(removed)
    }
}

impl std::fmt::Display for MediaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_local_folder_round_trips_and_finds_by_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let store = MediaStore::open(&ObjectStoreUrl::File {
            root: dir.path().join("media"),
        })
        .unwrap();
        assert_eq!(store.find("ag/lo/msg", "0-").await.unwrap(), None);
        assert!(store.get("ag/lo/msg/0-a.png").await.unwrap().is_none());
        store
            .put("ag/lo/msg/0-a.png", Bytes::from_static(b"png"))
            .await
            .unwrap();
        let (bytes, content_type) = store.get("ag/lo/msg/0-a.png").await.unwrap().unwrap();
        assert_eq!((&bytes[..], content_type), (&b"png"[..], "image/png"));
        assert_eq!(
            store.find("ag/lo/msg", "0-").await.unwrap().as_deref(),
            Some("ag/lo/msg/0-a.png")
        );
        assert_eq!(store.find("ag/lo/msg", "1-").await.unwrap(), None);
        assert_eq!(store.remove_folder("ag/lo/msg").await.unwrap(), 1);
        assert!(store.get("ag/lo/msg/0-a.png").await.unwrap().is_none());
        assert_eq!(store.remove_folder("ag/lo/msg").await.unwrap(), 0);
    }
}

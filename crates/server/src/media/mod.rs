//! Media: attachments stored through `object_store` and handed out as signed links.
//!
//! - Inbound ([`prepare_inbound`], called by `sync_inbound`): each attachment a contact
//!   sent is fetched with the channel's own auth, within the size limit and the allowed
//!   types ([`kind`]), stored under `{agency}/{location}/{message}/{n}-{name}.{ext}`, and
//!   posted to GHL as our signed, expiring link ([`link`]). A refused one is replaced by a
//!   note in the text, which still arrives; a transient failure retries the job.
//! - Outbound ([`fetch_outbound_files`]): for providers that take uploads, GHL's
//!   attachment links are fetched into the message's files, within the same limits.
//! - Serving (`GET /media/{key}?expires=&sig=`): the link is checked, then the bytes
//!   are served with their stored type.

pub mod fetch;
pub mod guard;
mod inbound;
pub mod kind;
pub mod link;
mod outbound;
mod route;
pub mod store;

use std::fmt;

pub use fetch::{Downloader, FetchError, Fetched};
pub use inbound::{prepare_inbound, InboundMedia, MEDIA_ATTEMPTS};
pub use link::{LinkError, LinkSigner};
pub use outbound::{attach_uploads, fetch_outbound_files};
pub(crate) use route::serve;
pub use store::{message_folder, MediaStore, StoreFailure};

/// Media could not be set up at start.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("SWITCHBOARD_OBJECT_STORE_URL: cannot open the media store: {0}")]
    Store(#[from] StoreFailure),
    #[error("cannot build the media download client: {0}")]
    Client(#[from] reqwest::Error),
}

/// Everything the media path needs. Cheap to clone.
#[derive(Clone)]
pub struct Media {
    pub store: MediaStore,
    pub links: LinkSigner,
    pub downloader: Downloader,
}

impl fmt::Debug for Media {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Media")
            .field("store", &self.store.to_string())
            .field("max_bytes", &self.downloader.max_bytes())
            .finish_non_exhaustive()
    }
}

impl Media {
    /// The configured store, with links signed under a key derived from the master key.
    pub fn from_config(config: &config::Config, keys: &::store::Store) -> Result<Self, MediaError> {
        Self::with_store(MediaStore::open(&config.object_store_url)?, config, keys)
    }

    /// Like [`Self::from_config`], on a store opened by the caller.
    pub fn with_store(
        media_store: MediaStore,
        config: &config::Config,
        keys: &::store::Store,
    ) -> Result<Self, MediaError> {
        let key = keys.keys().derive(link::KEY_LABEL);
        Ok(Self {
            store: media_store,
            links: LinkSigner::new(&key[..], &config.public_url, config.media_link_ttl()),
            downloader: Downloader::new(config.media_max_bytes, config.media_allow_internal_hosts)?,
        })
    }
}

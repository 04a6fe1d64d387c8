//! The outbound half: attachments for providers that take uploads rather than links.

use channels::{MediaFile, OutboundMessage};
use outbound::Failure;

use super::{kind, Downloader, FetchError, Media};

/// Fetches GHL's attachment links into files, within the size and type limits. The
/// first refusal or transient failure stops it: a message goes out whole or not at all.
pub async fn fetch_outbound_files(
    downloader: &Downloader,
    urls: &[String],
) -> Result<Vec<MediaFile>, FetchError> {
    let mut files = Vec::with_capacity(urls.len());
    for url in urls {
        let fetched = downloader.link(url).await?;
        files.push(MediaFile {
            file_name: format!("{}.{}", kind::sanitised_name(url), fetched.extension),
            content_type: fetched.content_type,
            bytes: fetched.bytes,
        });
    }
    Ok(files)
}

/// For a channel whose provider takes uploads ([`channels::Channel::uploads_media`]),
/// fills `message.files` from its links. A refused attachment fails the send for good
/// (with the reason, which GHL is told); a transient failure retries it.
pub async fn attach_uploads(
    media: &Media,
    channel: &store::repo::Channel,
    message: &mut OutboundMessage,
) -> Result<(), Failure> {
    let uploads = channels::for_provider(channel.provider).is_some_and(|c| c.uploads_media());
    if !uploads || message.media_urls.is_empty() {
        return Ok(());
    }
    match fetch_outbound_files(&media.downloader, &message.media_urls).await {
        Ok(files) => {
            message.files = files;
            Ok(())
        }
        Err(FetchError::Refused { reason, .. }) => Err(Failure::Permanent {
            detail: format!("attachment refused: {reason}"),
        }),
        Err(FetchError::Transient(detail)) => Err(Failure::Retry {
            detail: format!("attachment: {detail}"),
            after: None,
        }),
    }
}

//! The bodies GHL posts to us: the Delivery-URL message and Marketplace webhooks.
//!
//! Parsers are tolerant (unknown fields ignored, optional fields optional, small type
//! disagreements accepted) because GHL does not retry a webhook we refuse.

mod dnd;
pub(crate) mod lenient;
mod marketplace;
mod provider;

pub use dnd::{DndSetting, DndSettings, DndStatus};
pub use marketplace::{
    AppInstall, AppUninstall, ContactDndUpdate, InstallTarget, MarketplaceEvent, PlanChange, Trial,
    WhitelabelDetails,
};
pub use provider::{OutboundSender, ProviderOutboundMessage};

pub(crate) use dnd::sms_blocked;

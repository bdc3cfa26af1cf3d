//! The content manifest the control plane publishes, signed by its key:
//! which items exist, how big, where to fetch them, how much they matter.

use serde::{Deserialize, Serialize};

use crate::ContentHash;

/// One item of the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ManifestItem {
    pub hash: ContentHash,
    pub size: u64,
    /// Where to fetch it: a path on the control plane (`/origin/{hash}`) or
    /// an absolute URL.
    pub origins: Vec<String>,
    /// Higher first when the budget cannot hold everything.
    pub priority: u32,
    /// After this (ms since the Unix epoch) the item is withdrawn.
    pub expires_at_ms: u64,
    /// Per-chunk hashes (see [`crate::content`]), for items over one chunk.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chunks: Vec<ContentHash>,
}

/// The whole manifest; the payload of a signed envelope with purpose
/// `cp.manifest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Manifest {
    /// Increases with every change.
    pub version: u64,
    pub issued_at_ms: u64,
    pub items: Vec<ManifestItem>,
}

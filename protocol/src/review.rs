//! The automatic review of merchants' texts: the rules a tenant sets and
//! the findings a review reports.

use serde::{Deserialize, Serialize};

/// The category of contact details (phone numbers, web addresses), which
/// the review finds without a word list.
pub const CONTACT_CATEGORY: &str = "contact";

/// One word the review looks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReviewWord {
    pub word: String,
    /// What kind of word it is: `fraud`, `adult`, `gambling`, `profanity`, …
    pub category: String,
}

/// A tenant's review rules: words to find, and phrases that are fine
/// although they contain one (`三黄片`, a medicine, contains `黄片`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReviewRules {
    pub words: Vec<ReviewWord>,
    #[serde(default)]
    pub allowed: Vec<String>,
}

/// One thing the review found, located in the original text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Finding {
    /// The word's category, or [`CONTACT_CATEGORY`].
    pub category: String,
    /// The list entry that matched (for contacts: `phone` or `url`).
    pub word: String,
    /// Byte offsets of the match in the original text.
    pub start: usize,
    pub end: usize,
    /// The original text of the match, as the merchant wrote it.
    pub text: String,
}

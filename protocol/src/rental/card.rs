//! Member cards: a card bound to the account opens the car during the
//! member's rental, offline. The credential carries a hash of the bound
//! card, keyed by the member, so the car compares a tap against it and the
//! card number itself is never stored by the control plane nor sent to the
//! car over the air.

/// Why a card number is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a card number is 8 to 32 letters or digits (spaces and dashes are ignored)")]
pub struct CardNumberError;

/// The card number as it is hashed: spaces and dashes dropped, upper case.
pub fn normalise_card_number(card_number: &str) -> Result<String, CardNumberError> {
    let normal: String = card_number
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if (8..=32).contains(&normal.len()) && normal.chars().all(|c| c.is_ascii_alphanumeric()) {
        Ok(normal)
    } else {
        Err(CardNumberError)
    }
}

/// The hash of `card_number` for `member_id`, hex: the same card bound by
/// two members hashes differently, so a hash names no card across members.
pub fn card_hash(member_id: &str, card_number: &str) -> Result<String, CardNumberError> {
    let normal = normalise_card_number(card_number)?;
    let mut hasher = blake3::Hasher::new_derive_key("edgepoints 2026-12 member card v1");
    hasher.update(member_id.as_bytes());
    hasher.update(b"\n");
    hasher.update(normal.as_bytes());
    Ok(hasher.finalize().to_hex().to_string())
}

/// The last four characters, for people.
pub fn card_hint(card_number: &str) -> Result<String, CardNumberError> {
    let normal = normalise_card_number(card_number)?;
    Ok(normal[normal.len() - 4..].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spelling_does_not_matter_but_member_and_digits_do() {
        let a = card_hash("m1", "1234 5678-9012 abcd").unwrap();
        assert_eq!(a, card_hash("m1", "123456789012ABCD").unwrap());
        assert_ne!(a, card_hash("m2", "123456789012ABCD").unwrap());
        assert_ne!(a, card_hash("m1", "123456789012ABCE").unwrap());
        assert_eq!(card_hint("1234 5678-9012 abcd").unwrap(), "ABCD");
        assert_eq!(card_hash("m1", "1234"), Err(CardNumberError));
        assert_eq!(card_hash("m1", "12345678é"), Err(CardNumberError));
    }
}

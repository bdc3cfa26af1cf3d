//! Numbers as Kotlin and Swift developers write them: signed (`Long`/`Int`,
//! `Int64`/`Int32`). The core counts in unsigned types; the bindings show
//! those as signed, saturating where a value could not fit (no count, size,
//! amount or time here comes near it), and check what comes in, so a
//! negative amount is a typed `InvalidInput` rather than a huge number.

use crate::EdgePointsError;

/// A core number as the bindings show it.
pub(crate) trait Signed {
    type Shown;
    fn signed(self) -> Self::Shown;
}

impl Signed for u64 {
    type Shown = i64;
    fn signed(self) -> i64 {
        i64::try_from(self).unwrap_or(i64::MAX)
    }
}

impl Signed for usize {
    type Shown = i64;
    fn signed(self) -> i64 {
        i64::try_from(self).unwrap_or(i64::MAX)
    }
}

impl Signed for u32 {
    type Shown = i32;
    fn signed(self) -> i32 {
        i32::try_from(self).unwrap_or(i32::MAX)
    }
}

impl Signed for u16 {
    type Shown = i32;
    fn signed(self) -> i32 {
        i32::from(self)
    }
}

impl Signed for u8 {
    type Shown = i32;
    fn signed(self) -> i32 {
        i32::from(self)
    }
}

impl<T: Signed> Signed for Option<T> {
    type Shown = Option<T::Shown>;
    fn signed(self) -> Self::Shown {
        self.map(Signed::signed)
    }
}

/// A number from the host into the core's unsigned type, or
/// `InvalidInput` naming `what` if it is negative or too large.
pub(crate) fn unsigned<T, S>(what: &str, value: S) -> Result<T, EdgePointsError>
where
    T: TryFrom<S> + Bounded,
    S: Copy + std::fmt::Display,
{
    T::try_from(value).map_err(|_| EdgePointsError::InvalidInput {
        reason: if value.to_string().starts_with('-') {
            format!("{what} must not be negative (got {value})")
        } else {
            format!("{what} must be at most {} (got {value})", T::MAX_SHOWN)
        },
    })
}

/// [`unsigned`] for an optional number.
pub(crate) fn unsigned_opt<T, S>(what: &str, value: Option<S>) -> Result<Option<T>, EdgePointsError>
where
    T: TryFrom<S> + Bounded,
    S: Copy + std::fmt::Display,
{
    value.map(|v| unsigned(what, v)).transpose()
}

/// The largest value of a core type, for the refusal's text.
pub(crate) trait Bounded {
    const MAX_SHOWN: u64;
}

impl Bounded for u64 {
    // What a signed 64-bit host number can hold.
    const MAX_SHOWN: u64 = i64::MAX as u64;
}

impl Bounded for u32 {
    const MAX_SHOWN: u64 = u32::MAX as u64;
}

impl Bounded for u8 {
    const MAX_SHOWN: u64 = u8::MAX as u64;
}

impl Bounded for usize {
    const MAX_SHOWN: u64 = i64::MAX as u64;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_numbers_saturate_instead_of_wrapping() {
        assert_eq!(u64::MAX.signed(), i64::MAX);
        assert_eq!(7u64.signed(), 7);
        assert_eq!(u32::MAX.signed(), i32::MAX);
        assert_eq!(Some(200u8).signed(), Some(200));
    }

    #[test]
    fn a_negative_or_too_large_input_is_invalid_input_naming_it() {
        assert_eq!(unsigned::<u8, i32>("percent_off", 90).unwrap(), 90);
        let refused = unsigned::<u8, i32>("percent_off", -1).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "invalid input: percent_off must not be negative (got -1)"
        );
        let refused = unsigned::<u8, i32>("percent_off", 256).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "invalid input: percent_off must be at most 255 (got 256)"
        );
        assert!(unsigned::<u64, i64>("amount", -5).is_err());
        assert_eq!(unsigned::<u64, i64>("amount", i64::MAX).unwrap(), i64::MAX as u64);
        assert_eq!(unsigned_opt::<u32, i32>("limit", None).unwrap(), None);
    }
}

//! Any input to the token parser: a typed result, never a panic.
#![no_main]

use edgepoints_protocol::coupons::CouponToken;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = CouponToken::from_bytes(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = CouponToken::decode(text);
    }
});

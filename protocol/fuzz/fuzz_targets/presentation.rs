//! Any input to the presentation parser and the offline check: a typed
//! result, never a panic.
#![no_main]

use edgepoints_protocol::coupons::{validate, Presentation, Till, TrustList, TrustedKeys};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Presentation::from_bytes(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let trusted = TrustedKeys::from_list(&TrustList::default());
        let till = Till {
            trusted: &trusted,
            merchant: [0; 16],
            now_s: 1_796_000_000,
            revoked: &|_| false,
            redeemed: &|_| false,
        };
        let _ = validate(text, &till);
    }
});

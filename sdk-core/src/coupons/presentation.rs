//! What the customer's phone shows at the till: the presentation text and
//! its QR code as a module matrix, so apps draw it natively (no image
//! library, any size) and redraw it every step.

use edgepoints_protocol::coupons::{step_of, CouponToken, STEP_S};
use qrcode::{Color, EcLevel, QrCode};

use super::held::HeldCoupon;
use crate::shared::Shared;
use crate::time::unix_millis;
use crate::Error;

/// A coupon as presented now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CouponPresentation {
    pub serial: String,
    /// `EPP1:…`: what the QR code holds.
    pub text: String,
    /// Modules per side of the QR code (level Q).
    pub qr_width: u32,
    /// `qr_width × qr_width` modules, row by row; `true` is dark.
    pub qr_modules: Vec<bool>,
    /// When this presentation goes stale and the next one should be shown.
    pub refresh_at_ms: u64,
}

/// Presents `coupon` now, signed by this device's key.
pub(crate) fn present(shared: &Shared, coupon: &HeldCoupon) -> Result<CouponPresentation, Error> {
    let token = CouponToken::decode(&coupon.token).map_err(|e| Error::Protocol(format!("stored coupon: {e}")))?;
    let now_s = unix_millis() / 1000;
    let step = step_of(now_s);
    let text = shared.identity().present(token, step).encode();
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::Q)
        .map_err(|e| Error::Internal(format!("a presentation does not fit a QR code: {e}")))?;
    let qr_width = code.width() as u32;
    let qr_modules = code.to_colors().into_iter().map(|c| c == Color::Dark).collect();
    Ok(CouponPresentation {
        serial: coupon.serial.clone(),
        text,
        qr_width,
        qr_modules,
        refresh_at_ms: (u64::from(step) + 1) * STEP_S * 1000,
    })
}

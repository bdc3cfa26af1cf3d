//! The loyalty loop's spending side on the control plane: the rewards
//! catalogue and what redeeming a reward grants ([`rewards`]), and the
//! balance check QA runs ([`integrity`]). Coupons bought with points are
//! claimed, given back and expire in [`crate::coupons`], in the same swaps
//! as their debits and refunds.

pub mod integrity;
pub mod rewards;

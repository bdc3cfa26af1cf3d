//! Rental of electric cars on the control plane: the catalogue of stations
//! and vehicles, reservations with exactly one winner, the rental from
//! start to end (credentials the cars check offline, the fee), member
//! cards, charging, and the billing and SMS messages an ended rental puts
//! on the queue for their workers.
//!
//! The cars themselves are not here: each is a simulated device of its own
//! ([`crate::vehicles`]) that never reads this state. What the control
//! plane learns from a car comes in the car's signed answers, which the
//! member's phone forwards.

pub mod cards;
pub mod catalogue;
pub mod charging;
pub mod fees;
pub mod housekeeping;
pub mod rentals;
pub mod reservations;
pub mod workers;

pub use catalogue::{StationRecord, VehicleRecord};
pub use rentals::RentalRecord;

//! How the tour speaks: a heading per step, indented lines, and checks that
//! end the tour when they fail.

use edgepoints_core::Location;

use crate::CliResult;

pub(super) fn step(title: &str) {
    println!("\n== {title}");
}

pub(super) fn say(line: impl AsRef<str>) {
    println!("   {}", line.as_ref());
}

pub(super) fn check(ok: bool, what: &str) -> CliResult {
    if ok {
        say(format!("ok: {what}"));
        Ok(())
    } else {
        Err(format!("check failed: {what}").into())
    }
}

pub(super) const PARIS: Location = Location {
    latitude: 48.8566,
    longitude: 2.3522,
};
pub(super) const PARIS_EAST: Location = Location {
    latitude: 48.8600,
    longitude: 2.4400,
};
pub(super) const LYON: Location = Location {
    latitude: 45.7640,
    longitude: 4.8357,
};

/// Great-circle distance, for the narrative.
pub(super) fn km(a: Location, b: Location) -> f64 {
    let (la1, la2) = (a.latitude.to_radians(), b.latitude.to_radians());
    let dla = la2 - la1;
    let dlo = (b.longitude - a.longitude).to_radians();
    let h = (dla / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlo / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}

//! The offload-over-time plot, as a small self-contained SVG: one line of
//! offload per window as caches warm, the goal as a dashed line.

use std::fmt::Write as _;

use super::figures::Window;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 360.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;

/// An SVG document plotting `windows`; `goal` is drawn as a dashed line.
pub(super) fn offload_svg(title: &str, windows: &[Window], goal: f64) -> String {
    let span = windows.last().map_or(1.0, |w| w.until_s).max(1e-3);
    let x = |s: f64| LEFT + (WIDTH - LEFT - RIGHT) * s / span;
    let y = |share: f64| TOP + (HEIGHT - TOP - BOTTOM) * (1.0 - share);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="{LEFT}" y="22" font-size="14" font-weight="bold">{}</text>
"##,
        escape(title)
    );
    for tick in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e3e6eb"/><text x="{:.1}" y="{:.1}" text-anchor="end">{:.0} %</text>"##,
            WIDTH - RIGHT,
            LEFT - 6.0,
            y(tick) + 4.0,
            tick * 100.0,
            y = y(tick)
        );
    }
    for step in 0..=4 {
        let s = span * step as f64 / 4.0;
        let _ = writeln!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">{s:.0} s</text>"##,
            x(s),
            HEIGHT - BOTTOM + 18.0
        );
    }
    let _ = writeln!(
        svg,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">time since the users started fetching</text>"##,
        LEFT + (WIDTH - LEFT - RIGHT) / 2.0,
        HEIGHT - 12.0
    );
    let _ = writeln!(
        svg,
        r##"<line x1="{LEFT}" y1="{g:.1}" x2="{:.1}" y2="{g:.1}" stroke="#b3261e" stroke-dasharray="6 4"/><text x="{:.1}" y="{:.1}" fill="#b3261e" text-anchor="end">goal {:.0} %</text>"##,
        WIDTH - RIGHT,
        WIDTH - RIGHT,
        y(goal) - 6.0,
        goal * 100.0,
        g = y(goal)
    );
    let points: Vec<String> = windows
        .iter()
        .filter_map(|w| w.offload.map(|o| format!("{:.1},{:.1}", x(w.until_s), y(o))))
        .collect();
    let _ = writeln!(
        svg,
        r##"<polyline fill="none" stroke="#2457c5" stroke-width="2.5" points="{}"/>"##,
        points.join(" ")
    );
    for w in windows {
        if let Some(o) = w.offload {
            let _ = writeln!(
                svg,
                r##"<circle cx="{:.1}" cy="{:.1}" r="3" fill="#2457c5"><title>{:.1} %, {} fetches</title></circle>"##,
                x(w.until_s),
                y(o),
                o * 100.0,
                w.fetches
            );
        }
    }
    svg.push_str("</svg>\n");
    svg
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plots_every_window_with_an_offload_and_escapes_the_title() {
        let windows = vec![
            Window {
                until_s: 1.0,
                offload: Some(0.5),
                fetches: 3,
            },
            Window {
                until_s: 2.0,
                offload: None,
                fetches: 0,
            },
            Window {
                until_s: 3.0,
                offload: Some(1.0),
                fetches: 4,
            },
        ];
        let svg = offload_svg("a <b> & c", &windows, 0.9);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg.contains("a &lt;b&gt; &amp; c"));
        assert!(svg.contains("goal 90 %"));
    }
}

//! SVG charts of a comparison, drawn with plotters' SVG backend (text is
//! emitted as SVG `<text>`, so no font files are needed):
//! `throughput.svg` (delivered msgs/s per entry, every broker),
//! `cpu.svg` (broker CPU-µs per message) and `latency.svg` (p99 against
//! the offered rate).

use std::collections::BTreeMap;
use std::path::Path;

use plotters::prelude::*;

use crate::broker::Kind;
use crate::compare::{Record, Row};
use crate::stats;

type Error = Box<dyn std::error::Error>;

/// The colour of a broker's bars and lines.
fn color(kind: Kind) -> RGBColor {
    match kind {
        Kind::Hornet => RGBColor(230, 140, 20),
        Kind::Mosquitto => RGBColor(60, 110, 190),
        Kind::Rumqttd => RGBColor(90, 160, 80),
        Kind::Rmqtt => RGBColor(150, 90, 170),
    }
}

/// Writes the charts into `bench/` beside `doc`; returns (title, path
/// relative to `doc`) of each chart written.
pub(crate) fn write_all(
    doc: &Path,
    rows: &[Row],
    records: &[Record],
    brokers: &[Kind],
) -> Result<Vec<(String, String)>, Error> {
    let dir = doc.parent().unwrap_or(Path::new(".")).join("bench");
    std::fs::create_dir_all(&dir)?;
    let mut written = Vec::new();
    let bars = [
        (
            "throughput.svg",
            "Delivered msgs/s (higher is better)",
            "delivered msgs/s",
        ),
        (
            "cpu.svg",
            "Broker CPU-µs per delivered message (lower is better)",
            "broker CPU-µs/msg",
        ),
    ];
    for (file, title, figure) in bars {
        let data: Vec<(String, Vec<f64>)> = rows
            .iter()
            .filter(|r| r.figure == figure)
            .map(|r| {
                (
                    r.entry.clone(),
                    brokers.iter().map(|&k| r.value(k).unwrap_or(0.0)).collect(),
                )
            })
            .collect();
        if data.iter().any(|d| d.1.iter().any(|v| *v > 0.0)) {
            grouped_bars(&dir.join(file), title, brokers, &data)?;
            written.push((title.to_string(), format!("bench/{file}")));
        }
    }
    let series = latency_series(records, brokers);
    if series.iter().any(|s| !s.1.is_empty()) {
        let title = "Latency p99 (µs, log) against offered rate (msgs/s)";
        latency_chart(&dir.join("latency.svg"), title, &series)?;
        written.push((title.to_string(), "bench/latency.svg".to_string()));
    }
    Ok(written)
}

/// Per broker: (rate, median p99 µs over repetitions).
fn latency_series(records: &[Record], brokers: &[Kind]) -> Vec<(Kind, Vec<(f64, f64)>)> {
    let mut out = Vec::new();
    for &kind in brokers {
        let mut by_rate: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
        // The `latency` entry only: the other fixed-rate entries (over
        // WebSocket, 1 MB messages) would mix other curves into this one.
        for r in records
            .iter()
            .filter(|r| r.broker == kind && r.entry == "latency")
        {
            if let (Some(rate), Some(l)) = (r.report.target_rate, r.report.latency_us) {
                by_rate.entry(rate as u64).or_default().push(l.p99 as f64);
            }
        }
        let points = by_rate
            .into_iter()
            .filter_map(|(rate, v)| stats::median(&v).map(|m| (rate as f64, m.max(1.0))))
            .collect();
        out.push((kind, points));
    }
    out
}

fn grouped_bars(
    path: &Path,
    title: &str,
    brokers: &[Kind],
    data: &[(String, Vec<f64>)],
) -> Result<(), Error> {
    let root = SVGBackend::new(path, (1000, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let values = || data.iter().flat_map(|d| d.1.iter().copied());
    let max = values().fold(0.0, f64::max).max(1e-9);
    let min = values().filter(|v| *v > 0.0).fold(max, f64::min);
    let n = data.len();
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d(
            -0.5f64..(n as f64 - 0.5),
            ((min / 2.0)..(max * 2.0)).log_scale(),
        )?;
    let labels: Vec<String> = data.iter().map(|d| d.0.clone()).collect();
    let label = |x: &f64| {
        let i = x.round();
        if (x - i).abs() < 0.01 && i >= 0.0 {
            labels.get(i as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&label)
        .y_label_formatter(&|y| stats::fmt_value(Some(*y)))
        .draw()?;
    let floor = min / 2.0;
    let width = 0.8 / brokers.len().max(1) as f64;
    for (b, &kind) in brokers.iter().enumerate() {
        let color = color(kind);
        let offset = -0.4 + b as f64 * width;
        chart
            .draw_series(data.iter().enumerate().filter_map(|(i, d)| {
                let v = d.1.get(b).copied().unwrap_or(0.0);
                let x = i as f64 + offset;
                (v > 0.0)
                    .then(|| Rectangle::new([(x, floor), (x + width * 0.95, v)], color.filled()))
            }))?
            .label(kind.title())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

fn latency_chart(
    path: &Path,
    title: &str,
    series: &[(Kind, Vec<(f64, f64)>)],
) -> Result<(), Error> {
    let root = SVGBackend::new(path, (1000, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let points = || series.iter().flat_map(|s| s.1.iter());
    let max_rate = points().map(|p| p.0).fold(1.0, f64::max);
    let max_p99 = points().map(|p| p.1).fold(1.0, f64::max);
    let min_p99 = points().map(|p| p.1).fold(max_p99, f64::min);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d(
            0f64..max_rate * 1.1,
            ((min_p99 / 2.0)..(max_p99 * 2.0)).log_scale(),
        )?;
    chart
        .configure_mesh()
        .x_label_formatter(&|x| stats::fmt_value(Some(*x)))
        .y_label_formatter(&|y| stats::fmt_value(Some(*y)))
        .x_desc("offered msgs/s")
        .y_desc("p99 µs")
        .draw()?;
    for (kind, pts) in series {
        let color = color(*kind);
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))?
            .label(kind.title())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 14, y)], color.stroke_width(2))
            });
        chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Latency, Report};
    use crate::stats::Better;

    #[test]
    fn charts_are_svg_with_text() {
        let dir = std::env::temp_dir().join(format!("hornet-bench-charts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let row = |entry: &str, figure: &str, h, m| Row {
            entry: entry.into(),
            label: entry.into(),
            figure: figure.into(),
            better: Better::Higher,
            cells: [
                (Kind::Hornet, h),
                (Kind::Mosquitto, m),
                (Kind::Rumqttd, m * 2.0),
            ]
            .into_iter()
            .map(|(broker, v)| crate::compare::Cell {
                broker,
                value: Some(v),
                failed: false,
            })
            .collect(),
            best_peer: None,
            ratio_best: None,
            ratio: None,
        };
        let rows = vec![
            row("fanin-q0", "delivered msgs/s", 200_000.0, 100_000.0),
            row("fanin-q0", "broker CPU-µs/msg", 2.0, 3.0),
        ];
        let step = |broker, rate: f64, p99| Record {
            broker,
            rep: 1,
            entry: "latency".into(),
            report: Report {
                target_rate: Some(rate),
                latency_us: Some(Latency {
                    p99,
                    ..Latency::default()
                }),
                ..Report::default()
            },
        };
        let records = vec![
            step(Kind::Hornet, 1000.0, 300),
            step(Kind::Hornet, 5000.0, 900),
            step(Kind::Mosquitto, 1000.0, 400),
        ];
        let brokers = [Kind::Hornet, Kind::Mosquitto, Kind::Rumqttd];
        let written = write_all(&dir.join("doc.md"), &rows, &records, &brokers).unwrap();
        assert_eq!(written.len(), 3);
        let svg = std::fs::read_to_string(dir.join("bench/throughput.svg")).unwrap();
        assert!(
            svg.starts_with("<svg")
                && svg.contains("<text")
                && svg.contains("fanin-q0")
                && svg.contains("Mosquitto")
                && svg.contains("rumqttd")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

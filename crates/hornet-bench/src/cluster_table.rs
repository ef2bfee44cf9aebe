//! The figures of the `cluster` command: one row per figure with the
//! single-node baseline, the cluster's value, their ratio (the median of
//! the ratios of each repetition, single node and cluster measured one
//! right after the other) and the goal of issue 18 the ratio is held to;
//! percentiles of timing samples; the Markdown table.

use serde::Serialize;

use crate::stats::{self, fmt_value};

/// A goal on the ratio cluster / single node.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(crate) enum Goal {
    /// The ratio must be at least this.
    AtLeast(f64),
    /// The ratio must be at most this.
    AtMost(f64),
}

impl Goal {
    /// True when `ratio` meets the goal.
    pub(crate) fn met(self, ratio: f64) -> bool {
        match self {
            Goal::AtLeast(g) => ratio >= g,
            Goal::AtMost(g) => ratio <= g,
        }
    }

    fn text(self) -> String {
        match self {
            Goal::AtLeast(g) => format!("≥ {g}×"),
            Goal::AtMost(g) => format!("≤ {g}×"),
        }
    }
}

/// One figure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Row {
    /// The entry (`fanin-q0`, `converge`, `connect`, `conns`).
    pub(crate) entry: String,
    /// What is measured, with its unit.
    pub(crate) figure: String,
    /// The single node's value (median over the repetitions).
    pub(crate) single: Option<f64>,
    /// The cluster's value (median over the repetitions).
    pub(crate) cluster: Option<f64>,
    /// cluster / single of each repetition.
    pub(crate) ratios: Vec<f64>,
    /// Their median.
    pub(crate) ratio: Option<f64>,
    /// The goal the ratio is held to.
    pub(crate) goal: Option<Goal>,
}

impl Row {
    /// A row from the values of each repetition, paired by repetition
    /// (`None` where a run gave no figure).
    pub(crate) fn paired(
        entry: &str,
        figure: &str,
        pairs: &[(Option<f64>, Option<f64>)],
        goal: Option<Goal>,
    ) -> Row {
        let singles: Vec<f64> = pairs.iter().filter_map(|p| p.0).collect();
        let clusters: Vec<f64> = pairs.iter().filter_map(|p| p.1).collect();
        let ratios: Vec<f64> = pairs
            .iter()
            .filter_map(|&(s, c)| stats::ratio(c, s))
            .collect();
        Row {
            entry: entry.into(),
            figure: figure.into(),
            single: stats::median(&singles),
            cluster: stats::median(&clusters),
            ratio: stats::median(&ratios),
            ratios,
            goal,
        }
    }

    /// A figure of the cluster alone (no baseline).
    pub(crate) fn cluster_only(entry: &str, figure: &str, value: Option<f64>) -> Row {
        Row {
            entry: entry.into(),
            figure: figure.into(),
            single: None,
            cluster: value,
            ratios: Vec::new(),
            ratio: None,
            goal: None,
        }
    }

    /// Whether the goal is met: `None` without a goal or a ratio.
    pub(crate) fn met(&self) -> Option<bool> {
        self.goal.zip(self.ratio).map(|(g, r)| g.met(r))
    }
}

/// The `q` quantile (0..=1) of `samples` by nearest rank: the smallest
/// sample with at least `q` of them at or below it.
pub(crate) fn quantile(samples: &[f64], q: f64) -> Option<f64> {
    let mut v: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let rank = (q.clamp(0.0, 1.0) * v.len() as f64).ceil() as usize;
    Some(v[rank.saturating_sub(1).min(v.len() - 1)])
}

/// The rows as a Markdown table.
pub(crate) fn render(rows: &[Row]) -> String {
    let mut out = String::from(
        "| entry | figure | single node | cluster | cluster / single | goal |\n\
         | --- | --- | ---: | ---: | ---: | --- |\n",
    );
    for r in rows {
        let ratio = r.ratio.map_or("-".to_string(), |x| format!("{x:.2}×"));
        let goal = match (r.goal, r.met()) {
            (Some(g), Some(true)) => format!("{} met", g.text()),
            (Some(g), Some(false)) => format!("{} **missed**", g.text()),
            (Some(g), None) => format!("{} (no figure)", g.text()),
            (None, _) => String::new(),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            r.entry,
            r.figure,
            fmt_value(r.single),
            fmt_value(r.cluster),
            ratio,
            goal
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_are_paired_by_repetition_then_the_median_is_taken() {
        // Repetition 2's cluster failed: its ratio is left out, not made
        // of another repetition's single-node figure.
        let row = Row::paired(
            "fanin-q0",
            "delivered msgs/s",
            &[
                (Some(100.0), Some(60.0)),
                (Some(200.0), None),
                (Some(100.0), Some(40.0)),
                (Some(50.0), Some(50.0)),
            ],
            Some(Goal::AtLeast(0.5)),
        );
        assert_eq!(row.ratios, vec![0.6, 0.4, 1.0]);
        assert_eq!(row.ratio, Some(0.6));
        assert_eq!(row.single, Some(100.0));
        assert_eq!(row.cluster, Some(50.0));
        assert_eq!(row.met(), Some(true));
    }

    #[test]
    fn goals_either_way() {
        assert!(Goal::AtLeast(0.5).met(0.5));
        assert!(!Goal::AtLeast(0.5).met(0.49));
        assert!(Goal::AtMost(2.0).met(2.0));
        assert!(!Goal::AtMost(2.0).met(2.1));
        let none = Row::paired("x", "y", &[(Some(0.0), Some(1.0))], Some(Goal::AtMost(2.0)));
        assert_eq!((none.ratio, none.met()), (None, None));
    }

    #[test]
    fn nearest_rank_quantiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), Some(50.0));
        assert_eq!(quantile(&v, 0.99), Some(99.0));
        assert_eq!(quantile(&v, 1.0), Some(100.0));
        assert_eq!(quantile(&v, 0.0), Some(1.0));
        assert_eq!(quantile(&[3.0, 1.0, 2.0], 0.5), Some(2.0));
        assert_eq!(quantile(&[7.0], 0.99), Some(7.0));
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&[f64::NAN, 4.0], 0.5), Some(4.0));
    }

    #[test]
    fn the_table_says_which_goal_is_missed() {
        let rows = vec![
            Row::paired(
                "fanin-q1",
                "CPU-µs per delivered msg",
                &[(Some(2.0), Some(5.0))],
                Some(Goal::AtMost(2.0)),
            ),
            Row::cluster_only("conns", "connections held", Some(57_000.0)),
        ];
        let t = render(&rows);
        assert!(
            t.contains(
                "| fanin-q1 | CPU-µs per delivered msg | 2.00 | 5.00 | 2.50× | ≤ 2× **missed** |"
            ),
            "{t}"
        );
        assert!(
            t.contains("| conns | connections held | - | 57,000 | - |  |"),
            "{t}"
        );
    }
}

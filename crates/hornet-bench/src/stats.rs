//! Medians, ratios and number formatting for the comparison table.

/// Which way a figure is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Better {
    /// Higher is better (msgs/s, connections).
    Higher,
    /// Lower is better (CPU, latency, memory).
    Lower,
}

impl Better {
    /// An arrow for the table.
    pub(crate) fn arrow(self) -> &'static str {
        match self {
            Better::Higher => "↑",
            Better::Lower => "↓",
        }
    }
}

/// The median of the finite values; `None` when there are none.
pub(crate) fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Hornet / Mosquitto, when both exist and the divisor is not zero.
pub(crate) fn ratio(hornet: Option<f64>, mosquitto: Option<f64>) -> Option<f64> {
    match (hornet, mosquitto) {
        (Some(h), Some(m)) if m != 0.0 => Some(h / m),
        _ => None,
    }
}

/// True when the ratio says Hornet is better (or equal).
pub(crate) fn hornet_wins(ratio: f64, better: Better) -> bool {
    match better {
        Better::Higher => ratio >= 1.0,
        Better::Lower => ratio <= 1.0,
    }
}

/// A figure for the table: thousands separated, fewer decimals for bigger
/// numbers.
pub(crate) fn fmt_value(v: Option<f64>) -> String {
    let Some(v) = v else { return "-".to_string() };
    if v.abs() >= 1000.0 {
        let digits = format!("{:.0}", v.abs());
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        if v < 0.0 {
            out.insert(0, '-');
        }
        out
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0]), Some(3.0));
        assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[f64::NAN, 2.0]), Some(2.0));
    }

    #[test]
    fn ratios_and_winners() {
        assert_eq!(ratio(Some(3.0), Some(2.0)), Some(1.5));
        assert_eq!(ratio(Some(3.0), Some(0.0)), None);
        assert_eq!(ratio(None, Some(1.0)), None);
        assert!(hornet_wins(1.5, Better::Higher));
        assert!(!hornet_wins(1.5, Better::Lower));
        assert!(hornet_wins(0.5, Better::Lower));
    }

    #[test]
    fn formatting() {
        assert_eq!(fmt_value(None), "-");
        assert_eq!(fmt_value(Some(1_234_567.4)), "1,234,567");
        assert_eq!(fmt_value(Some(999.6)), "1000");
        assert_eq!(fmt_value(Some(12.345)), "12.3");
        assert_eq!(fmt_value(Some(1.234)), "1.23");
    }
}

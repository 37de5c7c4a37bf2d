//! Bounded-parameter transformations (the MINUIT convention).
//!
//! The minimiser works in unbounded *internal* variables `u`; each bounded parameter is mapped
//! to its *external* value `x` inside its limits (F. James, *MINUIT Reference Manual*, CERN
//! Program Library D506, section "Parameter limits"):
//!
//! * two limits `a < b`: `x = a + (b - a) / 2 * (sin u + 1)`;
//! * lower limit `a` only: `x = a - 1 + sqrt(u^2 + 1)`;
//! * upper limit `b` only: `x = b + 1 - sqrt(u^2 + 1)`;
//! * no limit: `x = u`.
//!
//! Every internal value maps to a valid external one, so the objective is never evaluated outside
//! the limits.

/// How one parameter is mapped between internal and external values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Bounds {
    Free,
    Lower(f64),
    Upper(f64),
    Both(f64, f64),
}

impl Bounds {
    pub(crate) fn new(lower: Option<f64>, upper: Option<f64>) -> Self {
        match (lower, upper) {
            (None, None) => Bounds::Free,
            (Some(a), None) => Bounds::Lower(a),
            (None, Some(b)) => Bounds::Upper(b),
            (Some(a), Some(b)) => Bounds::Both(a, b),
        }
    }

    /// External value of internal `u`.
    pub(crate) fn to_external(self, u: f64) -> f64 {
        match self {
            Bounds::Free => u,
            Bounds::Lower(a) => a - 1.0 + (u * u + 1.0).sqrt(),
            Bounds::Upper(b) => b + 1.0 - (u * u + 1.0).sqrt(),
            Bounds::Both(a, b) => (a + 0.5 * (b - a) * (u.sin() + 1.0)).clamp(a, b),
        }
    }

    /// Internal value of external `x` (clamped into the limits first).
    pub(crate) fn to_internal(self, x: f64) -> f64 {
        match self {
            Bounds::Free => x,
            Bounds::Lower(a) => {
                let t = x.max(a) - a + 1.0;
                (t * t - 1.0).max(0.0).sqrt()
            }
            Bounds::Upper(b) => {
                let t = b - x.min(b) + 1.0;
                (t * t - 1.0).max(0.0).sqrt()
            }
            Bounds::Both(a, b) => (2.0 * (x.clamp(a, b) - a) / (b - a) - 1.0).asin(),
        }
    }

    /// `dx/du` at internal `u`.
    pub(crate) fn derivative(self, u: f64) -> f64 {
        match self {
            Bounds::Free => 1.0,
            Bounds::Lower(_) => u / (u * u + 1.0).sqrt(),
            Bounds::Upper(_) => -u / (u * u + 1.0).sqrt(),
            Bounds::Both(a, b) => 0.5 * (b - a) * u.cos(),
        }
    }

    pub(crate) fn lower(self) -> f64 {
        match self {
            Bounds::Lower(a) | Bounds::Both(a, _) => a,
            _ => f64::NEG_INFINITY,
        }
    }

    pub(crate) fn upper(self) -> f64 {
        match self {
            Bounds::Upper(b) | Bounds::Both(_, b) => b,
            _ => f64::INFINITY,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_derivatives() {
        for b in [
            Bounds::Free,
            Bounds::Lower(-2.0),
            Bounds::Upper(3.0),
            Bounds::Both(-1.0, 4.0),
        ] {
            for x in [-0.5, 0.0, 0.7, 2.5] {
                let u = b.to_internal(x);
                assert!((b.to_external(u) - x).abs() < 1e-12, "{b:?} {x}");
                let h = 1e-6;
                let num = (b.to_external(u + h) - b.to_external(u - h)) / (2.0 * h);
                assert!((num - b.derivative(u)).abs() < 1e-6, "{b:?} {x}");
            }
        }
        // Any internal value maps inside the limits.
        let b = Bounds::Both(0.0, 1.0);
        for u in [-100.0, -1.0, 0.3, 7.0, 1e6] {
            let x = b.to_external(u);
            assert!((0.0..=1.0).contains(&x));
        }
        assert!(Bounds::Lower(5.0).to_external(-1e3) >= 5.0);
        assert!(Bounds::Upper(5.0).to_external(1e3) <= 5.0);
    }
}

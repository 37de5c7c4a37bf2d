//! Bin-integrated standard shapes for binned models.
//!
//! Each `add_*` function *adds* a component's expected counts to `out` (length `edges.len() - 1`),
//! integrating the normalised shape exactly over every bin, so models are built by summing
//! components and stay correct for wide bins. Yields are the expected number of events of the
//! component inside `[edges[0], edges[last]]` (the shape is normalised to the fit range).

// libm's erf (a port of musl/FreeBSD msun, error below 1 ulp). statrs 0.19.1's erf writes Boost's
// single-precision offset constants as double literals and is off by up to ~1e-11 near x = 0.7.
use libm::erf;

/// Cumulative distribution of a normal distribution with `mean` and `sigma` at `x`
/// (all in the same unit): `(1 + erf((x - mean) / (sigma sqrt 2))) / 2`.
pub fn normal_cdf(x: f64, mean: f64, sigma: f64) -> f64 {
    0.5 * (1.0 + erf((x - mean) / (sigma * std::f64::consts::SQRT_2)))
}

/// Adds a Gaussian peak of `yield_` events inside the range, centred at `mean` with width
/// `sigma` (`sigma > 0`, x unit), to the expected counts `out` of the bins with `edges`.
pub fn add_gaussian(yield_: f64, mean: f64, sigma: f64, edges: &[f64], out: &mut [f64]) {
    let (lo, hi) = (edges[0], edges[edges.len() - 1]);
    let norm = normal_cdf(hi, mean, sigma) - normal_cdf(lo, mean, sigma);
    let scale = yield_ / norm;
    let mut prev = normal_cdf(lo, mean, sigma);
    for (o, &e) in out.iter_mut().zip(&edges[1..]) {
        let c = normal_cdf(e, mean, sigma);
        *o += scale * (c - prev);
        prev = c;
    }
}

/// Adds a falling exponential `exp(-slope x)` of `yield_` events inside the range (`slope` in
/// inverse x unit; `slope = 0` is a flat distribution) to the expected counts `out`.
pub fn add_exponential(yield_: f64, slope: f64, edges: &[f64], out: &mut [f64]) {
    let (lo, hi) = (edges[0], edges[edges.len() - 1]);
    if slope.abs() * (hi - lo) < 1e-9 {
        for (o, w) in out.iter_mut().zip(edges.windows(2)) {
            *o += yield_ * (w[1] - w[0]) / (hi - lo);
        }
        return;
    }
    // Integrate exp(-slope (x - lo)) to keep the exponentials of order one.
    let prim = |x: f64| -(-slope * (x - lo)).exp_m1() / slope;
    let scale = yield_ / prim(hi);
    let mut prev = 0.0;
    for (o, &e) in out.iter_mut().zip(&edges[1..]) {
        let c = prim(e);
        *o += scale * (c - prev);
        prev = c;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_integrate_to_their_yield() {
        let edges: Vec<f64> = (0..=40).map(|i| i as f64 * 2.5).collect();
        let mut out = vec![0.0; 40];
        add_gaussian(300.0, 50.0, 7.0, &edges, &mut out);
        add_exponential(700.0, 0.04, &edges, &mut out);
        assert!((out.iter().sum::<f64>() - 1000.0).abs() < 1e-9);
        let mut flat = vec![0.0; 40];
        add_exponential(80.0, 0.0, &edges, &mut flat);
        assert!(flat.iter().all(|v| (v - 2.0).abs() < 1e-12));
        // Bin content of an exponential by hand: 700 * (e^{-0.1} - e^{-0.2}) / (1 - e^{-4}).
        let mut e = vec![0.0; 40];
        add_exponential(700.0, 0.04, &edges, &mut e);
        let want = 700.0 * ((-0.1f64).exp() - (-0.2f64).exp()) / (1.0 - (-4.0f64).exp());
        assert!((e[1] - want).abs() < 1e-9);
        // Phi(1) = 0.841 344 746 068 542 9 (Abramowitz and Stegun table 26.1, extended).
        assert!((normal_cdf(1.0, 0.0, 1.0) - 0.841_344_746_068_543).abs() < 1e-15);
    }
}

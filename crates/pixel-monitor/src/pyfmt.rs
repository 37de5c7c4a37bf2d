//! Number formatting of the original's text files, which Python wrote: `str(float)` (the
//! shortest repr), printf-style `%.4f`, `%10d` of a float, `%.4E`. Rust's fixed-precision
//! formatting rounds the exact binary value half to even, as Python's does, so `%.Nf` is
//! `format!("{:.N}")`; the others need the small conversions here.

/// Python's `repr(x)` (= `str(x)`) of a float: the shortest text that reads back as `x`, in
/// fixed notation for decimal exponents −4 to 15 (always with a `.`: `300.0`) and in scientific
/// notation otherwise (`1e+16`, `1.5e-05`); `nan`, `inf`, `-inf`.
pub fn repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    // `{:e}` gives the shortest round-trip digits: `-1.2345e-7`.
    let s = format!("{x:e}");
    let (mantissa, exp) = s.split_once('e').expect("LowerExp has an exponent");
    let exp: i32 = exp.parse().expect("integer exponent");
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if negative { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let n = digits.len() as i32;
        let body = if exp < 0 {
            format!("0.{}{}", "0".repeat((-exp - 1) as usize), digits)
        } else if exp + 1 >= n {
            format!("{}{}.0", digits, "0".repeat((exp + 1 - n) as usize))
        } else {
            let (a, b) = digits.split_at((exp + 1) as usize);
            format!("{a}.{b}")
        };
        format!("{sign}{body}")
    } else {
        let m = if digits.len() == 1 {
            digits
        } else {
            format!("{}.{}", &digits[..1], &digits[1..])
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{m}e{esign}{:02}", exp.abs())
    }
}

/// Python's `'%d' % x` for a float `x`: truncation toward zero; `None` for NaN or an infinity
/// (Python raises there).
pub fn trunc_int(x: f64) -> Option<i64> {
    if x.is_finite() {
        Some(x.trunc() as i64)
    } else {
        None
    }
}

/// Python's `'%.<prec>E' % x`: scientific notation with an upper-case `E`, a sign and at least
/// two exponent digits (`1.2345E-02`).
pub fn sci_upper(x: f64, prec: usize) -> String {
    if !x.is_finite() {
        return if x.is_nan() {
            "NAN".into()
        } else if x > 0.0 {
            "INF".into()
        } else {
            "-INF".into()
        };
    }
    let s = format!("{x:.prec$E}");
    let (m, e) = s.split_once('E').expect("UpperExp has an exponent");
    let e: i32 = e.parse().expect("integer exponent");
    let esign = if e < 0 { '-' } else { '+' };
    format!("{m}E{esign}{:02}", e.abs())
}

/// Python's `'%.<prec>f' % x` (`nan`, `inf` as Python writes them).
pub fn fixed(x: f64, prec: usize) -> String {
    if x.is_nan() {
        "nan".into()
    } else if x.is_infinite() {
        if x > 0.0 { "inf".into() } else { "-inf".into() }
    } else {
        format!("{x:.prec$}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repr_like_python() {
        // Expected strings are what CPython 3 prints for these floats.
        for (x, want) in [
            (300.0, "300.0"),
            (392.609, "392.609"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e16, "1e+16"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (123456789.125, "123456789.125"),
            (-2.5, "-2.5"),
            (1e22, "1e+22"),
            (9999999999999998.0, "9999999999999998.0"),
            (0.0, "0.0"),
            (-22.0, "-22.0"),
            (2.5e-7, "2.5e-07"),
        ] {
            assert_eq!(repr(x), want, "{x:e}");
        }
    }

    #[test]
    fn printf_like_python() {
        assert_eq!(sci_upper(0.012345, 4), "1.2345E-02");
        assert_eq!(sci_upper(12345.0, 4), "1.2345E+04");
        assert_eq!(sci_upper(0.0, 4), "0.0000E+00");
        assert_eq!(fixed(0.125, 2), "0.12");
        assert_eq!(fixed(2.675, 2), "2.67");
        assert_eq!(trunc_int(-3.7), Some(-3));
        assert_eq!(trunc_int(f64::NAN), None);
    }
}

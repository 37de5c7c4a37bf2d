//! The file formats of the crate's plots: PNG by default, SVG on request for line plots.
//!
//! Dense plots (count maps, scatters, scatter matrices) are always PNG, whatever the formats: as
//! SVG they hold one element per point and reach hundreds of MB at 10^6 events.

/// File format of a plot: hep-core's [`hep_core::plot::Format`] (PNG by default; `png`/`svg` in
/// configurations).
pub use hep_core::plot::Format as PlotFormat;

/// The default plot formats: PNG only.
pub fn default_plot_formats() -> Vec<PlotFormat> {
    vec![PlotFormat::Png]
}

/// The formats of `formats` in a fixed order (PNG first), without repeats; PNG if empty.
pub fn normalised_formats(formats: &[PlotFormat]) -> Vec<PlotFormat> {
    let mut out: Vec<PlotFormat> = [PlotFormat::Png, PlotFormat::Svg]
        .into_iter()
        .filter(|f| formats.contains(f))
        .collect();
    if out.is_empty() {
        out.push(PlotFormat::Png);
    }
    out
}

//! Property tests: the text parsers of this part (SamplingInput summary, FCL template, run_si
//! directory) never panic on arbitrary input; they return a value or a located error.

use std::path::Path;

use mu2e_ensemble::fcl::{parse_sampling_summary, render_template};
use mu2e_ensemble::run_si::RunSiDir;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn summary_parser_never_panics(body in "[ -~\\n|]{0,400}", header in proptest::bool::ANY) {
        let text = if header {
            format!("Dataset Counts fraction | Expected Weight Next\\n{body}")
        } else {
            body
        };
        let _ = parse_sampling_summary(Path::new("x.log"), &text, &["DIOTail", "Total", "run:"]);
    }

    #[test]
    fn template_never_panics(t in "[ -~\\n$]{0,200}") {
        let _ = render_template(&t, &[("a", "1".to_string()), ("run", "2".to_string())]);
    }

    #[test]
    fn run_si_reader_never_panics(livetime in "[ -~\\n]{0,20}", settings in "[0-9.e\\n -]{0,60}", names in "[ -~\\n]{0,80}") {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        std::fs::write(d.join("livetime"), livetime).unwrap();
        std::fs::write(d.join("rue"), "1e-13").unwrap();
        std::fs::write(d.join("rup"), "0").unwrap();
        std::fs::write(d.join("settings"), settings).unwrap();
        std::fs::write(d.join("filenames"), names).unwrap();
        let _ = RunSiDir::read(d, None);
    }
}

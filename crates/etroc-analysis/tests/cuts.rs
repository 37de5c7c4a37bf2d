//! Event and time cuts (spec 3): every operator, `*`/`#`, keep-NaN, every time-cut type, comment
//! rows, cutflow outputs, located errors, and the cut tasks on a run directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int8Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use etroc_analysis::cuts::{
    self, CutOptions, apply_event_cuts, apply_time_cuts, read_event_cuts, read_time_cuts,
    select_hits,
};
use etroc_analysis::ingest::{Hits, RunMetadata};
use etroc_analysis::rundir::{RunDir, names};
use etroc_analysis::store::{self, EventFilter, TableOutput};

/// Events 0..4 with boards 0, 1, 3; event 3 has no board-1 hit.
/// CAL: e0 (130, 128, 132), e1 (300, 129, 131), e2 (131, 500, 600), e3 (130, -, 130),
/// e4 (100, 100, 100). TOA = 10·event + board.
fn hit_table() -> RecordBatch {
    let rows: [(i64, u8, u16); 14] = [
        (0, 0, 130),
        (0, 1, 128),
        (0, 3, 132),
        (1, 0, 300),
        (1, 1, 129),
        (1, 3, 131),
        (2, 0, 131),
        (2, 1, 500),
        (2, 3, 600),
        (3, 0, 130),
        (3, 3, 130),
        (4, 0, 100),
        (4, 1, 100),
        (4, 3, 100),
    ];
    Hits {
        event: rows.iter().map(|r| r.0).collect(),
        data_board_id: rows.iter().map(|r| r.1).collect(),
        time_of_arrival: rows
            .iter()
            .map(|r| (10 * r.0) as u16 + u16::from(r.1))
            .collect(),
        time_over_threshold: vec![50; rows.len()],
        calibration_code: rows.iter().map(|r| r.2).collect(),
        hit_flag: vec![true; rows.len()],
        datetime: None,
        metadata: RunMetadata::None,
    }
    .to_record_batch()
}

fn cut_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn event_mask(text: &str, keep_nan: bool) -> Vec<bool> {
    let dir = tempfile::tempdir().unwrap();
    let p = cut_file(dir.path(), "cuts.csv", text);
    let cuts = read_event_cuts(&p).unwrap();
    let r = apply_event_cuts(&hit_table(), &cuts, keep_nan, Some(&p)).unwrap();
    assert_eq!(r.filter.events(), &[0, 1, 2, 3, 4]);
    r.filter.accepted().to_vec()
}

fn event_error(text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let p = cut_file(dir.path(), "cuts.csv", text);
    let e = read_event_cuts(&p)
        .and_then(|c| apply_event_cuts(&hit_table(), &c, false, Some(&p)))
        .unwrap_err()
        .to_string();
    // Errors name the file.
    assert!(e.contains("cuts.csv"), "{e}");
    e
}

const H: &str = "board_id,variable,cut_type,cut_value\n";
const T: bool = true;
const F: bool = false;

#[test]
fn each_operator_on_one_board() {
    let cases = [
        ("<", [F, F, F, F, T]),
        ("<=", [T, F, F, T, T]),
        (">", [F, T, T, F, F]),
        (">=", [T, T, T, T, F]),
        ("==", [T, F, F, T, F]),
        ("<>", [F, T, T, F, T]),
    ];
    for (op, expect) in cases {
        let text = format!("{H}0,calibration_code,{op},130\n");
        assert_eq!(event_mask(&text, false), expect, "{op}");
    }
}

#[test]
fn star_is_and_over_all_boards_hash_is_or() {
    // `*`: every board present in the data; a missing board (event 3, board 1) rejects.
    assert_eq!(
        event_mask(&format!("{H}*,calibration_code,<,200\n"), false),
        [T, F, F, F, T]
    );
    assert_eq!(
        event_mask(&format!("{H}*,calibration_code,<,200\n"), true),
        [T, F, F, T, T]
    );
    // `#`: any board.
    assert_eq!(
        event_mask(&format!("{H}#,calibration_code,>,200\n"), false),
        [F, T, T, F, F]
    );
    assert_eq!(
        event_mask(&format!("{H}#,calibration_code,>,200\n"), true),
        [F, T, T, T, F]
    );
    // One board with a missing hit.
    assert_eq!(
        event_mask(&format!("{H}1,calibration_code,<,200\n"), false),
        [T, T, F, F, T]
    );
    assert_eq!(
        event_mask(&format!("{H}1,calibration_code,<,200\n"), true),
        [T, T, F, T, T]
    );
}

#[test]
fn rows_are_anded_in_order_with_cutflow_steps() {
    let dir = tempfile::tempdir().unwrap();
    let p = cut_file(
        dir.path(),
        "cuts.csv",
        "board_id,variable,cut_type,cut_value,output\n\
         *,calibration_code,<,200,clean\n\
         0,time_of_arrival,>=,10,\n\
         3,time_of_arrival,<,40,late\n",
    );
    let cuts = read_event_cuts(&p).unwrap();
    assert_eq!(cuts[0].output.as_deref(), Some("clean"));
    assert_eq!(cuts[1].output, None);
    assert_eq!(cuts[2].line, 4);
    let r = apply_event_cuts(&hit_table(), &cuts, false, Some(&p)).unwrap();
    // clean: [T,F,F,F,T]; toa0 >= 10: [F,T,T,T,T]; toa3 < 40: [T,T,T,F,F] (e3: 33 < 40 T; e4: 43)
    assert_eq!(r.steps[0].filter.accepted(), &[T, F, F, F, T]);
    assert_eq!(r.steps[1].filter.accepted(), &[F, F, F, F, T]);
    assert_eq!(r.steps[2].filter.accepted(), &[F, F, F, F, F]);
    assert_eq!(r.steps[1].passed_alone, 4);
    assert_eq!(r.steps[2].passed_alone, 4);
    assert_eq!(r.filter.n_accepted(), 0);
}

#[test]
fn event_cut_errors_are_located() {
    let e = event_error(&format!("{H}0,calibration_code,<,200\n0,cal,<,200\n"));
    assert!(
        e.contains("cuts.csv:3: expected a variable of the table (")
            && e.contains("found unknown variable 'cal'"),
        "{e}"
    );
    let e = event_error(&format!("{H}0,calibration_code,=<,200\n"));
    assert!(
        e.contains("cuts.csv:2: expected cut_type one of <, <=, >, >=, ==, <>, found '=<'"),
        "{e}"
    );
    let e = event_error(&format!("{H}2,calibration_code,<,200\n"));
    assert!(
        e.contains("cuts.csv:2: expected a board present in the data (0, 1, 3), found board 2"),
        "{e}"
    );
    let e = event_error(&format!("{H}x,calibration_code,<,200\n"));
    assert!(
        e.contains("cuts.csv:2: expected board_id as a board number"),
        "{e}"
    );
    let e = event_error(&format!("{H}0,calibration_code,<,abc\n"));
    assert!(
        e.contains("cuts.csv:2: expected a number in column 'cut_value', found 'abc'"),
        "{e}"
    );
    let e = event_error("board_id,variable,cut_type\n0,calibration_code,<\n");
    assert!(
        e.contains(
            "cuts.csv:1: expected a header with the columns board_id, variable, cut_type, cut_value"
        ) && e.contains("no column 'cut_value'"),
        "{e}"
    );
    let e = event_error("board_id,variable,cut_type,cut_value,comment\n0,calibration_code,<,1,x\n");
    assert!(
        e.contains("cuts.csv:1: expected only the columns")
            && e.contains("unknown column 'comment'"),
        "{e}"
    );
    let e = read_event_cuts(Path::new("/nonexistent/cuts.csv"))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("/nonexistent/cuts.csv: missing event cut file"),
        "{e}"
    );
}

// ---------------------------------------------------------------------------------------------
// Time cuts
// ---------------------------------------------------------------------------------------------

/// The ns table: per event, TOA of board 0 = x, of board 1 = y (board 1 missing in event 4),
/// board 3 = 0; TOT = 1 everywhere except event 2 board 3 (−1).
fn ns_table(points: &[(f64, Option<f64>)]) -> RecordBatch {
    let (mut ev, mut b, mut toa, mut tot) = (vec![], vec![], vec![], vec![]);
    for (e, &(x, y)) in points.iter().enumerate() {
        let e = e as i64;
        for (board, t) in [(0i8, Some(x)), (1, y), (3, Some(0.0))] {
            if let Some(t) = t {
                ev.push(e);
                b.push(board);
                toa.push(t);
                tot.push(if e == 2 && board == 3 { -1.0 } else { 1.0 });
            }
        }
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("data_board_id", DataType::Int8, false),
        Field::new("event", DataType::Int64, false),
        Field::new("time_of_arrival_ns", DataType::Float64, false),
        Field::new("time_over_threshold_ns", DataType::Float64, false),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int8Array::from(b)) as ArrayRef,
            Arc::new(Int64Array::from(ev)),
            Arc::new(Float64Array::from(toa)),
            Arc::new(Float64Array::from(tot)),
        ],
    )
    .unwrap()
}

/// (x, y) of events 0..5; event 4 has no y, event 5 sits in the rounded-off tip of the corner.
const POINTS: [(f64, Option<f64>); 6] = [
    (1.0, Some(1.0)),
    (2.0, Some(5.0)),
    (5.0, Some(2.0)),
    (4.0, Some(4.0)),
    (3.0, None),
    (4.4, Some(4.4)),
];

const TH: &str =
    "cut_type,cut_direction,variable_1,board_id_1,variable_2,board_id_2,value_1,value_2,value_3\n";

fn time_mask_on(points: &[(f64, Option<f64>)], row: &str, keep_nan: bool) -> Vec<bool> {
    let dir = tempfile::tempdir().unwrap();
    let p = cut_file(dir.path(), "time_cuts.csv", &format!("{TH}{row}\n"));
    let cuts = read_time_cuts(&p).unwrap();
    apply_time_cuts(&ns_table(points), &cuts, keep_nan, Some(&p))
        .unwrap()
        .filter
        .accepted()
        .to_vec()
}

fn time_mask(row: &str, keep_nan: bool) -> Vec<bool> {
    time_mask_on(&POINTS, row, keep_nan)
}

const XY: &str = "time_of_arrival_ns,0,time_of_arrival_ns,1";

#[test]
fn simple_time_cuts() {
    assert_eq!(
        time_mask("simple,>,time_over_threshold_ns,*,,,0,,", false),
        [T, T, F, T, F, T]
    );
    assert_eq!(
        time_mask("simple,>,time_over_threshold_ns,*,,,0,,", true),
        [T, T, F, T, T, T]
    );
    assert_eq!(
        time_mask("simple,<,time_over_threshold_ns,#,,,0,,", false),
        [F, F, T, F, F, F]
    );
    assert_eq!(
        time_mask("simple,>=,time_of_arrival_ns,0,,,4,,", false),
        [F, F, T, T, F, T]
    );
}

#[test]
fn diagonal_and_distance_cuts() {
    assert_eq!(
        time_mask(&format!("diagonal,<,{XY},6,,"), false),
        [T, F, F, F, F, F]
    );
    assert_eq!(
        time_mask(&format!("diagonal,<,{XY},6,,"), true),
        [T, F, F, F, T, F]
    );
    assert_eq!(
        time_mask(&format!("diag-dist,<,{XY},1,,"), false),
        [T, F, F, T, F, T]
    );
    // |x − y|/√2 for event 1 is 3/√2 = 2.1213.
    assert_eq!(
        time_mask(&format!("diag-dist,>,{XY},2.12,,"), false),
        [F, T, T, F, F, F]
    );
    assert_eq!(
        time_mask(&format!("diag-dist,>,{XY},2.122,,"), false),
        [F, F, F, F, F, F]
    );
}

#[test]
fn fit_dist_uses_the_ols_line_of_all_events() {
    // Points (1,1), (2,5), (5,2), (4,4): OLS y = 2.7 + 0.1 x; distances 1.791, 2.090, 1.194,
    // 0.896 (event 4 has no y).
    let pts = &POINTS[..5];
    assert_eq!(
        time_mask_on(pts, &format!("fit-dist,<,{XY},1.5,,"), false),
        [F, F, T, T, F]
    );
    assert_eq!(
        time_mask_on(pts, &format!("fit-dist,<,{XY},0.9,,"), false),
        [F, F, F, T, F]
    );
    assert_eq!(
        time_mask_on(pts, &format!("fit-dist,<,{XY},0.895,,"), false),
        [F, F, F, F, F]
    );
    assert_eq!(
        time_mask_on(pts, &format!("fit-dist,>=,{XY},2,,"), false),
        [F, T, F, F, F]
    );
}

#[test]
fn circle_and_corner_cuts() {
    assert_eq!(
        time_mask(&format!("circle,inside,{XY},4,4,1.5"), false),
        [F, F, F, T, F, T]
    );
    assert_eq!(
        time_mask(&format!("circle,outside,{XY},4,4,1.5"), false),
        [T, T, T, F, F, F]
    );
    assert_eq!(
        time_mask(&format!("circle,outside,{XY},4,4,1.5"), true),
        [T, T, T, F, T, F]
    );
    // Upper-right corner at (4.5, 4.5), radius 1: event 5 (4.4, 4.4) is in the rounded-off tip.
    assert_eq!(
        time_mask(&format!("corner-ur,inside,{XY},4.5,4.5,1"), false),
        [T, F, F, T, F, F]
    );
    assert_eq!(
        time_mask(&format!("corner-ur,outside,{XY},4.5,4.5,1"), false),
        [F, T, T, F, F, T]
    );
    assert_eq!(
        time_mask(&format!("corner-ul,inside,{XY},1.5,4.5,1"), false),
        [F, F, T, T, F, T]
    );
    assert_eq!(
        time_mask(&format!("corner-dr,inside,{XY},4.5,1.5,1"), false),
        [F, T, F, T, F, T]
    );
    assert_eq!(
        time_mask(&format!("corner-dl,inside,{XY},1.5,1.5,1"), false),
        [F, T, T, T, F, T]
    );
    assert_eq!(
        time_mask(&format!("corner-dl,outside,{XY},1.5,1.5,1"), false),
        [T, F, F, F, F, F]
    );
}

#[test]
fn one_d_distance_cut() {
    // |x − 3| for events 0..5: 2, 1, 2, 1, 0, 1.4; event 4 has no y, which 1d-dist ignores.
    assert_eq!(
        time_mask("1d-dist,inside,time_of_arrival_ns,0,,,3,1.5,", false),
        [F, T, F, T, T, T]
    );
    assert_eq!(
        time_mask("1d-dist,outside,time_of_arrival_ns,0,,,3,1.5,", false),
        [T, F, T, F, F, F]
    );
}

#[test]
fn comment_rows_star_rows_and_cumulative_outputs() {
    let dir = tempfile::tempdir().unwrap();
    // A `*` row followed by a circle row (the pandas dtype trap of the original), a comment row
    // in between that keeps its index.
    let p = cut_file(
        dir.path(),
        "time_cuts.csv",
        &format!(
            "cut_type,cut_direction,variable_1,board_id_1,variable_2,board_id_2,value_1,value_2,value_3,output\n\
             simple,>,time_over_threshold_ns,*,,,0,,,positive\n\
             #circle,inside,{XY},0,0,0.1,\n\
             circle,outside,{XY},4,4,1.5,far\n"
        ),
    );
    let cuts = read_time_cuts(&p).unwrap();
    assert_eq!(cuts.len(), 2);
    assert_eq!(cuts[1].index, 2);
    let r = apply_time_cuts(&ns_table(&POINTS), &cuts, false, Some(&p)).unwrap();
    assert_eq!(r.steps[0].output.as_deref(), Some("positive"));
    assert_eq!(r.steps[0].filter.accepted(), &[T, T, F, T, F, T]);
    assert_eq!(r.steps[1].index, 2);
    assert_eq!(r.steps[1].filter.accepted(), &[T, T, F, F, F, F]);
}

#[test]
fn time_cut_errors_are_located() {
    let dir = tempfile::tempdir().unwrap();
    let err = |row: &str| {
        let p = cut_file(dir.path(), "time_cuts.csv", &format!("{TH}{row}\n"));
        read_time_cuts(&p)
            .and_then(|c| apply_time_cuts(&ns_table(&POINTS), &c, false, Some(&p)))
            .unwrap_err()
            .to_string()
    };
    let e = err(&format!("square,inside,{XY},1,1,1"));
    assert!(
        e.contains("time_cuts.csv:2: expected cut_type one of simple") && e.contains("'square'"),
        "{e}"
    );
    let e = err(&format!("diagonal,inside,{XY},1,,"));
    assert!(e.contains("time_cuts.csv:2: expected cut_direction one of <, <=, >, >=, ==, <> for a diagonal cut, found 'inside'"), "{e}");
    let e = err(&format!("circle,<,{XY},1,1,1"));
    assert!(
        e.contains("expected cut_direction 'inside' or 'outside' for a circle cut, found '<'"),
        "{e}"
    );
    let e = err("circle,inside,time_of_arrival_ns,*,time_of_arrival_ns,1,1,1,1");
    assert!(
        e.contains("expected a board number in board_id_1 for a circle cut"),
        "{e}"
    );
    let e = err("circle,inside,time_of_arrival_ns,0,time_of_arrival_ns,1,1,1,");
    assert!(
        e.contains("expected a number in column 'value_3', found ''"),
        "{e}"
    );
    let e = err("circle,inside,time_of_arrival_ns,0,time_of_arrival_ns,2,1,1,1");
    assert!(
        e.contains(
            "time_cuts.csv:2: expected a board present in the data (0, 1, 3), found board 2"
        ),
        "{e}"
    );
    let e = err("simple,<,toa_ns,0,,,1,,");
    assert!(
        e.contains("time_cuts.csv:2: expected a variable of the table")
            && e.contains("unknown variable 'toa_ns'"),
        "{e}"
    );
    let e = err("fit-dist,<,time_of_arrival_ns,3,time_of_arrival_ns,3,1,,");
    assert!(e.contains("no line can be fitted"), "{e}");
    let e = read_time_cuts(Path::new("/nonexistent/time_cuts.csv"))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("/nonexistent/time_cuts.csv: missing time cut file"),
        "{e}"
    );
}

#[test]
fn filters_join_onto_hits() {
    let ev = EventFilter::new(vec![0, 1, 2], vec![T, T, F]).unwrap();
    let tf = EventFilter::new(vec![0, 1, 2], vec![F, T, T]).unwrap();
    let s = select_hits(&[0, 0, 1, 2, 5], &ev, Some(&tf));
    assert_eq!(s.event_filter, [T, T, T, F, F]);
    assert_eq!(s.time_filter.unwrap(), [F, F, T, T, F]);
    assert_eq!(s.accepted, [F, F, T, F, F]);
    let s = select_hits(&[0, 2], &ev, None);
    assert_eq!(s.accepted, [T, F]);
}

// ---------------------------------------------------------------------------------------------
// The tasks
// ---------------------------------------------------------------------------------------------

fn ingested_run(dir: &Path) -> RunDir {
    let run = RunDir::create(dir.join("run")).unwrap();
    let batch = hit_table();
    run.run_task(names::PROCESS_TXT, &[], true, |t| {
        let out = store::write_tables(
            &run.data_dir(),
            Some(store::DATA_SQLITE),
            &[TableOutput {
                table: store::HITS_TABLE,
                batch: &batch,
                indexes: &[],
            }],
        )?;
        t.add_outputs(out);
        Ok(())
    })
    .unwrap();
    run
}

#[test]
fn event_cut_task_writes_the_original_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let run = ingested_run(tmp.path());
    // Missing cuts.csv: a clear error, recorded in the task report.
    let e = etroc_analysis::cut_tasks::run_event_cuts(&run, &CutOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("cuts.csv: missing event cut file"), "{e}");
    assert!(!run.task_completed(names::APPLY_EVENT_CUTS));
    std::fs::write(
        run.path().join("cuts.csv"),
        "board_id,variable,cut_type,cut_value,output\n*,calibration_code,<,200,clean\n",
    )
    .unwrap();
    let rep = etroc_analysis::cut_tasks::run_event_cuts(&run, &CutOptions::default()).unwrap();
    assert_eq!((rep.events, rep.accepted), (5, 2));
    assert!(run.task_completed(names::APPLY_EVENT_CUTS));
    let task = run.task_dir(names::APPLY_EVENT_CUTS);
    for f in [
        task.join("event_filter.fd"),
        run.path().join("event_filter.fd"),
        task.join("CutflowPlots/0-clean/event_filter.fd"),
    ] {
        assert_eq!(
            store::read_filter(&f).unwrap().accepted(),
            &[T, F, F, F, T],
            "{}",
            f.display()
        );
    }
    assert_eq!(
        std::fs::read_to_string(task.join("cuts.backup.csv")).unwrap(),
        std::fs::read_to_string(run.path().join("cuts.csv")).unwrap()
    );
    let cutflow = std::fs::read_to_string(task.join("cutflow.csv")).unwrap();
    assert_eq!(
        cutflow,
        "index,cut,output,passed_alone,accepted_cumulative,events\n\
         0,calibration_code[*] < 200,clean,2,2,5\n"
    );
}

#[test]
fn time_cut_task_needs_the_ns_task_and_writes_steps() {
    let tmp = tempfile::tempdir().unwrap();
    let run = ingested_run(tmp.path());
    std::fs::write(
        run.path().join("time_cuts.csv"),
        format!("{TH}circle,outside,{XY},4,4,1.5\n").replace("value_3\n", "value_3,output\n"),
    )
    .unwrap();
    let e = etroc_analysis::cut_tasks::run_time_cuts(&run, &CutOptions::default()).unwrap_err();
    assert!(
        e.to_string().contains("needs task 'calculate_times_in_ns'"),
        "{e}"
    );
    // Stand in for the ns task with the bookkeeping API.
    let ns = ns_table(&POINTS);
    run.run_task(
        names::CALCULATE_TIMES_IN_NS,
        &[names::APPLY_EVENT_CUTS],
        true,
        |t| {
            let out = store::write_tables(
                t.dir(),
                None,
                &[TableOutput {
                    table: store::HITS_TABLE,
                    batch: &ns,
                    indexes: &[],
                }],
            )?;
            t.add_outputs(out);
            Ok(())
        },
    )
    .unwrap_err(); // gated: no event cuts yet
    std::fs::write(
        run.path().join("cuts.csv"),
        format!("{H}0,calibration_code,<,1000\n"),
    )
    .unwrap();
    etroc_analysis::cut_tasks::run_event_cuts(&run, &CutOptions::default()).unwrap();
    run.run_task(
        names::CALCULATE_TIMES_IN_NS,
        &[names::APPLY_EVENT_CUTS],
        true,
        |t| {
            let out = store::write_tables(
                t.dir(),
                None,
                &[TableOutput {
                    table: store::HITS_TABLE,
                    batch: &ns,
                    indexes: &[],
                }],
            )?;
            t.add_outputs(out);
            Ok(())
        },
    )
    .unwrap();
    std::fs::write(
        run.path().join("time_cuts.csv"),
        format!(
            "cut_type,cut_direction,variable_1,board_id_1,variable_2,board_id_2,value_1,value_2,value_3,output\n\
             simple,>,time_over_threshold_ns,*,,,0,,,positive\n\
             # a comment row,,,,,,,,,\n\
             circle,outside,{XY},4,4,1.5,far\n"
        ),
    )
    .unwrap();
    let rep = etroc_analysis::cut_tasks::run_time_cuts(&run, &CutOptions::default()).unwrap();
    assert_eq!(rep.accepted, 2);
    let steps = cuts::time_cut_steps(&run).unwrap();
    let got: Vec<(usize, &str)> = steps.iter().map(|s| (s.index, s.name.as_str())).collect();
    assert_eq!(got, [(0, "positive"), (2, "far")]);
    assert_eq!(
        store::read_filter(&steps[1].filter_path)
            .unwrap()
            .accepted(),
        &[T, T, F, F, F, F]
    );
    let (ev, tf) = cuts::read_run_filters(&run, true).unwrap();
    assert_eq!(ev.n_accepted(), 5);
    assert_eq!(tf.unwrap().accepted(), &[T, T, F, F, F, F]);
}

/// Reliability defect 1 (path traversal): the `output` column names a directory under
/// `CutflowPlots/`, so anything but a single safe path component is refused with the line, and
/// nothing is written outside (or inside) the run directory.
#[test]
fn path_traversal_in_cut_output_names_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let run = ingested_run(tmp.path());
    for bad in [
        "../../../../../x",
        "/tmp/absolute",
        "a/b",
        "..",
        ".hidden",
        "na\\me",
        "sp ace",
        &"x".repeat(101),
    ] {
        std::fs::write(
            run.path().join("cuts.csv"),
            format!(
                "board_id,variable,cut_type,cut_value,output\n*,calibration_code,<,200,{bad}\n"
            ),
        )
        .unwrap();
        let e = etroc_analysis::cut_tasks::run_event_cuts(&run, &CutOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("cuts.csv:2: expected an output name") && e.contains(bad.trim()),
            "{bad}: {e}"
        );
        assert!(!run.task_completed(names::APPLY_EVENT_CUTS));
        assert!(!run.path().join("event_filter.fd").exists());

        let p = cut_file(
            tmp.path(),
            "time_cuts.csv",
            &format!(
                "{}simple,>,time_over_threshold_ns,*,,,0,,,{bad}\n",
                TH.replace("value_3\n", "value_3,output\n")
            ),
        );
        let e = read_time_cuts(&p).unwrap_err().to_string();
        assert!(
            e.contains("time_cuts.csv:2: expected an output name"),
            "{bad}: {e}"
        );
    }
    // Nothing escaped the run directory.
    assert!(!tmp.path().join("x").exists());
    let names_ok = ["clean", "toa_cut-1", "v1.2+x"];
    for ok in names_ok {
        let p = cut_file(
            tmp.path(),
            "cuts.csv",
            &format!("{H}*,calibration_code,<,200,{ok}\n")
                .replace("cut_value\n", "cut_value,output\n"),
        );
        assert_eq!(read_event_cuts(&p).unwrap()[0].output.as_deref(), Some(ok));
    }
}

/// Reliability defect 6 (another run's filter accepted): filters record the table they were
/// computed from and its SHA-256; a filter copied from another run, or left from before a
/// re-ingest, is refused by every reader of the run's filters.
#[test]
fn filter_of_another_run_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let a = ingested_run(&tmp.path().join("a"));
    std::fs::write(
        a.path().join("cuts.csv"),
        "board_id,variable,cut_type,cut_value\n*,calibration_code,<,200\n",
    )
    .unwrap();
    etroc_analysis::cut_tasks::run_event_cuts(&a, &CutOptions::default()).unwrap();
    // Its own filter reads back, with its source.
    let (ev, _) = cuts::read_run_filters(&a, false).unwrap();
    assert_eq!(ev.accepted(), &[T, F, F, F, T]);
    let (_, src) = store::read_filter_with_source(&a.path().join("event_filter.fd")).unwrap();
    assert_eq!(src.unwrap().relative_path, "data/etroc1_data.parquet");

    // Run b holds other hits (events 0..2 only).
    let b = RunDir::create(tmp.path().join("b").join("run")).unwrap();
    let batch = hit_table().slice(0, 6);
    b.run_task(names::PROCESS_TXT, &[], true, |t| {
        let out = store::write_tables(
            &b.data_dir(),
            None,
            &[TableOutput {
                table: store::HITS_TABLE,
                batch: &batch,
                indexes: &[],
            }],
        )?;
        t.add_outputs(out);
        Ok(())
    })
    .unwrap();
    std::fs::copy(
        a.path().join("event_filter.fd"),
        b.path().join("event_filter.fd"),
    )
    .unwrap();
    let e = cuts::read_run_filters(&b, false).unwrap_err().to_string();
    assert!(
        e.contains("event_filter.fd: this filter was computed from data/etroc1_data.parquet")
            && e.contains("has changed"),
        "{e}"
    );
    // A filter of the original scripts (no source recorded) is read as it is.
    store::write_filter(&b.path().join("event_filter.fd"), &ev).unwrap();
    cuts::read_run_filters(&b, false).unwrap();
}

/// Reliability defect 10: a cut file with a byte that is not UTF-8 is a located error.
#[test]
fn non_utf8_cut_file_is_located() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cuts.csv");
    std::fs::write(
        &p,
        b"board_id,variable,cut_type,cut_value\n*,calibration_code,<,200\n*,cal\xffcode,<,2\n",
    )
    .unwrap();
    let e = read_event_cuts(&p).unwrap_err().to_string();
    assert!(e.contains("cuts.csv:3"), "{e}");
}

/// Cuts built in memory (no file) apply the same and label their errors `<cuts>:line:`.
#[test]
fn cuts_without_a_source_file() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{H}*,calibration_code,>=,120\n");
    let p = cut_file(dir.path(), "cuts.csv", &text);
    let cuts = read_event_cuts(&p).unwrap();
    let with = apply_event_cuts(&hit_table(), &cuts, false, Some(&p)).unwrap();
    let without = apply_event_cuts(&hit_table(), &cuts, false, None).unwrap();
    assert_eq!(with.filter.accepted(), without.filter.accepted());
    let p = cut_file(
        dir.path(),
        "bad.csv",
        &format!("{H}*,no_such_variable,>=,1\n"),
    );
    let cuts = read_event_cuts(&p).unwrap();
    let e = apply_event_cuts(&hit_table(), &cuts, false, None)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("<cuts>:2:"), "{e}");
}

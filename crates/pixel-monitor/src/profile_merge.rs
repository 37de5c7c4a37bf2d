//! Merging profile fragments (`merge_profiles.py` of PixelMonitoring and of jroloff's fork).
//!
//! The original produced a year's profile in fragments (days of database queries each) and
//! stitched them together. Fragments overlap: each starts 15 fills early, because the first fill
//! of a fragment has no interfill rows.
//!
//! # Order
//!
//! Fragments are taken by their first timestamp, then by file name (the original took them in
//! `os.listdir` order, which is unspecified; with the `merge_name_order` switch they are taken
//! by file name, as jroloff's fork does). The header is the first fragment's.
//!
//! # Upstream method ("later fragment wins")
//!
//! With M the rows merged so far and P the next fragment's rows (timestamps compared as
//! integers): if M ends before P starts, M + P; if P ends before M starts, P + M; otherwise P
//! replaces the rows of M from the first at or after P's first timestamp to the last at or before
//! P's last timestamp.
//!
//! # Gap-filling method (jroloff)
//!
//! Rows with a negative duration are dropped; the overlap rule keeps M's rows after P's last
//! timestamp only if strictly later; on writing, a row with the timestamp of the row before it is
//! skipped, a gap before a row (its start later than the previous timestamp) gets a filler row
//! `fill, start, gap, 271.15 K, 0, −999 (, 0 bunches)`, and a row that overlaps the previous one is
//! shortened to end where it did but start at the previous timestamp. The result is a timeline
//! without gaps or overlaps, which the Hamburg integration (which uses only durations) needs.
//!
//! Every row is re-formatted in the profile layout after conversion to floats; the number of
//! columns (6, or 7 with bunches) is the fragments'. jroloff's script could not re-format
//! six-column fragments; here both widths work.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::profile::{format_row, read_profile_text};

/// The merge rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MergeMethod {
    /// The upstream rule: the later fragment wins over its span.
    #[default]
    Upstream,
    /// jroloff's rule with fillers and no overlaps.
    GapFilling,
}

/// One fragment: its file name and content.
#[derive(Debug, Clone, PartialEq)]
pub struct Fragment {
    /// File name (for ordering and messages).
    pub name: String,
    /// Header line.
    pub header: String,
    /// Rows as tokens.
    pub rows: Vec<Vec<String>>,
}

fn ts(row: &[String]) -> i64 {
    row[1].parse().expect("checked integer timestamp")
}

fn dur(row: &[String]) -> i64 {
    row[2].parse().expect("checked integer duration")
}

/// Reads every regular file of `dir` as a fragment (see [`read_profile_text`]).
///
/// # Errors
/// I/O errors and the located parse errors of [`read_profile_text`]; [`Error::Data`] for a
/// directory without files.
pub fn read_fragments(dir: &Path) -> Result<Vec<Fragment>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let e = e.map_err(|e| Error::io(dir, e))?;
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if !p.is_file() || name.ends_with(".manifest.json") || name.starts_with('.') {
            continue;
        }
        let (header, rows) = read_profile_text(&p)?;
        out.push(Fragment { name, header, rows });
    }
    if out.is_empty() {
        return Err(Error::Data(format!(
            "{}: no profile fragments",
            dir.display()
        )));
    }
    Ok(out)
}

/// Orders fragments: by first timestamp then name, or by name only.
pub fn order_fragments(mut f: Vec<Fragment>, name_order: bool) -> Vec<Fragment> {
    if name_order {
        f.sort_by(|a, b| a.name.cmp(&b.name));
    } else {
        f.sort_by(|a, b| {
            let fa = a.rows.first().map_or(i64::MAX, |r| ts(r));
            let fb = b.rows.first().map_or(i64::MAX, |r| ts(r));
            fa.cmp(&fb).then_with(|| a.name.cmp(&b.name))
        });
    }
    f
}

fn insert(merged: Vec<Vec<String>>, p: Vec<Vec<String>>, strict_end: bool) -> Vec<Vec<String>> {
    if merged.is_empty() {
        return p;
    }
    if p.is_empty() {
        return merged;
    }
    let (m_first, m_last) = (ts(&merged[0]), ts(&merged[merged.len() - 1]));
    let (p_first, p_last) = (ts(&p[0]), ts(&p[p.len() - 1]));
    if m_last < p_first {
        let mut m = merged;
        m.extend(p);
        return m;
    }
    if m_first > p_last {
        let mut out = p;
        out.extend(merged);
        return out;
    }
    let idx1 = if p_first < m_first {
        0
    } else {
        merged
            .iter()
            .position(|r| ts(r) >= p_first)
            .unwrap_or(merged.len() - 1)
    };
    let take_all = if strict_end {
        p_last > m_last
    } else {
        p_last >= m_last
    };
    let idx2 = if take_all {
        merged.len()
    } else {
        // The original's loop falls through to the last index when no row is later.
        merged
            .iter()
            .position(|r| ts(r) > p_last)
            .unwrap_or(merged.len() - 1)
    };
    let mut out: Vec<Vec<String>> = merged[..idx1].to_vec();
    out.extend(p);
    out.extend_from_slice(&merged[idx2..]);
    out
}

fn floats(row: &[String]) -> Vec<f64> {
    row.iter()
        .map(|t| t.parse::<f64>().expect("checked number"))
        .collect()
}

/// Merges fragments (already ordered) and returns the text of the merged profile.
///
/// # Errors
/// [`Error::Data`] for fragments of different column counts or no fragment.
pub fn merge(fragments: &[Fragment], method: MergeMethod) -> Result<String> {
    let first = fragments
        .first()
        .ok_or_else(|| Error::Data("no profile fragments to merge".into()))?;
    let width = fragments.iter().find_map(|f| f.rows.first().map(Vec::len));
    if let Some(w) = width
        && let Some(bad) = fragments
            .iter()
            .find(|f| f.rows.first().is_some_and(|r| r.len() != w))
    {
        return Err(Error::Data(format!(
            "fragment {} has {} columns, the others {w}",
            bad.name,
            bad.rows[0].len()
        )));
    }
    let gap = method == MergeMethod::GapFilling;
    let prepare = |rows: &[Vec<String>]| -> Vec<Vec<String>> {
        rows.iter()
            .filter(|r| !gap || dur(r) >= 0)
            .cloned()
            .collect()
    };
    let mut merged = prepare(&first.rows);
    for f in &fragments[1..] {
        merged = insert(merged, prepare(&f.rows), gap);
    }
    let mut text = first.header.clone();
    text.push('\n');
    if !gap {
        for r in &merged {
            text.push_str(&format_row(&floats(r)));
            text.push('\n');
        }
        return Ok(text);
    }
    for i in 0..merged.len() {
        let mut line = floats(&merged[i]);
        if i > 0 {
            let (t, d, tp) = (ts(&merged[i]), dur(&merged[i]), ts(&merged[i - 1]));
            if t == tp {
                continue;
            }
            if t - d > tp {
                let mut filler = vec![
                    merged[i][0]
                        .parse::<f64>()
                        .map(f64::trunc)
                        .expect("checked number"),
                    (t - d) as f64,
                    (t - tp - d) as f64,
                    271.15,
                    0.0,
                    -999.0,
                ];
                if line.len() == 7 {
                    filler.push(0.0);
                }
                text.push_str(&format_row(&filler));
                text.push('\n');
            }
            if t - d < tp {
                line[2] = (t - tp) as f64;
            }
        }
        text.push_str(&format_row(&line));
        text.push('\n');
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag(name: &str, rows: &[(i64, i64, i64)]) -> Fragment {
        Fragment {
            name: name.into(),
            header: "H".into(),
            rows: rows
                .iter()
                .map(|&(f, t, d)| {
                    vec![
                        f.to_string(),
                        t.to_string(),
                        d.to_string(),
                        "250.00".into(),
                        "0".into(),
                        "-999.00".into(),
                    ]
                })
                .collect(),
        }
    }

    fn stamps(text: &str) -> Vec<(i64, i64)> {
        text.lines()
            .skip(1)
            .map(|l| {
                let t: Vec<&str> = l.split_whitespace().collect();
                (t[1].parse().unwrap(), t[2].parse().unwrap())
            })
            .collect()
    }

    #[test]
    fn later_fragment_wins() {
        let a = frag(
            "a",
            &[(1, 100, 100), (1, 200, 100), (1, 300, 100), (1, 400, 100)],
        );
        let b = frag("b", &[(2, 200, 100), (2, 300, 100)]);
        let t = merge(&[a.clone(), b.clone()], MergeMethod::Upstream).unwrap();
        let fills: Vec<&str> = t
            .lines()
            .skip(1)
            .map(|l| l.split('\t').next().unwrap())
            .collect();
        assert_eq!(fills, vec!["1", "2", "2", "1"]);
        // Disjoint: concatenated in time order either way.
        let c = frag("c", &[(3, 500, 100)]);
        let t = merge(&[c.clone(), a.clone()], MergeMethod::Upstream).unwrap();
        assert_eq!(
            stamps(&t).iter().map(|x| x.0).collect::<Vec<_>>(),
            vec![100, 200, 300, 400, 500]
        );
        // Ordering by first timestamp puts `a` first whatever the names.
        let ordered = order_fragments(vec![c, b, a], false);
        assert_eq!(
            ordered.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
            vec!["a", "b", "c"]
        );
    }

    #[test]
    fn gap_filling() {
        // A gap 400..450 and an overlap (row at 600 claims 120 s back to 480, previous ends 500).
        let a = frag(
            "a",
            &[(1, 100, 100), (1, 200, 100), (1, 300, 100), (1, 400, 100)],
        );
        let b = frag(
            "b",
            &[(2, 550, 100), (2, 600, 100), (2, 600, 100), (2, 700, -5)],
        );
        let t = merge(&[a, b], MergeMethod::GapFilling).unwrap();
        assert_eq!(
            stamps(&t),
            vec![
                (100, 100),
                (200, 100),
                (300, 100),
                (400, 100),
                (450, 50),
                (550, 100),
                (600, 50)
            ]
        );
        assert!(
            t.contains("2\t450\t50\t\t271.15\t\t         0\t\t-999.00"),
            "{t}"
        );
    }
}

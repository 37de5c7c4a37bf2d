//! The modules of every library crate import each other in one direction only: no cycle of
//! `crate::<module>` references between the top-level modules of a crate (test code and comments
//! excluded). A cycle fails with the modules involved.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The Rust files of a top-level module: `src/<m>.rs` and everything under `src/<m>/`.
fn files_of(src: &Path) -> BTreeMap<String, Vec<PathBuf>> {
    let mut out: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for e in std::fs::read_dir(src).unwrap() {
        let p = e.unwrap().path();
        let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
        if p.is_dir() {
            let mut stack = vec![p.clone()];
            while let Some(d) = stack.pop() {
                for f in std::fs::read_dir(&d).unwrap() {
                    let f = f.unwrap().path();
                    if f.is_dir() {
                        stack.push(f);
                    } else if f.extension().is_some_and(|x| x == "rs") {
                        out.entry(stem.clone()).or_default().push(f);
                    }
                }
            }
        } else if p.extension().is_some_and(|x| x == "rs") && stem != "lib" && stem != "main" {
            out.entry(stem).or_default().push(p);
        }
    }
    out
}

/// The modules named as `crate::<name>` in the non-test, non-comment code of `text`.
fn references(text: &str) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or("");
    let mut out = BTreeSet::new();
    for line in code.lines() {
        let line = line.split("//").next().unwrap_or("");
        let mut rest = line;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

/// A cycle of the graph, if any (depth-first search with colours).
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        v: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(v.to_string(), 1);
        path.push(v.to_string());
        for w in graph.get(v).into_iter().flatten() {
            match state.get(w.as_str()).copied().unwrap_or(0) {
                1 => {
                    let start = path.iter().position(|p| p == w).unwrap_or(0);
                    let mut cycle = path[start..].to_vec();
                    cycle.push(w.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(w, graph, state, path) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        path.pop();
        state.insert(v.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for v in graph.keys() {
        if state.get(v.as_str()).copied().unwrap_or(0) == 0
            && let Some(c) = visit(v, graph, &mut state, &mut Vec::new())
        {
            return Some(c);
        }
    }
    None
}

#[test]
fn no_import_cycles_between_the_modules_of_any_crate() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crates");
    let mut checked = 0;
    for e in std::fs::read_dir(&crates).unwrap() {
        let src = e.unwrap().path().join("src");
        if !src.join("lib.rs").is_file() {
            continue;
        }
        let files = files_of(&src);
        let modules: BTreeSet<String> = files.keys().cloned().collect();
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (m, paths) in &files {
            let deps = graph.entry(m.clone()).or_default();
            for p in paths {
                let text = std::fs::read_to_string(p).unwrap();
                deps.extend(
                    references(&text)
                        .into_iter()
                        .filter(|d| d != m && modules.contains(d)),
                );
            }
        }
        if let Some(c) = find_cycle(&graph) {
            panic!("{}: import cycle {}", src.display(), c.join(" -> "));
        }
        checked += 1;
    }
    assert!(checked >= 6, "only {checked} library crates found");
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    let g: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec!["a"]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
    .collect();
    let c = find_cycle(&g).unwrap();
    assert_eq!(c.first(), c.last());
    assert_eq!(c.len(), 4);
    let mut dag = g.clone();
    dag.get_mut("c").unwrap().clear();
    assert!(find_cycle(&dag).is_none());
    assert_eq!(
        references("use crate::io::x; // crate::plot\nfn f() { crate::shard::y() }"),
        ["io", "shard"].into_iter().map(String::from).collect()
    );
}

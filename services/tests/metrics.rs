//! The metric set is documented in one table (`docs/METRICS.md`): every
//! metric the code exports is in it, and every metric in it is exported.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Metric names in the `metrics::…!("incontra_…"` calls of the crates that
/// serve (the load tests and benchmarks export none).
fn in_code() -> BTreeSet<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut names = BTreeSet::new();
    let mut stack: Vec<PathBuf> = ["engine/src", "indexer/src", "kafka/src", "services/src"]
        .iter()
        .map(|d| root.join(d))
        .collect();
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("source directory") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("source");
            for macro_call in ["counter!(", "gauge!(", "histogram!("] {
                for (i, _) in text.match_indices(macro_call) {
                    let rest = text[i + macro_call.len()..].trim_start();
                    if let Some(rest) = rest.strip_prefix('"') {
                        if let Some(end) = rest.find('"') {
                            names.insert(rest[..end].to_owned());
                        }
                    }
                }
            }
        }
    }
    names
}

fn in_table() -> BTreeSet<String> {
    let doc = include_str!("../../docs/METRICS.md");
    doc.lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_metric_is_in_the_table_and_every_row_is_a_metric() {
    let code = in_code();
    let table = in_table();
    assert!(
        code.len() > 30,
        "too few metrics found in the code: {code:?}"
    );
    let undocumented: Vec<_> = code.difference(&table).collect();
    let gone: Vec<_> = table.difference(&code).collect();
    assert!(
        undocumented.is_empty(),
        "exported but not in docs/METRICS.md: {undocumented:?}"
    );
    assert!(
        gone.is_empty(),
        "in docs/METRICS.md but not exported: {gone:?}"
    );
}

//! Printers of an estate: the list of manifests (for a CI matrix), and the frame around each
//! manifest's own result when a run covers several.

use std::path::PathBuf;

use serde_json::json;

fn names(files: &[PathBuf]) -> Vec<String> {
    files.iter().map(|f| f.display().to_string()).collect()
}

/// One manifest per line.
pub fn manifests_text(files: &[PathBuf]) -> String {
    names(files).into_iter().map(|name| name + "\n").collect()
}

/// `{"manifests": ["FILE", ...]}`.
pub fn manifests_json(files: &[PathBuf]) -> String {
    let mut out =
        serde_json::to_string_pretty(&json!({"manifests": names(files)})).unwrap_or_default();
    out.push('\n');
    out
}

/// `{"include": [{"manifest": "FILE"}, ...]}` on one line, as `$GITHUB_OUTPUT` wants it for
/// `strategy.matrix: ${{ fromJSON(...) }}`.
pub fn github_matrix(files: &[PathBuf]) -> String {
    let include: Vec<_> = names(files)
        .into_iter()
        .map(|manifest| json!({"manifest": manifest}))
        .collect();
    format!("{}\n", json!({"include": include}))
}

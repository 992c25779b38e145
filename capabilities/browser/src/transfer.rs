//! The files that travel with `browser.proxy`: result files shipped back in `files[]`
//! (only from the profile's own directory, with size limits) and the files of
//! `browser.proxy.upload.v1`, staged privately under the profile's uploads directory.
//! Does not own which route produces or consumes them.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use openclaw_capability_api::CapabilityError;
use serde_json::{Value, json};

/// Largest file shipped back in `files[]`.
pub const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;
/// Largest sum of shipped files.
pub const MAX_FILES_TOTAL_BYTES: u64 = 16 * 1024 * 1024;
/// Most files shipped back.
pub const MAX_FILES: usize = 256;
/// Largest upload (decoded, all files together).
pub const MAX_UPLOAD_BYTES: usize = 16 * 1024 * 1024;

/// The proxy's own refusal of a request: `INVALID_REQUEST` with the reference's text, as
/// the text of the JavaScript `Error` it throws (hence `Error: `).
pub fn invalid(msg: &str) -> CapabilityError {
    CapabilityError::invalid_request(format!("Error: INVALID_REQUEST: {msg}"))
}

/// The result paths shipped back: `path`, `imagePath`, `download.path`, `downloads[].path`
/// (never deeper: page-controlled data must not name files). Only files inside the
/// profile's own directory are read.
pub fn collect_files(
    result: &Value,
    profile_dir: Option<&Path>,
) -> Result<Vec<Value>, CapabilityError> {
    let mut paths: Vec<&str> = Vec::new();
    for key in ["path", "imagePath"] {
        if let Some(p) = result.get(key).and_then(Value::as_str) {
            paths.push(p);
        }
    }
    if let Some(p) = result.pointer("/download/path").and_then(Value::as_str) {
        paths.push(p);
    }
    if let Some(list) = result.get("downloads").and_then(Value::as_array) {
        paths.extend(
            list.iter()
                .filter_map(|d| d.get("path").and_then(Value::as_str)),
        );
    }
    if paths.len() > MAX_FILES {
        return Err(CapabilityError::unavailable(format!(
            "browser proxy result names {} files (limit {MAX_FILES})",
            paths.len()
        )));
    }
    let Some(root) = profile_dir.and_then(|d| std::fs::canonicalize(d).ok()) else {
        return Ok(Vec::new());
    };
    let mut total = 0u64;
    let mut out = Vec::new();
    for p in paths {
        let Ok(real) = std::fs::canonicalize(p) else {
            continue;
        };
        if !real.starts_with(&root) {
            continue;
        }
        let size = std::fs::metadata(&real).map(|m| m.len()).unwrap_or(0);
        if size > MAX_FILE_BYTES {
            return Err(CapabilityError::unavailable(format!(
                "browser proxy file {p} is {size} bytes (limit {MAX_FILE_BYTES})"
            )));
        }
        total += size;
        if total > MAX_FILES_TOTAL_BYTES {
            return Err(CapabilityError::unavailable(format!(
                "browser proxy files exceed {MAX_FILES_TOTAL_BYTES} bytes in total"
            )));
        }
        let bytes = std::fs::read(&real)
            .map_err(|e| CapabilityError::unavailable(format!("cannot read {p}: {e}")))?;
        let mut f =
            json!({"path": p, "base64": base64::engine::general_purpose::STANDARD.encode(&bytes)});
        if let Some(m) = mime_of(&real) {
            f["mimeType"] = json!(m);
        }
        out.push(f);
    }
    Ok(out)
}

fn mime_of(p: &Path) -> Option<&'static str> {
    Some(
        match p.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "png" => "image/png",
            "jpg" | "jpeg" => "image/jpeg",
            "pdf" => "application/pdf",
            "txt" => "text/plain",
            "html" | "htm" => "text/html",
            "json" => "application/json",
            "zip" => "application/zip",
            "csv" => "text/csv",
            _ => return None,
        },
    )
}

/// Writes `upload.files` into a fresh directory under `root` and returns their paths.
pub fn stage_upload(root: &Path, upload: &Value) -> Result<Vec<String>, CapabilityError> {
    if upload.get("envelope").and_then(Value::as_str) != Some("browser-upload-v1") {
        return Err(invalid("upload.envelope must be \"browser-upload-v1\""));
    }
    let files = upload
        .get("files")
        .and_then(Value::as_array)
        .filter(|f| !f.is_empty())
        .ok_or_else(|| invalid("upload.files are required"))?;
    let mut id = [0u8; 8];
    getrandom::fill(&mut id).map_err(|e| CapabilityError::unavailable(e.to_string()))?;
    let dir: PathBuf = root.join(id.iter().map(|b| format!("{b:02x}")).collect::<String>());
    std::fs::create_dir_all(&dir).map_err(|e| {
        CapabilityError::unavailable(format!("cannot stage uploads in {}: {e}", dir.display()))
    })?;
    let mut total = 0usize;
    let mut out = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let name = f.get("name").and_then(Value::as_str).unwrap_or("");
        let clean: String = name
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || "._- ".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let clean = clean.trim_start_matches('.').to_string();
        if clean.is_empty() {
            return Err(invalid(&format!("upload.files[{i}].name is required")));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(f.get("contentBase64").and_then(Value::as_str).unwrap_or(""))
            .map_err(|_| {
                invalid(&format!(
                    "upload.files[{i}].contentBase64 is not valid base64"
                ))
            })?;
        total += bytes.len();
        if total > MAX_UPLOAD_BYTES {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(invalid(&format!("upload exceeds {MAX_UPLOAD_BYTES} bytes")));
        }
        let path = dir.join(&clean);
        openclaw_capability_api::fs::write_private_file(&path, &bytes).map_err(|e| {
            CapabilityError::unavailable(format!("cannot stage {}: {e}", path.display()))
        })?;
        out.push(path.display().to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_are_staged_privately_with_clean_names() {
        let dir = tempfile::tempdir().unwrap();
        let upload = json!({"envelope": "browser-upload-v1", "files": [{"name": "../../evil.txt", "contentBase64": "aGk="}]});
        let paths = stage_upload(dir.path(), &upload).unwrap();
        let p = Path::new(&paths[0]);
        assert!(p.starts_with(dir.path()));
        assert_eq!(p.file_name().unwrap(), "_.._evil.txt");
        assert_eq!(std::fs::read(p).unwrap(), b"hi");
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let bad = json!({"envelope": "browser-upload-v1", "files": [{"name": "a", "contentBase64": "%%%"}]});
        assert!(
            stage_upload(dir.path(), &bad)
                .unwrap_err()
                .message
                .contains("not valid base64")
        );
        assert!(stage_upload(dir.path(), &json!({"files": []})).is_err());
    }

    #[test]
    fn only_files_inside_the_profile_are_shipped() {
        let dir = tempfile::tempdir().unwrap();
        let inside = dir.path().join("media/a.png");
        std::fs::create_dir_all(inside.parent().unwrap()).unwrap();
        std::fs::write(&inside, b"png").unwrap();
        let result =
            json!({"path": inside, "imagePath": "/etc/passwd", "nested": {"path": inside}});
        let files = collect_files(&result, Some(dir.path())).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0]["mimeType"], "image/png");
        assert_eq!(files[0]["base64"], "cG5n");
    }
}

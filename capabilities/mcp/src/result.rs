//! The `mcp.tools.call.v1` answer: an MCP `tools/call` result bounded as the reference's
//! `boundMcpToolResultPayload` does (parity §3.7): `{content, structuredContent?,
//! isError?: true}`, text at most 1 MiB in all, the whole payload at most 20 MiB. Pure.

use serde_json::{Map, Value, json};

/// Most text bytes across the content blocks.
pub const TEXT_MAX_BYTES: usize = 1024 * 1024;
/// What ends the text cut at [`TEXT_MAX_BYTES`].
pub const TEXT_TRUNCATION_MARKER: &str = "\n[truncated: MCP text content exceeded 1 MB]";
/// Largest payload, as JSON.
pub const PAYLOAD_MAX_BYTES: usize = 20 * 1024 * 1024;
/// The text block appended when blocks had to be dropped.
pub const PAYLOAD_TRUNCATION_MARKER: &str = "[truncated: MCP result exceeded 20 MB]";

fn json_len(v: &Value) -> usize {
    serde_json::to_string(v).map_or(usize::MAX, |s| s.len())
}

/// The longest prefix of `text` of at most `max` bytes, on a character boundary.
fn utf8_prefix(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    &text[..cut]
}

/// Bounds a `tools/call` result (as JSON) into the invoke payload.
pub fn bound(result: &Value) -> Value {
    let marker = json!({"type": "text", "text": PAYLOAD_TRUNCATION_MARKER});
    let reserved = json_len(&marker) + 1;
    let is_error = result.get("isError") == Some(&Value::Bool(true));
    let mut shell = Map::new();
    shell.insert("content".into(), json!([]));
    if is_error {
        shell.insert("isError".into(), Value::Bool(true));
    }
    let mut used = json_len(&Value::Object(shell));
    let mut truncated = false;
    let mut structured = None;
    if let Some(sc) = result.get("structuredContent").filter(|v| !v.is_null()) {
        let prefix = ",\"structuredContent\":".len();
        let available = PAYLOAD_MAX_BYTES.saturating_sub(used + prefix + reserved);
        let bytes = json_len(sc);
        if bytes <= available {
            structured = Some(sc.clone());
            used += prefix + bytes;
        } else {
            truncated = true;
        }
    }
    let mirror = structured
        .as_ref()
        .and_then(|sc| serde_json::to_string_pretty(sc).ok());
    let text_of = |b: &Value| -> Option<String> {
        (b.get("type").and_then(Value::as_str) == Some("text"))
            .then(|| b.get("text").and_then(Value::as_str).map(str::to_string))
            .flatten()
    };
    let blocks: Vec<Value> = result
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|b| b.is_object())
        .filter(|b| mirror.is_none() || text_of(b).as_deref() != mirror.as_deref())
        .cloned()
        .collect();
    let total_text: usize = blocks.iter().filter_map(text_of).map(|t| t.len()).sum();
    let over = total_text > TEXT_MAX_BYTES;
    let mut remaining = if over {
        TEXT_MAX_BYTES - TEXT_TRUNCATION_MARKER.len()
    } else {
        TEXT_MAX_BYTES
    };
    let mut marked = false;
    let mut text_bounded = Vec::new();
    for block in blocks {
        let Some(text) = text_of(&block) else {
            text_bounded.push(block);
            continue;
        };
        if !over {
            text_bounded.push(block);
            continue;
        }
        if marked {
            continue;
        }
        let kept = utf8_prefix(&text, remaining);
        remaining -= kept.len();
        let cut = kept.len() < text.len();
        if !kept.is_empty() || cut {
            let mut b = block.clone();
            b["text"] = Value::String(if cut {
                format!("{kept}{TEXT_TRUNCATION_MARKER}")
            } else {
                kept.to_string()
            });
            text_bounded.push(b);
        }
        if cut || remaining == 0 {
            if !cut {
                text_bounded
                    .push(json!({"type": "text", "text": TEXT_TRUNCATION_MARKER.trim_start()}));
            }
            marked = true;
        }
    }
    let mut content = Vec::new();
    for block in text_bounded {
        let separator = usize::from(!content.is_empty());
        let available = PAYLOAD_MAX_BYTES.saturating_sub(used + separator + reserved);
        let bytes = json_len(&block);
        if bytes > available {
            truncated = true;
            continue;
        }
        used += bytes + separator;
        content.push(block);
    }
    if truncated {
        content.push(marker);
    }
    let mut out = Map::new();
    out.insert("content".into(), Value::Array(content));
    if let Some(sc) = structured {
        out.insert("structuredContent".into(), sc);
    }
    if is_error {
        out.insert("isError".into(), Value::Bool(true));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_results_pass_with_is_error_only_when_true() {
        let r = json!({"content": [{"type": "text", "text": "hi"}, 5], "isError": false});
        assert_eq!(
            bound(&r),
            json!({"content": [{"type": "text", "text": "hi"}]})
        );
        let r = json!({"content": [], "isError": true});
        assert_eq!(bound(&r), json!({"content": [], "isError": true}));
    }

    #[test]
    fn a_text_mirror_of_structured_content_is_dropped() {
        let sc = json!({"a": 1});
        let r = json!({
            "content": [{"type": "text", "text": serde_json::to_string_pretty(&sc).unwrap()}],
            "structuredContent": sc,
        });
        assert_eq!(
            bound(&r),
            json!({"content": [], "structuredContent": {"a": 1}})
        );
    }

    #[test]
    fn text_over_one_megabyte_is_cut_with_the_marker() {
        let r = json!({"content": [
            {"type": "text", "text": "x".repeat(TEXT_MAX_BYTES)},
            {"type": "text", "text": "more"},
        ]});
        let b = bound(&r);
        let content = b["content"].as_array().unwrap();
        assert_eq!(content.len(), 1);
        let text = content[0]["text"].as_str().unwrap();
        assert!(text.ends_with(TEXT_TRUNCATION_MARKER));
        assert_eq!(text.len(), TEXT_MAX_BYTES);
    }

    #[test]
    fn blocks_past_twenty_megabytes_are_dropped_with_the_marker() {
        let image =
            json!({"type": "image", "data": "A".repeat(12 * 1024 * 1024), "mimeType": "image/png"});
        let r = json!({"content": [image.clone(), image]});
        let b = bound(&r);
        let content = b["content"].as_array().unwrap();
        assert_eq!(content.len(), 2);
        assert_eq!(content[1]["text"], PAYLOAD_TRUNCATION_MARKER);
    }
}

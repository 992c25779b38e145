//! Reading the reference's `openclaw.json`, which is JSON5 (comments, trailing commas,
//! unquoted keys, single-quoted strings; its own docs write it that way). The text is
//! rewritten to plain JSON and parsed with `serde_json`; the JSON5 forms an MCP config has
//! no use for (hex numbers, `Infinity`, `NaN`, a leading `+`, line continuations) are
//! refused with serde's error and the line it happened on.

use serde_json::Value;

/// Parses JSON5 text.
pub(crate) fn parse(text: &str) -> Result<Value, serde_json::Error> {
    let json = drop_trailing_commas(&to_json(text));
    serde_json::from_str(&json)
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == '$'
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

/// Comments removed (kept as a space or the newline, so serde's line numbers stay
/// right), single-quoted strings and identifier keys turned into JSON strings.
fn to_json(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' => i = copy_string(&chars, i, &mut out),
            '/' if chars.get(i + 1) == Some(&'/') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                i += 2;
                while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                    if chars[i] == '\n' {
                        out.push('\n');
                    }
                    i += 1;
                }
                i += 2;
                out.push(' ');
            }
            c if is_ident_start(c) => {
                let start = i;
                while i < chars.len() && is_ident(chars[i]) {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let mut j = i;
                while j < chars.len() && chars[j].is_whitespace() {
                    j += 1;
                }
                if chars.get(j) == Some(&':') {
                    out.push('"');
                    out.push_str(&word);
                    out.push('"');
                } else {
                    out.push_str(&word);
                }
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Copies the string opening at `chars[start]` as a JSON string; returns the index after it.
fn copy_string(chars: &[char], start: usize, out: &mut String) -> usize {
    let quote = chars[start];
    out.push('"');
    let mut i = start + 1;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            match chars.get(i + 1) {
                // `\'` means `'`; JSON has no such escape.
                Some('\'') => out.push('\''),
                Some(&n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => {}
            }
            i += 2;
            continue;
        }
        if c == quote {
            out.push('"');
            return i + 1;
        }
        if c == '"' {
            out.push_str("\\\"");
        } else {
            out.push(c);
        }
        i += 1;
    }
    i
}

/// `,` before `}` or `]` (outside strings) removed.
fn drop_trailing_commas(json: &str) -> String {
    let chars: Vec<char> = json.chars().collect();
    let mut out = String::with_capacity(json.len());
    let mut in_string = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if in_string {
            out.push(c);
            if c == '\\' {
                if let Some(&n) = chars.get(i + 1) {
                    out.push(n);
                }
                i += 2;
                continue;
            }
            in_string = c != '"';
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if c == ',' {
            let next = chars[i + 1..].iter().find(|c| !c.is_whitespace());
            if !matches!(next, Some('}') | Some(']')) {
                out.push(c);
            }
        } else {
            out.push(c);
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_reference_docs_example_parses() {
        // docs/nodes/mcp-and-skills.md of openclaw 2026.9.6, with a comment added.
        let text = r#"{
  // the node's servers
  nodeHost: {
    mcp: {
      servers: {
        localDocs: {
          command: "npx",
          args: ["-y", "@modelcontextprotocol/server-filesystem", "/srv/docs"],
          toolFilter: {
            include: ["read_*", "search"],
          },
        },
        /* remote */ internalApi: {
          url: 'https://mcp.internal.example/mcp',
          transport: "streamable-http",
          headers: { Authorization: "Bearer ${INTERNAL_MCP_TOKEN}", 'X-Q': 'it\'s "q"' },
        },
      },
    },
  },
}"#;
        let v = parse(text).unwrap();
        let servers = &v["nodeHost"]["mcp"]["servers"];
        assert_eq!(
            servers["localDocs"]["toolFilter"]["include"],
            json!(["read_*", "search"])
        );
        assert_eq!(
            servers["internalApi"]["url"],
            "https://mcp.internal.example/mcp"
        );
        assert_eq!(servers["internalApi"]["headers"]["X-Q"], "it's \"q\"");
        assert_eq!(
            servers["internalApi"]["headers"]["Authorization"],
            "Bearer ${INTERNAL_MCP_TOKEN}"
        );
    }

    #[test]
    fn strings_keep_what_looks_like_syntax_and_plain_json_passes() {
        let v =
            parse(r#"{"a": "x // not a comment, }", "b": [1, 2,], "c": true, "d": null}"#).unwrap();
        assert_eq!(
            v,
            json!({"a": "x // not a comment, }", "b": [1, 2], "c": true, "d": null})
        );
    }

    #[test]
    fn unsupported_forms_fail_with_the_line() {
        let err = parse("{\n  a: 1,\n  b: 0x1F,\n}").unwrap_err();
        assert_eq!(err.line(), 3, "{err}");
    }
}

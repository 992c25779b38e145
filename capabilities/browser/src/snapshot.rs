//! The role snapshot: Chromium's accessibility tree (`Accessibility.getFullAXTree`) turned
//! into the reference's text format with element refs (spec browser.md §3.1). Pure: the
//! route fetches the nodes and stores the ref map this returns.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use serde_json::Value;

/// Roles an agent acts on: always get a ref.
const INTERACTIVE: &[&str] = &[
    "button",
    "checkbox",
    "combobox",
    "link",
    "listbox",
    "menuitem",
    "menuitemcheckbox",
    "menuitemradio",
    "option",
    "radio",
    "searchbox",
    "slider",
    "spinbutton",
    "switch",
    "tab",
    "textbox",
    "treeitem",
];
/// Roles that get a ref when they have a name.
const CONTENT: &[&str] = &[
    "article",
    "cell",
    "columnheader",
    "gridcell",
    "heading",
    "listitem",
    "main",
    "navigation",
    "region",
    "rowheader",
];
/// Roles `compact` drops when they have neither name nor ref.
const STRUCTURAL: &[&str] = &[
    "generic",
    "group",
    "list",
    "table",
    "row",
    "rowgroup",
    "grid",
    "treegrid",
    "menu",
    "menubar",
    "toolbar",
    "tablist",
    "tree",
    "directory",
    "document",
    "application",
    "presentation",
    "none",
    "ignored",
    "paragraph",
    "section",
    "div",
    "form",
    "label",
];
/// Deepest tree level printed before the output says it was cut.
pub const MAX_DEPTH: usize = 100;
/// Default text budget of `format=ai`.
pub const DEFAULT_MAX_CHARS: usize = 40_000;
/// Text budget of `mode=efficient`.
pub const EFFICIENT_MAX_CHARS: usize = 8_000;

/// One node of `Accessibility.getFullAXTree`, reduced to what the snapshot uses.
#[derive(Debug, Clone, Default)]
pub struct AxNode {
    /// CDP node id.
    pub id: String,
    /// Hidden from the tree (children are promoted).
    pub ignored: bool,
    /// Chromium role (`button`, `StaticText`, `RootWebArea` …).
    pub role: String,
    /// Accessible name.
    pub name: String,
    /// Current value (text fields, sliders).
    pub value: String,
    /// Children, in order.
    pub children: Vec<String>,
    /// The DOM node behind it.
    pub backend_node_id: Option<i64>,
    /// Boolean and level properties worth printing.
    pub flags: Vec<String>,
    /// A link's target.
    pub url: Option<String>,
}

impl AxNode {
    /// Parses the `nodes` array of `Accessibility.getFullAXTree`.
    pub fn parse_all(nodes: &Value) -> Vec<AxNode> {
        let text = |v: Option<&Value>| -> String {
            match v.and_then(|v| v.get("value")) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => String::new(),
            }
        };
        nodes
            .as_array()
            .map(|a| a.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|n| {
                let mut flags = Vec::new();
                let mut url = None;
                for p in n
                    .get("properties")
                    .and_then(Value::as_array)
                    .map(|a| a.as_slice())
                    .unwrap_or_default()
                {
                    let name = p.get("name").and_then(Value::as_str).unwrap_or("");
                    let v = p.pointer("/value/value");
                    match (name, v) {
                        ("checked" | "pressed", Some(Value::String(s)))
                            if s == "true" || s == "mixed" =>
                        {
                            flags.push(if s == "mixed" {
                                format!("{name}=mixed")
                            } else {
                                name.to_string()
                            })
                        }
                        (
                            "checked" | "pressed" | "disabled" | "expanded" | "selected"
                            | "required",
                            Some(Value::Bool(true)),
                        ) => flags.push(name.to_string()),
                        ("level", Some(Value::Number(l))) => flags.push(format!("level={l}")),
                        ("url", Some(Value::String(s))) => url = Some(s.clone()),
                        _ => {}
                    }
                }
                AxNode {
                    id: n
                        .get("nodeId")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    ignored: n.get("ignored").and_then(Value::as_bool).unwrap_or(false),
                    role: text(n.get("role")),
                    name: text(n.get("name")),
                    value: text(n.get("value")),
                    children: n
                        .get("childIds")
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(|c| c.as_str().map(String::from))
                                .collect()
                        })
                        .unwrap_or_default(),
                    backend_node_id: n.get("backendDOMNodeId").and_then(Value::as_i64),
                    flags,
                    url,
                }
            })
            .collect()
    }
}

/// Options of `GET /snapshot?format=ai`.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Only actionable elements.
    pub interactive: bool,
    /// Drop unnamed structural nodes.
    pub compact: bool,
    /// Drop nodes deeper than this (0 = top level only).
    pub depth: Option<usize>,
    /// Text budget.
    pub max_chars: Option<usize>,
}

/// One entry of the ref map returned to the caller and kept for actions.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RefEntry {
    /// Role as printed.
    pub role: String,
    /// Accessible name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Index among refs with the same role and name (only when > 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nth: Option<usize>,
    /// The DOM node actions resolve (kept on the node, not sent).
    #[serde(skip)]
    pub backend_dom_node_id: Option<i64>,
}

/// The built snapshot.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The text.
    pub text: String,
    /// Refs still visible in the text.
    pub refs: BTreeMap<String, RefEntry>,
    /// Whether depth or size cut it.
    pub truncated: bool,
    /// Lines of text.
    pub lines: usize,
    /// Refs on interactive roles.
    pub interactive: usize,
}

/// The role name printed for a Chromium role.
pub fn print_role(role: &str) -> String {
    match role {
        "" => "unknown".into(),
        "StaticText" => "text".into(),
        "RootWebArea" | "WebArea" => "document".into(),
        "Iframe" | "IframePresentational" => "iframe".into(),
        "LabelText" => "label".into(),
        "ListMarker" => "listmarker".into(),
        "MenuListPopup" => "menulistpopup".into(),
        other => {
            let mut c = other.chars();
            match c.next() {
                Some(first) => first.to_lowercase().chain(c).collect(),
                None => "unknown".into(),
            }
        }
    }
}

/// Roles never printed: text layout pieces and line breaks.
fn skipped(role: &str) -> bool {
    matches!(role, "InlineTextBox" | "LineBreak" | "ListMarker")
}

struct Line {
    depth: usize,
    role: String,
    name: String,
    value: String,
    r#ref: Option<String>,
    nth: usize,
    flags: Vec<String>,
    url: Option<String>,
    interactive: bool,
    backend: Option<i64>,
}

/// Builds the `format=ai` snapshot from the tree's nodes.
pub fn build(nodes: &[AxNode], opts: &Options) -> Snapshot {
    let by_id: HashMap<&str, &AxNode> = nodes.iter().map(|n| (n.id.as_str(), n)).collect();
    let listed: HashSet<&str> = nodes
        .iter()
        .flat_map(|n| n.children.iter().map(String::as_str))
        .collect();
    let root = nodes.iter().find(|n| !listed.contains(n.id.as_str()));
    let mut lines: Vec<Line> = Vec::new();
    let mut too_deep = false;
    let mut refs_by_key: HashMap<(String, String), usize> = HashMap::new();
    let mut next_ref = 1usize;
    // Iterative pre-order walk: (node, depth, the name printed by the nearest parent line).
    let mut stack: Vec<(&AxNode, usize, String)> = Vec::new();
    if let Some(root) = root {
        // The document itself is not printed; its children start at depth 0.
        for c in root.children.iter().rev() {
            if let Some(n) = by_id.get(c.as_str()) {
                stack.push((n, 0, root.name.clone()));
            }
        }
    }
    while let Some((node, depth, parent_name)) = stack.pop() {
        if skipped(&node.role) {
            continue;
        }
        // Wrappers whose children carry the meaning: labels (their text is printed as
        // text, as the reference does) and a select's popup.
        let printable = !node.ignored
            && !matches!(
                node.role.as_str(),
                "none" | "presentation" | "RootWebArea" | "LabelText" | "MenuListPopup"
            );
        let role = print_role(&node.role);
        // A text node that repeats its parent's name adds nothing.
        let redundant = role == "text" && (node.name.trim().is_empty() || node.name == parent_name);
        let mut child_depth = depth;
        let mut name_for_children = parent_name.clone();
        if printable && !redundant {
            if depth > MAX_DEPTH {
                too_deep = true;
                continue;
            }
            let interactive = INTERACTIVE.contains(&role.as_str());
            let named = !node.name.trim().is_empty();
            let wants_ref =
                interactive || role == "iframe" || (named && CONTENT.contains(&role.as_str()));
            let (r#ref, nth) = if wants_ref {
                let key = (role.clone(), node.name.clone());
                let count = refs_by_key.entry(key).or_insert(0);
                let nth = *count;
                *count += 1;
                let r = format!("e{next_ref}");
                next_ref += 1;
                (Some(r), nth)
            } else {
                (None, 0)
            };
            lines.push(Line {
                depth,
                role: role.clone(),
                name: node.name.clone(),
                // A select's value is its selected option, printed below it.
                value: if role == "combobox" {
                    String::new()
                } else {
                    node.value.clone()
                },
                r#ref,
                nth,
                flags: node.flags.clone(),
                url: node.url.clone(),
                interactive: interactive || role == "iframe",
                backend: node.backend_node_id,
            });
            child_depth = depth + 1;
            name_for_children = node.name.clone();
            if matches!(role.as_str(), "textbox" | "searchbox") {
                continue; // the editor's inner nodes, not page content
            }
        }
        for c in node.children.iter().rev() {
            if let Some(n) = by_id.get(c.as_str()) {
                stack.push((n, child_depth, name_for_children.clone()));
            }
        }
    }
    // Filters.
    let kept: Vec<&Line> = lines
        .iter()
        .filter(|l| opts.depth.is_none_or(|d| l.depth <= d))
        .filter(|l| !opts.interactive || l.interactive)
        .filter(|l| {
            !opts.compact
                || l.r#ref.is_some()
                || !l.name.trim().is_empty()
                || !STRUCTURAL.contains(&l.role.as_str())
        })
        .collect();
    let mut text_lines = render(&kept);
    let mut truncated = false;
    let mut text;
    if text_lines.is_empty() {
        // An empty page is an empty snapshot, as the reference's default (`ai`) route
        // gives it (seen on about:blank).
        text = if opts.interactive {
            "(no interactive elements)".to_string()
        } else {
            String::new()
        };
    } else {
        if let Some(max) = opts.max_chars.filter(|m| *m > 0) {
            const MARK: &str = "\n\n[...TRUNCATED - page too large]";
            let total: usize = text_lines
                .iter()
                .map(|(s, _)| s.len() + 1)
                .sum::<usize>()
                .saturating_sub(1);
            if total > max {
                let budget = max.saturating_sub(MARK.len());
                let mut used = 0usize;
                let mut keep = 0usize;
                for (s, _) in &text_lines {
                    let add = s.len() + usize::from(keep > 0);
                    if used + add > budget {
                        break;
                    }
                    used += add;
                    keep += 1;
                }
                text_lines.truncate(keep);
                truncated = true;
            }
        }
        text = text_lines
            .iter()
            .map(|(s, _)| s.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        if truncated {
            text.push_str("\n\n[...TRUNCATED - page too large]");
        }
    }
    if too_deep {
        text.push_str("\n\n[...TRUNCATED - accessibility tree too deep]");
        truncated = true;
    }
    let visible: HashSet<String> = text_lines.iter().filter_map(|(_, r)| r.clone()).collect();
    let mut refs = BTreeMap::new();
    let mut interactive = 0;
    for l in &lines {
        if let Some(r) = &l.r#ref {
            let backend = l.backend;
            if visible.contains(r) {
                if INTERACTIVE.contains(&l.role.as_str()) {
                    interactive += 1;
                }
                refs.insert(
                    r.clone(),
                    RefEntry {
                        role: l.role.clone(),
                        name: (!l.name.is_empty()).then(|| l.name.clone()),
                        nth: (l.nth > 0).then_some(l.nth),
                        backend_dom_node_id: backend,
                    },
                );
            }
        }
    }
    Snapshot {
        lines: text.lines().count(),
        text,
        refs,
        truncated,
        interactive,
    }
}

/// Renders kept lines the way the reference node host prints them (Playwright's aria
/// snapshot with refs): `- role "name" [flags] [ref=eN]`, a value or a lone text child
/// after `: `, a trailing `:` before children, `- text: …` for text and `- /url: …`
/// under links.
fn render(kept: &[&Line]) -> Vec<(String, Option<String>)> {
    let mut out = Vec::with_capacity(kept.len());
    let mut i = 0;
    while i < kept.len() {
        let l = kept[i];
        let children: Vec<usize> = (i + 1..kept.len())
            .take_while(|j| kept[*j].depth > l.depth)
            .filter(|j| kept[*j].depth == l.depth + 1)
            .collect();
        let subtree_end = (i + 1..kept.len())
            .find(|j| kept[*j].depth <= l.depth)
            .unwrap_or(kept.len());
        let indent = "  ".repeat(l.depth);
        if l.role == "text" {
            out.push((format!("{indent}- text: {}", l.name), None));
            i += 1;
            continue;
        }
        let mut s = format!("{indent}- {}", l.role);
        if !l.name.is_empty() {
            s.push(' ');
            s.push_str(&serde_json::to_string(&l.name).unwrap_or_default());
        }
        for f in &l.flags {
            s.push_str(&format!(" [{f}]"));
        }
        if let Some(r) = &l.r#ref {
            s.push_str(&format!(" [ref={r}]"));
            if l.nth > 0 {
                s.push_str(&format!(" [nth={}]", l.nth));
            }
        }
        let url = (l.role == "link").then_some(l.url.as_ref()).flatten();
        let lone_text = children.len() == 1
            && subtree_end == i + 2
            && kept[i + 1].role == "text"
            && url.is_none();
        if !l.value.is_empty() && l.value != l.name {
            s.push_str(&format!(": {}", l.value));
            if subtree_end > i + 1 || url.is_some() {
                s.push(':');
            }
        } else if lone_text {
            s.push_str(&format!(": {}", kept[i + 1].name));
            out.push((s, l.r#ref.clone()));
            i += 2;
            continue;
        } else if subtree_end > i + 1 || url.is_some() {
            s.push(':');
        }
        out.push((s, l.r#ref.clone()));
        if let Some(u) = url {
            out.push((format!("{indent}  - /url: {u}"), None));
        }
        i += 1;
    }
    out
}

/// One node of `format=aria`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AriaNode {
    /// `axN`.
    pub r#ref: String,
    /// Chromium role.
    pub role: String,
    /// Accessible name.
    pub name: String,
    /// Value, when non-empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The DOM node.
    #[serde(rename = "backendDOMNodeId", skip_serializing_if = "Option::is_none")]
    pub backend_dom_node_id: Option<i64>,
    /// Tree depth.
    pub depth: usize,
}

/// Builds `format=aria`: unfiltered pre-order from the root, at most `limit` nodes.
pub fn build_aria(nodes: &[AxNode], limit: usize) -> Vec<AriaNode> {
    let by_id: HashMap<&str, &AxNode> = nodes.iter().map(|n| (n.id.as_str(), n)).collect();
    let listed: HashSet<&str> = nodes
        .iter()
        .flat_map(|n| n.children.iter().map(String::as_str))
        .collect();
    let mut out = Vec::new();
    let mut stack: Vec<(&AxNode, usize)> = nodes
        .iter()
        .find(|n| !listed.contains(n.id.as_str()))
        .map(|r| vec![(r, 0)])
        .unwrap_or_default();
    while let Some((node, depth)) = stack.pop() {
        if out.len() >= limit {
            break;
        }
        if !skipped(&node.role) && !node.ignored {
            out.push(AriaNode {
                r#ref: format!("ax{}", out.len() + 1),
                role: node.role.clone(),
                name: node.name.clone(),
                value: (!node.value.is_empty()).then(|| node.value.clone()),
                backend_dom_node_id: node.backend_node_id,
                depth,
            });
        }
        for c in node.children.iter().rev() {
            if let Some(n) = by_id.get(c.as_str()) {
                stack.push((n, depth + 1));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tree() -> Vec<AxNode> {
        AxNode::parse_all(&json!([
            {"nodeId": "1", "role": {"value": "RootWebArea"}, "name": {"value": "Test"}, "childIds": ["2", "3", "9"], "backendDOMNodeId": 1},
            {"nodeId": "2", "role": {"value": "heading"}, "name": {"value": "Hello"}, "childIds": ["4"], "backendDOMNodeId": 10,
             "properties": [{"name": "level", "value": {"type": "integer", "value": 1}}]},
            {"nodeId": "4", "role": {"value": "StaticText"}, "name": {"value": "Hello"}, "childIds": ["5"]},
            {"nodeId": "5", "role": {"value": "InlineTextBox"}, "name": {"value": "Hello"}},
            {"nodeId": "3", "role": {"value": "generic"}, "name": {"value": ""}, "childIds": ["6", "7", "8"]},
            {"nodeId": "6", "role": {"value": "button"}, "name": {"value": "Go"}, "backendDOMNodeId": 20},
            {"nodeId": "7", "role": {"value": "button"}, "name": {"value": "Go"}, "backendDOMNodeId": 21},
            {"nodeId": "8", "ignored": true, "role": {"value": "none"}, "childIds": ["10"]},
            {"nodeId": "10", "role": {"value": "textbox"}, "name": {"value": "Email"}, "value": {"value": "a@b"}, "backendDOMNodeId": 30},
            {"nodeId": "9", "role": {"value": "link"}, "name": {"value": "Next"}, "backendDOMNodeId": 40,
             "properties": [{"name": "url", "value": {"value": "http://x/next"}}]}
        ]))
    }

    #[test]
    fn refs_follow_document_order_with_nth_for_duplicates() {
        let s = build(&tree(), &Options::default());
        assert_eq!(
            s.text,
            "- heading \"Hello\" [level=1] [ref=e1]\n- generic:\n  - button \"Go\" [ref=e2]\n  - button \"Go\" [ref=e3] [nth=1]\n  - textbox \"Email\" [ref=e4]: a@b\n- link \"Next\" [ref=e5]:\n  - /url: http://x/next"
        );
        assert_eq!(s.refs.len(), 5);
        assert_eq!(s.refs["e3"].nth, Some(1));
        assert_eq!(s.refs["e3"].backend_dom_node_id, Some(21));
        assert_eq!(s.refs["e4"].backend_dom_node_id, Some(30));
        assert_eq!(s.interactive, 4);
        assert_eq!(s.lines, 7);
        assert!(!s.truncated);
    }

    #[test]
    fn interactive_compact_depth_and_urls() {
        let s = build(
            &tree(),
            &Options {
                interactive: true,
                ..Default::default()
            },
        );
        assert!(
            !s.text.contains("heading") && !s.text.contains("generic"),
            "{}",
            s.text
        );
        assert!(s.text.contains("  - button \"Go\" [ref=e2]"));
        let s = build(
            &tree(),
            &Options {
                compact: true,
                ..Default::default()
            },
        );
        assert!(!s.text.contains("generic"));
        let s = build(
            &tree(),
            &Options {
                depth: Some(0),
                ..Default::default()
            },
        );
        assert!(!s.text.contains("button"));
        assert!(
            s.text
                .contains("- link \"Next\" [ref=e5]:\n  - /url: http://x/next"),
            "{}",
            s.text
        );
        assert_eq!(s.refs.keys().collect::<Vec<_>>(), vec!["e1", "e5"]);
    }

    #[test]
    fn max_chars_cuts_at_a_line_and_keeps_visible_refs() {
        let s = build(
            &tree(),
            &Options {
                max_chars: Some(80),
                ..Default::default()
            },
        );
        assert!(s.truncated);
        assert!(
            s.text.ends_with("[...TRUNCATED - page too large]"),
            "{}",
            s.text
        );
        assert!(s.text.len() <= 80, "{}", s.text.len());
        assert!(s.refs.contains_key("e1") && !s.refs.contains_key("e5"));
    }

    #[test]
    fn empty_pages_and_aria_format() {
        let empty = AxNode::parse_all(
            &json!([{"nodeId": "1", "role": {"value": "RootWebArea"}, "childIds": []}]),
        );
        assert_eq!(build(&empty, &Options::default()).text, "");
        assert_eq!(
            build(
                &empty,
                &Options {
                    interactive: true,
                    ..Default::default()
                }
            )
            .text,
            "(no interactive elements)"
        );
        let aria = build_aria(&tree(), 3);
        assert_eq!(aria.len(), 3);
        assert_eq!(aria[0].r#ref, "ax1");
        assert_eq!(aria[1].role, "heading");
        assert_eq!(aria[1].depth, 1);
    }
}

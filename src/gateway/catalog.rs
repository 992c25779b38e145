//! What the embedded gateway keeps of a node's publications (parity §2.3–§2.5): the closed
//! param schemas of `node.pluginTools.update` and `node.skills.update`, checked with the
//! real Gateway's error texts; the normalisation that turns a node's declared plugin tools
//! into the effective `nodePluginTools` of its `node.list`/`node.describe` row; the
//! skill normalisation; and the parse of `node.runnerInventory.update`. Pure functions on
//! JSON values; the registry stores their results per connected node.

use openclaw_capability_api::collate::locale_compare;
use serde_json::{Map, Value, json};

/// The real Gateway keeps at most this many plugin tools per node.
pub(crate) const MAX_PLUGIN_TOOLS: usize = 128;
/// Plugin tool descriptions are cut to this many UTF-16 units.
const MAX_TOOL_DESCRIPTION: usize = 1024;
/// The reserved plugin id of node-hosted MCP tools.
const NODE_MCP: &str = "node-mcp";
/// The only command a `node-mcp` descriptor may name.
const MCP_COMMAND: &str = "mcp.tools.call.v1";
/// Skill limits the Gateway applies again (parity §4).
const MAX_SKILLS: usize = 64;
const MAX_SKILL_DESCRIPTION: usize = 1024;
const MAX_SKILL_CONTENT_BYTES: usize = 65536;
const MAX_SKILLS_TOTAL_BYTES: usize = 524_288;
/// The worker-supervisor dialect the reference node declares.
const RUNNER_V6: &str = "node-worker-supervisor-v6";

const TOOL_NAME_PATTERN: &str = "^[A-Za-z][A-Za-z0-9_-]{0,63}$";
const SKILL_NAME_PATTERN: &str = "^(?!.*--)[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$";

/// A string pattern: its source text (quoted in errors) and the check that stands for it.
type Pattern = (&'static str, fn(&str) -> bool);

/// A value shape of the closed schemas (TypeBox in the real Gateway).
enum Shape {
    /// A string with length bounds (in characters) and an optional pattern.
    Text {
        min: usize,
        max: Option<usize>,
        pattern: Option<Pattern>,
    },
    /// Any non-array object (`Type.Record(String, Unknown)`).
    Record,
    /// A closed object.
    Object(&'static [Field]),
    /// An array with an optional item limit.
    Array {
        items: &'static Shape,
        max_items: Option<usize>,
    },
}

/// A property of a closed object.
struct Field {
    name: &'static str,
    shape: Shape,
    required: bool,
}

const NON_EMPTY: Shape = Shape::Text {
    min: 1,
    max: None,
    pattern: None,
};

const MCP_REF: &[Field] = &[
    Field {
        name: "server",
        shape: NON_EMPTY,
        required: true,
    },
    Field {
        name: "tool",
        shape: NON_EMPTY,
        required: true,
    },
];

const TOOL_DESCRIPTOR: &[Field] = &[
    Field {
        name: "pluginId",
        shape: NON_EMPTY,
        required: true,
    },
    Field {
        name: "name",
        shape: Shape::Text {
            min: 1,
            max: Some(64),
            pattern: Some((TOOL_NAME_PATTERN, is_tool_name)),
        },
        required: true,
    },
    Field {
        name: "description",
        shape: NON_EMPTY,
        required: true,
    },
    Field {
        name: "parameters",
        shape: Shape::Record,
        required: false,
    },
    Field {
        name: "command",
        shape: NON_EMPTY,
        required: false,
    },
    Field {
        name: "mcp",
        shape: Shape::Object(MCP_REF),
        required: false,
    },
];

const TOOLS_PARAMS: Shape = Shape::Object(&[Field {
    name: "tools",
    shape: Shape::Array {
        items: &Shape::Object(TOOL_DESCRIPTOR),
        max_items: None,
    },
    required: true,
}]);

const SKILL_DESCRIPTOR: &[Field] = &[
    Field {
        name: "name",
        shape: Shape::Text {
            min: 1,
            max: Some(64),
            pattern: Some((SKILL_NAME_PATTERN, is_skill_name)),
        },
        required: true,
    },
    Field {
        name: "description",
        shape: Shape::Text {
            min: 1,
            max: Some(MAX_SKILL_DESCRIPTION),
            pattern: None,
        },
        required: true,
    },
    Field {
        name: "content",
        shape: Shape::Text {
            min: 1,
            max: Some(MAX_SKILL_CONTENT_BYTES),
            pattern: None,
        },
        required: true,
    },
];

const SKILLS_PARAMS: Shape = Shape::Object(&[Field {
    name: "skills",
    shape: Shape::Array {
        items: &Shape::Object(SKILL_DESCRIPTOR),
        max_items: Some(MAX_SKILLS),
    },
    required: true,
}]);

fn is_tool_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.len() <= 64
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn is_skill_name(s: &str) -> bool {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !s.is_empty()
        && s.len() <= 64
        && !s.contains("--")
        && s.chars().all(|c| ok_char(c) || c == '-')
        && s.starts_with(ok_char)
        && s.ends_with(ok_char)
}

/// Collects the schema errors of `value` at `path`, in the order the real Gateway lists
/// them: per object the first missing required property, the first unexpected one, then
/// each property in schema order; per array each item, then the item limit.
fn check(shape: &Shape, value: &Value, path: &str, errors: &mut Vec<String>) {
    let at = |msg: String| {
        if path.is_empty() {
            msg
        } else {
            format!("at {path}: {msg}")
        }
    };
    match shape {
        Shape::Text { min, max, pattern } => {
            let Some(s) = value.as_str() else {
                return errors.push(at("must be string".into()));
            };
            let len = s.chars().count();
            if len < *min {
                errors.push(at(format!("must not have fewer than {min} characters")));
            }
            if let Some(max) = max
                && len > *max
            {
                errors.push(at(format!("must not have more than {max} characters")));
            }
            if let Some((text, matches)) = pattern
                && !matches(s)
            {
                errors.push(at(format!("must match pattern \"{text}\"")));
            }
        }
        Shape::Record => {
            if !value.is_object() {
                errors.push(at("must be object".into()));
            }
        }
        Shape::Object(fields) => {
            let Some(map) = value.as_object() else {
                return errors.push(at("must be object".into()));
            };
            if let Some(missing) = fields
                .iter()
                .find(|f| f.required && !map.contains_key(f.name))
            {
                errors.push(at(format!(
                    "must have required property '{}'",
                    missing.name
                )));
            }
            if let Some(extra) = map.keys().find(|k| fields.iter().all(|f| f.name != *k)) {
                let where_ = if path.is_empty() { "root" } else { path };
                errors.push(format!("at {where_}: unexpected property '{extra}'"));
            }
            for f in *fields {
                if let Some(v) = map.get(f.name) {
                    check(&f.shape, v, &format!("{path}/{}", f.name), errors);
                }
            }
        }
        Shape::Array { items, max_items } => {
            let Some(list) = value.as_array() else {
                return errors.push(at("must be array".into()));
            };
            for (i, item) in list.iter().enumerate() {
                check(items, item, &format!("{path}/{i}"), errors);
            }
            if let Some(max) = max_items
                && list.len() > *max
            {
                errors.push(at(format!("must not have more than {max} items")));
            }
        }
    }
}

/// `Err` with the real Gateway's `invalid <method> params: …` text when `params` fail the
/// closed schema.
fn validate(method: &str, shape: &Shape, params: &Value) -> Result<(), String> {
    let mut errors = Vec::new();
    check(shape, params, "", &mut errors);
    if errors.is_empty() {
        return Ok(());
    }
    let mut unique: Vec<String> = Vec::new();
    for e in errors {
        if !unique.contains(&e) {
            unique.push(e);
        }
    }
    Err(format!("invalid {method} params: {}", unique.join("; ")))
}

/// The declared descriptors of a valid `node.pluginTools.update`.
pub(crate) fn plugin_tools_params(params: &Value) -> Result<Vec<Value>, String> {
    validate(
        crate::protocol::methods::NODE_PLUGIN_TOOLS_UPDATE,
        &TOOLS_PARAMS,
        params,
    )?;
    Ok(params["tools"].as_array().cloned().unwrap_or_default())
}

/// The declared descriptors of a valid `node.skills.update`.
pub(crate) fn skills_params(params: &Value) -> Result<Vec<Value>, String> {
    validate(
        crate::protocol::methods::NODE_SKILLS_UPDATE,
        &SKILLS_PARAMS,
        params,
    )?;
    Ok(params["skills"].as_array().cloned().unwrap_or_default())
}

/// A string field trimmed, `None` when absent, not a string or blank (the Gateway's
/// `normalizeOptionalString`).
fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// `s` cut to `max` UTF-16 units (JS `slice`), never splitting a character.
fn utf16_prefix(s: &str, max: usize) -> &str {
    let mut units = 0;
    for (i, c) in s.char_indices() {
        units += c.len_utf16();
        if units > max {
            return &s[..i];
        }
    }
    s
}

/// The effective `nodePluginTools` of a node (parity §2.5,
/// `normalizeNodePluginToolDescriptors`): descriptors lacking a plugin id, a valid name, a
/// description or a command, or whose command is not among the node's effective
/// `commands`, are dropped; a `node-mcp` descriptor must name `mcp.tools.call.v1` and an
/// `mcp` reference; the rest sorted by plugin id, name and command, deduplicated by
/// (plugin id, name), at most [`MAX_PLUGIN_TOOLS`].
pub(crate) fn effective_plugin_tools(
    node_id: &str,
    declared: &[Value],
    commands: &[String],
) -> Vec<Value> {
    let mut kept: Vec<Value> = Vec::new();
    for tool in declared {
        let (Some(plugin_id), Some(name), Some(description), Some(command)) = (
            text(tool, "pluginId"),
            text(tool, "name"),
            text(tool, "description"),
            text(tool, "command"),
        ) else {
            continue;
        };
        if !is_tool_name(name) || !commands.iter().any(|c| c == command) {
            continue;
        }
        let mcp = tool.get("mcp").unwrap_or(&Value::Null);
        let (server, mcp_tool) = (text(mcp, "server"), text(mcp, "tool"));
        if plugin_id == NODE_MCP
            && (command != MCP_COMMAND || server.is_none() || mcp_tool.is_none())
        {
            tracing::warn!(node = %node_id, "node published non-MCP descriptor under reserved node-mcp id");
            continue;
        }
        let parameters = match tool.get("parameters") {
            Some(p @ Value::Object(_)) => p.clone(),
            _ => json!({"type": "object", "properties": {}, "additionalProperties": true}),
        };
        let mut d = Map::new();
        d.insert("pluginId".into(), plugin_id.into());
        d.insert("name".into(), name.into());
        d.insert(
            "description".into(),
            utf16_prefix(description, MAX_TOOL_DESCRIPTION).into(),
        );
        d.insert("parameters".into(), parameters);
        d.insert("command".into(), command.into());
        if let (Some(server), Some(mcp_tool)) = (server, mcp_tool) {
            d.insert("mcp".into(), json!({"server": server, "tool": mcp_tool}));
        }
        kept.push(Value::Object(d));
    }
    let key = |v: &Value, k: &str| v[k].as_str().unwrap_or_default().to_string();
    kept.sort_by(|a, b| {
        locale_compare(&key(a, "pluginId"), &key(b, "pluginId"))
            .then_with(|| locale_compare(&key(a, "name"), &key(b, "name")))
            .then_with(|| locale_compare(&key(a, "command"), &key(b, "command")))
    });
    let mut unique: Vec<Value> = Vec::new();
    for d in kept {
        let same = |u: &Value| u["pluginId"] == d["pluginId"] && u["name"] == d["name"];
        if !unique.iter().any(same) {
            unique.push(d);
        }
    }
    if unique.len() > MAX_PLUGIN_TOOLS {
        tracing::warn!(
            node = %node_id,
            published = unique.len(),
            dropped = unique.len() - MAX_PLUGIN_TOOLS,
            "node published more plugin tool descriptors than the 128 descriptor limit"
        );
        unique.truncate(MAX_PLUGIN_TOOLS);
    }
    unique
}

/// The skills the Gateway keeps of a valid `node.skills.update` (parity §4,
/// `normalizeNodeSkillDescriptors`): trimmed, invalid, duplicate and over-limit entries
/// dropped, sorted by name.
pub(crate) fn normalise_skills(node_id: &str, declared: &[Value]) -> Vec<Value> {
    let mut kept: Vec<Value> = Vec::new();
    let mut total = 0;
    let mut dropped = 0;
    for skill in declared {
        let name = skill["name"].as_str().unwrap_or_default().trim();
        let description = skill["description"].as_str().unwrap_or_default().trim();
        let content = skill["content"].as_str().unwrap_or_default();
        let fits = is_skill_name(name)
            && !description.is_empty()
            && description.encode_utf16().count() <= MAX_SKILL_DESCRIPTION
            && !content.is_empty()
            && content.len() <= MAX_SKILL_CONTENT_BYTES
            && !kept.iter().any(|k| k["name"] == name)
            && kept.len() < MAX_SKILLS
            && total + content.len() <= MAX_SKILLS_TOTAL_BYTES;
        if !fits {
            dropped += 1;
            continue;
        }
        total += content.len();
        kept.push(json!({"name": name, "description": description, "content": content}));
    }
    if dropped > 0 {
        tracing::warn!(node = %node_id, published = declared.len(), dropped, "node published invalid or over-limit skill descriptors");
    }
    kept.sort_by(|a, b| locale_compare(a["name"].as_str().unwrap(), b["name"].as_str().unwrap()));
    kept
}

/// A `node.runnerInventory.update` declaration (parity §2.3,
/// `parseNodeRunnerInventoryDeclaration`), as far as the embedded gateway, which hosts no
/// worker turns, accepts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunnerInventory {
    /// `{protocolFeatures: []}`: no worker dialect.
    NoDialect,
    /// The v6 form with `workerHost: {enabled: false}`, what the reference node sends.
    HostingOff,
    /// A retired dialect (v1–v5): the node must be updated.
    Retired,
}

/// The declaration `params` make, `None` for any other shape (answered
/// `invalid node runner inventory`). The v6 `enabled: true` form is refused too: the
/// embedded gateway dispatches no session turns.
pub(crate) fn runner_inventory(params: &Value) -> Option<RunnerInventory> {
    let map = params.as_object()?;
    let features = map.get("protocolFeatures")?.as_array()?;
    match features.as_slice() {
        [] => (map.len() == 1).then_some(RunnerInventory::NoDialect),
        [Value::String(f)] if is_retired_dialect(f) => {
            let known =
                |k: &String| matches!(k.as_str(), "protocolFeatures" | "workerRuns" | "workerHost");
            (map.len() <= 2 && map.keys().all(known)).then_some(RunnerInventory::Retired)
        }
        [Value::String(f)] if f == RUNNER_V6 && map.len() == 2 => (map.get("workerHost")?
            == &json!({"enabled": false}))
            .then_some(RunnerInventory::HostingOff),
        _ => None,
    }
}

fn is_retired_dialect(feature: &str) -> bool {
    feature
        .strip_prefix("node-worker-supervisor-v")
        .is_some_and(|n| matches!(n, "1" | "2" | "3" | "4" | "5"))
}

/// The real Gateway's refusal of a retired worker dialect.
pub(crate) fn runner_update_required(node_id: &str) -> String {
    format!(
        "device worker node {node_id} requires an update before it can host sessions; run openclaw update, then reconnect it (for a headless node, run openclaw node restart)"
    )
}

#[cfg(test)]
mod tests {
    //! Expected texts are what the 2026.9.6 Gateway's validators answer for the same input
    //! (run with node against the bundled dist).

    use super::*;

    fn tools_err(v: Value) -> String {
        plugin_tools_params(&v).unwrap_err()
    }

    #[test]
    fn plugin_tools_schema_errors_read_as_the_real_gateway() {
        let p = "invalid node.pluginTools.update params: ";
        let cases = [
            (json!({}), "must have required property 'tools'"),
            (json!({"tools": 5}), "at /tools: must be array"),
            (json!(null), "must be object"),
            (
                json!({"tools": [], "extra": 1}),
                "at root: unexpected property 'extra'",
            ),
            (
                json!({"tools": [{"pluginId":"p","name":"n","description":"d","extra":1}]}),
                "at /tools/0: unexpected property 'extra'",
            ),
            (
                json!({"tools": [{"pluginId":"p","name":"1n","description":"d"}]}),
                "at /tools/0/name: must match pattern \"^[A-Za-z][A-Za-z0-9_-]{0,63}$\"",
            ),
            (
                json!({"tools": [{"pluginId":"p","name":""   ,"description":"d"}]}),
                "at /tools/0/name: must not have fewer than 1 characters; at /tools/0/name: must match pattern \"^[A-Za-z][A-Za-z0-9_-]{0,63}$\"",
            ),
            (
                json!({"tools": [{"pluginId":"p","name":"n"}]}),
                "at /tools/0: must have required property 'description'",
            ),
            (
                json!({"tools": [{"pluginId":"p","name":"n","description":"d","mcp":{"server":"s","tool":"t","x":1}}]}),
                "at /tools/0/mcp: unexpected property 'x'",
            ),
            (
                json!({"tools": [{"pluginId":"p","name":"n","description":"d","command":5,"parameters":3,"mcp":{"tool":1,"q":1}}]}),
                "at /tools/0/parameters: must be object; at /tools/0/command: must be string; at /tools/0/mcp: must have required property 'server'; at /tools/0/mcp: unexpected property 'q'; at /tools/0/mcp/tool: must be string",
            ),
            (
                json!({"tools": [{"z":1,"description":5,"name":"n"}]}),
                "at /tools/0: must have required property 'pluginId'; at /tools/0: unexpected property 'z'; at /tools/0/description: must be string",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(tools_err(input.clone()), format!("{p}{want}"), "{input}");
        }
        let ok = json!({"tools": [{"pluginId":"p","name":"n","description":"d","parameters":{"a":1},"mcp":{"server":" ","tool":"x"}}]});
        assert_eq!(plugin_tools_params(&ok).unwrap().len(), 1);
    }

    #[test]
    fn skills_schema_errors_read_as_the_real_gateway() {
        let p = "invalid node.skills.update params: ";
        let skill = json!({"name":"a","description":"d","content":"c"});
        let mut many = vec![json!({"name": "a"})];
        many.extend(std::iter::repeat_n(skill.clone(), 64));
        let cases = [
            (json!({}), "must have required property 'skills'".to_string()),
            (
                json!({"skills":[{"name":"a","description":"d","content":"c","x":1}]}),
                "at /skills/0: unexpected property 'x'".into(),
            ),
            (
                json!({"skills":[{"name":"a--b","description":"d","content":"c"}]}),
                format!("at /skills/0/name: must match pattern \"{SKILL_NAME_PATTERN}\""),
            ),
            (
                json!({"skills": many}),
                "at /skills/0: must have required property 'description'; at /skills: must not have more than 64 items".into(),
            ),
            (
                json!({"skills":[{"name":"a","description":"d".repeat(1025),"content":"c"}]}),
                "at /skills/0/description: must not have more than 1024 characters".into(),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(skills_params(&input).unwrap_err(), format!("{p}{want}"));
        }
        assert_eq!(skills_params(&json!({"skills": [skill]})).unwrap().len(), 1);
    }

    fn mcp_tool(name: &str, server: &str) -> Value {
        json!({"pluginId": "node-mcp", "name": name, "description": format!("  {name} tool  "),
               "command": "mcp.tools.call.v1", "mcp": {"server": server, "tool": name}})
    }

    #[test]
    fn effective_tools_follow_the_gateway_normalisation() {
        let commands = vec!["mcp.tools.call.v1".to_string(), "x.run".to_string()];
        let declared = vec![
            mcp_tool("zeta", "fx"),
            mcp_tool("Beta", "fx"),
            mcp_tool("alpha", "fx"),
            mcp_tool("alpha", "other"),
            // Not approved, no command, reserved id misused, bad name.
            json!({"pluginId": "p", "name": "n", "description": "d", "command": "y.run"}),
            json!({"pluginId": "p", "name": "n", "description": "d"}),
            json!({"pluginId": "node-mcp", "name": "m", "description": "d", "command": "x.run"}),
            json!({"pluginId": "node-mcp", "name": "m", "description": "d", "command": "mcp.tools.call.v1"}),
            json!({"pluginId": "p", "name": "9n", "description": "d", "command": "x.run"}),
            json!({"pluginId": "a-plugin", "name": "run", "description": "é".repeat(1100), "command": "x.run", "parameters": []}),
        ];
        let got = effective_plugin_tools("n1", &declared, &commands);
        let names: Vec<_> = got
            .iter()
            .map(|t| {
                format!(
                    "{}/{}",
                    t["pluginId"].as_str().unwrap(),
                    t["name"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                "a-plugin/run",
                "node-mcp/alpha",
                "node-mcp/Beta",
                "node-mcp/zeta"
            ]
        );
        assert_eq!(
            got[1]["mcp"],
            json!({"server": "fx", "tool": "alpha"}),
            "first of a duplicate kept"
        );
        assert_eq!(got[1]["description"], "alpha tool");
        assert_eq!(
            got[0]["description"].as_str().unwrap().chars().count(),
            1024
        );
        assert_eq!(
            got[0]["parameters"],
            json!({"type": "object", "properties": {}, "additionalProperties": true})
        );
        let many: Vec<Value> = (0..130)
            .map(|i| mcp_tool(&format!("t{i:03}"), "fx"))
            .collect();
        assert_eq!(
            effective_plugin_tools("n1", &many, &commands).len(),
            MAX_PLUGIN_TOOLS
        );
        assert!(
            effective_plugin_tools("n1", &many, &[]).is_empty(),
            "nothing approved"
        );
    }

    #[test]
    fn locale_order_matches_js_for_tool_names() {
        let mut v = vec!["b", "B", "a_b", "a-b", "a1", "ab", "A"];
        v.sort_by(|a, b| locale_compare(a, b));
        // ["b","B","a_b","a-b","a1","ab","A"].sort((a,b)=>a.localeCompare(b)) in node.
        assert_eq!(v, ["A", "a_b", "a-b", "a1", "ab", "b", "B"]);
    }

    #[test]
    fn skills_are_trimmed_deduplicated_and_sorted() {
        let s = |n: &str| json!({"name": n, "description": " d ", "content": "c"});
        let got = normalise_skills("n1", &[s("beta"), s("alpha"), s("beta")]);
        assert_eq!(
            got,
            [
                json!({"name": "alpha", "description": "d", "content": "c"}),
                json!({"name": "beta", "description": "d", "content": "c"})
            ]
        );
    }

    #[test]
    fn runner_inventory_shapes() {
        use RunnerInventory::*;
        let v6 = json!({"protocolFeatures":["node-worker-supervisor-v6"],"workerHost":{"enabled":false}});
        assert_eq!(runner_inventory(&v6), Some(HostingOff));
        assert_eq!(
            runner_inventory(&json!({"protocolFeatures": []})),
            Some(NoDialect)
        );
        assert_eq!(
            runner_inventory(
                &json!({"protocolFeatures":["node-worker-supervisor-v3"],"workerRuns":{}})
            ),
            Some(Retired)
        );
        for bad in [
            json!({}),
            json!(null),
            json!({"protocolFeatures": [], "x": 1}),
            json!({"protocolFeatures":["node-worker-supervisor-v6"]}),
            json!({"protocolFeatures":["node-worker-supervisor-v6"],"workerHost":{"enabled":false,"x":1}}),
            json!({"protocolFeatures":["node-worker-supervisor-v6"],"workerHost":{"enabled":true,"capacity":{"total":1,"available":1}}}),
            json!({"protocolFeatures":["node-worker-supervisor-v7"],"workerHost":{"enabled":false}}),
        ] {
            assert_eq!(runner_inventory(&bad), None, "{bad}");
        }
    }
}

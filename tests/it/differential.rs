//! The differential harness: our node and the reference node host (`openclaw node run`,
//! started by `scripts/real-gateway ts-node start`) on the same real Gateway, the same
//! calls sent to both through one operator connection, and the answers compared after
//! normalising what legitimately differs (see [`normalise`]).
//!
//! Our node is the release-shaped binary (`openclaw-node run` with a config file), so the
//! composition root is what answers, not a test harness around the session. Both nodes run
//! with `security = "full"`, `ask = "off"` (the reference's default) and the same working
//! directory, so results that depend on the node's cwd compare like with like.
//!
//! Both nodes host the same MCP server (tests/fixtures/mcp_server.py as `fx`), so the
//! catalog the Gateway shows for each (`nodePluginTools`) and the answers of
//! `mcp.tools.call.v1` are compared too.
//!
//! Every case prints one row, `same` or `differs`. A difference fails the test unless the
//! case is listed, with its reason, in the "Deliberate differences" table of
//! `docs/protocol-notes.md`; a listed case that no longer differs fails too, so the table
//! stays true.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use openclaw_node::operator::{OperatorClient, OperatorError, OperatorOptions};
use openclaw_node::secret::Secret;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::real_gateway::{REAL, real, real_env, real_home};

/// One call sent to both nodes.
struct Case {
    /// Unique name: the key of the deliberate-differences table.
    name: &'static str,
    /// `node.invoke` command, or a gateway method when `gateway_method` is set.
    command: &'static str,
    /// The params, with `{fx}` standing for the fixture directory and `{node}` for the
    /// node's id; `None` sends none.
    params: Option<String>,
    /// `node.invoke` `timeoutMs`.
    invoke_timeout_ms: u64,
}

/// A gateway method that takes a `nodeId` and forwards to the node (the exec-approvals
/// methods): its params get the node's id, and `{hash}` stands for the node's current
/// approvals hash.
struct MethodCase {
    name: &'static str,
    method: &'static str,
    params: &'static str,
}

fn method_cases() -> Vec<MethodCase> {
    let m = |name, method, params| MethodCase {
        name,
        method,
        params,
    };
    vec![
        m("approvals/get", "exec.approvals.node.get", "{}"),
        m(
            "approvals/set-stale-hash",
            "exec.approvals.node.set",
            r#"{"file":{"version":1},"baseHash":"0000"}"#,
        ),
        m(
            "approvals/set-no-hash",
            "exec.approvals.node.set",
            r#"{"file":{"version":1}}"#,
        ),
        m(
            "approvals/set-no-file",
            "exec.approvals.node.set",
            r#"{"baseHash":"{hash}"}"#,
        ),
        m(
            "approvals/set-file-string",
            "exec.approvals.node.set",
            r#"{"file":"x","baseHash":"{hash}"}"#,
        ),
        m(
            "approvals/set-bad-version",
            "exec.approvals.node.set",
            r#"{"file":{"version":2},"baseHash":"{hash}"}"#,
        ),
        m(
            "approvals/set-bad-security",
            "exec.approvals.node.set",
            r#"{"file":{"version":1,"defaults":{"security":"bogus"}},"baseHash":"{hash}"}"#,
        ),
        m(
            "approvals/set-allowlist",
            "exec.approvals.node.set",
            r#"{"file":{"version":1,"defaults":{"security":"allowlist","ask":"off"},"agents":{"main":{"allowlist":[{"pattern":"/usr/bin/echo"}]}}},"baseHash":"{hash}"}"#,
        ),
        m("approvals/get-after-set", "exec.approvals.node.get", "{}"),
    ]
}

/// Puts both nodes back on `security=full`, `ask=off` (also before the run, in case an
/// earlier run stopped half-way).
const RESTORE_FULL: MethodCase = MethodCase {
    name: "approvals/restore-full",
    method: "exec.approvals.node.set",
    params: r#"{"file":{"version":1,"defaults":{"security":"full","ask":"off"}},"baseHash":"{hash}"}"#,
};

/// Calls made while both nodes' approvals say `security=allowlist` with only
/// `/usr/bin/echo` allowed and `ask=off`: the refusals must match too.
fn allowlist_cases() -> Vec<Case> {
    vec![
        case(
            "allowlist/echo-allowed",
            "system.run",
            r#"{"command":["echo","ok"]}"#,
        ),
        case(
            "allowlist/echo-by-path",
            "system.run",
            r#"{"command":["/usr/bin/echo","ok"]}"#,
        ),
        case(
            "allowlist/ls-denied",
            "system.run",
            r#"{"command":["ls","/"]}"#,
        ),
        case(
            "allowlist/shell-denied",
            "system.run",
            r#"{"command":["sh","-c","echo hi"]}"#,
        ),
        case(
            "allowlist/echo-in-shell",
            "system.run",
            r#"{"command":["sh","-c","echo hi"],"rawCommand":"echo hi"}"#,
        ),
        case(
            "allowlist/chain-denied",
            "system.run",
            r#"{"command":["sh","-c","echo a; id"]}"#,
        ),
        case(
            "allowlist/env-wrapper",
            "system.run",
            r#"{"command":["env","echo","hi"]}"#,
        ),
        case(
            "allowlist/missing-binary",
            "system.run",
            r#"{"command":["no-such-binary-xyz"]}"#,
        ),
        case(
            "allowlist/env-override",
            "system.run",
            r#"{"command":["echo","x"],"env":{"FOO":"1"}}"#,
        ),
        case(
            "allowlist/prepare-ls",
            "system.run.prepare",
            r#"{"command":["ls"],"cwd":"{fx}"}"#,
        ),
        case("allowlist/which", "system.which", r#"{"bins":["ls"]}"#),
    ]
}

fn case(name: &'static str, command: &'static str, params: &str) -> Case {
    Case {
        name,
        command,
        params: Some(params.to_string()),
        invoke_timeout_ms: 30_000,
    }
}

fn no_params(name: &'static str, command: &'static str) -> Case {
    Case {
        name,
        command,
        params: None,
        invoke_timeout_ms: 30_000,
    }
}

/// The list. Params are JSON text so that wrong types and odd shapes are easy to write.
fn cases() -> Vec<Case> {
    let big = "x".repeat(100_000);
    let mut v = vec![
        // --- system.run: good params -------------------------------------------------
        case("run/echo", "system.run", r#"{"command":["echo","hi"]}"#),
        case(
            "run/echo-cwd",
            "system.run",
            r#"{"command":["echo","hi"],"cwd":"{fx}"}"#,
        ),
        case("run/true", "system.run", r#"{"command":["true"]}"#),
        case("run/false", "system.run", r#"{"command":["false"]}"#),
        case(
            "run/exit-3-stderr",
            "system.run",
            r#"{"command":["sh","-c","echo err >&2; exit 3"]}"#,
        ),
        case(
            "run/exit-255",
            "system.run",
            r#"{"command":["sh","-c","exit 255"]}"#,
        ),
        case(
            "run/empty-output",
            "system.run",
            r#"{"command":["sh","-c",":"]}"#,
        ),
        case(
            "run/stdout-and-stderr",
            "system.run",
            r#"{"command":["sh","-c","echo out; echo err >&2"]}"#,
        ),
        case(
            "run/no-trailing-newline",
            "system.run",
            r#"{"command":["printf","abc"]}"#,
        ),
        case(
            "run/unicode",
            "system.run",
            r#"{"command":["printf","h\u00e9llo \u2603 \ud83d\ude00"]}"#,
        ),
        case(
            "run/non-utf8",
            "system.run",
            r#"{"command":["printf","a\\377\\376b"]}"#,
        ),
        case(
            "run/nul-byte",
            "system.run",
            r#"{"command":["printf","a\\000b"]}"#,
        ),
        case(
            "run/crlf",
            "system.run",
            r#"{"command":["printf","a\r\nb"]}"#,
        ),
        case(
            "run/cat-file",
            "system.run",
            r#"{"command":["cat","{fx}/file.txt"]}"#,
        ),
        case(
            "run/relative-cwd-file",
            "system.run",
            r#"{"command":["cat","file.txt"],"cwd":"{fx}"}"#,
        ),
        case(
            "run/pwd-in-cwd",
            "system.run",
            r#"{"command":["pwd"],"cwd":"{fx}"}"#,
        ),
        case(
            "run/cwd-trailing-slash",
            "system.run",
            r#"{"command":["pwd"],"cwd":"{fx}/"}"#,
        ),
        case(
            "run/cwd-dotdot",
            "system.run",
            r#"{"command":["pwd"],"cwd":"{fx}/sub/.."}"#,
        ),
        case(
            "run/cwd-symlink",
            "system.run",
            r#"{"command":["pwd"],"cwd":"{fx}/link-to-sub"}"#,
        ),
        case(
            "run/script",
            "system.run",
            r#"{"command":["{fx}/script.sh","a b"]}"#,
        ),
        case(
            "run/sh-script",
            "system.run",
            r#"{"command":["sh","{fx}/script.sh","x"]}"#,
        ),
        case(
            "run/args-with-spaces",
            "system.run",
            r#"{"command":["printf","[%s]","a b","c"]}"#,
        ),
        case(
            "run/arg-empty-string",
            "system.run",
            r#"{"command":["printf","[%s]",""]}"#,
        ),
        case(
            "run/shell-payload",
            "system.run",
            r#"{"command":["sh","-c","echo $((1+2)) | tr 3 x"]}"#,
        ),
        case(
            "run/bash-lc",
            "system.run",
            r#"{"command":["bash","-lc","echo ok"]}"#,
        ),
        case(
            "run/raw-command-match",
            "system.run",
            r#"{"command":["sh","-c","echo hi"],"rawCommand":"echo hi"}"#,
        ),
        case(
            "run/raw-command-mismatch",
            "system.run",
            r#"{"command":["sh","-c","echo hi"],"rawCommand":"echo bye"}"#,
        ),
        case(
            "run/raw-command-only",
            "system.run",
            r#"{"rawCommand":"echo hi"}"#,
        ),
        case(
            "run/raw-command-wrong-type",
            "system.run",
            r#"{"command":["echo","hi"],"rawCommand":5}"#,
        ),
        case(
            "run/env-override",
            "system.run",
            r#"{"command":["sh","-c","echo $FOO"],"env":{"FOO":"bar"}}"#,
        ),
        case(
            "run/env-empty-value",
            "system.run",
            r#"{"command":["sh","-c","echo [$FOO]"],"env":{"FOO":""}}"#,
        ),
        case(
            "run/env-path",
            "system.run",
            r#"{"command":["true"],"env":{"PATH":"/tmp"}}"#,
        ),
        case(
            "run/env-ld-preload",
            "system.run",
            r#"{"command":["true"],"env":{"LD_PRELOAD":"/tmp/x.so"}}"#,
        ),
        case(
            "run/env-bash-env",
            "system.run",
            r#"{"command":["true"],"env":{"BASH_ENV":"/tmp/x"}}"#,
        ),
        case(
            "run/env-lowercase",
            "system.run",
            r#"{"command":["sh","-c","echo $foo"],"env":{"foo":"low"}}"#,
        ),
        case(
            "run/env-bad-key",
            "system.run",
            r#"{"command":["true"],"env":{"A=B":"x"}}"#,
        ),
        case(
            "run/env-number-value",
            "system.run",
            r#"{"command":["sh","-c","echo [$N]"],"env":{"N":5}}"#,
        ),
        case(
            "run/env-wrong-type",
            "system.run",
            r#"{"command":["true"],"env":"FOO=bar"}"#,
        ),
        case(
            "run/env-array",
            "system.run",
            r#"{"command":["true"],"env":["FOO=bar"]}"#,
        ),
        case(
            "run/env-null",
            "system.run",
            r#"{"command":["true"],"env":null}"#,
        ),
        // --- system.run: bad params ----------------------------------------------------
        no_params("run/no-params", "system.run"),
        case("run/empty-object", "system.run", r#"{}"#),
        case("run/command-empty", "system.run", r#"{"command":[]}"#),
        case("run/command-string", "system.run", r#"{"command":"uname"}"#),
        case("run/command-number", "system.run", r#"{"command":5}"#),
        case("run/command-null", "system.run", r#"{"command":null}"#),
        case(
            "run/command-object",
            "system.run",
            r#"{"command":{"0":"echo"}}"#,
        ),
        case("run/command-numbers", "system.run", r#"{"command":[1,2]}"#),
        case(
            "run/command-mixed",
            "system.run",
            r#"{"command":["echo",5]}"#,
        ),
        case(
            "run/command-empty-string",
            "system.run",
            r#"{"command":[""]}"#,
        ),
        case("run/command-blank", "system.run", r#"{"command":["  "]}"#),
        case(
            "run/command-null-item",
            "system.run",
            r#"{"command":["echo",null]}"#,
        ),
        case("run/params-array", "system.run", r#"["echo","hi"]"#),
        case("run/params-string", "system.run", r#""echo hi""#),
        case(
            "run/extra-field",
            "system.run",
            r#"{"command":["echo","hi"],"bogus":1}"#,
        ),
        case(
            "run/cwd-missing",
            "system.run",
            r#"{"command":["true"],"cwd":"{fx}/no-such-dir"}"#,
        ),
        case(
            "run/cwd-not-dir",
            "system.run",
            r#"{"command":["true"],"cwd":"{fx}/file.txt"}"#,
        ),
        case(
            "run/cwd-relative",
            "system.run",
            r#"{"command":["pwd"],"cwd":"sub"}"#,
        ),
        case(
            "run/cwd-empty",
            "system.run",
            r#"{"command":["pwd"],"cwd":""}"#,
        ),
        case(
            "run/cwd-wrong-type",
            "system.run",
            r#"{"command":["true"],"cwd":5}"#,
        ),
        case(
            "run/cwd-null",
            "system.run",
            r#"{"command":["true"],"cwd":null}"#,
        ),
        case(
            "run/binary-missing",
            "system.run",
            r#"{"command":["/no/such/binary"]}"#,
        ),
        case(
            "run/binary-missing-path",
            "system.run",
            r#"{"command":["no-such-binary-xyz"]}"#,
        ),
        case(
            "run/binary-not-executable",
            "system.run",
            r#"{"command":["{fx}/file.txt"]}"#,
        ),
        case(
            "run/binary-is-dir",
            "system.run",
            r#"{"command":["{fx}/sub"]}"#,
        ),
        case(
            "run/timeout-negative",
            "system.run",
            r#"{"command":["true"],"timeoutMs":-1}"#,
        ),
        case(
            "run/timeout-zero",
            "system.run",
            r#"{"command":["true"],"timeoutMs":0}"#,
        ),
        case(
            "run/timeout-string",
            "system.run",
            r#"{"command":["true"],"timeoutMs":"100"}"#,
        ),
        case(
            "run/timeout-float",
            "system.run",
            r#"{"command":["true"],"timeoutMs":1500.5}"#,
        ),
        case(
            "run/timeout-huge",
            "system.run",
            r#"{"command":["true"],"timeoutMs":1e300}"#,
        ),
        case(
            "run/agent-id-wrong-type",
            "system.run",
            r#"{"command":["true"],"agentId":5}"#,
        ),
        case(
            "run/session-key",
            "system.run",
            r#"{"command":["true"],"sessionKey":"agent:main:main"}"#,
        ),
        case(
            "run/needs-screen-recording",
            "system.run",
            r#"{"command":["true"],"needsScreenRecording":true}"#,
        ),
        case(
            "run/approved-without-plan",
            "system.run",
            r#"{"command":["true"],"approved":true}"#,
        ),
        case(
            "run/approval-decision-bad",
            "system.run",
            r#"{"command":["true"],"approvalDecision":"maybe"}"#,
        ),
        case(
            "run/plan-wrong-type",
            "system.run",
            r#"{"command":["true"],"systemRunPlan":"x"}"#,
        ),
        case(
            "run/run-id",
            "system.run",
            r#"{"command":["true"],"runId":"r-1"}"#,
        ),
        case(
            "run/suppress-notify",
            "system.run",
            r#"{"command":["true"],"suppressNotifyOnExit":true}"#,
        ),
        // --- system.run: edge cases ----------------------------------------------------
        case(
            "run/output-at-cap",
            "system.run",
            r#"{"command":["sh","-c","head -c 200000 /dev/zero | tr '\\0' a"]}"#,
        ),
        case(
            "run/output-past-cap",
            "system.run",
            r#"{"command":["sh","-c","head -c 300000 /dev/zero | tr '\\0' a"]}"#,
        ),
        case(
            "run/stderr-past-cap",
            "system.run",
            r#"{"command":["sh","-c","head -c 300000 /dev/zero | tr '\\0' e >&2"]}"#,
        ),
        case(
            "run/both-past-cap",
            "system.run",
            r#"{"command":["sh","-c","echo start; head -c 300000 /dev/zero | tr '\\0' e >&2"]}"#,
        ),
        case(
            "run/many-lines",
            "system.run",
            r#"{"command":["seq","1","20000"]}"#,
        ),
        case(
            "run/signal-term",
            "system.run",
            r#"{"command":["sh","-c","kill -TERM $$"]}"#,
        ),
        case(
            "run/signal-kill",
            "system.run",
            r#"{"command":["sh","-c","kill -KILL $$"]}"#,
        ),
        case(
            "run/signal-segv",
            "system.run",
            r#"{"command":["sh","-c","kill -SEGV $$"]}"#,
        ),
        case(
            "run/exit-after-output",
            "system.run",
            r#"{"command":["sh","-c","echo partial; exit 7"]}"#,
        ),
        case(
            "run/stdin-is-empty",
            "system.run",
            r#"{"command":["sh","-c","cat; echo done"]}"#,
        ),
        case(
            "run/big-argv",
            "system.run",
            &format!(r#"{{"command":["printf","%s","{big}"]}}"#),
        ),
        case(
            "run/pty-flag",
            "system.run",
            r#"{"command":["sh","-c","test -t 1 && echo tty || echo notty"],"pty":true}"#,
        ),
        case(
            "run/tty-default",
            "system.run",
            r#"{"command":["sh","-c","test -t 1 && echo tty || echo notty"]}"#,
        ),
        case(
            "run/background-child",
            "system.run",
            r#"{"command":["sh","-c","(sleep 0.2; echo late) & echo early"]}"#,
        ),
        // --- system.run.prepare --------------------------------------------------------
        case(
            "prepare/echo",
            "system.run.prepare",
            r#"{"command":["echo","hi"],"cwd":"{fx}"}"#,
        ),
        case(
            "prepare/default-cwd",
            "system.run.prepare",
            r#"{"command":["echo","hi"]}"#,
        ),
        case(
            "prepare/script",
            "system.run.prepare",
            r#"{"command":["{fx}/script.sh"],"cwd":"{fx}"}"#,
        ),
        case(
            "prepare/sh-script",
            "system.run.prepare",
            r#"{"command":["sh","script.sh"],"cwd":"{fx}"}"#,
        ),
        case(
            "prepare/shell-payload",
            "system.run.prepare",
            r#"{"command":["sh","-c","echo hi | wc -c"],"cwd":"{fx}"}"#,
        ),
        case(
            "prepare/raw-command",
            "system.run.prepare",
            r#"{"command":["sh","-c","echo hi"],"rawCommand":"echo hi","cwd":"{fx}"}"#,
        ),
        case(
            "prepare/raw-mismatch",
            "system.run.prepare",
            r#"{"command":["sh","-c","echo hi"],"rawCommand":"echo no","cwd":"{fx}"}"#,
        ),
        case(
            "prepare/agent",
            "system.run.prepare",
            r#"{"command":["true"],"cwd":"{fx}","agentId":"main","sessionKey":"agent:main:main"}"#,
        ),
        case(
            "prepare/env-wrapper",
            "system.run.prepare",
            r#"{"command":["env","FOO=1","true"],"cwd":"{fx}"}"#,
        ),
        case(
            "prepare/missing-binary",
            "system.run.prepare",
            r#"{"command":["no-such-binary-xyz"],"cwd":"{fx}"}"#,
        ),
        case(
            "prepare/cwd-missing",
            "system.run.prepare",
            r#"{"command":["true"],"cwd":"{fx}/no-such-dir"}"#,
        ),
        no_params("prepare/no-params", "system.run.prepare"),
        case(
            "prepare/command-empty",
            "system.run.prepare",
            r#"{"command":[]}"#,
        ),
        case(
            "prepare/command-string",
            "system.run.prepare",
            r#"{"command":"uname"}"#,
        ),
        case(
            "prepare/command-numbers",
            "system.run.prepare",
            r#"{"command":[1]}"#,
        ),
        case(
            "prepare/python-inline",
            "system.run.prepare",
            r#"{"command":["python3","-c","print(1)"],"cwd":"{fx}"}"#,
        ),
        // --- system.which --------------------------------------------------------------
        case("which/sh", "system.which", r#"{"bins":["sh"]}"#),
        case(
            "which/several",
            "system.which",
            r#"{"bins":["sh","env","no-such-binary-xyz"]}"#,
        ),
        case(
            "which/none-found",
            "system.which",
            r#"{"bins":["no-such-binary-xyz"]}"#,
        ),
        case("which/empty", "system.which", r#"{"bins":[]}"#),
        case(
            "which/duplicates",
            "system.which",
            r#"{"bins":["sh","sh"]}"#,
        ),
        case("which/absolute", "system.which", r#"{"bins":["/bin/sh"]}"#),
        case(
            "which/relative-path",
            "system.which",
            r#"{"bins":["./sh"]}"#,
        ),
        case("which/blank", "system.which", r#"{"bins":["  "]}"#),
        case("which/empty-string", "system.which", r#"{"bins":[""]}"#),
        case("which/padded", "system.which", r#"{"bins":[" sh "]}"#),
        case("which/string", "system.which", r#"{"bins":"git"}"#),
        case("which/number", "system.which", r#"{"bins":5}"#),
        case("which/numbers", "system.which", r#"{"bins":[1,2]}"#),
        case("which/mixed", "system.which", r#"{"bins":["sh",1]}"#),
        case("which/null", "system.which", r#"{"bins":null}"#),
        case("which/missing", "system.which", r#"{}"#),
        no_params("which/no-params", "system.which"),
        case(
            "which/extra-field",
            "system.which",
            r#"{"bins":["sh"],"extra":true}"#,
        ),
        case("which/params-array", "system.which", r#"["sh"]"#),
        // --- commands neither node serves, and the gateway's own checks ---------------
        case("unknown/command", "system.nope", r#"{}"#),
        case(
            "unknown/execApprovals-via-invoke",
            "system.execApprovals.get",
            r#"{}"#,
        ),
    ];
    v.extend(browser_cases());
    v.extend(mcp_cases());
    // `node://` skill locators as `cwd` (neither node has a skill called `absent`).
    for (name, command) in [
        ("skill-cwd/run", "system.run"),
        ("skill-cwd/prepare", "system.run.prepare"),
    ] {
        for (suffix, cwd) in [
            ("other-node", "node://someone-else/skills/absent"),
            ("missing", "node://{node}/skills/absent"),
            ("bad-name", "node://{node}/skills/Not_A_Name"),
            ("no-name", "node://{node}/skills/"),
            ("dotdot", "node://{node}/skills/.."),
            ("not-skills", "node://{node}/files/absent"),
        ] {
            let params = format!(r#"{{"command":["pwd"],"cwd":"{cwd}"}}"#);
            v.push(Case {
                name: Box::leak(format!("{name}-{suffix}").into_boxed_str()),
                command,
                params: Some(params),
                invoke_timeout_ms: 30_000,
            });
        }
    }
    let many: Vec<String> = (0..300).map(|i| format!("\"bin{i}\"")).collect();
    v.push(Case {
        name: "which/many",
        command: "system.which",
        params: Some(format!(r#"{{"bins":[{}]}}"#, many.join(","))),
        invoke_timeout_ms: 30_000,
    });
    v.push(Case {
        name: "run/timeout",
        command: "system.run",
        params: Some(r#"{"command":["sleep","5"],"timeoutMs":800}"#.into()),
        invoke_timeout_ms: 30_000,
    });
    v.push(Case {
        name: "run/timeout-with-output",
        command: "system.run",
        params: Some(r#"{"command":["sh","-c","echo before; sleep 5"],"timeoutMs":800}"#.into()),
        invoke_timeout_ms: 30_000,
    });
    v.push(Case {
        name: "run/timeout-trap-term",
        command: "system.run",
        params: Some(r#"{"command":["sh","-c","trap '' TERM; sleep 5"],"timeoutMs":800}"#.into()),
        invoke_timeout_ms: 30_000,
    });
    v.push(Case {
        name: "run/invoke-timeout-shorter",
        command: "system.run",
        params: Some(r#"{"command":["sleep","3"]}"#.into()),
        invoke_timeout_ms: 1_000,
    });
    v
}

/// `mcp.tools.call.v1` on the fixture MCP server both nodes host as `fx` (with `pid`
/// filtered out of the catalog): good calls, tool errors, what is not in the catalog and
/// every kind of bad param.
fn mcp_cases() -> Vec<Case> {
    let m = |name, params| case(name, "mcp.tools.call.v1", params);
    vec![
        m(
            "mcp/echo",
            r#"{"server":"fx","tool":"echo","arguments":{"text":"hi"}}"#,
        ),
        m(
            "mcp/echo-unicode",
            r#"{"server":"fx","tool":"echo","arguments":{"text":"h\u00e9 \ud83d\ude00 \n tab\t"}}"#,
        ),
        m(
            "mcp/echo-extra-keys",
            r#"{"server":"fx","tool":"echo","arguments":{"text":"hi"},"other":1}"#,
        ),
        m(
            "mcp/echo-padded-names",
            r#"{"server":" fx ","tool":" echo ","arguments":{"text":"hi"}}"#,
        ),
        m("mcp/echo-no-arguments", r#"{"server":"fx","tool":"echo"}"#),
        m(
            "mcp/echo-wrong-argument-type",
            r#"{"server":"fx","tool":"echo","arguments":{"text":5}}"#,
        ),
        m(
            "mcp/fail",
            r#"{"server":"fx","tool":"fail","arguments":{"reason":"no"}}"#,
        ),
        m(
            "mcp/big-over-1mb",
            r#"{"server":"fx","tool":"big","arguments":{"size":1100000}}"#,
        ),
        m(
            "mcp/big-small",
            r#"{"server":"fx","tool":"big","arguments":{"size":10}}"#,
        ),
        m("mcp/unknown-tool", r#"{"server":"fx","tool":"nope"}"#),
        m("mcp/filtered-tool", r#"{"server":"fx","tool":"pid"}"#),
        m("mcp/unknown-server", r#"{"server":"nope","tool":"echo"}"#),
        m("mcp/empty-params", r#"{}"#),
        no_params("mcp/no-params", "mcp.tools.call.v1"),
        m("mcp/params-array", r#"[]"#),
        m("mcp/params-string", r#""x""#),
        m("mcp/server-blank", r#"{"server":"  ","tool":"echo"}"#),
        m("mcp/server-number", r#"{"server":5,"tool":"echo"}"#),
        m("mcp/tool-missing", r#"{"server":"fx"}"#),
        m(
            "mcp/arguments-array",
            r#"{"server":"fx","tool":"echo","arguments":[]}"#,
        ),
        m(
            "mcp/arguments-string",
            r#"{"server":"fx","tool":"echo","arguments":"x"}"#,
        ),
        m(
            "mcp/arguments-null",
            r#"{"server":"fx","tool":"echo","arguments":null}"#,
        ),
        m(
            "mcp/odd-spaces",
            r#"{"server":"Odd Server.with a name longer than 31 characters","tool":"Get Weather!"}"#,
        ),
        m(
            "mcp/odd-unicode",
            r#"{"server":"Odd Server.with a name longer than 31 characters","tool":"ünïcödé"}"#,
        ),
        m(
            "mcp/odd-sanitised-name",
            r#"{"server":"Odd Server.with a name longer than 31 characters","tool":"Get_Weather"}"#,
        ),
        m(
            "mcp/odd-descriptor-name",
            r#"{"server":"Odd_Server_with_a_name_longer_t","tool":"Get_Weather"}"#,
        ),
    ]
}

/// `browser.proxy` calls whose answers do not depend on the browser's process (no pids,
/// ports or tab ids): bad params, unknown routes, refused navigations.
fn browser_cases() -> Vec<Case> {
    let b = |name, params| case(name, "browser.proxy", params);
    vec![
        b("browser/no-path", r#"{}"#),
        b("browser/path-number", r#"{"path":5}"#),
        b("browser/path-empty", r#"{"path":""}"#),
        b("browser/unknown-route", r#"{"path":"/no-such-route"}"#),
        b(
            "browser/unknown-route-post",
            r#"{"path":"/no-such-route","method":"POST"}"#,
        ),
        b("browser/method-bogus", r#"{"path":"/","method":"BREW"}"#),
        b(
            "browser/method-number",
            r#"{"path":"/no-such-route","method":5}"#,
        ),
        b(
            "browser/profile-unknown",
            r#"{"path":"/","profile":"no-such-profile"}"#,
        ),
        b(
            "browser/profile-number",
            r#"{"path":"/no-such-route","profile":5}"#,
        ),
        b(
            "browser/body-string",
            r#"{"path":"/tabs/open","method":"POST","body":"x"}"#,
        ),
        b(
            "browser/open-no-url",
            r#"{"path":"/tabs/open","method":"POST","body":{}}"#,
        ),
        b(
            "browser/navigate-no-url",
            r#"{"path":"/navigate","method":"POST","body":{}}"#,
        ),
        b(
            "browser/act-no-kind",
            r#"{"path":"/act","method":"POST","body":{}}"#,
        ),
        b(
            "browser/act-bogus-kind",
            r#"{"path":"/act","method":"POST","body":{"kind":"bogus"}}"#,
        ),
        b(
            "browser/query-wrong-type",
            r#"{"path":"/no-such-route","query":"x"}"#,
        ),
        b("browser/snapshot-blank-page", r#"{"path":"/snapshot"}"#),
        b(
            "browser/timeout-string",
            r#"{"path":"/no-such-route","timeoutMs":"x"}"#,
        ),
        b("browser/bad-escape", r#"{"path":"/tabs/%zz"}"#),
        b("browser/params-array", r#"["/"]"#),
    ]
}

/// Removes what legitimately differs between the two nodes' answers: our documented
/// `durationMs` addition, the node ids and random (UUID v4) entry ids.
fn normalise(mut answer: Value, node_id: &str) -> Value {
    fn walk(v: &mut Value, node_id: &str) {
        match v {
            Value::Object(map) => {
                map.remove("durationMs");
                // A browser tab's id is Chromium's own random one.
                if let Some(Value::String(id)) = map.get_mut("targetId") {
                    *id = "<target>".into();
                }
                // Allowlist entry ids are random UUIDs on both sides.
                if let Some(Value::String(id)) = map.get_mut("id")
                    && uuid::Uuid::parse_str(id).is_ok_and(|u| u.get_version_num() == 4)
                {
                    *id = "<uuid>".into();
                }
                for child in map.values_mut() {
                    walk(child, node_id);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|c| walk(c, node_id)),
            Value::String(s) if s.contains(node_id) => *s = s.replace(node_id, "<node>"),
            _ => {}
        }
    }
    walk(&mut answer, node_id);
    answer
}

/// The fixture both nodes work in: `file.txt`, an executable `script.sh`, `sub/`, a
/// symlink `link-to-sub` and an empty file.
fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(p.join("file.txt"), "file contents\n").unwrap();
    std::fs::write(p.join("empty.txt"), "").unwrap();
    std::fs::write(p.join("script.sh"), "#!/bin/sh\necho \"script [$1]\"\n").unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(p.join("script.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir(p.join("sub")).unwrap();
    std::os::unix::fs::symlink(p.join("sub"), p.join("link-to-sub")).unwrap();
    dir
}

/// `node.invoke` exactly as the case says (params absent when `None`): `{ok, payload}` or
/// `{ok: false, error}` as the operator sees it.
async fn invoke(op: &OperatorClient, node_id: &str, case: &Case, fx: &Path) -> Value {
    let mut call = json!({
        "nodeId": node_id,
        "command": case.command,
        "timeoutMs": case.invoke_timeout_ms,
        "idempotencyKey": uuid::Uuid::new_v4().to_string(),
    });
    if let Some(text) = &case.params {
        let text = text
            .replace("{fx}", &fx.display().to_string())
            .replace("{node}", node_id);
        let params: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        call["params"] = params;
    }
    let budget = Duration::from_millis(case.invoke_timeout_ms) + Duration::from_secs(10);
    match op.call_with_timeout("node.invoke", call, budget).await {
        Ok(payload) => {
            json!({"ok": true, "payload": payload.get("payload").cloned().unwrap_or(payload)})
        }
        Err(OperatorError::Gateway(e)) => json!({
            "ok": false,
            "error": {"code": e.code, "message": e.message, "details": e.details},
        }),
        Err(other) => json!({"ok": false, "harness": other.to_string()}),
    }
}

/// A [`MethodCase`] on one node: `{ok, payload}` or `{ok: false, error}`, without what is
/// the node's own (the approvals file's location and hash, the reference's socket path).
async fn call_method(op: &OperatorClient, node_id: &str, case: &MethodCase) -> Value {
    let hash = match op
        .call("exec.approvals.node.get", json!({"nodeId": node_id}))
        .await
    {
        Ok(v) => v["hash"].as_str().unwrap_or("").to_string(),
        Err(_) => String::new(),
    };
    let mut params: Value = serde_json::from_str(&case.params.replace("{hash}", &hash))
        .unwrap_or_else(|e| panic!("{}: {e}", case.name));
    params["nodeId"] = json!(node_id);
    let mut answer = match op.call(case.method, params).await {
        Ok(payload) => json!({"ok": true, "payload": payload}),
        Err(OperatorError::Gateway(e)) => json!({
            "ok": false,
            "error": {"code": e.code, "message": e.message, "details": e.details},
        }),
        Err(other) => json!({"ok": false, "harness": other.to_string()}),
    };
    if let Some(p) = answer["payload"].as_object_mut() {
        p.remove("path");
        p.remove("hash");
        if let Some(file) = p.get_mut("file").and_then(Value::as_object_mut) {
            file.remove("socket");
        }
    }
    answer
}

/// The "Deliberate differences" table of `docs/protocol-notes.md`: case name → reason.
fn deliberate_differences() -> BTreeMap<String, String> {
    let notes = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/protocol-notes.md");
    let text = std::fs::read_to_string(&notes).unwrap();
    let section = text
        .split("\n## ")
        .find(|s| s.starts_with("Deliberate differences"))
        .expect("docs/protocol-notes.md has a \"## Deliberate differences\" section");
    section
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let name = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            Some((name.to_string(), cells.get(2)?.to_string()))
        })
        .collect()
}

/// One row of the table; a difference not listed as deliberate, or a listed case that no
/// longer differs, goes to `failures`.
fn verdict(
    name: &str,
    reference: &Value,
    mine: &Value,
    allowed: &BTreeMap<String, String>,
    failures: &mut Vec<String>,
) -> String {
    let same = reference == mine;
    if std::env::var_os("OPENCLAW_DIFF_VERBOSE").is_some() {
        eprintln!("{name}\n  reference: {reference}\n  ours:      {mine}");
    }
    let verdict = match (same, allowed.contains_key(name)) {
        (true, false) => "same",
        (false, true) => "differs (deliberate)",
        (false, false) => {
            failures.push(format!(
                "{name}\n  reference: {reference}\n  ours:      {mine}"
            ));
            "DIFFERS"
        }
        (true, true) => {
            failures.push(format!(
                "{name}: listed as a deliberate difference in docs/protocol-notes.md but answers the same: {mine}"
            ));
            "same (but listed)"
        }
    };
    format!("| {name:<40} | {verdict} |")
}

/// The config name of the odd-names MCP server: needs sanitising and is longer than a
/// descriptor's server part may be.
const ODD_SERVER: &str = "Odd Server.with a name longer than 31 characters";

/// tests/fixtures/odd_names_mcp.py.
fn odd_names_server() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/odd_names_mcp.py")
        .display()
        .to_string()
}

/// A TOML basic string.
fn toml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// Starts `openclaw-node run` on the real Gateway with `security = "full"` in `cwd`, and
/// `extra_config` appended to its config file.
fn spawn_our_node(
    url: &str,
    token: &str,
    state: &Path,
    cwd: &Path,
    name: &str,
    extra_config: &str,
) -> tokio::process::Child {
    std::fs::write(
        state.join("config.toml"),
        format!(
            "[exec]\nsecurity = \"full\"\nask = \"off\"\n\n[browser]\nenabled = true\nheadless = true\n{extra_config}"
        ),
    )
    .unwrap();
    tokio::process::Command::new(env!("CARGO_BIN_EXE_openclaw-node"))
        .args(["run", "--display-name", name, "--credential-store", "file"])
        .arg("--state-dir")
        .arg(state)
        .env("OPENCLAW_GATEWAY_URL", url)
        .env("OPENCLAW_GATEWAY_TOKEN", token)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .current_dir(cwd)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(state.join("node.log")).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// The node's row in `node.list`: its `nodePluginTools` once both MCP servers' tools are
/// there (startup takes a moment), with whether it advertises the MCP command and cap.
async fn published_tools(op: &OperatorClient, node_id: &str) -> Value {
    eventually_for(
        Duration::from_secs(60),
        &format!("{node_id} publishes its MCP tools"),
        || async {
            let list = op.call("node.list", json!({})).await.ok()?;
            let row = list["nodes"]
                .as_array()?
                .iter()
                .find(|n| n["nodeId"] == node_id)?
                .clone();
            let tools = row.get("nodePluginTools")?.as_array()?.clone();
            let servers: std::collections::BTreeSet<&str> = tools
                .iter()
                .filter_map(|t| t["mcp"]["server"].as_str())
                .collect();
            if servers.len() < 2 {
                return None;
            }
            let has = |key: &str, item: &str| {
                row[key]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|c| c == item))
            };
            Some(json!({
                "command": has("commands", "mcp.tools.call.v1"),
                "cap": has("caps", "mcp"),
                "nodePluginTools": tools,
            }))
        },
    )
    .await
}

/// The connected node called `name` that serves `system.run`, approving what waits.
async fn approved_node(op: &OperatorClient, name: &str) -> String {
    eventually_for(
        Duration::from_secs(120),
        &format!("{name} approved"),
        || async {
            real(&["approve-all"]).await;
            let list = op.node_list().await.ok()?;
            list.nodes
                .into_iter()
                .find(|n| {
                    n.display_name.as_deref() == Some(name)
                        && n.connected
                        && n.commands.iter().any(|c| c == "system.run")
                })
                .map(|n| n.node_id)
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real Gateway: scripts/test"]
async fn our_node_answers_like_the_reference_node_host() {
    let _guard = REAL.lock().await;
    // Both browsers headless with their default navigation policy (as root the reference
    // needs noSandbox; ours turns the sandbox off as root by itself).
    let ts_conf = real_home().join("home-ts-node/.openclaw/openclaw.json");
    std::fs::create_dir_all(ts_conf.parent().unwrap()).unwrap();
    // Both host the fixture MCP server as `fx`, with `pid` filtered out of the catalog, and
    // the odd-names server under a name that needs sanitising and cutting.
    let (python, server) = (crate::mcp::python(), crate::mcp::fixture());
    let odd = odd_names_server();
    let ts_config = json!({
        "browser": {"noSandbox": true, "headless": true},
        "nodeHost": {"mcp": {"servers": {
            "fx": {"command": python, "args": [server], "toolFilter": {"exclude": ["pid"]}},
            ODD_SERVER: {"command": python, "args": [odd]},
        }}},
    });
    std::fs::write(&ts_conf, ts_config.to_string()).unwrap();
    real(&["start"]).await;
    real(&["ts-node", "stop"]).await;
    real(&["ts-node", "start"]).await;
    let (url, token) = real_env().await;
    // The reference node host runs in the tool's run directory; ours runs there too.
    let run_dir = real_home().join("run");
    let state = tempfile::tempdir().unwrap();
    let name = format!("rust-diff-{}", std::process::id());
    let mcp = format!(
        "\n[mcp.servers.fx]\ncommand = {py}\nargs = [{}]\nexclude = [\"pid\"]\n\n[mcp.servers.{}]\ncommand = {py}\nargs = [{}]\n",
        toml_str(&server),
        toml_str(ODD_SERVER),
        toml_str(&odd),
        py = toml_str(&python),
    );
    let mut ours = spawn_our_node(&url, &token, state.path(), &run_dir, &name, &mcp);
    let mut opts = OperatorOptions::new(url.clone());
    opts.token = Some(Secret::new(token.clone()));
    let op = OperatorClient::connect(opts).await.unwrap();
    let our_id = approved_node(&op, &name).await;
    let their_id = approved_node(&op, "ts-node").await;

    for node in [&our_id, &their_id] {
        call_method(&op, node, &RESTORE_FULL).await;
    }
    let fx = fixture();
    let allowed = deliberate_differences();
    let cases = cases();
    let mut names = std::collections::HashSet::new();
    let mut failures = Vec::new();
    let mut rows = Vec::new();
    // What the Gateway shows of each node's MCP tools, once both have published them.
    let reference = published_tools(&op, &their_id).await;
    let mine = published_tools(&op, &our_id).await;
    rows.push(verdict(
        "mcp/catalog",
        &reference,
        &mine,
        &allowed,
        &mut failures,
    ));
    for case in &cases {
        assert!(names.insert(case.name), "duplicate case {}", case.name);
        let reference = normalise(invoke(&op, &their_id, case, fx.path()).await, &their_id);
        let mine = normalise(invoke(&op, &our_id, case, fx.path()).await, &our_id);
        rows.push(verdict(
            case.name,
            &reference,
            &mine,
            &allowed,
            &mut failures,
        ));
    }
    for case in method_cases().iter().chain([&RESTORE_FULL]) {
        if case.name == RESTORE_FULL.name {
            // The allowlist phase runs between setting the allowlist and restoring.
            for case in &allowlist_cases() {
                assert!(names.insert(case.name), "duplicate case {}", case.name);
                let reference = normalise(invoke(&op, &their_id, case, fx.path()).await, &their_id);
                let mine = normalise(invoke(&op, &our_id, case, fx.path()).await, &our_id);
                rows.push(verdict(
                    case.name,
                    &reference,
                    &mine,
                    &allowed,
                    &mut failures,
                ));
            }
        }
        assert!(names.insert(case.name), "duplicate case {}", case.name);
        let reference = normalise(call_method(&op, &their_id, case).await, &their_id);
        let mine = normalise(call_method(&op, &our_id, case).await, &our_id);
        rows.push(verdict(
            case.name,
            &reference,
            &mine,
            &allowed,
            &mut failures,
        ));
    }
    eprintln!("| case | verdict |\n|---|---|\n{}", rows.join("\n"));
    eprintln!(
        "{} cases: {} same, {} deliberate, {} undocumented",
        rows.len(),
        rows.iter().filter(|r| r.ends_with("| same |")).count(),
        rows.iter().filter(|r| r.contains("deliberate")).count(),
        failures.len()
    );
    let _ = ours.kill().await;
    real(&["ts-node", "stop"]).await;
    assert!(
        failures.is_empty(),
        "{} undocumented differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

//! `openclaw-node mcp import` with the real binary: the reference's JSON5 `openclaw.json`
//! in, `[mcp.servers.<name>]` tables out that this node loads, the file's comments and other
//! servers kept, secrets masked in what is printed, the file 0600, `--dry-run` and `--force`.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use openclaw_node::config::{Config, Overrides};

async fn import(state: &Path, from: &Path, extra: &[&str]) -> (bool, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_openclaw-node"))
        .args([
            "--state-dir",
            state.to_str().unwrap(),
            "mcp",
            "import",
            "--from",
        ])
        .arg(from)
        .args(extra)
        .output()
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

const REFERENCE: &str = r#"{
  // as the reference docs write it
  nodeHost: {
    mcp: {
      servers: {
        docs: {
          command: "npx",
          args: ["-y", "@modelcontextprotocol/server-filesystem", "/srv/docs"],
          env: { API_KEY: "sk-import-secret" },
          toolFilter: { include: ["read_*", "search"], },
          requestTimeoutMs: 5000,
          sslVerify: false,
        },
        keep: { command: "other" },
        sso: { url: "https://mcp.example/mcp", auth: "oauth" },
      },
    },
  },
}"#;

#[tokio::test]
async fn mcp_import_writes_tables_this_node_loads() {
    let dir = tempfile::tempdir().unwrap();
    let from = dir.path().join("openclaw.json");
    std::fs::write(&from, REFERENCE).unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let config = state.join("config.toml");
    let before = "# my node\n[mcp.servers.keep]\ncommand = \"mine\"\n";
    std::fs::write(&config, before).unwrap();

    let (ok, out) = import(&state, &from, &["--dry-run"]).await;
    assert!(ok, "{out}");
    assert!(out.contains("would write"), "{out}");
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        before,
        "--dry-run wrote"
    );

    let (ok, out) = import(&state, &from, &[]).await;
    assert!(ok, "{out}");
    assert!(
        !out.contains("sk-import-secret"),
        "a secret was printed:\n{out}"
    );
    assert!(out.contains("[mcp.servers.docs]"), "{out}");
    assert!(
        out.contains("kept the existing [mcp.servers.keep]"),
        "{out}"
    );
    assert!(out.contains("skipped mcp.servers.docs.sslVerify"), "{out}");
    assert!(
        out.contains("skipped server sso: OAuth is not supported"),
        "{out}"
    );
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.starts_with(before),
        "the existing text was changed:\n{text}"
    );
    let mode = std::fs::metadata(&config).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the config holds a secret");

    let overrides = Overrides {
        state_dir: Some(state.clone()),
        ..Default::default()
    };
    let loaded = Config::load(&overrides, &|_| None).unwrap();
    let docs = &loaded.mcp.servers["docs"];
    assert_eq!(docs.command.as_deref(), Some("npx"));
    assert_eq!(docs.env["API_KEY"], "sk-import-secret");
    assert_eq!(
        docs.include,
        Some(vec!["read_*".to_string(), "search".to_string()])
    );
    assert_eq!(docs.request_timeout_ms, Some(5000));
    assert_eq!(loaded.mcp.servers["keep"].command.as_deref(), Some("mine"));

    let (ok, out) = import(&state, &from, &["--force", "--json"]).await;
    assert!(ok, "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["written"], serde_json::json!(["docs", "keep"]));
    let loaded = Config::load(&overrides, &|_| None).unwrap();
    assert_eq!(loaded.mcp.servers["keep"].command.as_deref(), Some("other"));
    assert!(state.join("config.toml.bak").exists());
}

#[tokio::test]
async fn mcp_import_refuses_what_it_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    let from = dir.path().join("openclaw.json");
    std::fs::write(&from, "{ nodeHost: { mcp: 0x1F } }").unwrap();
    let (ok, out) = import(dir.path(), &from, &[]).await;
    assert!(!ok);
    assert!(out.contains("is not JSON5 openclaw-node can read"), "{out}");
    let (ok, out) = import(dir.path(), &dir.path().join("missing.json"), &[]).await;
    assert!(!ok);
    assert!(out.contains("cannot read the reference config"), "{out}");
}

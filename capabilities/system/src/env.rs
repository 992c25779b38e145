//! Environment sanitisation for `system.run` (spec exec-approvals.md §6): the request's
//! `env` overrides are validated first and the whole run is refused if any key is blocked
//! or malformed; the inherited environment loses loader, interpreter and tool hooks
//! (`LD_*`, `DYLD_*`, `NODE_OPTIONS`, `PYTHONPATH`, `BASH_ENV` …); a shell wrapper only
//! receives locale and terminal overrides; `PATH` is always the node's own.

use std::collections::BTreeMap;

/// Keys blocked as overrides and dropped when inherited.
pub const BLOCKED_EVERYWHERE: &[&str] = &[
    "NODE_OPTIONS",
    "NODE_PATH",
    "PYTHONHOME",
    "PYTHONPATH",
    "PERL5LIB",
    "PERL5OPT",
    "RUBYLIB",
    "RUBYOPT",
    "BASH_ENV",
    "ENV",
    "BROWSER",
    "GIT_EDITOR",
    "GIT_EXTERNAL_DIFF",
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_COMMON_DIR",
    "GIT_EXEC_PATH",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_SEQUENCE_EDITOR",
    "GIT_TEMPLATE_DIR",
    "GIT_SSL_NO_VERIFY",
    "GIT_SSL_CAINFO",
    "GIT_SSL_CAPATH",
    "KUBECONFIG",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AZURE_AUTH_LOCATION",
    "CC",
    "CXX",
    "CARGO_BUILD_RUSTC",
    "CARGO_BUILD_RUSTC_WRAPPER",
    "RUSTC_WRAPPER",
    "CARGO_HOME",
    "CMAKE_C_COMPILER",
    "CMAKE_CXX_COMPILER",
    "HELM_HOME",
    "DOCKER_HOST",
    "SHELL",
    "SHELLOPTS",
    "PS4",
    "GCONV_PATH",
    "IFS",
    "SSLKEYLOGFILE",
    "JAVA_OPTS",
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "PYTHONBREAKPOINT",
    "DOTNET_STARTUP_HOOKS",
    "DOTNET_ADDITIONAL_DEPS",
    "GLIBC_TUNABLES",
    "MAVEN_OPTS",
    "MAKEFLAGS",
    "MFLAGS",
    "SBT_OPTS",
    "GRADLE_OPTS",
    "ANT_OPTS",
    "HGRCPATH",
];

/// Prefixes blocked as overrides and dropped when inherited.
pub const BLOCKED_PREFIXES: &[&str] = &["DYLD_", "LD_", "BASH_FUNC_"];

/// Keys blocked as overrides only (the node's own service environment may set them).
pub const BLOCKED_OVERRIDE_ONLY: &[&str] = &[
    "HOME",
    "GRADLE_USER_HOME",
    "ZDOTDIR",
    "GIT_SSH_COMMAND",
    "GIT_SSH",
    "GIT_PROXY_COMMAND",
    "GIT_ASKPASS",
    "SSH_ASKPASS",
    "LESSOPEN",
    "LESSCLOSE",
    "PAGER",
    "MANPAGER",
    "GIT_PAGER",
    "EDITOR",
    "VISUAL",
    "FCEDIT",
    "SUDO_EDITOR",
    "PROMPT_COMMAND",
    "HISTFILE",
    "PERL5DB",
    "PERL5DBCMD",
    "OPENSSL_CONF",
    "OPENSSL_ENGINES",
    "PYTHONSTARTUP",
    "WGETRC",
    "CURL_HOME",
    "CLASSPATH",
    "CGO_CFLAGS",
    "CGO_LDFLAGS",
    "GOFLAGS",
    "CORECLR_PROFILER_PATH",
    "PHPRC",
    "PHP_INI_SCAN_DIR",
    "DENO_DIR",
    "BUN_CONFIG_REGISTRY",
    "YARN_RC_FILENAME",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "NODE_TLS_REJECT_UNAUTHORIZED",
    "NODE_EXTRA_CA_CERTS",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "DOCKER_TLS_VERIFY",
    "DOCKER_CERT_PATH",
    "DOCKER_CONTEXT",
    "PIP_INDEX_URL",
    "PIP_PYPI_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_CONFIG_FILE",
    "PIP_FIND_LINKS",
    "PIP_TRUSTED_HOST",
    "UV_INDEX",
    "UV_INDEX_URL",
    "UV_PYTHON",
    "UV_EXTRA_INDEX_URL",
    "UV_DEFAULT_INDEX",
    "LIBRARY_PATH",
    "CPATH",
    "C_INCLUDE_PATH",
    "CPLUS_INCLUDE_PATH",
    "OBJC_INCLUDE_PATH",
    "GOPROXY",
    "GONOSUMCHECK",
    "GONOSUMDB",
    "GONOPROXY",
    "GOPRIVATE",
    "GOENV",
    "GOPATH",
    "PYTHONUSERBASE",
    "RUSTFLAGS",
    "VIRTUAL_ENV",
    "LUA_PATH",
    "LUA_CPATH",
    "GEM_HOME",
    "GEM_PATH",
    "BUNDLE_GEMFILE",
    "COMPOSER_HOME",
    "XDG_CONFIG_HOME",
    "AWS_CONFIG_FILE",
];

/// Prefixes blocked as overrides only.
pub const BLOCKED_OVERRIDE_ONLY_PREFIXES: &[&str] =
    &["GIT_CONFIG_", "NPM_CONFIG_", "CARGO_REGISTRIES_"];

/// The node's own gateway credentials, dropped when inherited (see
/// [`openclaw_capability_api::NODE_SECRET_ENV`]).
pub const NODE_SECRETS: &[&str] = openclaw_capability_api::NODE_SECRET_ENV;

/// Override keys a shell wrapper still receives.
const SHELL_SAFE: &[&str] = &[
    "TERM",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "LC_MESSAGES",
    "COLORTERM",
    "NO_COLOR",
    "FORCE_COLOR",
];

fn valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn blocked_everywhere(upper: &str) -> bool {
    BLOCKED_EVERYWHERE.contains(&upper) || BLOCKED_PREFIXES.iter().any(|p| upper.starts_with(p))
}

/// Whether a key may not be set by a request.
pub fn blocked_override(key: &str) -> bool {
    let upper = key.to_ascii_uppercase();
    upper == "PATH"
        || blocked_everywhere(&upper)
        || BLOCKED_OVERRIDE_ONLY.contains(&upper.as_str())
        || BLOCKED_OVERRIDE_ONLY_PREFIXES
            .iter()
            .any(|p| upper.starts_with(p))
}

/// Checks request overrides; `Err` is the reference denial text.
pub fn check_overrides(env: &BTreeMap<String, String>) -> Result<(), String> {
    let mut blocked = Vec::new();
    let mut invalid = Vec::new();
    for key in env.keys() {
        if !valid_key(key) {
            invalid.push(key.clone());
        } else if blocked_override(key) {
            blocked.push(key.clone());
        }
    }
    if blocked.is_empty() && invalid.is_empty() {
        return Ok(());
    }
    let mut parts = Vec::new();
    if !blocked.is_empty() {
        parts.push(format!("blocked override keys: {}", blocked.join(", ")));
    }
    if !invalid.is_empty() {
        parts.push(format!(
            "invalid non-portable override keys: {}",
            invalid.join(", ")
        ));
    }
    Err(format!(
        "SYSTEM_RUN_DENIED: environment override rejected ({})",
        parts.join("; ")
    ))
}

/// Checks `env NAME=VALUE …` assignments inside argv; the error is the detail of a
/// `SYSTEM_RUN_DENIED` refusal.
pub fn check_assignments(keys: &[String]) -> Result<(), String> {
    let blocked: Vec<&String> = keys.iter().filter(|k| blocked_override(k)).collect();
    if blocked.is_empty() {
        return Ok(());
    }
    Err(format!(
        "command env assignment rejected (blocked env assignment keys: {})",
        blocked
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// The child's environment: the node's own minus dropped keys and [`NODE_SECRETS`], plus
/// accepted overrides (only locale/terminal ones for a shell wrapper), `PATH` pinned to
/// `path_env`, and `OPENCLAW_SHELL=exec`.
pub fn build_env(
    inherited: impl Iterator<Item = (String, String)>,
    overrides: &BTreeMap<String, String>,
    shell_wrapper: bool,
    path_env: &str,
) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = inherited
        .filter(|(k, _)| {
            let upper = k.to_ascii_uppercase();
            !blocked_everywhere(&upper)
                && !NODE_SECRETS.contains(&upper.as_str())
                && !BLOCKED_OVERRIDE_ONLY_PREFIXES
                    .iter()
                    .any(|p| upper.starts_with(p))
        })
        .collect();
    for (k, v) in overrides {
        let upper = k.to_ascii_uppercase();
        if shell_wrapper && !SHELL_SAFE.contains(&upper.as_str()) && !upper.starts_with("LC_") {
            continue;
        }
        out.insert(k.clone(), v.clone());
    }
    out.insert("PATH".into(), path_env.to_string());
    out.insert("OPENCLAW_SHELL".into(), "exec".into());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn attack_1_2_path_and_loader_overrides_are_rejected() {
        let e = check_overrides(&map(&[("PATH", "/tmp/evil"), ("LD_PRELOAD", "/tmp/x.so")]))
            .unwrap_err();
        assert_eq!(
            e,
            "SYSTEM_RUN_DENIED: environment override rejected (blocked override keys: LD_PRELOAD, PATH)"
        );
        for key in [
            "DYLD_INSERT_LIBRARIES",
            "BASH_ENV",
            "PYTHONPATH",
            "NODE_OPTIONS",
            "BASH_FUNC_x%%",
            "ld_preload",
        ] {
            assert!(check_overrides(&map(&[(key, "x")])).is_err(), "{key}");
        }
        assert!(check_overrides(&map(&[("LANG", "C"), ("MY_VAR", "1")])).is_ok());
    }

    #[test]
    fn attack_3_classpath_rejected_even_with_a_fine_lang() {
        assert!(check_overrides(&map(&[("CLASSPATH", "/x"), ("LANG", "C")])).is_err());
    }

    #[test]
    fn attack_4_env_assignments_in_argv() {
        let e = check_assignments(&["SHELLOPTS".into(), "PS4".into(), "FOO".into()]).unwrap_err();
        assert_eq!(
            e,
            "command env assignment rejected (blocked env assignment keys: SHELLOPTS, PS4)"
        );
    }

    #[test]
    fn attack_5_bad_keys() {
        let e = check_overrides(&map(&[("BAD-KEY", "1")])).unwrap_err();
        assert!(
            e.contains("invalid non-portable override keys: BAD-KEY"),
            "{e}"
        );
    }

    #[test]
    fn attack_6_shell_wrappers_only_get_locale_and_terminal_keys() {
        let env = build_env(
            std::iter::empty(),
            &map(&[
                ("OPENCLAW_TEST", "1"),
                ("LANG", "C"),
                ("LC_TIME", "C"),
                ("TERM", "dumb"),
            ]),
            true,
            "/usr/bin:/bin",
        );
        assert!(!env.contains_key("OPENCLAW_TEST"));
        assert_eq!(env["LANG"], "C");
        assert_eq!(env["LC_TIME"], "C");
        assert_eq!(env["TERM"], "dumb");
    }

    #[test]
    fn inherited_hooks_are_dropped_and_path_pinned() {
        let inherited = vec![
            ("LD_PRELOAD".to_string(), "/x.so".to_string()),
            ("NODE_OPTIONS".to_string(), "--require x".to_string()),
            ("HOME".to_string(), "/home/a".to_string()),
            ("PATH".to_string(), "/evil".to_string()),
            ("OPENCLAW_GATEWAY_TOKEN".to_string(), "shared".to_string()),
            ("OPENCLAW_GATEWAY_PASSWORD".to_string(), "pw".to_string()),
        ];
        let env = build_env(
            inherited.into_iter(),
            &BTreeMap::new(),
            false,
            "/usr/bin:/bin",
        );
        assert!(!env.contains_key("LD_PRELOAD") && !env.contains_key("NODE_OPTIONS"));
        assert!(!env.contains_key("OPENCLAW_GATEWAY_TOKEN"));
        assert!(!env.contains_key("OPENCLAW_GATEWAY_PASSWORD"));
        assert_eq!(env["HOME"], "/home/a");
        assert_eq!(env["PATH"], "/usr/bin:/bin");
        assert_eq!(env["OPENCLAW_SHELL"], "exec");
    }
}

//! `wait` and `evaluate`: the page conditions a `wait` polls (text, text gone, selector,
//! URL exact/substring/glob, load state, a function), and running a function source in
//! the page with an optional element argument. Owns no checks (`action.rs`: `fn` is only
//! here when `evaluate_enabled` allowed it).

use std::time::Duration;

use chromiumoxide::Page;
use serde_json::{Value, json};

use crate::action::{LoadState, Wait};
use crate::cdp::{call_on, evaluate};
use crate::element::object_of;
use crate::error::ServiceError;

/// How often a condition is polled.
const POLL: Duration = Duration::from_millis(50);

/// Sleeps `timeMs`, then waits for each condition in turn, each within the budget.
pub async fn wait_for(page: &Page, a: &Wait) -> Result<(), ServiceError> {
    if let Some(t) = a.time {
        tokio::time::sleep(t).await;
    }
    let budget = a.budget;
    let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let mut conditions: Vec<(String, String)> = Vec::new();
    if let Some(t) = &a.text {
        conditions.push((
            format!("text {t:?}"),
            format!(
                "document.body && document.body.innerText.includes({})",
                q(t)
            ),
        ));
    }
    if let Some(t) = &a.text_gone {
        conditions.push((
            format!("text {t:?} to disappear"),
            format!(
                "!(document.body && document.body.innerText.includes({}))",
                q(t)
            ),
        ));
    }
    if let Some(s) = &a.selector {
        conditions.push((
            format!("selector {s:?}"),
            format!("!!document.querySelector({})", q(s)),
        ));
    }
    if let Some(u) = &a.url {
        let check = if u.contains('*') {
            let re = regex_from_glob(u);
            format!("new RegExp({}).test(location.href)", q(&re))
        } else {
            format!("location.href === {0} || location.href.includes({0})", q(u))
        };
        conditions.push((format!("url {u:?}"), check));
    }
    if let Some(ls) = a.load_state {
        let check = match ls {
            LoadState::DomContentLoaded => "document.readyState !== 'loading'",
            LoadState::NetworkIdle => {
                "document.readyState === 'complete' && performance.getEntriesByType('resource').every(e => e.responseEnd > 0)"
            }
            LoadState::Load => "document.readyState === 'complete'",
        };
        conditions.push((format!("load state {}", ls.as_str()), check.to_string()));
    }
    if let Some(f) = &a.function {
        conditions.push(("fn".into(), wrap_fn(f)));
    }
    for (what, expr) in conditions {
        let deadline = tokio::time::Instant::now() + budget;
        loop {
            if let Ok(v) = evaluate(page, &expr).await
                && !matches!(v, Value::Null | Value::Bool(false))
                && v != json!(0)
                && v != json!("")
            {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ServiceError::new(
                    504,
                    format!("wait for {what} timed out after {} ms", budget.as_millis()),
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }
    Ok(())
}

/// A URL glob as a regular expression: `**` any text, `*` any text but `/`, `?` one
/// character.
fn regex_from_glob(glob: &str) -> String {
    let mut re = String::from("^");
    let mut chars = glob.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                re.push_str(".*");
            }
            '*' => re.push_str("[^/]*"),
            '?' => re.push('.'),
            c if "\\.+()|[]{}^$".contains(c) => {
                re.push('\\');
                re.push(c);
            }
            c => re.push(c),
        }
    }
    re.push('$');
    re
}

/// An expression that runs `src` as a function, an expression, or a statement body.
fn wrap_fn(src: &str) -> String {
    let s = serde_json::to_string(src).unwrap_or_default();
    format!(
        "(async (el) => {{ const src = {s}; let f; \
         try {{ f = (0, eval)('(' + src + ')'); }} catch (e) {{ f = (0, eval)('(async function(el) {{' + src + '\\n}})'); }} \
         return typeof f === 'function' ? await f(el) : await f; }})(globalThis.__openclawEl)"
    )
}

/// Runs `src` in the page (`wrap_fn`), with `node` as its element argument if given.
pub async fn evaluate_fn(page: &Page, src: &str, node: Option<i64>) -> Result<Value, ServiceError> {
    let expr = wrap_fn(src);
    match node {
        None => evaluate(page, &expr)
            .await
            .map_err(|e| ServiceError::new(500, format!("evaluate failed: {}", e.0))),
        Some(n) => {
            let object = object_of(page, n).await?;
            let f = format!(
                "function() {{ globalThis.__openclawEl = this; try {{ return {expr}; }} finally {{ delete globalThis.__openclawEl; }} }}"
            );
            call_on(page, &object, &f, vec![])
                .await
                .map_err(|e| ServiceError::new(500, format!("evaluate failed: {}", e.0)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_globs_become_anchored_regexes() {
        assert_eq!(regex_from_glob("**/done?x=*"), "^.*/done.x=[^/]*$");
        assert_eq!(regex_from_glob("a.b"), "^a\\.b$");
    }
}

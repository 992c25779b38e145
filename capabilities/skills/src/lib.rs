//! Node skills (issue 18; parity §2.4, §4): the `SKILL.md` directories under the skills
//! directory (`<state dir>/skills` unless `[skills] dir` says otherwise), scanned once when
//! the capability is built ([`scan`]), published with `node.skills.update` after every
//! hello-ok — even as `{skills: []}` — through the generic publisher
//! ([`openclaw_capability_api::publish`], label `skill`), and named as a `system.run` cwd
//! by `node://` locators ([`locator`]). It serves no command and advertises no cap.
//! `[skills] enabled = false` publishes nothing.
//!
//! The system capability does not depend on this crate: the node's composition root hands
//! it [`locator::resolve`] as a closure.

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

use openclaw_capability_api::publish::{self, Publication};
use openclaw_capability_api::{BackgroundContext, BoxFuture, Capability, Handler};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::watch;

pub mod frontmatter;
pub mod locator;
pub mod name;
pub mod scan;

pub use scan::Skill;

/// The method.
pub const METHOD: &str = "node.skills.update";

/// What the publisher publishes.
pub const PUBLICATION: Publication = Publication {
    method: METHOD,
    label: "skill",
    resend_on_approval: false,
};

/// `[skills]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkillsSettings {
    /// Scan and publish (default true).
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// Where the skills are (default `<state dir>/skills`, filled in at load).
    pub dir: Option<PathBuf>,
}

fn enabled_by_default() -> bool {
    true
}

impl Default for SkillsSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            dir: None,
        }
    }
}

/// The skills capability.
pub struct SkillsCapability {
    /// `None` when disabled; else the `node.skills.update` params, kept for every
    /// connection (the scan is not repeated).
    params: Option<watch::Sender<Value>>,
}

impl SkillsCapability {
    /// Scans `dir` now (warning for each skip) when `enabled`.
    pub fn new(dir: &Path, enabled: bool) -> Self {
        if !enabled {
            return Self { params: None };
        }
        let skills = scan::scan(dir, &mut |warning| tracing::warn!("{warning}"));
        Self::with_skills(skills)
    }

    /// A capability publishing these skills.
    pub fn with_skills(skills: Vec<Skill>) -> Self {
        let (params, _) = watch::channel(json!({ "skills": skills }));
        Self {
            params: Some(params),
        }
    }

    /// The `node.skills.update` params, `None` when disabled.
    pub fn update_params(&self) -> Option<Value> {
        self.params.as_ref().map(|p| p.borrow().clone())
    }
}

impl Capability for SkillsCapability {
    fn caps(&self) -> Vec<&'static str> {
        Vec::new()
    }

    fn handlers(&self) -> Vec<std::sync::Arc<dyn Handler>> {
        Vec::new()
    }

    fn background(&self, ctx: BackgroundContext) -> Option<BoxFuture<()>> {
        let params = self.params.as_ref()?.subscribe();
        Some(Box::pin(publish::run(PUBLICATION, params, ctx)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_disabled_capability_publishes_nothing_and_an_empty_one_publishes_an_empty_list() {
        let tmp = tempfile::tempdir().unwrap();
        let off = SkillsCapability::new(tmp.path(), false);
        assert_eq!(off.update_params(), None);
        assert!(off.background(BackgroundContext::detached()).is_none());
        let none = SkillsCapability::new(&tmp.path().join("absent"), true);
        assert_eq!(none.update_params(), Some(json!({"skills": []})));
        assert!(none.background(BackgroundContext::detached()).is_some());
        assert!(none.caps().is_empty() && none.handlers().is_empty());
    }
}

//! `cwd` locators of `system.run` and `system.run.prepare` (parity §4): before either reads
//! its `cwd`, a locator the node knows (`node://<node id>/skills/<name>`) is replaced by
//! the directory it names, or the call fails with the locator's error. What a locator
//! means is not this crate's business: the node's composition root hands in the resolver
//! (the skills capability's), so neither capability depends on the other.

use std::path::PathBuf;
use std::sync::Arc;

use openclaw_capability_api::CapabilityError;

/// A resolver: `Ok(None)` for a `cwd` that is not a locator (it passes through unchanged),
/// the directory for one that resolves, the wire error for one that does not.
pub type Resolve = dyn Fn(&str) -> Result<Option<PathBuf>, CapabilityError> + Send + Sync;

/// The resolver of a node, if it has one (a node without skills has none: every `cwd`
/// passes through).
#[derive(Clone, Default)]
pub struct CwdLocators(Option<Arc<Resolve>>);

impl CwdLocators {
    /// Locators resolved by `resolve`.
    pub fn new(
        resolve: impl Fn(&str) -> Result<Option<PathBuf>, CapabilityError> + Send + Sync + 'static,
    ) -> Self {
        Self(Some(Arc::new(resolve)))
    }

    /// The `cwd` to use for the `cwd` asked for.
    pub fn apply(&self, cwd: Option<String>) -> Result<Option<String>, CapabilityError> {
        let (Some(resolve), Some(asked)) = (&self.0, cwd.as_deref()) else {
            return Ok(cwd);
        };
        Ok(match resolve(asked)? {
            Some(dir) => Some(dir.display().to_string()),
            None => cwd,
        })
    }
}

impl std::fmt::Debug for CwdLocators {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "CwdLocators(resolver)"
        } else {
            "CwdLocators(none)"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locators() -> CwdLocators {
        CwdLocators::new(|cwd| match cwd {
            "node://n/skills/tmp" => Ok(Some(PathBuf::from("/tmp"))),
            c if c.starts_with("node://") => Err(CapabilityError::invalid_request("Error: bad")),
            _ => Ok(None),
        })
    }

    #[test]
    fn locators_map_and_everything_else_passes_through() {
        let l = locators();
        assert_eq!(
            l.apply(Some("node://n/skills/tmp".into())),
            Ok(Some("/tmp".into()))
        );
        assert_eq!(l.apply(Some("/srv".into())), Ok(Some("/srv".into())));
        assert_eq!(l.apply(None), Ok(None));
        assert_eq!(
            l.apply(Some("node://x".into())).unwrap_err().message,
            "Error: bad"
        );
        let none = CwdLocators::default();
        assert_eq!(
            none.apply(Some("node://x".into())),
            Ok(Some("node://x".into()))
        );
    }
}

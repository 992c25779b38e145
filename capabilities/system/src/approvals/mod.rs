//! Local exec approvals: the document and its store ([`doc`]), command analysis
//! (`analysis`), the tool options that run other programs (`escapes`), the `argPattern`
//! dialect ([`argpattern`]), the decision ([`policy`]) and the file an approval binds
//! ([`operand`]). Pure except for reading the store and resolving executables on disk.

pub(crate) mod analysis;
pub mod argpattern;
pub mod doc;
pub(crate) mod escapes;
pub mod operand;
pub mod policy;

pub use argpattern::ArgPattern;
pub use doc::{AllowEntry, ApprovalsDoc, ApprovalsStore, Ask, Security, Snapshot, StoreError};
pub use policy::{EffectivePolicy, resolve_policy};

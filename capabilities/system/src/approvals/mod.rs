//! Local exec approvals: the document and its store ([`doc`]), command analysis
//! (`analysis`), the decision ([`policy`]) and the file an approval binds ([`operand`]).
//! Pure except for reading the store and resolving executables on disk.

pub(crate) mod analysis;
pub mod doc;
pub mod operand;
pub mod policy;

pub use doc::{AllowEntry, ApprovalsDoc, ApprovalsStore, Ask, Security, Snapshot, StoreError};
pub use policy::{EffectivePolicy, resolve_policy};

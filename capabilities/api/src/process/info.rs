//! One row of the process table, as both platform readers (`procfs`, `ps`) report it.

/// One process as the platform reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Info {
    /// Its pid.
    pub pid: i32,
    /// Its parent's pid.
    pub ppid: i32,
    /// Its process group.
    pub pgid: i32,
    /// Exited but not yet reaped by its parent: holds nothing, cannot be killed again.
    pub zombie: bool,
    /// When it started, in a platform unit: only compared with another reading of the
    /// same pid, to tell it from a later process that reused the pid.
    pub started: u64,
}

//! The operator client (placeholder until its owner lands it).

//! The node-local policy (placeholder until its owner lands it).

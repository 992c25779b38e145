//! The embedded minimal gateway (placeholder until its owner lands it).

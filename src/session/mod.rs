//! One connection's life (placeholder until its owner lands it).

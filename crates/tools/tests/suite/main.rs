//! Integration tests, one binary to keep link time down.

mod exec;
mod parse;
mod props;
mod shell;
mod snapshots;

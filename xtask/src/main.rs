//! The workspace's tasks (placeholder until the xtask lands).
fn main() {}

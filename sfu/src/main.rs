//! The `newmedia-sfu` binary.

fn main() {}

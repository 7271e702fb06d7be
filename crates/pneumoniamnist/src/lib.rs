#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

/// The bytes of `pneumoniamnist.npz` (MedMNIST's layout; see `data/PROVENANCE.md`).
pub static PNEUMONIAMNIST_NPZ: &[u8] = include_bytes!("../data/pneumoniamnist.npz");

/// The SHA-256 of [`PNEUMONIAMNIST_NPZ`], as recorded in `data/PROVENANCE.md`.
pub const PNEUMONIAMNIST_SHA256: &str =
    "d0bfa3330f26554c4117328b1117f52bfb3746404b0594c58f37a09b4314d396";

/// The provenance and licence of the file.
pub const PROVENANCE: &str = include_str!("../data/PROVENANCE.md");

#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

/// The bytes of `pneumoniamnist.npz` (MedMNIST's layout; see `data/PROVENANCE.md`).
pub static PNEUMONIAMNIST_NPZ: &[u8] = include_bytes!("../data/pneumoniamnist.npz");

/// The provenance and licence of the file.
pub const PROVENANCE: &str = include_str!("../data/PROVENANCE.md");

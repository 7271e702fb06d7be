//! Validated bit-widths.

use crate::error::{QuantError, Result};

/// A bit-width from 2 to 16, validated when constructed, so no quantizer ever sees an invalid one.
///
/// ```
/// use smallscale_quant_core::BitWidth;
/// let b = BitWidth::new(3)?;
/// assert_eq!(b.get(), 3);
/// assert_eq!(b.max_level(), 3); // K = 2^(b-1) - 1: codes in [-3, 3], 7 levels
/// assert!(BitWidth::new(1).is_err());
/// assert!(b == 3 && b >= 2); // compares with plain numbers
/// # Ok::<(), smallscale_quant_core::QuantError>(())
/// ```
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "u32", into = "u32")]
pub struct BitWidth(u8);

impl BitWidth {
    /// The smallest supported bit-width (ternary).
    pub const MIN: u32 = 2;
    /// The largest supported bit-width.
    pub const MAX: u32 = 16;

    /// Validates `bits` (2..=16).
    pub fn new(bits: u32) -> Result<Self> {
        if (Self::MIN..=Self::MAX).contains(&bits) {
            Ok(Self(bits as u8))
        } else {
            Err(QuantError::InvalidBits { bits })
        }
    }

    /// The number of bits.
    pub fn get(self) -> u32 {
        u32::from(self.0)
    }

    /// `K = 2^(b-1) - 1`, the largest integer code of the symmetric quantizers (codes lie in
    /// `[-K, K]`, so `2^b - 1` levels).
    pub fn max_level(self) -> u32 {
        (1u32 << (self.0 - 1)) - 1
    }

    /// Whether integer codes of this width fit in `i8` (b <= 8); otherwise they are stored as `i16`.
    pub fn fits_i8(self) -> bool {
        self.0 <= 8
    }

    /// Validates every number of `bits`, in order.
    ///
    /// ```
    /// use smallscale_quant_core::BitWidth;
    /// assert_eq!(BitWidth::list(&[2, 4])?, [BitWidth::new(2)?, BitWidth::new(4)?]);
    /// assert!(BitWidth::list(&[2, 40]).is_err());
    /// # Ok::<(), smallscale_quant_core::QuantError>(())
    /// ```
    pub fn list(bits: &[u32]) -> Result<Vec<BitWidth>> {
        bits.iter().map(|&b| Self::new(b)).collect()
    }

    /// Every supported bit-width, 2..=16.
    pub fn all() -> impl Iterator<Item = BitWidth> {
        (Self::MIN..=Self::MAX).map(|b| Self(b as u8))
    }
}

impl TryFrom<u32> for BitWidth {
    type Error = QuantError;
    fn try_from(bits: u32) -> Result<Self> {
        Self::new(bits)
    }
}

impl From<BitWidth> for u32 {
    fn from(b: BitWidth) -> u32 {
        b.get()
    }
}

impl PartialEq<u32> for BitWidth {
    fn eq(&self, other: &u32) -> bool {
        self.get() == *other
    }
}

impl PartialOrd<u32> for BitWidth {
    fn partial_cmp(&self, other: &u32) -> Option<std::cmp::Ordering> {
        Some(self.get().cmp(other))
    }
}

/// The number of bits, as a plain number (`3`), so `format!("{b} bits")` reads naturally.
impl std::fmt::Display for BitWidth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Delegates, so width and alignment (`{:>5}`) apply.
        std::fmt::Display::fmt(&self.0, f)
    }
}

//! The one parser of every `--bits` option: a whole number from 2 to 16.

use smallscale_quant_core::BitWidth;

/// Parses a bit-width for clap, with the range in the message (`--bits -1`, `--bits four`, `--bits 40`).
pub fn parse_bits(text: &str) -> Result<BitWidth, String> {
    let range = format!(
        "bits must be {}..={} (2 = ternary, 8 = int8)",
        BitWidth::MIN,
        BitWidth::MAX
    );
    let n: i64 = text
        .trim()
        .parse()
        .map_err(|_| format!("not a whole number; {range}"))?;
    u32::try_from(n)
        .ok()
        .and_then(|b| BitWidth::new(b).ok())
        .ok_or(range)
}

#[cfg(test)]
mod tests {
    use super::parse_bits;

    #[test]
    fn range_and_messages() {
        assert_eq!(parse_bits("2").map(|b| b.get()), Ok(2));
        assert_eq!(parse_bits("16").map(|b| b.get()), Ok(16));
        for bad in ["-1", "1", "17", "4294967298"] {
            let e = parse_bits(bad).unwrap_err();
            assert!(e.contains("bits must be 2..=16"), "{bad}: {e}");
        }
        assert!(
            parse_bits("four")
                .unwrap_err()
                .contains("not a whole number")
        );
    }
}

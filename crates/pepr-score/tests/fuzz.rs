//! Damaged PePR tables (bit flips, inserted bytes, overwritten fields, truncations) give pools or a
//! clear error, never a panic, and so does scoring what they give.

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use smallscale_io::{ByteEdits, byte_edits};
use smallscale_pepr_score::{TableSpec, load_pools_from_reader};

const VALID: &str =
    "model,acc,energy,dataset\nmlp,0.91,1.5,a\ncnn,0.94,2.5,a\nvit,0.90,0.5,b\nres,0.80,4,b\n";

fn case(edits: &ByteEdits, valid: &[u8]) -> Result<(), TestCaseError> {
    let spec = TableSpec::new("acc", ["energy"])
        .group_by("dataset")
        .check()
        .unwrap();
    match load_pools_from_reader(edits.apply(valid).as_slice(), "damaged.csv", &spec) {
        Ok(pools) => {
            for pool in pools {
                // Scoring a pool read from damaged bytes fails cleanly too.
                if let Err(e) = pool.pepr("energy") {
                    prop_assert!(!e.to_string().is_empty());
                }
            }
        }
        Err(e) => prop_assert!(!e.to_string().is_empty()),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn damaged_tables_never_panic(edits in byte_edits(VALID.len())) {
        case(&edits, VALID.as_bytes())?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000_000))]

    #[test]
    #[ignore = "a million damaged tables (a few minutes): cargo test --release -p smallscale-pepr-score --test fuzz -- --ignored"]
    fn a_million_damaged_tables_never_panic(edits in byte_edits(VALID.len())) {
        case(&edits, VALID.as_bytes())?;
    }
}

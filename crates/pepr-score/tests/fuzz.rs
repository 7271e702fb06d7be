//! Damaged PePR tables (bit flips, inserted bytes, overwritten fields, truncations) give pools or a
//! clear error, never a panic, and so does scoring what they give.

use smallscale_io::check_damaged_inputs;
use smallscale_pepr_score::{PeprError, TableParams, load_pools_from_reader};

const VALID: &str =
    "model,acc,energy,dataset\nmlp,0.91,1.5,a\ncnn,0.94,2.5,a\nvit,0.90,0.5,b\nres,0.80,4,b\n";

fn read(bytes: &[u8]) -> Result<(), PeprError> {
    let spec = TableParams::new("acc", ["energy"])
        .with_group_by("dataset")
        .check()?;
    for pool in load_pools_from_reader(bytes, "damaged.csv", &spec)? {
        pool.pepr("energy")?;
    }
    Ok(())
}

#[test]
fn damaged_tables_never_panic() {
    assert_eq!(
        check_damaged_inputs(VALID.as_bytes(), 512, read).unwrap(),
        512
    );
}

#[test]
#[ignore = "a million damaged tables (about 15 s): cargo test -p smallscale-pepr-score --test fuzz -- --ignored --nocapture"]
fn a_million_damaged_tables_never_panic() {
    let n = check_damaged_inputs(VALID.as_bytes(), 1_000_000, read).unwrap();
    println!("{n} damaged PePR tables read");
    assert_eq!(n, 1_000_000);
}

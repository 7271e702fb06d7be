//! Damaged safetensors checkpoints (bit flips, inserted bytes, overwritten header fields,
//! truncations) give tensors or a clear error, never a panic.

use candle_core::{Device, Tensor};
use smallscale_io::check_damaged_inputs;
use smallscale_quant_core::{
    MaxAbsQuantizer, NamedTensors, QuantizedCheckpoint, StoredTensor, TensorSelector,
    parse_safetensors, write_safetensors,
};

fn checkpoint() -> NamedTensors {
    let mut ckpt = NamedTensors::default();
    let dev = Device::Cpu;
    let w: Vec<f32> = (0..24).map(|i| i as f32 / 7.0 - 1.5).collect();
    ckpt.tensors.insert(
        "conv.weight".into(),
        StoredTensor::Tensor(Tensor::from_vec(w, (2, 3, 2, 2), &dev).unwrap()),
    );
    ckpt.tensors.insert(
        "steps".into(),
        StoredTensor::Tensor(Tensor::new(&[3i64], &dev).unwrap()),
    );
    ckpt.metadata.insert(
        "smallscale.model_config".into(),
        "{\"model\":\"mlp\"}".into(),
    );
    ckpt
}

/// The bytes of the plain checkpoint and of its integer-code export.
fn valid_files() -> [Vec<u8>; 2] {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("w.safetensors");
    write_safetensors(&plain, &checkpoint()).unwrap();
    let codes = dir.path().join("codes.safetensors");
    QuantizedCheckpoint::quantize(
        &checkpoint(),
        &MaxAbsQuantizer::new(4).unwrap(),
        &TensorSelector::all_floating(),
    )
    .unwrap()
    .save(&codes)
    .unwrap();
    [std::fs::read(plain).unwrap(), std::fs::read(codes).unwrap()]
}

/// Parses the bytes, and reads an integer export out of them if they are one.
fn read(bytes: &[u8]) -> Result<(), smallscale_quant_core::QuantError> {
    let file = parse_safetensors(bytes, "damaged.safetensors")?;
    if smallscale_quant_core::is_integer_export(&file) {
        let codes = QuantizedCheckpoint::from_file(file, "damaged.safetensors".as_ref())?;
        codes.dequantize(&Device::Cpu)?;
    }
    Ok(())
}

fn both_files(cases: u32) -> u32 {
    valid_files()
        .iter()
        .map(|valid| check_damaged_inputs(valid, cases, read).unwrap())
        .sum()
}

#[test]
fn damaged_checkpoints_and_exports_never_panic() {
    assert_eq!(both_files(512), 2 * 512);
}

#[test]
#[ignore = "a million damaged checkpoints and exports each (about a minute): cargo test -p smallscale-quant-core --test fuzz -- --ignored --nocapture"]
fn a_million_damaged_checkpoints_never_panic() {
    let n = both_files(1_000_000);
    println!("{n} damaged checkpoints and integer exports read");
    assert_eq!(n, 2_000_000);
}

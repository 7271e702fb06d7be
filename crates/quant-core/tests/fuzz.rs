//! Damaged safetensors checkpoints (bit flips, inserted bytes, overwritten header fields,
//! truncations) give tensors or a clear error, never a panic.

use candle_core::{Device, Tensor};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use smallscale_io::{ByteEdits, byte_edits};
use smallscale_quant_core::{NamedTensors, StoredTensor, parse_safetensors, write_safetensors};

/// A valid checkpoint, built once.
static VALID: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(valid_checkpoint);

fn valid_checkpoint() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.safetensors");
    let mut ckpt = NamedTensors::default();
    let dev = Device::Cpu;
    ckpt.tensors.insert(
        "conv.weight".into(),
        StoredTensor::Tensor(
            Tensor::from_vec(
                (0..24).map(|i| i as f32 / 7.0).collect::<Vec<_>>(),
                (2, 3, 2, 2),
                &dev,
            )
            .unwrap(),
        ),
    );
    ckpt.tensors.insert(
        "steps".into(),
        StoredTensor::Tensor(Tensor::new(&[3i64], &dev).unwrap()),
    );
    ckpt.metadata.insert(
        "smallscale.model_config".into(),
        "{\"model\":\"mlp\"}".into(),
    );
    write_safetensors(&path, &ckpt).unwrap();
    std::fs::read(&path).unwrap()
}

fn case(edits: &ByteEdits, valid: &[u8]) -> Result<(), TestCaseError> {
    if let Err(e) = parse_safetensors(&edits.apply(valid), "damaged.safetensors") {
        prop_assert!(!e.to_string().is_empty());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn damaged_checkpoints_never_panic(edits in byte_edits(256)) {
        case(&edits, &VALID)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000_000))]

    #[test]
    #[ignore = "a million damaged checkpoints (minutes): cargo test --release -p smallscale-quant-core --test fuzz -- --ignored"]
    fn a_million_damaged_checkpoints_never_panic(edits in byte_edits(256)) {
        case(&edits, &VALID)?;
    }
}

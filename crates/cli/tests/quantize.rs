//! `smallscale quantize` end to end.

use std::process::Command;

use candle_core::{DType, Device, Tensor};
use smallscale_quant_core::{
    BitWidth, MaxAbsQuantizer, NamedTensors, PerChannelMaxAbsQuantizer, QuantizedCheckpoint,
    Quantizer, StoredTensor, max_abs_quantize_slice, read_safetensors, write_safetensors,
};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_smallscale"))
}

fn checkpoint(dir: &std::path::Path) -> std::path::PathBuf {
    let mut ckpt = NamedTensors::default();
    let w: Vec<f32> = (0..4 * 3 * 3 * 3)
        .map(|i| ((i * 17 % 31) as f32 - 15.0) / 9.0)
        .collect();
    let dev = Device::Cpu;
    ckpt.tensors.insert(
        "conv.weight".into(),
        StoredTensor::Tensor(Tensor::from_vec(w, (4, 3, 3, 3), &dev).unwrap()),
    );
    ckpt.tensors.insert(
        "conv.bias".into(),
        StoredTensor::Tensor(Tensor::new(&[0.11f32, 0.2, 0.3, 0.4], &dev).unwrap()),
    );
    ckpt.tensors.insert(
        "bn.num_batches_tracked".into(),
        StoredTensor::Tensor(Tensor::new(&[12i64], &dev).unwrap()),
    );
    ckpt.metadata.insert("origin".into(), "test".into());
    let path = dir.join("in.safetensors");
    write_safetensors(&path, &ckpt).unwrap();
    path
}

fn tensor(path: &std::path::Path, name: &str) -> Tensor {
    match &read_safetensors(path).unwrap().tensors[name] {
        StoredTensor::Tensor(t) => t.clone(),
        StoredTensor::Raw(_) => panic!("{name} is raw"),
    }
}

#[test]
fn fake_quantizes_every_floating_tensor_except_excluded_ones() {
    let dir = tempfile::tempdir().unwrap();
    let input = checkpoint(dir.path());
    let output = dir.path().join("out.safetensors");
    let out = bin()
        .args(["quantize", "--bits", "3", "--exclude", "*.bias", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(&output)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("1 of 3 tensors quantized"), "{stdout}");
    let w = tensor(&input, "conv.weight")
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let q = tensor(&output, "conv.weight");
    assert_eq!(q.dims(), &[4, 3, 3, 3]);
    assert_eq!(q.dtype(), DType::F32);
    assert_eq!(
        q.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
        max_abs_quantize_slice(&w, BitWidth::new(3).unwrap()).unwrap()
    );
    assert_eq!(
        tensor(&output, "conv.bias").to_vec1::<f32>().unwrap(),
        [0.11, 0.2, 0.3, 0.4]
    );
    assert_eq!(
        tensor(&output, "bn.num_batches_tracked")
            .to_vec1::<i64>()
            .unwrap(),
        [12]
    );
    assert_eq!(
        read_safetensors(&output).unwrap().metadata["origin"],
        "test"
    );
}

#[test]
fn json_report_and_per_channel() {
    let dir = tempfile::tempdir().unwrap();
    let input = checkpoint(dir.path());
    let output = dir.path().join("pc.safetensors");
    let out = bin()
        .args([
            "quantize",
            "--bits",
            "2",
            "--per-channel",
            "--json",
            "--input",
        ])
        .arg(&input)
        .arg("--output")
        .arg(&output)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["scheme"], "per-channel-max-abs");
    assert_eq!(v["quantized_tensors"], 2);
    let conv = v["tensors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "conv.weight")
        .unwrap();
    let w = tensor(&input, "conv.weight");
    let want = PerChannelMaxAbsQuantizer::new(2)
        .unwrap()
        .fake_quantize(&w)
        .unwrap();
    let mse = (want - &w)
        .unwrap()
        .sqr()
        .unwrap()
        .mean_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!((conv["mse"].as_f64().unwrap() - f64::from(mse)).abs() < 1e-6);
    assert!(conv["sqnr_db"].as_f64().unwrap() > 0.0);
}

#[test]
fn export_int_writes_codes_that_load_back() {
    let dir = tempfile::tempdir().unwrap();
    let input = checkpoint(dir.path());
    let output = dir.path().join("codes.safetensors");
    let out = bin()
        .args([
            "quantize",
            "--bits",
            "8",
            "--export-int",
            "--weights-only",
            "--input",
        ])
        .arg(&input)
        .arg("--output")
        .arg(&output)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let back = QuantizedCheckpoint::load(&output).unwrap();
    let w = tensor(&input, "conv.weight");
    assert_eq!(
        back.quantized["conv.weight"],
        MaxAbsQuantizer::new(8).unwrap().quantize(&w).unwrap()
    );
    assert!(back.passthrough.contains_key("conv.bias"));
}

#[test]
fn bad_inputs_fail_clearly_and_leave_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.safetensors");
    let missing = dir.path().join("missing.safetensors");
    let out = bin()
        .args(["quantize", "--bits", "4", "--input"])
        .arg(&missing)
        .arg("--output")
        .arg(&output)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("missing.safetensors") && err.contains("cannot read"),
        "{err}"
    );
    let corrupt = dir.path().join("corrupt.safetensors");
    std::fs::write(&corrupt, [0xffu8; 64]).unwrap();
    let out = bin()
        .args(["quantize", "--bits", "4", "--input"])
        .arg(&corrupt)
        .arg("--output")
        .arg(&output)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a valid safetensors"));
    let input = checkpoint(dir.path());
    let out = bin()
        .args(["quantize", "--bits", "1", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(&output)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bits must be 2..=16"));
    // A NaN weight is reported with the tensor's name, and nothing is written.
    let mut nan = NamedTensors::default();
    nan.tensors.insert(
        "fc.weight".into(),
        StoredTensor::Tensor(Tensor::new(&[0.5f32, f32::NAN], &Device::Cpu).unwrap()),
    );
    let nan_path = dir.path().join("nan.safetensors");
    write_safetensors(&nan_path, &nan).unwrap();
    let out = bin()
        .args(["quantize", "--bits", "4", "--input"])
        .arg(&nan_path)
        .arg("--output")
        .arg(&output)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("fc.weight") && err.contains("NaN"), "{err}");
    assert!(!output.exists());
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(files.len(), 3, "no temporary files left behind: {files:?}");
}

/// `smallscale quantize FLAGS --input INPUT --output OUTPUT`: (exit code, stdout, stderr).
fn quantize(
    flags: &[&str],
    input: &std::path::Path,
    output: impl AsRef<std::ffi::OsStr>,
) -> (i32, String, String) {
    let out = bin()
        .arg("quantize")
        .args(flags)
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(output)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn outputs_that_would_destroy_a_file_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let input = checkpoint(dir.path());
    let before = std::fs::read(&input).unwrap();
    let name = dir.path().file_name().unwrap();
    // The input spelled another way: D/../D/in.safetensors.
    let sneaky = dir.path().join("..").join(name).join("in.safetensors");
    let fifo = dir.path().join("pipe");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    for (output, needle) in [
        (sneaky.as_os_str(), "is the input"),
        (fifo.as_os_str(), "is a FIFO, not a regular file"),
        (dir.path().as_os_str(), "is a directory, not a regular file"),
    ] {
        let (code, _, err) = quantize(&["--bits", "4"], &input, output);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("--out:") && err.contains(needle), "{err}");
    }
    assert_eq!(std::fs::read(&input).unwrap(), before);
    assert!(!std::fs::metadata(&fifo).unwrap().is_file());
}

#[test]
fn an_exclude_pattern_that_matches_nothing_is_said() {
    let dir = tempfile::tempdir().unwrap();
    let input = checkpoint(dir.path());
    let output = dir.path().join("out.safetensors");
    let (code, _, err) = quantize(
        &["--bits", "4", "--exclude", "*.bias", "--exclude", "fc.*"],
        &input,
        &output,
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("warning: --exclude 'fc.*' matches no tensor") && err.contains("conv.weight"),
        "{err}"
    );
    assert!(
        !err.contains("--exclude '*.bias'"),
        "only the unmatched pattern is named: {err}"
    );
    assert!(output.exists());
}

#[test]
fn an_outlier_that_zeroes_most_weights_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut ckpt = NamedTensors::default();
    // One outlier of 100 among weights of about 1: at 3 bits (scale 100 / 3) every other weight
    // rounds to zero.
    let mut w = vec![1.0f32; 99];
    w.push(100.0);
    ckpt.tensors.insert(
        "fc.weight".into(),
        StoredTensor::Tensor(Tensor::from_vec(w, 100, &Device::Cpu).unwrap()),
    );
    let input = dir.path().join("outlier.safetensors");
    write_safetensors(&input, &ckpt).unwrap();
    let output = dir.path().join("out.safetensors");
    let (code, stdout, err) = quantize(&["--bits", "3", "--json"], &input, &output);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("warning: fc.weight: 99.0 % of its nonzero values became 0"),
        "{err}"
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["tensors"][0]["zeroed_share"], 0.99);
}

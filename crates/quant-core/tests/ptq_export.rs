//! PTQ of named tensors, the error report, selection and the integer export round trip.

use std::collections::BTreeMap;

use candle_core::{DType, Device, Tensor};
use smallscale_quant_core::*;

fn sample_checkpoint() -> NamedTensors {
    let dev = Device::Cpu;
    let mut ckpt = NamedTensors::default();
    let conv: Vec<f32> = (0..2 * 3 * 3 * 3)
        .map(|i| ((i * 7 % 23) as f32 - 11.0) / 13.0)
        .collect();
    let insert = |c: &mut NamedTensors, n: &str, t: Tensor| {
        c.tensors.insert(n.to_string(), StoredTensor::Tensor(t));
    };
    insert(
        &mut ckpt,
        "conv.weight",
        Tensor::from_vec(conv, (2, 3, 3, 3), &dev).unwrap(),
    );
    insert(
        &mut ckpt,
        "conv.bias",
        Tensor::new(&[0.1f32, -0.2], &dev).unwrap(),
    );
    insert(
        &mut ckpt,
        "bn.weight",
        Tensor::new(&[1.0f32, 0.9], &dev).unwrap(),
    );
    insert(
        &mut ckpt,
        "fc.weight",
        Tensor::new(&[[0.25f64, -1.0, 0.6], [0.3, 0.2, -0.1]], &dev).unwrap(),
    );
    insert(&mut ckpt, "steps", Tensor::new(&[7i64], &dev).unwrap());
    insert(
        &mut ckpt,
        "half.weight",
        Tensor::new(&[0.5f32, -0.25, 0.125], &dev)
            .unwrap()
            .to_dtype(DType::F16)
            .unwrap(),
    );
    ckpt.tensors.insert(
        "mask".to_string(),
        StoredTensor::Raw(RawTensor {
            dtype: safetensors::Dtype::I8,
            shape: vec![3],
            data: vec![1, 255, 0],
        }),
    );
    ckpt
}

fn tensors_of(ckpt: &NamedTensors) -> BTreeMap<String, Tensor> {
    ckpt.tensors
        .iter()
        .filter_map(|(n, t)| match t {
            StoredTensor::Tensor(t) => Some((n.clone(), t.clone())),
            StoredTensor::Raw(_) => None,
        })
        .collect()
}

#[test]
fn report_matches_a_direct_computation() {
    let ckpt = sample_checkpoint();
    let tensors = tensors_of(&ckpt);
    let q = MaxAbsQuantizer::new(3).unwrap();
    let out = quantize_tensors(
        &tensors,
        &q,
        &TensorSelector::all_floating().exclude("*.bias").unwrap(),
    )
    .unwrap();
    let by_name: BTreeMap<_, _> = out.report.iter().map(|r| (r.name.as_str(), r)).collect();
    assert!(!by_name["conv.bias"].quantized);
    assert!(!by_name["steps"].quantized);
    assert!(by_name["half.weight"].quantized);
    assert_eq!(out.tensors["half.weight"].dtype(), DType::F16);
    let w = tensors["fc.weight"]
        .flatten_all()
        .unwrap()
        .to_vec1::<f64>()
        .unwrap();
    let want = max_abs_quantize_slice(&w, BitWidth::new(3).unwrap()).unwrap();
    let got = out.tensors["fc.weight"]
        .flatten_all()
        .unwrap()
        .to_vec1::<f64>()
        .unwrap();
    assert_eq!(got, want);
    let noise: f64 = w.iter().zip(&want).map(|(a, b)| (a - b) * (a - b)).sum();
    let signal: f64 = w.iter().map(|a| a * a).sum();
    let r = by_name["fc.weight"];
    assert!((r.mse - noise / 6.0).abs() < 1e-15);
    assert!((r.sqnr_db.unwrap() - 10.0 * (signal / noise).log10()).abs() < 1e-9);
    let max_err = w
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert_eq!(r.max_abs_error, max_err);
    assert_eq!(r.shape, [2, 3]);
}

#[test]
fn reference_selection_quantizes_weights_only_and_honours_excludes() {
    let sel = TensorSelector::reference_weights().exclude("fc.*").unwrap();
    assert!(sel.selects("conv.weight", DType::F32));
    assert!(sel.selects("bn.weight", DType::F32));
    assert!(!sel.selects("fc.weight", DType::F64));
    assert!(!sel.selects("conv.bias", DType::F32));
    assert!(!sel.selects("cls_token", DType::F32));
    let err = TensorSelector::all_floating().exclude("[").unwrap_err();
    assert!(matches!(err, QuantError::InvalidPattern { .. }), "{err}");
}

#[test]
fn export_round_trips_exactly_for_every_scheme_and_width() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = sample_checkpoint();
    let quantizers: Vec<Box<dyn Quantizer>> = vec![
        Box::new(MaxAbsQuantizer::new(2).unwrap()),
        Box::new(MaxAbsQuantizer::new(8).unwrap()),
        Box::new(MaxAbsQuantizer::new(9).unwrap()),
        Box::new(MaxAbsQuantizer::new(16).unwrap()),
        Box::new(PerChannelMaxAbsQuantizer::new(4).unwrap()),
        Box::new(AsymmetricQuantizer::new(8).unwrap()),
        Box::new(AsymmetricQuantizer::new(12).unwrap()),
    ];
    for q in quantizers {
        let sel = TensorSelector::reference_weights();
        let exported = QuantizedCheckpoint::quantize(&ckpt, q.as_ref(), &sel).unwrap();
        let path = dir.path().join(format!(
            "{}-{}.safetensors",
            q.scheme().as_str(),
            q.bits().get()
        ));
        exported.save(&path).unwrap();
        let back = QuantizedCheckpoint::load(&path).unwrap();
        assert_eq!(back.quantized, exported.quantized);
        // Storage type: i8 up to 8 bits, i16 above.
        let bytes = std::fs::read(&path).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let want = if q.bits().get() <= 8 {
            safetensors::Dtype::I8
        } else {
            safetensors::Dtype::I16
        };
        assert_eq!(st.tensor("conv.weight.codes").unwrap().dtype(), want);
        // Dequantized values equal the fake-quantized ones bit for bit.
        let deq = back.dequantize(&Device::Cpu).unwrap();
        for name in ["conv.weight", "fc.weight"] {
            let StoredTensor::Tensor(t) = &ckpt.tensors[name] else {
                unreachable!()
            };
            let fake = q
                .fake_quantize(t)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_dtype(DType::F64)
                .unwrap();
            let d = deq[name]
                .flatten_all()
                .unwrap()
                .to_dtype(DType::F64)
                .unwrap();
            assert_eq!(deq[name].dtype(), t.dtype());
            let (a, b) = (fake.to_vec1::<f64>().unwrap(), d.to_vec1::<f64>().unwrap());
            for (x, y) in a.iter().zip(&b) {
                assert_eq!(
                    x.abs().to_bits(),
                    y.abs().to_bits(),
                    "{name} {:?}",
                    q.scheme()
                );
            }
        }
        // Pass-through tensors survive unchanged, including raw i8 ones.
        assert!(back.passthrough.contains_key("conv.bias"));
        assert!(matches!(&back.passthrough["mask"], StoredTensor::Raw(r) if r.data == [1, 255, 0]));
    }
}

#[test]
fn corrupt_and_missing_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.safetensors");
    let err = read_safetensors(&missing).unwrap_err();
    assert!(err.to_string().contains("nope.safetensors"), "{err}");
    let garbage = dir.path().join("garbage.safetensors");
    std::fs::write(&garbage, b"this is not a safetensors file at all").unwrap();
    let err = read_safetensors(&garbage).unwrap_err();
    assert!(err.to_string().contains("not a valid safetensors"), "{err}");
    // Truncated: a valid file cut in the middle of its data.
    let good = dir.path().join("good.safetensors");
    write_safetensors(&good, &sample_checkpoint()).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let cut = dir.path().join("cut.safetensors");
    std::fs::write(&cut, &bytes[..bytes.len() - 10]).unwrap();
    assert!(read_safetensors(&cut).is_err());
    // A plain checkpoint is not an integer export.
    let err = QuantizedCheckpoint::load(&good).unwrap_err();
    assert!(err.to_string().contains("--export-int"), "{err}");
    // Writing into a missing directory fails without leaving files behind.
    let err =
        write_safetensors(dir.path().join("no/such/dir/x.bin"), &sample_checkpoint()).unwrap_err();
    assert!(err.to_string().contains("writable"), "{err}");
}

#[test]
fn nan_in_a_checkpoint_names_the_tensor() {
    let mut ckpt = NamedTensors::default();
    ckpt.tensors.insert(
        "layer.weight".into(),
        StoredTensor::Tensor(Tensor::new(&[0.1f32, f32::NAN], &Device::Cpu).unwrap()),
    );
    let tensors = tensors_of(&ckpt);
    let err = quantize_tensors(
        &tensors,
        &MaxAbsQuantizer::new(4).unwrap(),
        &TensorSelector::all_floating(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("layer.weight") && err.to_string().contains("index 1"),
        "{err}"
    );
    let err = QuantizedCheckpoint::quantize(
        &ckpt,
        &MaxAbsQuantizer::new(4).unwrap(),
        &TensorSelector::all_floating(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("layer.weight"), "{err}");
}

#[test]
fn varmap_ptq_sets_the_variables() {
    use candle_nn::{VarBuilder, VarMap};
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let lin = candle_nn::linear(16, 4, vb.pp("fc")).unwrap();
    let before = lin
        .weight()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let report = quantize_varmap(
        &varmap,
        &MaxAbsQuantizer::new(2).unwrap(),
        &TensorSelector::reference_weights(),
    )
    .unwrap();
    assert_eq!(report.len(), 2);
    let after = varmap.data().lock().unwrap()["fc.weight"]
        .as_tensor()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert_eq!(
        after,
        max_abs_quantize_slice(&before, BitWidth::new(2).unwrap()).unwrap()
    );
    let distinct: std::collections::BTreeSet<u32> =
        after.iter().map(|v| v.abs().to_bits()).collect();
    assert!(distinct.len() <= 2, "ternary: 0 and s");
}

#[test]
fn a_whole_checkpoint_is_quantized_with_one_report_per_tensor() {
    let mut ckpt = sample_checkpoint();
    ckpt.metadata.insert("origin".into(), "test".into());
    let q = MaxAbsQuantizer::new(3).unwrap();
    let selector = TensorSelector::all_floating().exclude("fc.*").unwrap();
    let names: Vec<String> = ckpt.tensors.keys().cloned().collect();
    for integer_codes in [false, true] {
        let ptq = quantize_checkpoint(&ckpt, &q, &selector, integer_codes).unwrap();
        let reported: Vec<String> = ptq.report.iter().map(|r| r.name.clone()).collect();
        assert_eq!(reported, names, "every tensor, sorted by name");
        let mask = ptq.report.iter().find(|r| r.name == "mask").unwrap();
        assert!(!mask.quantized && mask.dtype == "i8");
        assert!(
            !ptq.report
                .iter()
                .find(|r| r.name == "fc.weight")
                .unwrap()
                .quantized
        );
        // The report describes what the file holds.
        let written: BTreeMap<String, Tensor> = match &ptq.file {
            PtqFile::FakeQuantized(t) => {
                assert_eq!(t.metadata["origin"], "test");
                tensors_of(t)
            }
            PtqFile::IntegerCodes(c) => {
                assert_eq!(c.metadata["origin"], "test");
                c.dequantize(&Device::Cpu).unwrap()
            }
        };
        let original = tensors_of(&ckpt);
        for r in ptq.report.iter().filter(|r| r.quantized) {
            let again = error_report(&r.name, &original[&r.name], &written[&r.name]).unwrap();
            assert_eq!(&again, r, "{} (integer codes: {integer_codes})", r.name);
        }
        assert_eq!(
            ptq.quantized_tensors(),
            ptq.report.iter().filter(|r| r.quantized).count()
        );
        assert!(ptq.quantized_tensors() >= 2);
    }
}

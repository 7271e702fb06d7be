//! Our side of `benches/compare_regularizer_with_pytorch.sh`: reads the weight tensors of a
//! safetensors file and writes, for the reference max-abs quantizer at `BITS`, each tensor's
//! fake-quantized value (`fake_quant.NAME`), the regularizer `R_b(W)` over all of them
//! (`regularizer`, one element) and its gradient with respect to each tensor (`grad.NAME`),
//! computed with candle's autograd through the straight-through rounding and the non-detached scale.
//!
//! `cargo run -p smallscale-osc-reg --example regularizer_reference -- WEIGHTS.safetensors BITS OUT.safetensors`

use smallscale_osc_reg::oscillation_regularizer;
use smallscale_quant_core::{
    MaxAbsQuantizer, NamedTensors, Quantizer, StoredTensor, read_safetensors, write_safetensors,
};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, bits, output] = args.as_slice() else {
        eprintln!("usage: regularizer_reference WEIGHTS.safetensors BITS OUT.safetensors");
        std::process::exit(2);
    };
    let bits: u32 = bits.parse().unwrap_or_else(|_| {
        eprintln!("BITS must be a number from 2 to 16, got {bits}");
        std::process::exit(2)
    });
    let quantizer = MaxAbsQuantizer::new(bits).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    let file = read_safetensors(input).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1)
    });
    let mut names = Vec::new();
    let mut vars = Vec::new();
    for (name, t) in &file.tensors {
        if let StoredTensor::Tensor(t) = t {
            names.push(name.clone());
            vars.push(candle_core::Var::from_tensor(t).expect("a float tensor"));
        }
    }
    let weights: Vec<candle_core::Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
    let mut out = NamedTensors::default();
    for (name, w) in names.iter().zip(&weights) {
        let q = quantizer
            .fake_quantize(&w.detach())
            .expect("fake quantization");
        out.tensors
            .insert(format!("fake_quant.{name}"), StoredTensor::Tensor(q));
    }
    let r = oscillation_regularizer(&weights, &quantizer).expect("regularizer");
    let grads = r.backward().expect("backward");
    out.tensors.insert(
        "regularizer".into(),
        StoredTensor::Tensor(r.reshape(1).expect("reshape")),
    );
    for (name, v) in names.iter().zip(&vars) {
        let g = grads
            .get(v.as_tensor())
            .expect("every weight has a gradient");
        out.tensors
            .insert(format!("grad.{name}"), StoredTensor::Tensor(g.clone()));
    }
    write_safetensors(output, &out).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1)
    });
}

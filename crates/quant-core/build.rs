//! Compiles the CUDA kernels to PTX when the `cuda` feature is on (needs `nvcc`; set
//! `CUDA_COMPUTE_CAP`, e.g. 90, to target a GPU generation, default 70). Without the feature, and on
//! docs.rs, nothing is compiled.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=kernels/fake_quant.cu");
    println!("cargo:rerun-if-env-changed=CUDA_COMPUTE_CAP");
    println!("cargo:rerun-if-env-changed=NVCC");
    if std::env::var_os("CARGO_FEATURE_CUDA").is_none() {
        return;
    }
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let ptx = out_dir.join("fake_quant.ptx");
    if std::env::var_os("DOCS_RS").is_some() {
        std::fs::write(&ptx, "").expect("OUT_DIR is writable");
        return;
    }
    let cap = std::env::var("CUDA_COMPUTE_CAP").unwrap_or_else(|_| "70".to_string());
    let nvcc = std::env::var("NVCC").unwrap_or_else(|_| "nvcc".to_string());
    let status = std::process::Command::new(&nvcc)
        .args([
            "--ptx",
            "-O3",
            "--fmad=false",
            &format!("-arch=compute_{cap}"),
            "-o",
        ])
        .arg(&ptx)
        .arg("kernels/fake_quant.cu")
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!(
            "nvcc failed ({s}) compiling kernels/fake_quant.cu; the `cuda` feature needs a working CUDA toolkit"
        ),
        Err(e) => panic!(
            "cannot run {nvcc} ({e}); the `cuda` feature needs the CUDA toolkit's nvcc on PATH (or NVCC=/path/to/nvcc)"
        ),
    }
}

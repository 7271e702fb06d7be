use std::time::Instant;
fn run(
    label: &str,
    m: usize,
    n: usize,
    k: usize,
    lhs_rs: isize,
    lhs_cs: isize,
    rhs_rs: isize,
    rhs_cs: isize,
) {
    run2(
        label, m, n, k, lhs_rs, lhs_cs, rhs_rs, rhs_cs, n as isize, 1,
    )
}
fn run2(
    label: &str,
    m: usize,
    n: usize,
    k: usize,
    lhs_rs: isize,
    lhs_cs: isize,
    rhs_rs: isize,
    rhs_cs: isize,
    dst_rs: isize,
    dst_cs: isize,
) {
    let a = vec![1.0f32; m * k];
    let b = vec![1.0f32; k * n];
    let mut d = vec![0.0f32; m * n];
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..10 {
            unsafe {
                gemm::gemm(
                    m,
                    n,
                    k,
                    d.as_mut_ptr(),
                    dst_cs,
                    dst_rs,
                    true,
                    a.as_ptr(),
                    lhs_cs,
                    lhs_rs,
                    b.as_ptr(),
                    rhs_cs,
                    rhs_rs,
                    1.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
            }
        }
        best = best.min(t.elapsed().as_secs_f64() / 10.0);
    }
    println!(
        "{label}: {:.2} ms, {:.1} GFLOPS",
        best * 1e3,
        2.0 * (m * n * k) as f64 / best / 1e9
    );
}
fn main() {
    // dW: [64, 1024] @ [1024, 576]
    run("dW rhs transposed view", 64, 576, 1024, 1024, 1, 1, 1024);
    run("dW rhs row-major", 64, 576, 1024, 1024, 1, 576, 1);
    run("fwd [64,576]@[576,1024]", 64, 1024, 576, 576, 1, 1024, 1);
    run("dWT [576,1024]@gyT view", 576, 64, 1024, 1024, 1, 1, 1024);
    run2(
        "dW col-major dst, rhs transposed view",
        64,
        576,
        1024,
        1024,
        1,
        1,
        1024,
        1,
        64,
    );
    run2("dWT col-major dst", 576, 64, 1024, 1024, 1, 1, 1024, 1, 576);
    run(
        "dcols [576,64]@[64,1024] lhs transposed",
        576,
        1024,
        64,
        1,
        576,
        1024,
        1,
    );
}

//! The CPU convolution kernel (`kernels::conv2d`) against candle's reference `conv2d`: forward
//! values and both gradients, and against direct loops in f64, over many shapes, strides and paddings, in f32 and f64, including
//! the shapes where the kernel batches several samples into one product and where it splits the
//! batch across threads.

mod common;

use candle_core::{DType, Var};
use proptest::prelude::*;
use smallscale_models::kernels::conv2d;

#[derive(Debug, Clone, Copy)]
struct Case {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    k: usize,
    stride: usize,
    padding: usize,
}

/// Direct-loop convolution in f64: `(y, dx, dw)` for the output functional `sum(r * y)`.
fn brute_force(x: &[f64], w: &[f64], r: &[f64], case: Case) -> [Vec<f64>; 3] {
    let Case {
        n,
        c,
        h,
        w: wd,
        o,
        k,
        stride,
        padding,
    } = case;
    let ho = (h + 2 * padding - k) / stride + 1;
    let wo = (wd + 2 * padding - k) / stride + 1;
    let mut y = vec![0.0; n * o * ho * wo];
    let mut dx = vec![0.0; x.len()];
    let mut dw = vec![0.0; w.len()];
    for s in 0..n {
        for oc in 0..o {
            for oy in 0..ho {
                for ox in 0..wo {
                    let yi = ((s * o + oc) * ho + oy) * wo + ox;
                    for ci in 0..c {
                        for ki in 0..k {
                            for kj in 0..k {
                                let iy = (oy * stride + ki) as isize - padding as isize;
                                let ix = (ox * stride + kj) as isize - padding as isize;
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= wd as isize {
                                    continue;
                                }
                                let xi = ((s * c + ci) * h + iy as usize) * wd + ix as usize;
                                let wi = ((oc * c + ci) * k + ki) * k + kj;
                                y[yi] += x[xi] * w[wi];
                                dx[xi] += r[yi] * w[wi];
                                dw[wi] += r[yi] * x[xi];
                            }
                        }
                    }
                }
            }
        }
    }
    [y, dx, dw]
}

/// Our forward and gradients against the direct loops (always) and against candle's `conv2d`
/// (forward always; gradients where candle's backward supports the shape). Returns the largest relative
/// differences for (forward, input gradient, weight gradient).
fn compare(case: Case, dtype: DType, seed: u64) -> [f64; 3] {
    let Case {
        n,
        c,
        h,
        w,
        o,
        k,
        stride,
        padding,
    } = case;
    let x = Var::from_tensor(&common::randn(seed, &[n, c, h, w]).to_dtype(dtype).unwrap()).unwrap();
    let wt = Var::from_tensor(
        &common::randn(seed + 1, &[o, c, k, k])
            .to_dtype(dtype)
            .unwrap(),
    )
    .unwrap();
    let ours = conv2d(x.as_tensor(), wt.as_tensor(), padding, stride).unwrap();
    let reference = x
        .as_tensor()
        .conv2d(wt.as_tensor(), padding, stride, 1, 1)
        .unwrap();
    assert_eq!(ours.dims(), reference.dims(), "{case:?}");
    // A random linear functional of the output, so every output element gets its own weight.
    let r = common::randn(seed + 2, reference.dims())
        .to_dtype(dtype)
        .unwrap();
    let g_ours = (ours.clone() * &r)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let ours = [
        common::to_f64(&ours),
        common::to_f64(g_ours.get(&x).unwrap()),
        common::to_f64(g_ours.get(&wt).unwrap()),
    ];
    let exact = brute_force(
        &common::to_f64(&x),
        &common::to_f64(&wt),
        &common::to_f64(&r),
        case,
    );
    let mut diffs = [0.0f64; 3];
    for i in 0..3 {
        diffs[i] = common::rel_diff_vec(&ours[i], &exact[i]);
    }
    diffs[0] = diffs[0].max(common::rel_diff_vec(&ours[0], &common::to_f64(&reference)));
    // candle computes the input gradient with a transposed convolution whose output size is
    // `(ho - 1) * stride + k - 2 * padding`; where that is not the input size its backward fails
    // (or, with negative sizes, panics), so it is only a reference where the sizes agree.
    let (ho, wo) = (reference.dim(2).unwrap(), reference.dim(3).unwrap());
    let candle_backward_works = ((ho - 1) * stride + k) as isize - 2 * padding as isize
        == h as isize
        && ((wo - 1) * stride + k) as isize - 2 * padding as isize == w as isize;
    if candle_backward_works {
        let g_ref = (reference * &r)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        diffs[1] = diffs[1].max(common::rel_diff_vec(
            &ours[1],
            &common::to_f64(g_ref.get(&x).unwrap()),
        ));
        diffs[2] = diffs[2].max(common::rel_diff_vec(
            &ours[2],
            &common::to_f64(g_ref.get(&wt).unwrap()),
        ));
    }
    diffs
}

fn tolerance(dtype: DType) -> f64 {
    if dtype == DType::F64 { 1e-12 } else { 2e-5 }
}

const TABLE: &[Case] = &[
    // ResNet-18-CIFAR shapes at a small batch (3x3 pad 1, strided, 1x1 shortcut).
    Case {
        n: 2,
        c: 3,
        h: 32,
        w: 32,
        o: 8,
        k: 3,
        stride: 1,
        padding: 1,
    },
    Case {
        n: 3,
        c: 16,
        h: 16,
        w: 16,
        o: 16,
        k: 3,
        stride: 1,
        padding: 1,
    },
    Case {
        n: 3,
        c: 16,
        h: 16,
        w: 16,
        o: 32,
        k: 3,
        stride: 2,
        padding: 1,
    },
    Case {
        n: 3,
        c: 16,
        h: 16,
        w: 16,
        o: 32,
        k: 1,
        stride: 2,
        padding: 0,
    },
    // Pointwise, one sample per product and several.
    Case {
        n: 2,
        c: 8,
        h: 32,
        w: 32,
        o: 4,
        k: 1,
        stride: 1,
        padding: 0,
    },
    Case {
        n: 5,
        c: 8,
        h: 4,
        w: 4,
        o: 4,
        k: 1,
        stride: 1,
        padding: 0,
    },
    // Small images: many samples per product; odd sizes; stride 3; big padding.
    Case {
        n: 40,
        c: 6,
        h: 4,
        w: 4,
        o: 10,
        k: 3,
        stride: 1,
        padding: 1,
    },
    Case {
        n: 7,
        c: 2,
        h: 7,
        w: 5,
        o: 3,
        k: 3,
        stride: 2,
        padding: 1,
    },
    Case {
        n: 4,
        c: 3,
        h: 9,
        w: 11,
        o: 5,
        k: 5,
        stride: 3,
        padding: 2,
    },
    Case {
        n: 2,
        c: 1,
        h: 3,
        w: 3,
        o: 2,
        k: 3,
        stride: 1,
        padding: 2,
    },
    Case {
        n: 1,
        c: 4,
        h: 6,
        w: 6,
        o: 1,
        k: 2,
        stride: 2,
        padding: 0,
    },
    // The whole output smaller than the kernel span: stride larger than the image.
    Case {
        n: 3,
        c: 2,
        h: 5,
        w: 5,
        o: 2,
        k: 3,
        stride: 4,
        padding: 0,
    },
    // Many groups at once (splits the batch across threads) and a ragged last group.
    Case {
        n: 33,
        c: 4,
        h: 8,
        w: 8,
        o: 6,
        k: 3,
        stride: 1,
        padding: 1,
    },
];

#[test]
fn conv_kernel_matches_candle_on_a_table_of_shapes() {
    for dtype in [DType::F64, DType::F32] {
        for (i, &case) in TABLE.iter().enumerate() {
            let diffs = compare(case, dtype, 10 * i as u64);
            for (what, d) in ["forward", "input gradient", "weight gradient"]
                .iter()
                .zip(diffs)
            {
                assert!(
                    d <= tolerance(dtype),
                    "{dtype:?} {case:?}: {what} differs by {d:e}"
                );
            }
        }
    }
}

#[test]
fn conv_kernel_only_computes_the_gradients_that_are_needed() {
    // A constant input (like an image batch): only the weight gets a gradient.
    let x = common::randn(1, &[2, 3, 8, 8]);
    let w = Var::from_tensor(&common::randn(2, &[4, 3, 3, 3])).unwrap();
    let grads = conv2d(&x, w.as_tensor(), 1, 1)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert!(grads.get(&x).is_none());
    let reference = x
        .conv2d(w.as_tensor(), 1, 1, 1, 1)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert!(common::rel_diff(grads.get(&w).unwrap(), reference.get(&w).unwrap()) < 2e-5);
}

#[test]
fn conv_kernel_reports_shape_errors() {
    let x = common::randn(1, &[1, 3, 8, 8]);
    let wrong_channels = common::randn(2, &[4, 2, 3, 3]);
    let err = conv2d(&x, &wrong_channels, 1, 1).unwrap_err().to_string();
    assert!(
        err.contains("3 channels") && err.contains("expects 2"),
        "{err}"
    );
    let too_big = common::randn(2, &[4, 3, 11, 11]);
    let err = conv2d(&x, &too_big, 1, 1).unwrap_err().to_string();
    assert!(err.contains("does not fit"), "{err}");
    let err = conv2d(&x, &common::randn(3, &[4, 3, 3, 3]), 1, 0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("stride"), "{err}");
}

#[test]
fn conv_kernel_reads_non_contiguous_input() {
    // A transposed view: the kernel must copy it into NCHW order first.
    let x = common::randn(4, &[2, 3, 8, 6]).transpose(2, 3).unwrap();
    assert!(!x.is_contiguous());
    let w = common::randn(5, &[4, 3, 3, 3]);
    let ours = conv2d(&x, &w, 1, 1).unwrap();
    let reference = x.conv2d(&w, 1, 1, 1, 1).unwrap();
    assert!(common::rel_diff(&ours, &reference) < 2e-5);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn conv_kernel_matches_candle_on_random_shapes(
        n in 1usize..6, c in 1usize..5, h in 1usize..10, w in 1usize..10, o in 1usize..5,
        k in 1usize..8, stride in 1usize..4, padding in 0usize..5, seed in 0u64..1000,
    ) {
        prop_assume!(h + 2 * padding >= k && w + 2 * padding >= k);
        let case = Case { n, c, h, w, o, k, stride, padding };
        let diffs = compare(case, DType::F64, seed);
        for d in diffs {
            prop_assert!(d <= 1e-12, "{:?}: {:?}", case, diffs);
        }
    }
}

#[test]
fn conv_kernel_gradients_are_bitwise_reproducible() {
    // Many sample groups, so the weight gradient is summed from per-group parts computed on
    // different threads: the order of that sum must not depend on the schedule.
    let run = || {
        let x = Var::from_tensor(&common::randn(7, &[64, 8, 8, 8])).unwrap();
        let w = Var::from_tensor(&common::randn(8, &[16, 8, 3, 3])).unwrap();
        let y = conv2d(x.as_tensor(), w.as_tensor(), 1, 1).unwrap();
        let r = common::randn(9, y.dims());
        let g = (y * r).unwrap().sum_all().unwrap().backward().unwrap();
        (
            common::to_f64(g.get(&x).unwrap()),
            common::to_f64(g.get(&w).unwrap()),
        )
    };
    let first = run();
    for _ in 0..5 {
        assert!(run() == first, "a rerun gave different gradient bits");
    }
}

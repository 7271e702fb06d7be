//! Fused CPU kernels for max-abs fake quantization, on plain slices.
//!
//! Each kernel makes as few passes over memory as the maths allows: one pass for the max-abs scale
//! (which also detects NaN/Inf), one pass that writes the quantized values, and one pass for the
//! backward (which reads `x` and the upstream gradient, writes the result and collects the arg-max
//! positions for the scale term). Large groups are split into chunks that rayon processes in
//! parallel; no per-element allocation happens anywhere.
//!
//! Values are grouped into contiguous groups of `group_len` elements that share one scale: one group
//! for per-tensor quantization, one group per output channel for per-channel quantization.

use std::mem::MaybeUninit;

use rayon::prelude::*;

/// Elements per parallel task: large enough to amortise scheduling, small enough to balance 2..64
/// threads on the 16M-element tensors of the benchmarks.
const CHUNK: usize = 1 << 16;

/// The floating-point element types the kernels support (`f32` and `f64`).
pub trait KernelFloat:
    Copy
    + Send
    + Sync
    + PartialOrd
    + std::fmt::Debug
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
    + 'static
{
    /// Zero.
    const ZERO: Self;
    /// Largest finite value.
    const MAX: Self;
    /// `1.5 * 2^(mantissa bits)`: adding and subtracting it rounds to the nearest integer, ties to even,
    /// for every `|z| < 2^(mantissa bits - 1)`.
    const ROUND_MAGIC: Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// `self` with the sign of `sign`.
    fn copysign(self, sign: Self) -> Self;
    /// Conversion to `f64` (exact).
    fn to_f64(self) -> f64;
    /// Conversion from `f64` (rounded to nearest).
    fn from_f64(v: f64) -> Self;
    /// Whether the value is NaN.
    fn is_nan(self) -> bool;
    /// Round half to even, any magnitude.
    fn round_ties_even(self) -> Self;
}

macro_rules! impl_kernel_float {
    ($t:ty, $magic:expr) => {
        impl KernelFloat for $t {
            const ZERO: Self = 0.0;
            const MAX: Self = <$t>::MAX;
            const ROUND_MAGIC: Self = $magic;
            #[inline(always)]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline(always)]
            fn copysign(self, sign: Self) -> Self {
                <$t>::copysign(self, sign)
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
            #[inline(always)]
            fn round_ties_even(self) -> Self {
                <$t>::round_ties_even(self)
            }
        }
    };
}
impl_kernel_float!(f32, 12_582_912.0); // 1.5 * 2^23
impl_kernel_float!(f64, 6_755_399_441_055_744.0); // 1.5 * 2^52

/// Round half to even for the small magnitudes that occur in quantization (|z| well below 2^22 for
/// `f32`). Bit-identical to `round_ties_even`, including the sign of zero, and vectorises on every
/// x86-64 target (unlike `round_ties_even`, which needs SSE4.1 to avoid a library call).
#[inline(always)]
pub fn round_half_even_small<T: KernelFloat>(z: T) -> T {
    ((z.abs() + T::ROUND_MAGIC) - T::ROUND_MAGIC).copysign(z)
}

/// Where the first non-finite input value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NonFiniteAt {
    /// Flat index of a NaN or infinite value.
    pub index: usize,
}

/// Max |x| over a slice, `None` if a value is NaN or infinite. Written with independent lanes so that
/// it vectorises.
#[inline(always)]
fn max_abs_serial<T: KernelFloat>(x: &[T]) -> Option<T> {
    const LANES: usize = 16;
    let mut acc = [T::ZERO; LANES];
    let mut nan = [false; LANES];
    let chunks = x.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..LANES {
            let a = c[i].abs();
            nan[i] |= a.is_nan();
            acc[i] = if a > acc[i] { a } else { acc[i] };
        }
    }
    let mut m = T::ZERO;
    let mut bad = nan.iter().any(|&b| b);
    for &v in acc.iter() {
        m = if v > m { v } else { m };
    }
    for &v in rest {
        let a = v.abs();
        bad |= a.is_nan();
        m = if a > m { a } else { m };
    }
    if bad || m > T::MAX { None } else { Some(m) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn max_abs_avx2<T: KernelFloat>(x: &[T]) -> Option<T> {
    max_abs_serial(x)
}

/// Max |x| of one contiguous run of values with the best instruction set available.
fn max_abs_dispatch<T: KernelFloat>(x: &[T]) -> Option<T> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { max_abs_avx2(x) };
    }
    max_abs_serial(x)
}

fn first_non_finite<T: KernelFloat>(x: &[T], offset: usize) -> NonFiniteAt {
    let index = x
        .iter()
        .position(|v| v.is_nan() || v.abs() > T::MAX)
        .map_or(offset, |i| offset + i);
    NonFiniteAt { index }
}

/// Max |x| of a (possibly huge) group, in parallel chunks.
fn group_max_abs<T: KernelFloat>(x: &[T], offset: usize) -> Result<T, NonFiniteAt> {
    let m = if x.len() > CHUNK {
        x.par_chunks(CHUNK)
            .map(max_abs_dispatch)
            .try_reduce(|| T::ZERO, |a, b| Some(if b > a { b } else { a }))
    } else {
        max_abs_dispatch(x)
    };
    m.ok_or_else(|| first_non_finite(x, offset))
}

/// Max |x| of every contiguous group of `group_len` elements (`x.len()` must be a multiple of
/// `group_len`). Fails with the position of the first NaN/Inf.
pub fn group_max_abs_all<T: KernelFloat>(x: &[T], group_len: usize) -> Result<Vec<T>, NonFiniteAt> {
    assert!(
        group_len > 0 && x.len().is_multiple_of(group_len),
        "group_len must divide the length"
    );
    if group_len > CHUNK || x.len() <= CHUNK {
        x.chunks(group_len)
            .enumerate()
            .map(|(g, c)| group_max_abs(c, g * group_len))
            .collect()
    } else {
        x.par_chunks(group_len)
            .with_min_len(CHUNK / group_len)
            .enumerate()
            .map(|(g, c)| group_max_abs(c, g * group_len))
            .collect()
    }
}

/// The scale `s = max|w| / K` of the reference quantizer, computed exactly as the reference does
/// (one division in the element type).
#[inline]
pub fn max_abs_scale<T: KernelFloat>(max_abs: T, k: T) -> T {
    max_abs / k
}

#[inline(always)]
fn quantize_run<T: KernelFloat>(x: &[T], s: T, out: &mut [MaybeUninit<T>]) {
    if s == T::ZERO {
        copy_into(x, out);
        return;
    }
    for (o, &v) in out.iter_mut().zip(x) {
        o.write(round_half_even_small(v / s) * s);
    }
}

#[inline(always)]
fn copy_into<T: Copy>(x: &[T], out: &mut [MaybeUninit<T>]) {
    for (o, &v) in out.iter_mut().zip(x) {
        o.write(v);
    }
}

/// Allocates a vector of `n` elements without initializing it and lets `fill` write every element.
///
/// On `Err` the partially written buffer is dropped without being read.
///
/// # Safety
///
/// `fill` must write all `n` elements whenever it returns `Ok` (every kernel of this module does):
/// the vector is returned with length `n`, so an element it left unwritten would be read
/// uninitialized.
pub unsafe fn filled_vec<T: Copy, E>(
    n: usize,
    fill: impl FnOnce(&mut [MaybeUninit<T>]) -> Result<(), E>,
) -> Result<Vec<T>, E> {
    let mut v: Vec<T> = Vec::with_capacity(n);
    fill(&mut v.spare_capacity_mut()[..n])?;
    // SAFETY: the caller guarantees that `fill` initialized all `n` elements, and capacity >= n.
    unsafe { v.set_len(n) };
    Ok(v)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn quantize_run_avx2<T: KernelFloat>(x: &[T], s: T, out: &mut [MaybeUninit<T>]) {
    quantize_run(x, s, out)
}

fn quantize_run_dispatch<T: KernelFloat>(x: &[T], s: T, out: &mut [MaybeUninit<T>]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { quantize_run_avx2(x, s, out) };
    }
    quantize_run(x, s, out)
}

/// Applies `run(x_part, scale, out_part)` to every group, in parallel chunks.
fn for_each_group<T: KernelFloat, F>(
    x: &[T],
    scales: &[T],
    group_len: usize,
    out: &mut [MaybeUninit<T>],
    run: F,
) where
    F: Fn(&[T], T, &mut [MaybeUninit<T>]) + Sync,
{
    if group_len >= CHUNK {
        for ((xg, og), &s) in x
            .chunks(group_len)
            .zip(out.chunks_mut(group_len))
            .zip(scales)
        {
            xg.par_chunks(CHUNK)
                .zip(og.par_chunks_mut(CHUNK))
                .for_each(|(xc, oc)| run(xc, s, oc));
        }
    } else if x.len() <= CHUNK {
        for ((xg, og), &s) in x
            .chunks(group_len)
            .zip(out.chunks_mut(group_len))
            .zip(scales)
        {
            run(xg, s, og);
        }
    } else {
        x.par_chunks(group_len)
            .zip(out.par_chunks_mut(group_len))
            .zip(scales.par_iter())
            .with_min_len(CHUNK / group_len)
            .for_each(|((xg, og), &s)| run(xg, s, og));
    }
}

/// Fused max-abs fake quantization: `out = s * round_half_even(x / s)` with `s = max|x| / k` per
/// group. An all-zero group is copied unchanged. Returns the per-group scales.
pub fn max_abs_fake_quant_forward<T: KernelFloat>(
    x: &[T],
    group_len: usize,
    k: T,
    out: &mut [MaybeUninit<T>],
) -> Result<Vec<T>, NonFiniteAt> {
    assert_eq!(x.len(), out.len());
    let scales: Vec<T> = group_max_abs_all(x, group_len)?
        .into_iter()
        .map(|m| max_abs_scale(m, k))
        .collect();
    for_each_group(x, &scales, group_len, out, quantize_run_dispatch);
    Ok(scales)
}

/// Integer codes `round_half_even(x / s)` of the max-abs quantizer with their per-group scales.
/// Codes of an all-zero group are zero and its scale is zero.
pub fn max_abs_codes<T: KernelFloat>(
    x: &[T],
    group_len: usize,
    k: T,
) -> Result<(Vec<i32>, Vec<T>), NonFiniteAt> {
    let scales: Vec<T> = group_max_abs_all(x, group_len)?
        .into_iter()
        .map(|m| max_abs_scale(m, k))
        .collect();
    let mut codes = vec![0i32; x.len()];
    for ((xg, cg), &s) in x
        .chunks(group_len)
        .zip(codes.chunks_mut(group_len))
        .zip(&scales)
    {
        if s == T::ZERO {
            continue;
        }
        for (c, &v) in cg.iter_mut().zip(xg) {
            *c = round_half_even_small(v / s).to_f64() as i32;
        }
    }
    Ok((codes, scales))
}

/// Partial results of the backward pass over one chunk of a group.
struct BackwardPartial {
    /// `sum_i g_i (r_i - x_i / s)`, accumulated in f64.
    scale_sum: f64,
    /// Offsets (within the group) of the elements with |x| equal to the group's max.
    argmax: Vec<usize>,
}

/// Lanes of the backward pass: independent f64 accumulators (so that the loop vectorises) and the
/// block within which arg-max candidates are looked for.
const BACKWARD_LANES: usize = 16;

#[inline(always)]
fn backward_run<T: KernelFloat>(
    x: &[T],
    g: &[T],
    out: &mut [MaybeUninit<T>],
    s: T,
    m: T,
    offset: usize,
) -> BackwardPartial {
    const L: usize = BACKWARD_LANES;
    let mut acc = [0.0f64; L];
    let mut argmax = Vec::new();
    let full = x.len() - x.len() % L;
    for (b, ((xc, gc), oc)) in x[..full]
        .chunks_exact(L)
        .zip(g[..full].chunks_exact(L))
        .zip(out[..full].chunks_exact_mut(L))
        .enumerate()
    {
        let mut hits = 0u32;
        for i in 0..L {
            oc[i].write(gc[i]);
            let z = xc[i] / s;
            let r = round_half_even_small(z);
            acc[i] += gc[i].to_f64() * (r - z).to_f64();
            hits |= u32::from(xc[i].abs() == m) << i;
        }
        // Arg-max elements are rare: one test per block, the positions only when there is one.
        while hits != 0 {
            let i = hits.trailing_zeros() as usize;
            argmax.push(offset + b * L + i);
            hits &= hits - 1;
        }
    }
    // Fixed summation order: lanes first, then the tail, so results do not depend on the path.
    let mut scale_sum: f64 = acc.iter().sum();
    for (i, ((o, &xv), &gv)) in out[full..]
        .iter_mut()
        .zip(&x[full..])
        .zip(&g[full..])
        .enumerate()
    {
        o.write(gv);
        let z = xv / s;
        let r = round_half_even_small(z);
        scale_sum += gv.to_f64() * (r - z).to_f64();
        if xv.abs() == m {
            argmax.push(offset + full + i);
        }
    }
    BackwardPartial { scale_sum, argmax }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn backward_run_avx2<T: KernelFloat>(
    x: &[T],
    g: &[T],
    out: &mut [MaybeUninit<T>],
    s: T,
    m: T,
    offset: usize,
) -> BackwardPartial {
    backward_run(x, g, out, s, m, offset)
}

/// One chunk of the faithful backward with the best instruction set available. Every path adds the
/// same terms in the same order, so the result does not depend on the CPU.
fn backward_run_dispatch<T: KernelFloat>(
    x: &[T],
    g: &[T],
    out: &mut [MaybeUninit<T>],
    s: T,
    m: T,
    offset: usize,
) -> BackwardPartial {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { backward_run_avx2(x, g, out, s, m, offset) };
    }
    backward_run(x, g, out, s, m, offset)
}

/// Backward of max-abs fake quantization.
///
/// With `faithful_scale == false` the result is the straight-through gradient `g`. With
/// `faithful_scale == true` the gradient also flows through the non-detached scale
/// `s = max|x| / k` into the arg-max element(s), ties splitting the term evenly:
///
/// `dL/dx_j = g_j + [j in argmax|x|] * sign(x_j) / k * sum_i g_i (r_i - x_i / s) / n_ties`.
///
/// An all-zero group has no scale gradient.
pub fn max_abs_fake_quant_backward<T: KernelFloat>(
    x: &[T],
    g: &[T],
    group_len: usize,
    k: T,
    faithful_scale: bool,
    out: &mut [MaybeUninit<T>],
) -> Result<(), NonFiniteAt> {
    assert_eq!(x.len(), g.len());
    assert_eq!(x.len(), out.len());
    if !faithful_scale {
        copy_into(g, out);
        return Ok(());
    }
    let maxes = group_max_abs_all(x, group_len)?;
    let kf = k.to_f64();
    let finish = |og: &mut [MaybeUninit<T>], xg: &[T], parts: Vec<BackwardPartial>| {
        let total: f64 = parts.iter().map(|p| p.scale_sum).sum();
        let ties: usize = parts.iter().map(|p| p.argmax.len()).sum();
        if ties == 0 {
            return;
        }
        let share = total / kf / ties as f64;
        for p in &parts {
            for &j in &p.argmax {
                let sign = if xg[j] < T::ZERO { -1.0 } else { 1.0 };
                // SAFETY: `backward_run` wrote every element of the group before `finish` runs.
                let current = unsafe { og[j].assume_init() };
                og[j].write(T::from_f64(current.to_f64() + sign * share));
            }
        }
    };
    let one_group = |xg: &[T], gg: &[T], og: &mut [MaybeUninit<T>], m: T| {
        if m == T::ZERO {
            copy_into(gg, og);
            return;
        }
        let s = max_abs_scale(m, k);
        let parts: Vec<BackwardPartial> = if xg.len() > CHUNK {
            xg.par_chunks(CHUNK)
                .zip(gg.par_chunks(CHUNK))
                .zip(og.par_chunks_mut(CHUNK))
                .enumerate()
                .map(|(c, ((xc, gc), oc))| backward_run_dispatch(xc, gc, oc, s, m, c * CHUNK))
                .collect()
        } else {
            vec![backward_run_dispatch(xg, gg, og, s, m, 0)]
        };
        finish(og, xg, parts);
    };
    if group_len >= CHUNK || x.len() <= CHUNK {
        for (((xg, gg), og), &m) in x
            .chunks(group_len)
            .zip(g.chunks(group_len))
            .zip(out.chunks_mut(group_len))
            .zip(&maxes)
        {
            one_group(xg, gg, og, m);
        }
    } else {
        x.par_chunks(group_len)
            .zip(g.par_chunks(group_len))
            .zip(out.par_chunks_mut(group_len))
            .zip(maxes.par_iter())
            .with_min_len(CHUNK / group_len)
            .for_each(|(((xg, gg), og), &m)| one_group(xg, gg, og, m));
    }
    Ok(())
}

/// Round half to even of every element (any magnitude), as used by the straight-through rounding op.
pub fn round_half_even_all<T: KernelFloat>(x: &[T], out: &mut [MaybeUninit<T>]) {
    let run = |xc: &[T], oc: &mut [MaybeUninit<T>]| {
        oc.iter_mut().zip(xc).for_each(|(o, &v)| {
            o.write(v.round_ties_even());
        })
    };
    if x.len() > CHUNK {
        x.par_chunks(CHUNK)
            .zip(out.par_chunks_mut(CHUNK))
            .for_each(|(xc, oc)| run(xc, oc));
    } else {
        run(x, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_rounding_matches_round_ties_even_on_halves_and_neighbours() {
        for i in -70_000i32..=70_000 {
            for z in [i as f32 / 2.0, i as f32 / 2.0 + 1e-3, i as f32 / 2.0 - 1e-3] {
                let want = z.round_ties_even();
                let got = round_half_even_small(z);
                assert_eq!(want.to_bits(), got.to_bits(), "z = {z}");
            }
            let z = i as f64 / 2.0;
            assert_eq!(
                z.round_ties_even().to_bits(),
                round_half_even_small(z).to_bits()
            );
        }
        assert_eq!(
            round_half_even_small(-0.3f32).to_bits(),
            (-0.0f32).to_bits()
        );
    }

    #[test]
    fn max_abs_detects_nan_and_inf_and_reports_the_first_index() {
        let mut x = vec![0.5f32; 200_000];
        x[150_001] = f32::NAN;
        x[170_000] = f32::INFINITY;
        assert_eq!(
            group_max_abs_all(&x, x.len()),
            Err(NonFiniteAt { index: 150_001 })
        );
        let y = vec![1.0f32, -3.0, f32::NEG_INFINITY, 2.0];
        assert_eq!(group_max_abs_all(&y, 2), Err(NonFiniteAt { index: 2 }));
    }

    /// The faithful backward written the plain way: one f64 sum, the arg-max set by a scan.
    fn naive_backward<T: KernelFloat>(x: &[T], g: &[T], group_len: usize, k: T) -> Vec<f64> {
        let mut out: Vec<f64> = g.iter().map(|v| v.to_f64()).collect();
        for (gi, (xg, gg)) in x.chunks(group_len).zip(g.chunks(group_len)).enumerate() {
            let m = xg
                .iter()
                .fold(T::ZERO, |a, v| if v.abs() > a { v.abs() } else { a });
            if m == T::ZERO {
                continue;
            }
            let s = m / k;
            let total: f64 = xg
                .iter()
                .zip(gg)
                .map(|(&v, &d)| d.to_f64() * ((v / s).round_ties_even() - v / s).to_f64())
                .sum();
            let ties: Vec<usize> = (0..xg.len()).filter(|&j| xg[j].abs() == m).collect();
            for &j in &ties {
                let sign = if xg[j] < T::ZERO { -1.0 } else { 1.0 };
                out[gi * group_len + j] += sign * total / k.to_f64() / ties.len() as f64;
            }
        }
        out
    }

    /// Runs the kernel's faithful backward on `x`, `g` and checks it against [`naive_backward`]:
    /// to `rel` everywhere, and bit for bit away from each group's maximum.
    fn check_backward<T: KernelFloat>(x: &[T], g: &[T], group_len: usize, rel: f64) {
        let k = T::from_f64(7.0);
        // SAFETY: on `Ok` the backward kernel has written every element.
        let out = unsafe {
            filled_vec(x.len(), |o| {
                max_abs_fake_quant_backward(x, g, group_len, k, true, o)
            })
        }
        .unwrap();
        let want = naive_backward(x, g, group_len, k);
        for (j, (&a, &b)) in out.iter().zip(&want).enumerate() {
            assert!(
                (a.to_f64() - b).abs() <= rel * b.abs().max(1.0),
                "n {}, group {group_len}, element {j}: {a:?} vs {b}",
                x.len()
            );
        }
        for (xg, (og, gg)) in x
            .chunks(group_len)
            .zip(out.chunks(group_len).zip(g.chunks(group_len)))
        {
            let m = xg
                .iter()
                .fold(T::ZERO, |a, v| if v.abs() > a { v.abs() } else { a });
            for ((&xv, &a), &b) in xg.iter().zip(og).zip(gg) {
                if xv.abs() != m {
                    assert_eq!(a.to_f64().to_bits(), b.to_f64().to_bits(), "x = {xv:?}");
                }
            }
        }
    }

    #[test]
    fn faithful_backward_matches_the_naive_sum_and_finds_every_tie() {
        // Ties of the maximum in the first block, across a block boundary, at the end of a parallel
        // chunk, in the last partial block, and with both signs; one huge group (chunks in
        // parallel), many groups larger than a parallel task (groups in parallel), and small ones.
        for (n, group_len) in [
            (300_007usize, 300_007usize),
            (260 * 1029, 1029),
            (4 * 1029, 1029),
            (37, 37),
            (15, 5),
        ] {
            let mut x: Vec<f32> = (0..n as u64)
                .map(|i| ((i * 7919 % 10007) as f32 - 5003.0) * 1e-3)
                .collect();
            let g: Vec<f32> = (0..n as u64)
                .map(|i| ((i * 104_729 % 997) as f32 - 498.0) * 1e-2)
                .collect();
            for j in [0, 15, 16, CHUNK - 1, CHUNK, n - 1, n - 2, n / 2] {
                if j < n {
                    x[j] = if j % 2 == 0 { 9.5 } else { -9.5 };
                }
            }
            check_backward(&x, &g, group_len, 1e-6);
            let x64: Vec<f64> = x.iter().map(|&v| f64::from(v) * 1.1).collect();
            let g64: Vec<f64> = g.iter().map(|&v| f64::from(v)).collect();
            check_backward(&x64, &g64, group_len, 1e-12);
        }
    }

    #[test]
    fn parallel_and_serial_paths_agree() {
        let x: Vec<f32> = (0..300_001u64)
            .map(|i| ((i * 7919 % 10007) as f32 - 5003.0) * 1e-3)
            .collect();
        let mut s = Vec::new();
        // SAFETY: on `Ok` the forward kernel has written every element.
        let out = unsafe {
            filled_vec(x.len(), |o| {
                s = max_abs_fake_quant_forward(&x, x.len(), 7.0, o)?;
                Ok::<(), NonFiniteAt>(())
            })
        }
        .unwrap();
        let want_s = x.iter().fold(0f32, |m, v| m.max(v.abs())) / 7.0;
        assert_eq!(s, vec![want_s]);
        for (o, &v) in out.iter().zip(&x) {
            assert_eq!(
                o.to_bits(),
                ((v / want_s).round_ties_even() * want_s).to_bits()
            );
        }
    }
}

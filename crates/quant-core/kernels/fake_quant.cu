// CUDA kernels of smallscale-quant-core: max-abs fake quantization (forward, backward) and
// straight-through rounding, for f32 and f64. Compiled to PTX by build.rs with the `cuda` feature.
//
// Exactness: divisions and rint() are IEEE round-to-nearest-even (nvcc without --use_fast_math),
// and the scale is computed as max|x| / K in the element type, exactly like the CPU kernels, so
// forward results are bit-identical to the CPU op.

#include <stdint.h>

#define BLOCK 256

// Monotone keys of |x|: for non-negative IEEE floats, integer order equals float order, and NaN/Inf
// map to keys >= the key of +Inf.
__device__ __forceinline__ unsigned int abs_key(float v) { return __float_as_uint(v) & 0x7fffffffu; }
__device__ __forceinline__ unsigned long long abs_key(double v) {
    return (unsigned long long)__double_as_longlong(v) & 0x7fffffffffffffffull;
}
__device__ __forceinline__ float key_value(unsigned int k) { return __uint_as_float(k); }
__device__ __forceinline__ double key_value(unsigned long long k) { return __longlong_as_double((long long)k); }
__device__ __forceinline__ float round_even(float v) { return rintf(v); }
__device__ __forceinline__ double round_even(double v) { return rint(v); }

// Block b works on group b / blocks_per_group, part b % blocks_per_group, and folds its maximum key
// into keys[group] with one atomicMax.
template <typename T, typename K>
__device__ void absmax_groups(const T* x, size_t group_len, unsigned int blocks_per_group, K* keys) {
    __shared__ K shared[BLOCK];
    size_t group = blockIdx.x / blocks_per_group;
    size_t part = blockIdx.x % blocks_per_group;
    const T* xg = x + group * group_len;
    K m = 0;
    for (size_t i = part * blockDim.x + threadIdx.x; i < group_len; i += (size_t)blocks_per_group * blockDim.x) {
        K k = abs_key(xg[i]);
        m = k > m ? k : m;
    }
    shared[threadIdx.x] = m;
    __syncthreads();
    for (unsigned int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s && shared[threadIdx.x + s] > shared[threadIdx.x]) shared[threadIdx.x] = shared[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0) atomicMax(&keys[group], shared[0]);
}

template <typename T, typename K>
__device__ void fake_quant_fwd(const T* x, size_t n, size_t group_len, T max_level, const K* keys, T* out) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        T m = key_value(keys[i / group_len]);
        T s = m / max_level;
        T v = x[i];
        out[i] = s == (T)0 ? v : round_even(v / s) * s;
    }
}

// Per group: sums[group] += sum_i g_i (r_i - x_i / s) and ties[group] += #{i : |x_i| = max}.
template <typename T, typename K>
__device__ void fake_quant_bwd_sums(const T* x, const T* g, size_t group_len, unsigned int blocks_per_group,
                                    T max_level, const K* keys, double* sums, unsigned int* ties) {
    __shared__ double shared_sum[BLOCK];
    __shared__ unsigned int shared_ties[BLOCK];
    size_t group = blockIdx.x / blocks_per_group;
    size_t part = blockIdx.x % blocks_per_group;
    T m = key_value(keys[group]);
    T s = m / max_level;
    double acc = 0.0;
    unsigned int t = 0;
    if (s != (T)0) {
        const T* xg = x + group * group_len;
        const T* gg = g + group * group_len;
        for (size_t i = part * blockDim.x + threadIdx.x; i < group_len; i += (size_t)blocks_per_group * blockDim.x) {
            T z = xg[i] / s;
            acc += (double)gg[i] * (double)(round_even(z) - z);
            t += (xg[i] == m || xg[i] == -m) ? 1u : 0u;
        }
    }
    shared_sum[threadIdx.x] = acc;
    shared_ties[threadIdx.x] = t;
    __syncthreads();
    for (unsigned int st = blockDim.x / 2; st > 0; st >>= 1) {
        if (threadIdx.x < st) {
            shared_sum[threadIdx.x] += shared_sum[threadIdx.x + st];
            shared_ties[threadIdx.x] += shared_ties[threadIdx.x + st];
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        atomicAdd(&sums[group], shared_sum[0]);
        atomicAdd(&ties[group], shared_ties[0]);
    }
}

template <typename T, typename K>
__device__ void fake_quant_bwd_apply(const T* x, const T* g, size_t n, size_t group_len, T max_level, const K* keys,
                                     const double* sums, const unsigned int* ties, T* out) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        size_t group = i / group_len;
        T m = key_value(keys[group]);
        T v = x[i];
        T gi = g[i];
        if (m != (T)0 && (v == m || v == -m) && ties[group] > 0) {
            double share = sums[group] / (double)max_level / (double)ties[group];
            double sign = v < (T)0 ? -1.0 : 1.0;
            out[i] = (T)((double)gi + sign * share);
        } else {
            out[i] = gi;
        }
    }
}

template <typename T>
__device__ void round_half_even(const T* x, size_t n, T* out) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        out[i] = round_even(x[i]);
    }
}

extern "C" {
__global__ void absmax_groups_f32(const float* x, size_t group_len, unsigned int bpg, unsigned int* keys) {
    absmax_groups<float, unsigned int>(x, group_len, bpg, keys);
}
__global__ void absmax_groups_f64(const double* x, size_t group_len, unsigned int bpg, unsigned long long* keys) {
    absmax_groups<double, unsigned long long>(x, group_len, bpg, keys);
}
__global__ void fake_quant_fwd_f32(const float* x, size_t n, size_t group_len, float k, const unsigned int* keys, float* out) {
    fake_quant_fwd<float, unsigned int>(x, n, group_len, k, keys, out);
}
__global__ void fake_quant_fwd_f64(const double* x, size_t n, size_t group_len, double k, const unsigned long long* keys, double* out) {
    fake_quant_fwd<double, unsigned long long>(x, n, group_len, k, keys, out);
}
__global__ void fake_quant_bwd_sums_f32(const float* x, const float* g, size_t group_len, unsigned int bpg, float k,
                                        const unsigned int* keys, double* sums, unsigned int* ties) {
    fake_quant_bwd_sums<float, unsigned int>(x, g, group_len, bpg, k, keys, sums, ties);
}
__global__ void fake_quant_bwd_sums_f64(const double* x, const double* g, size_t group_len, unsigned int bpg, double k,
                                        const unsigned long long* keys, double* sums, unsigned int* ties) {
    fake_quant_bwd_sums<double, unsigned long long>(x, g, group_len, bpg, k, keys, sums, ties);
}
__global__ void fake_quant_bwd_apply_f32(const float* x, const float* g, size_t n, size_t group_len, float k,
                                         const unsigned int* keys, const double* sums, const unsigned int* ties, float* out) {
    fake_quant_bwd_apply<float, unsigned int>(x, g, n, group_len, k, keys, sums, ties, out);
}
__global__ void fake_quant_bwd_apply_f64(const double* x, const double* g, size_t n, size_t group_len, double k,
                                         const unsigned long long* keys, const double* sums, const unsigned int* ties, double* out) {
    fake_quant_bwd_apply<double, unsigned long long>(x, g, n, group_len, k, keys, sums, ties, out);
}
__global__ void round_half_even_f32(const float* x, size_t n, float* out) { round_half_even<float>(x, n, out); }
__global__ void round_half_even_f64(const double* x, size_t n, double* out) { round_half_even<double>(x, n, out); }
}

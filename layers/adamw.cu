/* adamw.cu - see adamw.cuh */
#include "adamw.cuh"

static __device__ __forceinline__ float to_f32(bf16 x) { return __bfloat162float(x); }
static __device__ __forceinline__ float to_f32(float x) { return x; }

template <typename G>
__global__ void adamw_kernel(bf16 *params, float *master, const G *grads, float *mom, float *var, long n,
                             float lr, float b1, float b2, float bc1, float bc2, float eps, float wd, float gs,
                             uint32_t seed, long sr_first)
{
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float g = to_f32(grads[i]) * gs;
    float m = b1 * mom[i] + (1.0f - b1) * g;
    float v = b2 * var[i] + (1.0f - b2) * g * g;
    mom[i] = m;
    var[i] = v;
    float w = master ? master[i] : __bfloat162float(params[i]);
    float mhat = m / bc1, vhat = v / bc2;
    w -= lr * (mhat / (sqrtf(vhat) + eps) + wd * w);
    if (master) master[i] = w;
    params[i] = stochastic_round_bf16(w, layers_hash(seed, (uint32_t)(sr_first + i)));
}

template <typename G>
static void adamw_launch(bf16 *params, float *master, const G *grads, float *m, float *v, long n, float lr,
                         float beta1, float beta2, float eps, float weight_decay, float grad_scale, int t,
                         uint32_t seed, long sr_first, cudaStream_t stream)
{
    if (n <= 0) return;
    float bc1 = (float)(1.0 - pow((double)beta1, (double)t));
    float bc2 = (float)(1.0 - pow((double)beta2, (double)t));
    adamw_kernel<G><<<layers_ceil_div(n, 512), 512, 0, stream>>>(params, master, grads, m, v, n, lr, beta1, beta2,
                                                                 bc1, bc2, eps, weight_decay, grad_scale, seed, sr_first);
    LAYERS_LAUNCH_CHECK();
}

void adamw_update(bf16 *params, float *master, const bf16 *grads, float *m, float *v, long n, float lr,
                  float beta1, float beta2, float eps, float weight_decay, float grad_scale, int t, uint32_t seed,
                  long sr_first, cudaStream_t stream)
{
    adamw_launch<bf16>(params, master, grads, m, v, n, lr, beta1, beta2, eps, weight_decay, grad_scale, t, seed,
                       sr_first, stream);
}

void adamw_update_f32grads(bf16 *params, float *master, const float *grads, float *m, float *v, long n, float lr,
                           float beta1, float beta2, float eps, float weight_decay, float grad_scale, int t,
                           uint32_t seed, long sr_first, cudaStream_t stream)
{
    adamw_launch<float>(params, master, grads, m, v, n, lr, beta1, beta2, eps, weight_decay, grad_scale, t, seed,
                        sr_first, stream);
}

#define GN_THREADS 512
template <typename G>
__global__ void __launch_bounds__(GN_THREADS) global_norm_kernel(float *partials, const G *x, long n)
{
    __shared__ float sh[32];
    float s = 0.0f;
    long stride = (long)gridDim.x * blockDim.x;
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        float v = to_f32(x[i]);
        s += v * v;
    }
    s = block_sum(s, sh);
    if (threadIdx.x == 0) partials[blockIdx.x] += s;
}
__global__ void global_norm_finish_kernel(float *out, const float *partials)
{
    if (threadIdx.x == 0 && blockIdx.x == 0) {
        float s = 0.0f;
        for (int i = 0; i < GLOBAL_NORM_BLOCKS; i++) s += partials[i];
        out[0] = s;
    }
}

void global_norm_squared_accumulate(float *partials, const bf16 *x, long n, cudaStream_t stream)
{
    if (n <= 0) return;
    global_norm_kernel<bf16><<<GLOBAL_NORM_BLOCKS, GN_THREADS, 0, stream>>>(partials, x, n);
    LAYERS_LAUNCH_CHECK();
}
void global_norm_squared_accumulate_f32(float *partials, const float *x, long n, cudaStream_t stream)
{
    if (n <= 0) return;
    global_norm_kernel<float><<<GLOBAL_NORM_BLOCKS, GN_THREADS, 0, stream>>>(partials, x, n);
    LAYERS_LAUNCH_CHECK();
}
void global_norm_squared_finish(float *out, const float *partials, cudaStream_t stream)
{
    global_norm_finish_kernel<<<1, 32, 0, stream>>>(out, partials);
    LAYERS_LAUNCH_CHECK();
}
void global_norm_squared(float *out, float *partials, const bf16 *x, long n, cudaStream_t stream)
{
    CUDA_CHECK(cudaMemsetAsync(partials, 0, GLOBAL_NORM_BLOCKS * sizeof(float), stream));
    global_norm_squared_accumulate(partials, x, n, stream);
    global_norm_squared_finish(out, partials, stream);
}

/* attention_cudnn.cu - causal attention through cuDNN's fused SDPA (flash) kernels, built with
 * the cuDNN C++ frontend (header-only; PyPI's nvidia-cudnn-frontend carries the headers).
 * Compiled only when HAVE_CUDNN_FRONTEND is defined; otherwise the entry points exist, report
 * "not available" and die if called, so callers link either way. See attention.cuh.
 *
 * This file is C++ (the frontend is); its interface is plain C.
 */
#include "attention.cuh"

#ifdef HAVE_CUDNN_FRONTEND

#include <cstring> /* the frontend uses std::strlen without including it */
#include <map>
#include <memory>
#include <tuple>
#include <unordered_map>

#define CUDNN_FRONTEND_SKIP_JSON_LIB
/* the frontend dlopen()s cuDNN and NVRTC itself: no -lnvrtc needed for its experimental engines */
#define NV_CUDNN_FRONTEND_USE_DYNAMIC_LOADING
#pragma GCC diagnostic ignored "-Wunused-function" /* static helpers of the frontend headers */
#pragma nv_diag_suppress 128 /* "loop is not reachable" inside the frontend's macros */
#include <cudnn_frontend.h>

#include <dlfcn.h>

namespace fe = cudnn_frontend;

/* the frontend's handle to libcudnn under NV_CUDNN_FRONTEND_USE_DYNAMIC_LOADING: the library this
 * program is linked with (-lcudnn), looked up in attention_cudnn_create */
namespace cudnn_frontend {
void *cudnn_dlhandle = nullptr;
}

enum { UID_Q = 1, UID_K, UID_V, UID_O, UID_STATS, UID_SCALE, UID_DO, UID_DQ, UID_DK, UID_DV };

typedef std::tuple<int, int, int, int, int> GraphKey; /* B, T, NH, HS, backward */

struct AttentionCudnn {
    cudnnHandle_t handle;
    void *workspace;
    size_t workspace_bytes;
    int deterministic;
    std::map<GraphKey, std::shared_ptr<fe::graph::Graph>> graphs;
};

#define CUDNN_CHECK(call) do { cudnnStatus_t s_ = (call); if (s_ != CUDNN_STATUS_SUCCESS) { \
    fprintf(stderr, "cuDNN error %s at %s:%d\n  hint: cuDNN 9 (libcudnn.so.9) must be installed and match the headers; " \
            "or run the trainer with --attention own\n", \
            cudnnGetErrorString(s_), __FILE__, __LINE__); exit(1); } } while (0)
#define FE_CHECK(call) do { auto e_ = (call); if (!e_.is_good()) { \
    fprintf(stderr, "cuDNN frontend error at %s:%d: %s\n  hint: the cuDNN SDPA engine needs cuDNN >= 9 on sm_80+; " \
            "run the trainer with --attention own (our flash-attention kernels)\n", __FILE__, __LINE__, \
            e_.get_message().c_str()); exit(1); } } while (0)

int attention_cudnn_available(void) { return 1; }

AttentionCudnn *attention_cudnn_create(int deterministic)
{
    if (!cudnn_frontend::cudnn_dlhandle) {
        void *h = dlopen("libcudnn.so.9", RTLD_NOW | RTLD_NOLOAD);
        if (!h) h = dlopen("libcudnn.so.9", RTLD_NOW | RTLD_GLOBAL);
        if (!h) {
            fprintf(stderr, "attention_cudnn_create: cannot load libcudnn.so.9: %s\n  hint: install cuDNN 9 "
                    "(or put its lib/ on LD_LIBRARY_PATH)\n", dlerror());
            exit(1);
        }
        cudnn_frontend::cudnn_dlhandle = h;
    }
    AttentionCudnn *ctx = new AttentionCudnn();
    CUDNN_CHECK(cudnnCreate(&ctx->handle));
    ctx->workspace = NULL;
    ctx->workspace_bytes = 0;
    ctx->deterministic = deterministic;
    return ctx;
}

void attention_cudnn_destroy(AttentionCudnn *ctx)
{
    if (!ctx) return;
    if (ctx->workspace) CUDA_CHECK(cudaFree(ctx->workspace));
    CUDNN_CHECK(cudnnDestroy(ctx->handle));
    delete ctx;
}

static std::shared_ptr<fe::graph::Graph> get_graph(AttentionCudnn *ctx, int B, int T, int NH, int HS, int backward)
{
    GraphKey key(B, T, NH, HS, backward);
    auto it = ctx->graphs.find(key);
    if (it != ctx->graphs.end()) return it->second;

    auto graph = std::make_shared<fe::graph::Graph>();
    graph->set_io_data_type(fe::DataType_t::BFLOAT16)
        .set_intermediate_data_type(fe::DataType_t::FLOAT)
        .set_compute_data_type(fe::DataType_t::FLOAT);
    int64_t b = B, t = T, h = NH, hs = HS, C = (int64_t)NH * HS;
    /* qkv [B, T, 3, NH, HS] viewed as [B, NH, T, HS] */
    std::vector<int64_t> qkv_dim = {b, h, t, hs}, qkv_stride = {3 * C * t, hs, 3 * C, 1};
    std::vector<int64_t> o_dim = {b, h, t, hs}, o_stride = {C * t, hs, C, 1};
    auto Q = graph->tensor(fe::graph::Tensor_attributes().set_name("Q").set_dim(qkv_dim).set_stride(qkv_stride).set_uid(UID_Q));
    auto K = graph->tensor(fe::graph::Tensor_attributes().set_name("K").set_dim(qkv_dim).set_stride(qkv_stride).set_uid(UID_K));
    auto V = graph->tensor(fe::graph::Tensor_attributes().set_name("V").set_dim(qkv_dim).set_stride(qkv_stride).set_uid(UID_V));
    auto scale = graph->tensor(fe::graph::Tensor_attributes()
                                   .set_name("attn_scale")
                                   .set_dim({1, 1, 1, 1})
                                   .set_stride({1, 1, 1, 1})
                                   .set_is_pass_by_value(true)
                                   .set_data_type(fe::DataType_t::FLOAT)
                                   .set_uid(UID_SCALE));
    if (!backward) {
        auto opts = fe::graph::SDPA_attributes().set_name("sdpa_fwd").set_generate_stats(true).set_causal_mask(true).set_attn_scale(scale);
        auto outs = graph->sdpa(Q, K, V, opts);
        outs[0]->set_output(true).set_dim(o_dim).set_stride(o_stride).set_uid(UID_O);
        outs[1]->set_output(true).set_data_type(fe::DataType_t::FLOAT).set_dim({b, h, t, 1}).set_stride({h * t, t, 1, 1}).set_uid(UID_STATS);
    } else {
        auto O = graph->tensor(fe::graph::Tensor_attributes().set_name("O").set_dim(o_dim).set_stride(o_stride).set_uid(UID_O));
        auto dO = graph->tensor(fe::graph::Tensor_attributes().set_name("dO").set_dim(o_dim).set_stride(o_stride).set_uid(UID_DO));
        auto stats = graph->tensor(fe::graph::Tensor_attributes()
                                       .set_name("stats")
                                       .set_dim({b, h, t, 1})
                                       .set_stride({h * t, t, 1, 1})
                                       .set_data_type(fe::DataType_t::FLOAT)
                                       .set_uid(UID_STATS));
        auto opts = fe::graph::SDPA_backward_attributes().set_name("sdpa_bwd").set_causal_mask(true).set_attn_scale(scale);
        if (ctx->deterministic) opts.set_deterministic_algorithm(true);
        auto outs = graph->sdpa_backward(Q, K, V, O, dO, stats, opts);
        outs[0]->set_output(true).set_dim(qkv_dim).set_stride(qkv_stride).set_uid(UID_DQ);
        outs[1]->set_output(true).set_dim(qkv_dim).set_stride(qkv_stride).set_uid(UID_DK);
        outs[2]->set_output(true).set_dim(qkv_dim).set_stride(qkv_stride).set_uid(UID_DV);
    }
    FE_CHECK(graph->validate());
    FE_CHECK(graph->build_operation_graph(ctx->handle));
    FE_CHECK(graph->create_execution_plans({fe::HeurMode_t::A}));
    FE_CHECK(graph->check_support(ctx->handle));
    FE_CHECK(graph->build_plans(ctx->handle));
    int64_t ws = 0;
    FE_CHECK(graph->get_workspace_size(ws));
    if ((size_t)ws > ctx->workspace_bytes) {
        if (ctx->workspace) CUDA_CHECK(cudaFree(ctx->workspace));
        CUDA_CHECK(cudaMalloc(&ctx->workspace, (size_t)ws));
        ctx->workspace_bytes = (size_t)ws;
    }
    ctx->graphs[key] = graph;
    return graph;
}

static void check_shape(const char *fn, int C, int NH)
{
    if (NH <= 0 || C % NH || (C / NH) % 8 || C / NH > 128) {
        fprintf(stderr, "%s: head size C/NH = %d/%d must be a multiple of 8 and <= 128\n", fn, C, NH);
        exit(1);
    }
}

void attention_forward_cudnn(AttentionCudnn *ctx, bf16 *out, float *lse, const bf16 *qkv, int B, int T,
                                        int C, int NH, cudaStream_t stream)
{
    check_shape("attention_forward_cudnn", C, NH);
    int HS = C / NH;
    auto graph = get_graph(ctx, B, T, NH, HS, 0);
    float scale = 1.0f / sqrtf((float)HS);
    bf16 *base = (bf16 *)qkv;
    std::unordered_map<int64_t, void *> pack = {{UID_Q, base}, {UID_K, base + C}, {UID_V, base + 2 * C},
                                                {UID_O, out}, {UID_STATS, lse}, {UID_SCALE, &scale}};
    CUDNN_CHECK(cudnnSetStream(ctx->handle, stream));
    FE_CHECK(graph->execute(ctx->handle, pack, ctx->workspace));
    LAYERS_LAUNCH_CHECK();
}

void attention_backward_cudnn(AttentionCudnn *ctx, bf16 *dqkv, const bf16 *dout, const bf16 *qkv,
                                         const bf16 *out, const float *lse, int B, int T, int C, int NH,
                                         cudaStream_t stream)
{
    check_shape("attention_backward_cudnn", C, NH);
    int HS = C / NH;
    auto graph = get_graph(ctx, B, T, NH, HS, 1);
    float scale = 1.0f / sqrtf((float)HS);
    bf16 *base = (bf16 *)qkv;
    std::unordered_map<int64_t, void *> pack = {
        {UID_Q, base},        {UID_K, base + C},         {UID_V, base + 2 * C},          {UID_O, (void *)out},
        {UID_DO, (void *)dout}, {UID_STATS, (void *)lse}, {UID_SCALE, &scale},           {UID_DQ, dqkv},
        {UID_DK, dqkv + C},   {UID_DV, dqkv + 2 * C}};
    CUDNN_CHECK(cudnnSetStream(ctx->handle, stream));
    FE_CHECK(graph->execute(ctx->handle, pack, ctx->workspace));
    LAYERS_LAUNCH_CHECK();
}

#else /* !HAVE_CUDNN_FRONTEND */

static void not_built(const char *fn)
{
    fprintf(stderr, "%s: built without the cuDNN frontend\n  hint: pip install nvidia-cudnn-frontend (or put its "
            "include/ in .cudnn/include) and rebuild with -DHAVE_CUDNN_FRONTEND; or use attention_forward/backward\n", fn);
    exit(1);
}
int attention_cudnn_available(void) { return 0; }
AttentionCudnn *attention_cudnn_create(int deterministic) { (void)deterministic; return NULL; }
void attention_cudnn_destroy(AttentionCudnn *ctx) { (void)ctx; }
void attention_forward_cudnn(AttentionCudnn *ctx, bf16 *out, float *lse, const bf16 *qkv, int B, int T,
                                        int C, int NH, cudaStream_t stream)
{
    not_built("attention_forward_cudnn");
}
void attention_backward_cudnn(AttentionCudnn *ctx, bf16 *dqkv, const bf16 *dout, const bf16 *qkv,
                                         const bf16 *out, const float *lse, int B, int T, int C, int NH,
                                         cudaStream_t stream)
{
    not_built("attention_backward_cudnn");
}
#endif

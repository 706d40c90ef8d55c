/*
 * gpt2.h - what both trainers share about the model: the config, the model
 * descriptors (d2 .. d48), the parameter tensors and the flat parameter layout.
 *
 * Flat layout. All parameters live in one flat fp32 vector (the GPU trainer's
 * master weights, the CPU trainer's weights, the model file's payload), and
 * gradients and AdamW moments use the same layout:
 *   - a dense model: llm.c's 16 tensors in llm.c's order (so a dense model file
 *     is byte-compatible with llm.c's version 3 file);
 *   - a block-sparse model: the 14 tensors other than fcw and fcprojw, in
 *     llm.c's order, followed by the packed live blocks of the 2L sparse
 *     matrices, matrix by matrix: m = 2l is layer l's fc weight [4C, C],
 *     m = 2l + 1 its fcproj weight [C, 4C] (sparse/bsr.h's packed format).
 * The layout depends on the live-block counts, so it is recomputed after
 * every mask update; compaction moves the surviving blocks down in place.
 */
#ifndef MODEL_GPT2_H
#define MODEL_GPT2_H

#include <stddef.h>
#include <stdint.h>
#include "../sparse/bsr.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int max_seq_len;        /* maxT, e.g. 1024 */
    int vocab_size;         /* V, e.g. 50257 */
    int padded_vocab_size;  /* Vp, V rounded up to a multiple of 128 (50304) */
    int num_layers;         /* L */
    int num_heads;          /* NH */
    int channels;           /* C */
} GPT2Config;

enum {
    P_WTE, P_WPE, P_LN1W, P_LN1B, P_QKVW, P_QKVB, P_ATTPROJW, P_ATTPROJB,
    P_LN2W, P_LN2B, P_FCW, P_FCB, P_FCPROJW, P_FCPROJB, P_LNFW, P_LNFB,
    GPT2_NUM_PARAM_TENSORS
};

/* Parse a model descriptor: "d2", "d4", ..., "d12" (C = 64 N, N heads, N layers),
 * "d24", "d36", "d48" (GPT-2 350M, 774M, 1.5B), or a custom
 * "custom:L=2,C=64,NH=2,T=256,V=50257" (T = max_seq_len; missing keys take the
 * d12 values, V defaults to 50257). Returns 0, or -1 with a message in err. */
int gpt2_config_from_descriptor(const char *desc, GPT2Config *cfg, char *err, size_t err_len);
/* Check a config's internal consistency (C % NH == 0, ...); 0 or -1 with err. */
int gpt2_config_validate(const GPT2Config *cfg, char *err, size_t err_len);
/* Vp: V rounded up to a multiple of 128 */
int gpt2_padded_vocab(int V);

/* Dense element count of each of the 16 tensors. */
void gpt2_dense_tensor_sizes(const GPT2Config *cfg, size_t sizes[GPT2_NUM_PARAM_TENSORS]);
size_t gpt2_num_dense_params(const GPT2Config *cfg);
/* Elements of one layer's slice of a per-layer tensor (ln1w, qkvw, ...); 0 for
 * wte, wpe, lnfw, lnfb. Layer l's slice starts at tensor_offset + l * this. */
size_t gpt2_tensor_elems_per_layer(const GPT2Config *cfg, int t);
const char *gpt2_tensor_name(int t);
/* llm.c's weight-decay rule: 2-D tensors (wte, wpe, qkvw, attprojw, fcw, fcprojw) decay. */
int gpt2_tensor_is_decayed(int t);

/* The sparse matrices: m = 2l (fc) and 2l + 1 (fcproj); their dense shapes. */
static inline int gpt2_num_sparse_matrices(const GPT2Config *cfg) { return 2 * cfg->num_layers; }
void gpt2_sparse_matrix_shape(const GPT2Config *cfg, int m, int *rows, int *cols);

/* Offsets of every tensor in the flat vector. tensor_offset[t] / tensor_size[t]
 * for the 16 dense tensors (for a sparse model the entries of P_FCW and P_FCPROJW
 * cover the whole packed region of all fc, resp. fcproj, matrices: see
 * sparse_offset for the per-matrix parts); sparse_offset[m] / sparse_size[m]
 * for each sparse matrix. */
typedef struct {
    int sparse;                                   /* 1 if block-sparse */
    int block_size;
    size_t tensor_offset[GPT2_NUM_PARAM_TENSORS];
    size_t tensor_size[GPT2_NUM_PARAM_TENSORS];
    int num_sparse;                               /* 2L or 0 */
    size_t *sparse_offset;                        /* [num_sparse] */
    size_t *sparse_size;                          /* [num_sparse] = nnz * bs * bs */
    size_t dense_part;                            /* elements before the first sparse matrix */
    size_t total;                                 /* elements in the flat vector */
} ParamLayout;

/* layouts: the 2L BsrLayouts of a sparse model, or NULL for a dense model. */
void param_layout_init(ParamLayout *P, const GPT2Config *cfg, const BsrLayout *layouts, int block_size);
void param_layout_free(ParamLayout *P);

/* Block-sparse weight layouts of the 2L matrices, all live; returns 0, or -1 if
 * bs does not divide C (message in err). */
int gpt2_sparse_layouts_init(const GPT2Config *cfg, int block_size, BsrLayout *layouts, char *err, size_t err_len);
void gpt2_sparse_layouts_free(const GPT2Config *cfg, BsrLayout *layouts);

/* Convert a dense flat vector to a sparse one (packing every fc/fcproj weight
 * with the given layouts) and back (dead blocks become zeros). */
void gpt2_flat_dense_to_sparse(const GPT2Config *cfg, const BsrLayout *layouts, const float *dense, float *sparse);
void gpt2_flat_sparse_to_dense(const GPT2Config *cfg, const BsrLayout *layouts, const float *sparse, float *dense);

/* Random init in llm.c's manner (N(0, 0.02) for matrices, the residual
 * projections scaled by 1/sqrt(2L), layernorm weights 1, biases 0), drawn on the
 * host from `seed` into a dense flat vector, so the CPU and GPU trainers start
 * from identical weights. */
void gpt2_random_init_dense(const GPT2Config *cfg, uint64_t seed, float *dense);

/* Parameter counts for reporting: all parameters of the dense model, and the
 * parameters currently live (sparse matrices counted by live blocks). */
size_t gpt2_live_params(const ParamLayout *P);
/* Live and dense-equivalent training FLOPs per token (6 x matmul params + attention). */
double gpt2_flops_per_token(const GPT2Config *cfg, int T, const ParamLayout *P, int live_only);

#ifdef __cplusplus
}
#endif
#endif /* MODEL_GPT2_H */

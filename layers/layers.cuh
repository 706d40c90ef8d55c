/*
 * layers.cuh - umbrella header for the GPU dense layers of a GPT-2 training step.
 * See each header for the contract of its functions; common.cuh for the conventions.
 */
#ifndef LAYERS_LAYERS_CUH
#define LAYERS_LAYERS_CUH
#include "common.cuh"
#include "encoder.cuh"
#include "layernorm.cuh"
#include "matmul.cuh"
#include "gelu.cuh"
#include "attention.cuh"
#include "classifier.cuh"
#include "adamw.cuh"
#endif

/*
 * real.h - the floating-point type of the CPU reference code.
 *
 * The CPU model (layers/layers_cpu.c, sparse/bsr.c, core/gpt2_cpu.c) is written
 * once in terms of `real` and compiled twice by the Makefile: as float for the
 * CPU trainer (REAL_IS_DOUBLE unset), and as double for the finite-difference
 * gradient check, which needs a model evaluated in double precision. The two
 * builds never meet in one binary.
 */
#ifndef CORE_REAL_H
#define CORE_REAL_H

#ifdef REAL_IS_DOUBLE
typedef double real;
#define REAL_NAME "double"
#else
typedef float real;
#define REAL_NAME "float"
#endif

#endif /* CORE_REAL_H */

/*
 * tokenizer.h - decodes GPT-2 token ids to text, for printing samples.
 *
 * File format (llm.c's gpt2_tokenizer.bin, written by data/prepare.py): a header
 * of 256 x uint32 (magic 20240328, version 1 or 2, vocab_size, and for version 2
 * the end-of-text token id), then for each token id in order a uint8 length and
 * that many bytes (the token's raw UTF-8 bytes, possibly a partial character).
 */
#ifndef DATA_TOKENIZER_H
#define DATA_TOKENIZER_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TOKENIZER_MAGIC 20240328

typedef struct Tokenizer Tokenizer;

/* Loads path. A missing file prints a warning and returns NULL (the trainer then
 * skips printing samples); a corrupt file is a fatal error naming the file. */
Tokenizer *tokenizer_load(const char *path);
/* The bytes of token id as a NUL-terminated string, or NULL if id >= vocab size. */
const char *tokenizer_decode(const Tokenizer *t, uint32_t id);
/* The end-of-text token id (50256 for GPT-2). */
int tokenizer_eot(const Tokenizer *t);
/* Number of tokens in the file. */
int tokenizer_vocab_size(const Tokenizer *t);
void tokenizer_free(Tokenizer *t);
/* Prints a decoded piece to stdout unless it is NULL, empty, or a single
 * non-printable, non-space byte (raw control bytes would garble the terminal). */
void tokenizer_print_safe(const char *piece);

#ifdef __cplusplus
}
#endif
#endif /* DATA_TOKENIZER_H */

/* tokenizer.c - llm.c gpt2_tokenizer.bin reader; see tokenizer.h. */
#define _POSIX_C_SOURCE 200809L
#include "tokenizer.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/utils.h"

struct Tokenizer {
    uint32_t vocab_size;
    int eot;
    char **pieces;
};

static const char *FIX_TOK = "re-create it with: python3 data/prepare.py --tokenizer-only --out DIR";

Tokenizer *tokenizer_load(const char *path) {
    if (!path || !file_exists(path)) {
        fprintf(stderr, "warning: tokenizer file '%s' not found; generated samples will not be printed as text "
                        "(make it with: python3 data/prepare.py --tokenizer-only --out DIR)\n", path ? path : "(null)");
        return NULL;
    }
    long long size = file_size_bytes(path);
    CHECK(size >= 256 * 4, FIX_TOK, "tokenizer file '%s' has %lld bytes, less than its 1024-byte header: corrupt",
          path, size);
    FILE *f = fopen_check(path, "rb", "check that the tokenizer file is readable");
    uint32_t h[256];
    fread_check(h, sizeof(uint32_t), 256, f, path);
    CHECK(h[0] == TOKENIZER_MAGIC, FIX_TOK, "tokenizer file '%s' has magic %u, expected %d: not a gpt2_tokenizer.bin",
          path, h[0], TOKENIZER_MAGIC);
    CHECK(h[1] == 1 || h[1] == 2, FIX_TOK, "tokenizer file '%s' has version %u, expected 1 or 2", path, h[1]);
    CHECK(h[2] > 0 && h[2] <= (1u << 24), FIX_TOK, "tokenizer file '%s' has an invalid vocab size %u", path, h[2]);
    Tokenizer *t = calloc_check(1, sizeof(Tokenizer));
    t->vocab_size = h[2];
    t->eot = h[1] == 1 ? 50256 : (int)h[3]; /* version 1 predates the eot field: GPT-2's */
    CHECK(h[1] == 1 || h[3] < h[2], FIX_TOK, "tokenizer file '%s' has eot token %u outside its vocab of %u", path, h[3],
          h[2]);
    t->pieces = calloc_check(t->vocab_size, sizeof(char *));
    for (uint32_t i = 0; i < t->vocab_size; i++) {
        unsigned char len;
        if (fread(&len, 1, 1, f) != 1) {
            DIE(FIX_TOK, "tokenizer file '%s' is truncated: it ends at token %u of %u", path, i, t->vocab_size);
        }
        CHECK(len > 0, FIX_TOK, "tokenizer file '%s' has an empty token %u: corrupt", path, i);
        t->pieces[i] = malloc_check((size_t)len + 1);
        if (fread(t->pieces[i], 1, len, f) != len) {
            DIE(FIX_TOK, "tokenizer file '%s' is truncated inside token %u of %u", path, i, t->vocab_size);
        }
        t->pieces[i][len] = '\0';
    }
    long here = ftell(f);
    fclose(f);
    CHECK(here == size, FIX_TOK, "tokenizer file '%s' has %lld bytes of trailing data after %u tokens", path,
          size - (long long)here, t->vocab_size);
    return t;
}

const char *tokenizer_decode(const Tokenizer *t, uint32_t id) {
    if (!t || id >= t->vocab_size) return NULL;
    return t->pieces[id];
}

int tokenizer_eot(const Tokenizer *t) { return t ? t->eot : 50256; }

int tokenizer_vocab_size(const Tokenizer *t) { return t ? (int)t->vocab_size : 0; }

void tokenizer_free(Tokenizer *t) {
    if (!t) return;
    for (uint32_t i = 0; i < t->vocab_size; i++) free(t->pieces[i]);
    free(t->pieces);
    free(t);
}

void tokenizer_print_safe(const char *piece) {
    if (!piece || !piece[0]) return;
    if (piece[1] == '\0') {
        unsigned char c = (unsigned char)piece[0];
        if (!(isprint(c) || isspace(c))) return;
    }
    fputs(piece, stdout);
}

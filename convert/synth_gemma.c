/* synth_gemma.c — `ingot synth --arch gemma2|gemma3`: gemma's blocks, config keys and a
 * SentencePiece tokenizer.model (see synth.h).
 *
 * Gemma checkpoints ship tokenizer.model (a protobuf ModelProto), which llama.cpp's converter reads
 * with sentencepiece (Gemma2Model.set_vocab: _set_vocab_sentencepiece, add_space_prefix false).
 * The synthetic one has gemma's special pieces at gemma's ids (<pad> 0, <eos> 1, <bos> 2, <unk> 3,
 * <mask> 4, then <start_of_turn> / <end_of_turn>), byte fallback pieces, and every prefix of each
 * synthetic word with and without "▁", scored -id like a trained BPE model (earlier pieces merge
 * first). The norms are stored as w (N(0, 0.1)) and applied as 1 + w, as HF's GemmaRMSNorm does.
 */
#include "synth.h"

#include "../common/ig_error.h"
#include "../formats/file_map.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- blocks -------------------------------------------------------------------------------- */

static int64_t put(struct synth_tensor *t, int64_t n, int64_t l, const char *name, int64_t rows, int64_t cols,
                   enum synth_init init)
{
    snprintf(t[n].name, sizeof t[n].name, "model.layers.%lld.%s", (long long)l, name);
    t[n].rows = rows;
    t[n].cols = cols;
    t[n].init = init;
    return n + 1;
}

/* Gemma2DecoderLayer: four norms around attention and the GeGLU MLP. */
int64_t synth_gemma2_block(const struct synth_opts *o, int64_t l, struct synth_tensor *t)
{
    const int64_t hd = synth_head_dim(o), q = o->heads * hd, kv = o->kv_heads * hd;
    int64_t n = put(t, 0, l, "input_layernorm.weight", o->dim, 0, SYNTH_NEAR_ZERO);
    n = put(t, n, l, "post_attention_layernorm.weight", o->dim, 0, SYNTH_NEAR_ZERO);
    n = put(t, n, l, "pre_feedforward_layernorm.weight", o->dim, 0, SYNTH_NEAR_ZERO);
    n = put(t, n, l, "post_feedforward_layernorm.weight", o->dim, 0, SYNTH_NEAR_ZERO);
    n = put(t, n, l, "self_attn.k_proj.weight", kv, o->dim, SYNTH_RANDOM);
    n = put(t, n, l, "self_attn.o_proj.weight", o->dim, q, SYNTH_RANDOM);
    n = put(t, n, l, "self_attn.q_proj.weight", q, o->dim, SYNTH_RANDOM);
    n = put(t, n, l, "self_attn.v_proj.weight", kv, o->dim, SYNTH_RANDOM);
    n = put(t, n, l, "mlp.down_proj.weight", o->dim, o->ff, SYNTH_RANDOM);
    n = put(t, n, l, "mlp.gate_proj.weight", o->ff, o->dim, SYNTH_RANDOM);
    return put(t, n, l, "mlp.up_proj.weight", o->ff, o->dim, SYNTH_RANDOM);
}

/* Gemma3DecoderLayer: gemma2's, plus q/k norms over each head (also stored as w, used as 1 + w). */
int64_t synth_gemma3_block(const struct synth_opts *o, int64_t l, struct synth_tensor *t)
{
    int64_t n = synth_gemma2_block(o, l, t);
    n = put(t, n, l, "self_attn.q_norm.weight", synth_head_dim(o), 0, SYNTH_NEAR_ZERO);
    return put(t, n, l, "self_attn.k_norm.weight", synth_head_dim(o), 0, SYNTH_NEAR_ZERO);
}

/* ---- config.json ------------------------------------------------------------------------------- */

/* The keys both classes share. A window of 16 makes the sliding blocks differ from the global ones
 * inside the tests' short windows; query_pre_attn_scalar = head_dim is what llama.cpp assumes for
 * every shape but the 27B one (formats/gemma_arch.h). */
static void gemma_common(const struct synth_opts *o, json_t *config)
{
    json_object_set_new(config, "head_dim", json_integer(synth_head_dim(o)));
    json_object_set_new(config, "hidden_activation", json_string("gelu_pytorch_tanh"));
    json_object_set_new(config, "query_pre_attn_scalar", json_integer(synth_head_dim(o)));
    json_object_set_new(config, "sliding_window", json_integer(16));
    json_object_set_new(config, "rms_norm_eps", json_real(1e-6));
    json_object_set_new(config, "attention_bias", json_false());
    json_object_set_new(config, "tie_word_embeddings", json_true());
    json_object_set_new(config, "bos_token_id", json_integer(2));
    json_object_set_new(config, "eos_token_id", json_integer(1));
    json_object_set_new(config, "pad_token_id", json_integer(0));
}

void synth_gemma2_config(const struct synth_opts *o, json_t *config)
{
    gemma_common(o, config);
    json_object_set_new(config, "attn_logit_softcapping", json_real(50.0));
    json_object_set_new(config, "final_logit_softcapping", json_real(30.0));
}

void synth_gemma3_config(const struct synth_opts *o, json_t *config)
{
    gemma_common(o, config);
    json_object_set_new(config, "rope_theta", json_real(1000000.0));
    json_object_set_new(config, "rope_local_base_freq", json_real(10000.0));
    json_object_set_new(config, "sliding_window_pattern", json_integer(6));
    json_object_set_new(config, "attn_logit_softcapping", json_null());
    json_object_set_new(config, "final_logit_softcapping", json_null());
    json_object_set_new(config, "rope_scaling", json_null());
}

json_t *synth_gemma_tokenizer_config(void)
{
    return json_pack("{s:b, s:b, s:s, s:s, s:s, s:s}", "add_bos_token", 1, "add_eos_token", 0, "bos_token", "<bos>",
                     "eos_token", "<eos>", "unk_token", "<unk>", "pad_token", "<pad>");
}

/* ---- tokenizer.model: protobuf by hand --------------------------------------------------------- */

/* A growing byte buffer; oom latches. */
struct pb_buf {
    uint8_t *p;
    size_t n, cap;
    bool oom;
};

static void pb_bytes(struct pb_buf *b, const void *data, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->n + n)
            cap *= 2;
        uint8_t *p = ig_realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
}

static void pb_varint(struct pb_buf *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t k = 0;
    do {
        tmp[k++] = (uint8_t)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
        v >>= 7;
    } while (v);
    pb_bytes(b, tmp, k);
}

/* field key: number << 3 | wire type (0 varint, 2 length-delimited, 5 32-bit) */
static void pb_key(struct pb_buf *b, uint32_t field, uint32_t wire)
{
    pb_varint(b, (uint64_t)field << 3 | wire);
}

static void pb_len(struct pb_buf *b, uint32_t field, const void *data, size_t n)
{
    pb_key(b, field, 2);
    pb_varint(b, n);
    pb_bytes(b, data, n);
}

/* SentencePiece { piece = 1; score = 2 (float); type = 3 (enum) } as field 1 of ModelProto. */
static void pb_piece(struct pb_buf *model, const char *text, float score, int type)
{
    struct pb_buf sub = {0};
    pb_len(&sub, 1, text, strlen(text));
    pb_key(&sub, 2, 5);
    pb_bytes(&sub, &score, 4);   /* little-endian fixed32 (x86) */
    pb_key(&sub, 3, 0);
    pb_varint(&sub, (uint64_t)type);
    model->oom |= sub.oom;
    pb_len(model, 1, sub.p, sub.n);
    free(sub.p);
}

/* sentencepiece_model.proto's piece types */
enum { PIECE_NORMAL = 1, PIECE_UNKNOWN = 2, PIECE_CONTROL = 3, PIECE_USER_DEFINED = 4, PIECE_BYTE = 6 };

/* The pieces so far, to keep each text once. */
struct piece_set {
    char **text;
    int64_t n, cap;
};

static bool piece_add(struct piece_set *s, struct pb_buf *model, const char *text, int type)
{
    for (int64_t i = 0; i < s->n; i++)
        if (strcmp(s->text[i], text) == 0)
            return false;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 512;
        char **t = ig_realloc(s->text, (size_t)s->cap * sizeof *t);
        if (!t) {
            model->oom = true;
            return false;
        }
        s->text = t;
    }
    s->text[s->n] = strdup(text);
    if (!s->text[s->n]) {
        model->oom = true;
        return false;
    }
    /* specials score 0 as in gemma's file; the rest −id, so earlier pieces merge first */
    pb_piece(model, text, type == PIECE_NORMAL ? -(float)s->n : 0.0f, type);
    s->n++;
    return true;
}

int synth_spm_model_write(const char *folder, int64_t pad_to, int64_t *n_vocab)
{
    struct pb_buf model = {0};
    struct piece_set set = {0};
    static const struct {
        const char *text;
        int type;
    } specials[] = {{"<pad>", PIECE_CONTROL}, {"<eos>", PIECE_CONTROL}, {"<bos>", PIECE_CONTROL},
                    {"<unk>", PIECE_UNKNOWN}, {"<mask>", PIECE_USER_DEFINED}, {"<start_of_turn>", PIECE_USER_DEFINED},
                    {"<end_of_turn>", PIECE_USER_DEFINED}};
    for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++)
        piece_add(&set, &model, specials[i].text, specials[i].type);
    for (int b = 0; b < 256; b++) {
        char t[8];
        snprintf(t, sizeof t, "<0x%02X>", b);
        piece_add(&set, &model, t, PIECE_BYTE);
    }
    static const char *const singles[] = {"\xe2\x96\x81", "\n", ".", ","};   /* "▁" */
    for (size_t i = 0; i < sizeof singles / sizeof singles[0]; i++)
        piece_add(&set, &model, singles[i], PIECE_NORMAL);
    for (char c = 'a'; c <= 'z'; c++)
        piece_add(&set, &model, (char[2]){c, 0}, PIECE_NORMAL);
    for (int w = 0; w < synth_n_words; w++)
        for (int lead = 1; lead >= 0; lead--) {   /* "▁t", "▁th", "▁the", then "th", "the" */
            char piece[80];
            size_t k = lead ? strlen("\xe2\x96\x81") : 0;
            memcpy(piece, "\xe2\x96\x81", k);
            for (size_t j = 0; synth_words[w][j] && k + 2 < sizeof piece; j++) {
                piece[k++] = synth_words[w][j];
                piece[k] = '\0';
                if (k > 1)
                    piece_add(&set, &model, piece, PIECE_NORMAL);
            }
        }
    while (set.n < pad_to && !model.oom) {
        char t[32];
        snprintf(t, sizeof t, "<unused%lld>", (long long)set.n);
        piece_add(&set, &model, t, PIECE_USER_DEFINED);
    }
    *n_vocab = set.n;
    /* TrainerSpec { model_type = 3 (BPE = 2), vocab_size = 4, byte_fallback = 35, unk_id = 40,
     * bos_id = 41, eos_id = 42, pad_id = 43 } and NormalizerSpec { name = 1, add_dummy_prefix = 3,
     * remove_extra_whitespaces = 4, escape_whitespaces = 5 }, gemma's values */
    struct pb_buf tr = {0}, nm = {0};
    const uint64_t trainer[][2] = {{3, 2}, {4, (uint64_t)set.n}, {35, 1}, {40, 3}, {41, 2}, {42, 1}, {43, 0}};
    for (size_t i = 0; i < sizeof trainer / sizeof trainer[0]; i++) {
        pb_key(&tr, (uint32_t)trainer[i][0], 0);
        pb_varint(&tr, trainer[i][1]);
    }
    pb_len(&nm, 1, "identity", strlen("identity"));
    const uint64_t norm[][2] = {{3, 0}, {4, 0}, {5, 1}};
    for (size_t i = 0; i < sizeof norm / sizeof norm[0]; i++) {
        pb_key(&nm, (uint32_t)norm[i][0], 0);
        pb_varint(&nm, norm[i][1]);
    }
    pb_len(&model, 2, tr.p, tr.n);
    pb_len(&model, 3, nm.p, nm.n);
    bool oom = model.oom || tr.oom || nm.oom;
    free(tr.p);
    free(nm.p);
    for (int64_t i = 0; i < set.n; i++)
        free(set.text[i]);
    free(set.text);
    char *path = file_path_join(folder, "tokenizer.model");
    FILE *f = path && !oom ? fopen(path, "wb") : NULL;
    int rc = oom || !path ? IG_ENOMEM : f ? 0 : ig_error_set(IG_EIO, "%s: cannot create: %s", path, strerror(errno));
    if (!rc && fwrite(model.p, 1, model.n, f) != model.n)
        rc = ig_error_set(IG_EIO, "%s: write failed", path);
    if (f && fclose(f) != 0 && !rc)
        rc = ig_error_set(IG_EIO, "%s: write failed: %s", path, strerror(errno));
    free(path);
    free(model.p);
    return rc;
}

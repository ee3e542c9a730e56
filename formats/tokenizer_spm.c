/* tokenizer_spm.c — SentencePiece tokenizer.model (a protobuf ModelProto) → struct vocab.
 *
 * model_src hands an HF folder's or a llama2.c checkpoint's tokenizer.model here and gets
 * the tokenizer.ggml.* view llama.cpp's convert_hf_to_gguf.py writes for it: model
 * "llama", the pieces in order with their scores and types, the special ids from the
 * TrainerSpec and add_space_prefix from the NormalizerSpec (layout in tokenizer.h).
 * The protobuf wire format is walked by hand (no libprotobuf): every length is checked
 * against the bytes that enclose it, unknown fields are skipped by wire type, and groups
 * (wire types 3 and 4, deprecated and never used by SentencePiece) are refused.
 * Reading takes two passes over the mapping: the first walks the top-level fields, counts
 * the pieces and reads both specs; the second copies the pieces into the vocab.
 */
#include "tokenizer.h"

#include "../common/ig_error.h"
#include "file_map.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- protobuf wire format ------------------------------------------------------------ */

enum pb_wire {
    PB_VARINT = 0,   /* base-128 varint, least significant group first */
    PB_I64 = 1,      /* 8 bytes little-endian */
    PB_LEN = 2,      /* varint length, then that many bytes */
    PB_SGROUP = 3,   /* group start (deprecated) */
    PB_EGROUP = 4,   /* group end (deprecated) */
    PB_I32 = 5,      /* 4 bytes little-endian */
};

#define PB_MAX_FIELD ((1u << 29) - 1)   /* field numbers are 29 bits */

/* A cursor over the bytes of one message, with what error messages need to say where. */
struct pb_msg {
    const uint8_t *base;        /* start of the file: offsets in messages count from here */
    const uint8_t *p, *end;     /* unread bytes of this message */
    const char *path;           /* the file, for messages */
    const char *what;           /* "ModelProto", "piece 17", "trainer_spec", ... */
    const char *const *names;   /* [n_names] field names by number, NULL where unknown */
    uint32_t n_names;
};

/* One field as read off the wire. */
struct pb_field {
    uint32_t num;
    enum pb_wire wire;
    uint64_t value;             /* PB_VARINT, PB_I64, PB_I32: the value */
    const uint8_t *data;        /* PB_LEN: the payload (borrowed: into the mapping) */
    size_t len;
    size_t offset;              /* offset of the field's key in the file */
};

static const char *const model_names[] = {NULL, "pieces", "trainer_spec", "normalizer_spec"};
static const char *const piece_names[] = {NULL, "piece", "score", "type"};
static const char *const normalizer_names[] = {NULL, "name", "precompiled_charsmap", "add_dummy_prefix"};

/* TrainerSpec fields 40..43, and sentencepiece's defaults for them. */
enum { SPM_UNK_FIELD = 40, SPM_N_IDS = 4 };
static const char *const trainer_id_names[SPM_N_IDS] = {"unk_id", "bos_id", "eos_id", "pad_id"};
static const int64_t trainer_id_defaults[SPM_N_IDS] = {0, 1, 2, -1};

/* vocab_alloc's with_scores: a SentencePiece model always has them. */
enum { SPM_WITH_SCORES = 1 };

static const char *const piece_type_names = "1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte";

/* What pass 1 learns besides the structure. */
struct spm_specs {
    int64_t n_pieces;
    int64_t ids[SPM_N_IDS];     /* unk, bos, eos, pad; -1 when negative ("disabled") */
    int id_explicit[SPM_N_IDS]; /* 1 when the file set it, 0 for sentencepiece's default */
    int add_dummy_prefix;
};

static struct pb_msg pb_msg_sub(const struct pb_msg *outer, const struct pb_field *f, const char *what,
                                const char *const *names, uint32_t n_names)
{
    struct pb_msg m = {outer->base, f->data, f->data + f->len, outer->path, what, names, n_names};
    return m;
}

/* "field 'type' (3)" for known fields, "field 7" for others. */
static const char *pb_label(const struct pb_msg *m, uint32_t num, char *buf, size_t size)
{
    if (num < m->n_names && m->names[num])
        snprintf(buf, size, "field '%s' (%u)", m->names[num], num);
    else
        snprintf(buf, size, "field %u", num);
    return buf;
}

static size_t pb_offset(const struct pb_msg *m, const uint8_t *p)
{
    return (size_t)(p - m->base);
}

/* Read a varint at m->p. label names what it belongs to in messages. */
static int pb_varint(struct pb_msg *m, uint64_t *out, const char *label)
{
    const uint8_t *start = m->p;
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (m->p >= m->end)
            return ig_error_set(IG_EINVAL,
                                "tokenizer_spm_read: %s: %s: %s: truncated varint at byte offset %zu "
                                "(the enclosing message ends after %zu bytes of it)",
                                m->path, m->what, label, pb_offset(m, start), (size_t)(m->p - start));
        uint8_t b = *m->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return ig_error_set(IG_EINVAL, "tokenizer_spm_read: %s: %s: %s: varint at byte offset %zu is longer than "
                        "10 bytes", m->path, m->what, label, pb_offset(m, start));
}

/* Read the next field of m into *f. Returns 1, 0 at the end of the message, or IG_EINVAL. */
static int pb_next(struct pb_msg *m, struct pb_field *f)
{
    char label[80];
    uint64_t key;
    if (m->p >= m->end)
        return 0;
    memset(f, 0, sizeof *f);
    f->offset = pb_offset(m, m->p);
    int rc = pb_varint(m, &key, "field key");
    if (rc)
        return rc;
    if (key >> 3 == 0 || key >> 3 > PB_MAX_FIELD)
        return ig_error_set(IG_EINVAL, "tokenizer_spm_read: %s: %s: field number %llu at byte offset %zu "
                            "(allowed 1..%u)", m->path, m->what, (unsigned long long)(key >> 3), f->offset,
                            PB_MAX_FIELD);
    f->num = (uint32_t)(key >> 3);
    f->wire = (enum pb_wire)(key & 7);
    pb_label(m, f->num, label, sizeof label);
    size_t left;
    switch (f->wire) {
    case PB_VARINT:
        return pb_varint(m, &f->value, label) ? IG_EINVAL : 1;
    case PB_I64:
    case PB_I32: {
        size_t size = f->wire == PB_I64 ? 8 : 4;
        left = (size_t)(m->end - m->p);
        if (left < size)
            return ig_error_set(IG_EINVAL, "tokenizer_spm_read: %s: %s: %s: %zu-byte value at byte offset %zu "
                                "runs past the end of the enclosing message (%zu bytes left)", m->path, m->what,
                                label, size, pb_offset(m, m->p), left);
        for (size_t i = 0; i < size; i++)
            f->value |= (uint64_t)m->p[i] << (8 * i);
        m->p += size;
        return 1;
    }
    case PB_LEN: {
        uint64_t len;
        if (pb_varint(m, &len, label))
            return IG_EINVAL;
        left = (size_t)(m->end - m->p);
        if (len > left)
            return ig_error_set(IG_EINVAL, "tokenizer_spm_read: %s: %s: %s: length %llu at byte offset %zu "
                                "runs past the end of the enclosing message (%zu bytes left)", m->path, m->what,
                                label, (unsigned long long)len, f->offset, left);
        f->data = m->p;
        f->len = (size_t)len;
        m->p += len;
        return 1;
    }
    default:
        return ig_error_set(IG_EINVAL, "tokenizer_spm_read: %s: %s: %s: wire type %d at byte offset %zu is not "
                            "supported (allowed 0 varint, 1 64-bit, 2 length-delimited, 5 32-bit; 3 and 4 are "
                            "groups)", m->path, m->what, label, (int)f->wire, f->offset);
    }
}

/* A known field must arrive with the wire type its declaration gives it. */
static int pb_expect(const struct pb_msg *m, const struct pb_field *f, enum pb_wire wire)
{
    static const char *const wire_names[] = {"varint", "64-bit", "length-delimited", "group start",
                                             "group end", "32-bit"};
    char label[80];
    if (f->wire == wire)
        return 0;
    return ig_error_set(IG_EINVAL, "tokenizer_spm_read: %s: %s: %s: wire type %d (%s) at byte offset %zu, "
                        "expected %d (%s)", m->path, m->what, pb_label(m, f->num, label, sizeof label),
                        (int)f->wire, wire_names[f->wire], f->offset, (int)wire, wire_names[wire]);
}

/* ---- pass 1: structure, piece count, specs -------------------------------------------- */

static int spm_read_trainer(struct pb_msg *m, struct spm_specs *s)
{
    static const char *const names[SPM_UNK_FIELD + SPM_N_IDS] = {
        [40] = "unk_id", [41] = "bos_id", [42] = "eos_id", [43] = "pad_id"};
    struct pb_field f;
    int rc;
    m->names = names;
    m->n_names = SPM_UNK_FIELD + SPM_N_IDS;
    while ((rc = pb_next(m, &f)) > 0) {
        if (f.num < SPM_UNK_FIELD || f.num >= SPM_UNK_FIELD + SPM_N_IDS)
            continue;
        if ((rc = pb_expect(m, &f, PB_VARINT)))
            return rc;
        /* int32 on the wire: a negative value arrives sign-extended to 64 bits (10 bytes);
         * sentencepiece reads any negative id as "no such token". */
        int32_t id = (int32_t)(uint32_t)f.value;
        s->ids[f.num - SPM_UNK_FIELD] = id < 0 ? -1 : id;
        s->id_explicit[f.num - SPM_UNK_FIELD] = 1;
    }
    return rc;
}

static int spm_read_normalizer(struct pb_msg *m, struct spm_specs *s)
{
    struct pb_field f;
    int rc;
    while ((rc = pb_next(m, &f)) > 0) {
        if (f.num != 3)
            continue;
        if ((rc = pb_expect(m, &f, PB_VARINT)))
            return rc;
        s->add_dummy_prefix = f.value != 0;
    }
    return rc;
}

static int spm_scan(struct pb_msg *model, struct spm_specs *s)
{
    struct pb_field f;
    int rc;
    while ((rc = pb_next(model, &f)) > 0) {
        if (f.num < 1 || f.num > 3)
            continue;
        if ((rc = pb_expect(model, &f, PB_LEN)))
            return rc;
        if (f.num == 1) {
            if (++s->n_pieces > VOCAB_MAX_TOKENS)
                return ig_error_set(IG_EINVAL, "tokenizer_spm_read: %s: ModelProto: field 'pieces' (1): more than "
                                    "%d pieces (allowed 1..%d)", model->path, VOCAB_MAX_TOKENS, VOCAB_MAX_TOKENS);
        } else if (f.num == 2) {
            struct pb_msg sub = pb_msg_sub(model, &f, "trainer_spec", NULL, 0);
            if ((rc = spm_read_trainer(&sub, s)))
                return rc;
        } else {
            struct pb_msg sub = pb_msg_sub(model, &f, "normalizer_spec", normalizer_names, 4);
            if ((rc = spm_read_normalizer(&sub, s)))
                return rc;
        }
    }
    return rc;
}

/* ---- pass 2: the pieces ----------------------------------------------------------------- */

/* Decode one SentencePiece message into token i of v. */
static int spm_read_piece(struct vocab *v, int64_t i, struct pb_msg *m)
{
    struct pb_field f;
    const uint8_t *text = NULL;
    size_t text_len = 0;
    uint64_t type = VOCAB_TOKEN_NORMAL;
    float score = 0.0f;
    int rc;
    while ((rc = pb_next(m, &f)) > 0) {
        enum pb_wire want = f.num == 1 ? PB_LEN : f.num == 2 ? PB_I32 : PB_VARINT;
        if (f.num >= 1 && f.num <= 3 && (rc = pb_expect(m, &f, want)))
            return rc;
        if (f.num == 1) {
            text = f.data;
            text_len = f.len;
        } else if (f.num == 2) {
            uint32_t bits = (uint32_t)f.value;
            memcpy(&score, &bits, sizeof score);
        } else if (f.num == 3) {
            type = f.value;
        }
    }
    if (rc < 0)
        return rc;
    if (!text)
        return ig_error_set(IG_EINVAL, "tokenizer_spm_read: %s: %s: field 'piece' (1) is missing (every piece "
                            "needs its text)", m->path, m->what);
    if (text_len == 0 || text_len > VOCAB_MAX_TOKEN_BYTES)
        return ig_error_set(IG_EINVAL, "tokenizer_spm_read: %s: %s: field 'piece' (1): %zu bytes (allowed 1..%d)",
                            m->path, m->what, text_len, VOCAB_MAX_TOKEN_BYTES);
    const uint8_t *nul = memchr(text, 0, text_len);
    if (nul)
        return ig_error_set(IG_EINVAL, "tokenizer_spm_read: %s: %s: field 'piece' (1): NUL byte at position %zu "
                            "of %zu (token texts are NUL-terminated; a NUL inside is not allowed)", m->path,
                            m->what, (size_t)(nul - text), text_len);
    if (!isfinite(score))
        return ig_error_set(IG_EINVAL, "tokenizer_spm_read: %s: %s: field 'score' (2): %f is not finite",
                            m->path, m->what, (double)score);
    if (type < VOCAB_TOKEN_NORMAL || type > VOCAB_TOKEN_BYTE)
        return ig_error_set(IG_EINVAL, "tokenizer_spm_read: %s: %s: field 'type' (3): %llu is not a piece type "
                            "(allowed %s)", m->path, m->what, (unsigned long long)type, piece_type_names);
    char *copy = ig_malloc(text_len + 1);
    if (!copy)
        return IG_ENOMEM;
    memcpy(copy, text, text_len);
    copy[text_len] = '\0';
    v->tokens[i] = copy;
    v->scores[i] = score;
    v->types[i] = (int32_t)type;
    return 0;
}

static int spm_read_pieces(struct vocab *v, struct pb_msg *model)
{
    struct pb_field f;
    int64_t i = 0;
    int rc;
    while ((rc = pb_next(model, &f)) > 0) {
        if (f.num != 1)
            continue;
        char what[40];
        snprintf(what, sizeof what, "piece %lld", (long long)i);
        struct pb_msg sub = pb_msg_sub(model, &f, what, piece_names, 4);
        if ((rc = spm_read_piece(v, i, &sub)))
            return rc;
        i++;
    }
    return rc;
}

/* Special ids the file set must name a piece; sentencepiece's defaults drop out quietly
 * when the vocabulary is too small to hold them. */
static int spm_apply_ids(struct vocab *v, const struct spm_specs *s, const char *path)
{
    int64_t *dst[SPM_N_IDS] = {&v->unk_id, &v->bos_id, &v->eos_id, &v->pad_id};
    for (int k = 0; k < SPM_N_IDS; k++) {
        int64_t id = s->ids[k];
        if (id >= v->n_tokens && s->id_explicit[k])
            return ig_error_set(IG_EINVAL, "tokenizer_spm_read: %s: trainer_spec: field '%s' (%d): %lld is not a "
                                "piece id (allowed -1..%lld)", path, trainer_id_names[k], SPM_UNK_FIELD + k,
                                (long long)id, (long long)v->n_tokens - 1);
        *dst[k] = id < v->n_tokens ? id : -1;
    }
    return 0;
}

/* ---- public ------------------------------------------------------------------------------ */

int tokenizer_spm_read(struct vocab *v, const char *path)
{
    struct file_map map;
    struct spm_specs specs = {.add_dummy_prefix = 1};
    int rc;
    vocab_init(v);
    memcpy(specs.ids, trainer_id_defaults, sizeof specs.ids);
    if ((rc = file_map_open(&map, path)))
        return rc;
    /* an empty file maps to NULL, and NULL + 0 is undefined: it has no pieces either */
    struct pb_msg model = {map.data, map.data, map.size_bytes ? map.data + map.size_bytes : map.data, path,
                           "ModelProto", model_names, 4};
    if (map.size_bytes && (rc = spm_scan(&model, &specs)))
        goto out_close;
    if (specs.n_pieces == 0) {
        rc = ig_error_set(IG_EINVAL, "tokenizer_spm_read: %s: ModelProto: field 'pieces' (1): no pieces in %zu "
                          "bytes (allowed 1..%d)", path, map.size_bytes, VOCAB_MAX_TOKENS);
        goto out_close;
    }
    if ((rc = vocab_alloc(v, specs.n_pieces, SPM_WITH_SCORES)))
        goto out_close;
    model.p = map.data;
    if ((rc = spm_read_pieces(v, &model)))
        goto out_free;
    if ((rc = spm_apply_ids(v, &specs, path)))
        goto out_free;
    snprintf(v->model, sizeof v->model, "llama");
    v->add_space_prefix = specs.add_dummy_prefix;
    file_map_close(&map);
    return 0;
out_free:
    vocab_free(v);
out_close:
    file_map_close(&map);
    return rc;
}

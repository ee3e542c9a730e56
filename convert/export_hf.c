/* export_hf.c — `ingot convert --format gptq|gptq_v2|awq|bnb -o FOLDER` (see export_hf.h).
 *
 * Four steps: check everything that can be checked before work (format, type, method,
 * source kind, FOLDER); run the ordinary conversion into a GGUF inside FOLDER.tmp.<pid>;
 * re-lay that GGUF's tensors as the format's HF tensors (model.safetensors), with
 * config.json, the tokenizer files and ingot_export.json beside it; rename the temporary
 * folder over FOLDER. The tensor mapping undoes what the HF reader does (formats/hf_model.c):
 * GGUF names back to the source's HF names, and llama's Q/K row permutation undone, so the
 * folder read back by ingot gives the GGUF's rows again.
 */
#include "export_hf.h"

#include "cli.h"

#include "../common/ig_error.h"
#include "../common/ig_half.h"
#include "../formats/file_map.h"
#include "../formats/ggml_type.h"
#include "../formats/gguf.h"
#include "../formats/hf_quant.h"
#include "../formats/hf_quant_write.h"
#include "../formats/model_src.h"
#include "../formats/safetensors_write.h"
#include "../model/tensor_f32.h"
#include "../quantizers/bnb4.h"
#include "../quantizers/ext_types.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXPORT_MARKER "ingot_export.json"
#define EXPORT_GGUF "ingot-intermediate.gguf"
#define EXPORT_SIDE_MAX_BYTES ((size_t)1 << 30)

/* The formats and what each accepts. */
struct export_format {
    const char *name;
    int method;             /* HFQ_GPTQ, HFQ_AWQ, HFQ_BNB4 */
    bool zeros_v1;          /* GPTQ: checkpoint_format "gptq" */
    const char *types;      /* for messages */
};

static const struct export_format formats[] = {
    {"gptq", HFQ_GPTQ, true, "I4_G32, I4_G64, I4_G128, I8_G32, I8_G64 or I8_G128"},
    {"gptq_v2", HFQ_GPTQ, false, "I4_G32, I4_G64, I4_G128, I8_G32, I8_G64 or I8_G128"},
    {"awq", HFQ_AWQ, false, "I4_G32, I4_G64 or I4_G128 (AutoAWQ GEMM is 4-bit)"},
    {"bnb", HFQ_BNB4, false, "NF4"},
};

/* Tokenizer and generation files copied as they are. */
static const char *const side_files[] = {"tokenizer.model", "tokenizer.json", "tokenizer_config.json",
                                         "special_tokens_map.json", "added_tokens.json", "vocab.json",
                                         "merges.txt", "generation_config.json", "chat_template.jinja"};

/* One tensor of the output: where it comes from and how it is written. */
enum entry_kind { ENTRY_FLOAT, ENTRY_LINEAR };

struct entry {
    enum entry_kind kind;
    const struct gguf_tensor_info *gt;   /* borrowed: the GGUF's */
    const struct src_tensor *st;         /* borrowed: the source's, for names and the permutation */
    char hf_name[256];                   /* the tensor (float) or the linear's module prefix */
    const char *dtype;                   /* ENTRY_FLOAT: "F16", "F32" or "BF16" */
    struct hfq_int_geom geom;            /* ENTRY_LINEAR, GPTQ/AWQ */
    float bnb_offset;                    /* ENTRY_LINEAR, bnb: from the first pass */
};

struct export_state {
    const struct export_hf_args *a;
    const struct export_format *fmt;
    struct model_src *src;
    struct gguf_file *g;
    char *tmp;                  /* FOLDER.tmp.<pid> */
    struct entry *entries;
    int64_t n_entries, n_linears;
    float dyn_map[256];         /* bnb */
    char copied[512];           /* side files copied, for the summary */
};

/* ---- checks before any work ------------------------------------------------------------------ */

static const struct export_format *format_find(const char *name)
{
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if (strcmp(formats[i].name, name) == 0)
            return &formats[i];
    return NULL;
}

/* bits and group size of an INT-group GGUF type; false for any other type. */
static bool int_group_type(int type, int *bits, int64_t *group)
{
    static const struct {
        int type, bits, group;
    } t[] = {{GGML_TYPE_I4_G32, 4, 32},  {GGML_TYPE_I4_G64, 4, 64},  {GGML_TYPE_I4_G128, 4, 128},
             {GGML_TYPE_I8_G32, 8, 32},  {GGML_TYPE_I8_G64, 8, 64},  {GGML_TYPE_I8_G128, 8, 128}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (t[i].type == type) {
            *bits = t[i].bits;
            *group = t[i].group;
            return true;
        }
    return false;
}

/* Does GGUF type `type` belong in format f? */
static bool type_fits(const struct export_format *f, int type)
{
    int bits;
    int64_t group;
    if (f->method == HFQ_BNB4)
        return type == GGML_TYPE_NF4 || type == GGML_TYPE_NF4_F16;
    return int_group_type(type, &bits, &group) && (f->method == HFQ_GPTQ || bits == 4);
}

static int check_args(const struct export_hf_args *a, const struct export_format *f)
{
    const int type = ggml_type_from_name(a->type_name);
    if (type < 0 || !type_fits(f, type) || type == GGML_TYPE_NF4_F16)
        return cli_usage_error("convert", "--format %s writes --type %s, not %s", f->name, f->types, a->type_name);
    if (f->method == HFQ_BNB4 && strcmp(a->method, "rtn") != 0)
        return cli_usage_error("convert", "--format bnb quantizes with bitsandbytes' own rounding (--method rtn), not --method %s",
                               a->method);
    return 0;
}

/* Whether folder holds anything besides . and .. (an unreadable folder counts as full). */
static bool folder_has_entries(const char *folder)
{
    DIR *d = opendir(folder);
    if (!d)
        return true;
    bool any = false;
    for (struct dirent *e; !any && (e = readdir(d));)
        any = strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return any;
}

static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static char *parent_of(const char *path)
{
    char *p = strdup(path);
    if (!p)
        return NULL;
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        p[--n] = '\0';
    char *slash = strrchr(p, '/');
    if (!slash) {
        free(p);
        return strdup(".");
    }
    if (slash == p)
        slash[1] = '\0';
    else
        *slash = '\0';
    return p;
}

/* Layouts the export does not write, refused before any work: MoE experts (3-D GGUF
 * tensors; HF keeps one linear per expert) and phi3's fused qkv_proj / gate_up_proj, which
 * ingot's own GPTQ/AWQ/bnb reader does not read back (a written folder must). */
static int check_source_layout(const struct model_src *src, const struct export_format *f)
{
    for (int64_t i = 0; i < src->n_tensors; i++) {
        const struct src_tensor *t = &src->tensors[i];
        if (t->n_dims > 2)
            return ig_error_set(IG_EINVAL, "%s: tensor '%s' (%s) is a %d-D stack of experts; --format %s exports "
                                "dense models only", src->path, t->name, t->src_name, t->n_dims, f->name);
        if (strstr(t->src_name, ".qkv_proj.") || strstr(t->src_name, ".gate_up_proj."))
            return ig_error_set(IG_EINVAL, "%s: tensor '%s' is a fused linear; --format %s does not export fused "
                                "qkv_proj / gate_up_proj (ingot's reader could not check the result)", src->path,
                                t->src_name, f->name);
    }
    return 0;
}

/* FOLDER: absent, empty, or an earlier export; not the source's folder or one holding a
 * source file; its parent writable. */
static int check_out_folder(const char *out, const struct model_src *src)
{
    struct stat st;
    if (!out[0])
        return ig_error_set(IG_EINVAL, "-o: the output folder is empty, expected a folder name");
    if (strlen(out) + 32 > PATH_MAX)
        return ig_error_set(IG_EINVAL, "%s: output folder name too long", out);
    for (int i = 0; i < src->n_files; i++) {
        char *dir = parent_of(src->files[i].path);
        bool inside = dir && same_file(dir, out);
        free(dir);
        if (inside || same_file(src->path, out))
            return ig_error_set(IG_EINVAL, "%s: output folder is the source folder %s; choose another -o", out, src->path);
    }
    if (stat(out, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            return ig_error_set(IG_EINVAL, "%s: exists and is not a folder; an HF export (--format) writes a folder", out);
        char *marker = file_path_join(out, EXPORT_MARKER);
        bool earlier = marker && file_is_regular(marker);
        free(marker);
        if (!earlier && folder_has_entries(out))
            return ig_error_set(IG_EINVAL, "%s: folder exists, is not empty and was not written by an ingot export (no %s); "
                                "give an absent or empty folder", out, EXPORT_MARKER);
    }
    char *parent = parent_of(out);
    if (!parent)
        return IG_ENOMEM;
    int rc = access(parent, W_OK | X_OK) == 0 ? 0
             : ig_error_set(IG_EINVAL, "%s: cannot write in folder %s: %s", out, parent, strerror(errno));
    free(parent);
    return rc;
}

/* ---- the temporary folder ---------------------------------------------------------------------- */

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* Remove a folder this export created, and everything in it (links are not followed). */
static void remove_tree(const char *path)
{
    if (path)
        nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Remove "<base>.tmp.<pid>" folders beside out whose process is gone (an export killed
 * before it could clean up). */
static void remove_stale(const char *out)
{
    char *parent = parent_of(out);
    const char *base = strrchr(out, '/') ? strrchr(out, '/') + 1 : out;
    DIR *d = parent ? opendir(parent) : NULL;
    size_t nb = strlen(base);
    for (struct dirent *e; d && (e = readdir(d));) {
        char *end;
        if (strncmp(e->d_name, base, nb) != 0 || strncmp(e->d_name + nb, ".tmp.", 5) != 0)
            continue;
        long pid = strtol(e->d_name + nb + 5, &end, 10);
        if (end == e->d_name + nb + 5 || *end || pid <= 0 || pid == (long)getpid() ||
            !(kill((pid_t)pid, 0) != 0 && errno == ESRCH))
            continue;
        char *path = file_path_join(parent, e->d_name);
        char *partial = path ? file_path_join(path, EXPORT_MARKER ".partial") : NULL;
        char *done = path ? file_path_join(path, EXPORT_MARKER) : NULL;
        if ((partial && file_is_regular(partial)) || (done && file_is_regular(done)))   /* only an export's */
            remove_tree(path);
        free(partial);
        free(done);
        free(path);
    }
    if (d)
        closedir(d);
    free(parent);
}

/* mkdir FOLDER.tmp.<pid> with a ".partial" marker naming it as an export's. */
static int make_tmp(struct export_state *s)
{
    char buf[PATH_MAX + 32];
    snprintf(buf, sizeof buf, "%s.tmp.%ld", s->a->out_path, (long)getpid());
    if (mkdir(buf, 0755) != 0)
        return ig_error_set(IG_EIO, "%s: cannot create the temporary folder: %s", buf, strerror(errno));
    if (!(s->tmp = strdup(buf)))
        return IG_ENOMEM;
    char *marker = file_path_join(s->tmp, EXPORT_MARKER ".partial");
    FILE *f = marker ? fopen(marker, "w") : NULL;
    int rc = f && fclose(f) == 0 ? 0 : ig_error_set(IG_EIO, "%s: cannot write in the temporary folder", s->tmp);
    free(marker);
    return rc;
}

/* ---- the conversion ------------------------------------------------------------------------------ */

/* cmd_convert again, on argv plus "--format gguf -o GGUF" [--allow-fallback] (later options
 * win; placed before a "--", which would make them positional). Returns its exit code. */
static int run_convert(int argc, char **argv, const char *gguf_path, bool allow_fallback)
{
    char **v = ig_calloc((size_t)argc + 6, sizeof *v);
    if (!v)
        return cli_fail("convert", IG_ENOMEM);
    int n = 0, at = argc;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--") == 0) {
            at = i;
            break;
        }
    for (int i = 0; i < at; i++)
        v[n++] = argv[i];
    v[n++] = "--format";
    v[n++] = "gguf";
    v[n++] = "-o";
    v[n++] = (char *)gguf_path;
    if (allow_fallback)
        v[n++] = "--allow-fallback";
    for (int i = at; i < argc; i++)
        v[n++] = argv[i];
    optind = 0;   /* glibc: start getopt afresh */
    int code = cmd_convert(n, v);
    free(v);
    return code;
}

/* ---- which tensor goes where --------------------------------------------------------------------- */

/* A matrix of a block: the linears (q/k/v/o, gate/up/down, phi3's fused qkv and gate_up),
 * every one of which a GPTQ/AWQ/bnb checkpoint stores quantized. */
static bool is_linear(const struct gguf_tensor_info *t)
{
    const size_t n = strlen(t->name);
    return t->n_dims == 2 && strncmp(t->name, "blk.", 4) == 0 && n > 7 && strcmp(t->name + n - 7, ".weight") == 0;
}

/* Whether every value of the F32 tensor survives F16 (then it is written as F16, the
 * checkpoint's own dtype; AWQ's folded norms are not, and stay F32). */
static bool f16_exact(const struct gguf_tensor_info *t)
{
    const int64_t n = t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
    for (int64_t i = 0; i < n; i++) {
        float x;
        memcpy(&x, t->data + 4 * i, 4);
        if (ig_fp16_to_fp32(ig_fp32_to_fp16(x)) != x)
            return false;
    }
    return true;
}

/* The HF name of a float tensor, or "" to leave it out. */
static void float_name(const struct export_state *s, const struct gguf_tensor_info *gt, const struct src_tensor *st,
                       char *buf, size_t size)
{
    buf[0] = '\0';
    if (strcmp(gt->name, "rope_freqs.weight") == 0)
        return;   /* computed from config.json's rope_scaling, not a checkpoint tensor */
    if (strcmp(gt->name, "token_embd.weight") == 0)
        snprintf(buf, size, "model.embed_tokens.weight");
    else if (strcmp(gt->name, "output.weight") == 0)
        snprintf(buf, size, "%s", s->src->hp.tie_embeddings ? "" : "lm_head.weight");
    else
        snprintf(buf, size, "%s", st->src_name);
}

static int plan_float(struct export_state *s, struct entry *e)
{
    const struct gguf_tensor_info *gt = e->gt;
    if (gt->n_dims > 2)
        return ig_error_set(IG_EINVAL, "tensor '%s' (%s) has %d dimensions; an HF export writes 1 or 2", gt->name,
                            e->hf_name, gt->n_dims);
    if (e->st->norm_shift != 0.0f && gt->type == GGML_TYPE_F32)
        e->dtype = "F32";   /* gemma's stored w of the GGUF's 1 + w: kept in f32 */
    else if (gt->type == GGML_TYPE_F16 || gt->type == GGML_TYPE_BF16)
        e->dtype = gt->type == GGML_TYPE_F16 ? "F16" : "BF16";
    else if (gt->type == GGML_TYPE_F32)
        e->dtype = f16_exact(gt) ? "F16" : "F32";
    else
        return ig_error_set(IG_EINVAL, "tensor '%s' (%s) is %s; an HF export keeps tensors other than the linears as "
                            "F16/F32 (drop --tensor-type/--output-type/--embed-type overrides for it)",
                            gt->name, e->hf_name, ggml_type_name(gt->type));
    return 0;
}

/* The linear's GGUF rows -> HF rows: row r of the GGUF tensor is stored row
 * model_permuted_row(r) (llama's q/k; formats/model_src.h), every other row itself. */
static int64_t hf_row(const struct entry *e, int64_t r)
{
    return e->st->permute_n_head > 0 ? model_permuted_row(r, e->gt->ne[1], e->st->permute_n_head) : r;
}

static int quantize_bnb(const struct export_state *s, const struct entry *e, uint8_t *codes, uint8_t *absmax_q,
                        float *nested_absmax, float *offset);

/* bitsandbytes' QuantState.dtype of a linear: the source weight's dtype, as torch names it. */
static const char *torch_dtype_of(int type)
{
    return type == GGML_TYPE_BF16 ? "bfloat16" : type == GGML_TYPE_F32 ? "float32" : "float16";
}

static int plan_linear(struct export_state *s, struct entry *e)
{
    const struct gguf_tensor_info *gt = e->gt;
    if (!type_fits(s->fmt, gt->type))
        return ig_error_set(IG_EINVAL, "tensor '%s' (%s) is %s; --format %s stores every linear as %s (a fallback or "
                            "--tensor-type override left it otherwise)",
                            gt->name, e->hf_name, ggml_type_name(gt->type), s->fmt->name, s->fmt->types);
    /* the module prefix: the source name less ".weight" (or a quantized source's ".qweight") */
    char *dot = strrchr(e->hf_name, '.');
    if (!dot)
        return ig_error_set(IG_EINVAL, "tensor '%s': source name '%s' has no module prefix", gt->name, e->hf_name);
    *dot = '\0';
    s->n_linears++;
    if (s->fmt->method == HFQ_BNB4) {
        /* the JSON in the header carries the offset: quantize once now for it, again to write */
        const int64_t n = gt->ne[0] * gt->ne[1], n_blocks = (n + BNB4_BLOCKSIZE - 1) / BNB4_BLOCKSIZE;
        uint8_t *codes = ig_malloc((size_t)n), *aq = ig_malloc((size_t)n_blocks);
        float *na = ig_malloc((size_t)(n_blocks / BNB4_NESTED_BLOCKSIZE + 1) * sizeof *na);
        int rc = codes && aq && na ? quantize_bnb(s, e, codes, aq, na, &e->bnb_offset) : IG_ENOMEM;
        free(codes);
        free(aq);
        free(na);
        return rc;
    }
    int bits = 0;
    int64_t group = 0;
    int_group_type(gt->type, &bits, &group);
    int rc = hfq_int_geom_init(&e->geom, s->fmt->method == HFQ_AWQ, bits, gt->ne[0], gt->ne[1], group);
    return rc ? ig_error_wrap(rc, "tensor '%s' (%s)", gt->name, e->hf_name) : 0;
}

/* Every GGUF tensor -> an entry (or none: rope_freqs, a tied output). */
static int plan(struct export_state *s)
{
    const int64_t n = gguf_n_tensors(s->g);
    s->entries = ig_calloc((size_t)(n ? n : 1), sizeof *s->entries);
    if (!s->entries)
        return IG_ENOMEM;
    int rc = 0;
    for (int64_t i = 0; i < n && !rc; i++) {
        struct entry *e = &s->entries[s->n_entries];
        e->gt = gguf_tensor_at(s->g, i);
        e->st = model_src_find(s->src, e->gt->name);
        if (!e->st) {
            rc = ig_error_set(IG_EINVAL, "%s: tensor '%s' has no source tensor", gguf_path(s->g), e->gt->name);
            break;
        }
        if (is_linear(e->gt)) {
            e->kind = ENTRY_LINEAR;
            snprintf(e->hf_name, sizeof e->hf_name, "%s", e->st->src_name);
            rc = plan_linear(s, e);
        } else {
            e->kind = ENTRY_FLOAT;
            float_name(s, e->gt, e->st, e->hf_name, sizeof e->hf_name);
            if (!e->hf_name[0])
                continue;
            rc = plan_float(s, e);
        }
        s->n_entries++;
    }
    return rc;
}

/* ---- declaring and writing -------------------------------------------------------------------------- */

static int declare(struct st_writer *w, const char *prefix, const char *suffix, const char *dtype, int nd, int64_t d0,
                   int64_t d1)
{
    char name[320];
    snprintf(name, sizeof name, "%s%s", prefix, suffix);
    const int64_t shape[2] = {d0, d1};
    return st_writer_declare(w, name, dtype, nd, shape);
}

static int declare_entry(const struct export_state *s, struct st_writer *w, const struct entry *e)
{
    const struct gguf_tensor_info *gt = e->gt;
    if (e->kind == ENTRY_FLOAT)
        return gt->n_dims == 1 ? declare(w, e->hf_name, "", e->dtype, 1, gt->ne[0], 0)
                               : declare(w, e->hf_name, "", e->dtype, 2, gt->ne[1], gt->ne[0]);
    const struct hfq_int_geom *g = &e->geom;
    int rc;
    switch (s->fmt->method) {
    case HFQ_GPTQ:
        rc = declare(w, e->hf_name, ".g_idx", "I32", 1, g->n_in, 0);
        if (!rc)
            rc = declare(w, e->hf_name, ".qweight", "I32", 2, g->n_in * g->bits / 32, g->n_out);
        if (!rc)
            rc = declare(w, e->hf_name, ".qzeros", "I32", 2, g->n_groups, g->n_out * g->bits / 32);
        return rc ? rc : declare(w, e->hf_name, ".scales", "F16", 2, g->n_groups, g->n_out);
    case HFQ_AWQ:
        rc = declare(w, e->hf_name, ".qweight", "I32", 2, g->n_in, g->n_out / 8);
        if (!rc)
            rc = declare(w, e->hf_name, ".qzeros", "I32", 2, g->n_groups, g->n_out / 8);
        return rc ? rc : declare(w, e->hf_name, ".scales", "F16", 2, g->n_groups, g->n_out);
    default: {
        const int64_t n = gt->ne[0] * gt->ne[1], n_blocks = (n + BNB4_BLOCKSIZE - 1) / BNB4_BLOCKSIZE;
        char json[512];
        int len = hfq_bnb4_state_json(json, sizeof json, BNB4_BLOCKSIZE, torch_dtype_of(e->st->type), gt->ne[1], gt->ne[0],
                                      BNB4_NESTED_BLOCKSIZE, e->bnb_offset);
        rc = declare(w, e->hf_name, ".weight", "U8", 2, (n + 1) / 2, 1);
        if (!rc)
            rc = declare(w, e->hf_name, ".weight.absmax", "U8", 1, n_blocks, 0);
        if (!rc)
            rc = declare(w, e->hf_name, ".weight.nested_absmax", "F32", 1,
                         (n_blocks + BNB4_NESTED_BLOCKSIZE - 1) / BNB4_NESTED_BLOCKSIZE, 0);
        if (!rc)
            rc = declare(w, e->hf_name, ".weight.nested_quant_map", "F32", 1, 256, 0);
        if (!rc)
            rc = declare(w, e->hf_name, ".weight.quant_map", "F32", 1, 16, 0);
        return rc ? rc : declare(w, e->hf_name, ".weight.quant_state.bitsandbytes__nf4", "U8", 1, len, 0);
    }
    }
}

/* One part: n bytes, then the end of the tensor. */
static int put(struct st_writer *w, const void *p, size_t n)
{
    int rc = st_writer_write(w, p, n);
    return rc ? rc : st_writer_end_tensor(w);
}

/* Element k of a float GGUF tensor as f32. */
static float gguf_float_at(const struct gguf_tensor_info *gt, int64_t k)
{
    uint16_t h;
    if (gt->type == GGML_TYPE_F32) {
        float x;
        memcpy(&x, gt->data + 4 * k, 4);
        return x;
    }
    memcpy(&h, gt->data + 2 * k, 2);
    return gt->type == GGML_TYPE_F16 ? ig_fp16_to_fp32(h) : ig_bf16_to_fp32(h);
}

/* A float tensor: its bytes as they are, or element by element when the dtype narrows
 * (F32 -> F16, exact by plan_float), a llama q/k bias is un-permuted (element r of the GGUF
 * came from model_permuted_row(r)), or a gemma norm loses the 1 the reader added. */
static int write_float(struct st_writer *w, const struct entry *e)
{
    const struct gguf_tensor_info *gt = e->gt;
    const int64_t n = gt->ne[0] * (gt->n_dims == 1 ? 1 : gt->ne[1]);
    const bool permuted_1d = gt->n_dims == 1 && e->st->permute_n_head > 0;
    const bool same = strcmp(e->dtype, ggml_type_name(gt->type)) == 0;
    if (same && !permuted_1d && e->st->norm_shift == 0.0f)
        return put(w, gt->data, (size_t)gt->size_bytes);
    const size_t esize = strcmp(e->dtype, "F32") == 0 ? 4 : 2;
    uint8_t *buf = ig_malloc((size_t)n * esize);
    if (!buf)
        return IG_ENOMEM;
    for (int64_t k = 0; k < n; k++) {
        const int64_t dst = permuted_1d ? model_permuted_row(k, n, e->st->permute_n_head) : k;
        const float x = gguf_float_at(gt, k) - e->st->norm_shift;
        const uint16_t h = esize == 4 ? 0 : strcmp(e->dtype, "F16") == 0 ? ig_fp32_to_fp16(x) : ig_fp32_to_bf16(x);
        memcpy(buf + esize * (size_t)dst, esize == 4 ? (const void *)&x : (const void *)&h, esize);
    }
    int rc = put(w, buf, (size_t)n * esize);
    free(buf);
    return rc;
}

/* Codes, zeros and fp16 scales of GGUF row r of an INT-group tensor (ext_types.h layout). */
static void int_group_row(const struct entry *e, int64_t r, uint8_t *codes, uint8_t *zeros, uint16_t *scales)
{
    const struct hfq_int_geom *g = &e->geom;
    const size_t block_bytes = int_group_block_bytes(g->group_size, g->bits);
    const uint8_t *row = e->gt->data + (size_t)r * (size_t)g->n_groups * block_bytes;
    for (int64_t k = 0; k < g->n_groups; k++) {
        const uint8_t *b = row + (size_t)k * block_bytes, *qs = b + INT_GROUP_HEAD_BYTES;
        uint8_t *c = codes + k * g->group_size;
        scales[k] = (uint16_t)(b[0] | b[1] << 8);
        zeros[k] = b[2];
        for (int64_t j = 0; j < g->group_size; j++)
            c[j] = g->bits == 8 ? qs[j] : (uint8_t)(j % 2 == 0 ? qs[j / 2] & 15 : qs[j / 2] >> 4);
    }
}

static int write_int_linear(const struct export_state *s, struct st_writer *w, const struct entry *e)
{
    const struct hfq_int_geom *g = &e->geom;
    const bool awq = s->fmt->method == HFQ_AWQ;
    const size_t qw_bytes = awq ? hfq_awq_qweight_bytes(g) : hfq_gptq_qweight_bytes(g);
    const size_t qz_bytes = awq ? hfq_awq_qzeros_bytes(g) : hfq_gptq_qzeros_bytes(g);
    uint8_t *qw = ig_calloc(qw_bytes, 1), *qz = ig_calloc(qz_bytes, 1), *sc = ig_malloc(hfq_scales_bytes(g));
    uint8_t *codes = ig_malloc((size_t)g->n_in), *zeros = ig_malloc((size_t)g->n_groups);
    uint16_t *s16 = ig_malloc((size_t)g->n_groups * sizeof *s16);
    uint8_t *g_idx = awq ? NULL : ig_malloc((size_t)g->n_in * 4);
    int rc = qw && qz && sc && codes && zeros && s16 && (awq || g_idx) ? 0 : IG_ENOMEM;
    for (int64_t r = 0; r < g->n_out && !rc; r++) {
        int_group_row(e, r, codes, zeros, s16);
        if (awq)
            hfq_awq_put_row(g, hf_row(e, r), codes, zeros, s16, qw, qz, sc);
        else
            rc = hfq_gptq_put_row(g, s->fmt->zeros_v1, hf_row(e, r), codes, zeros, s16, qw, qz, sc);
    }
    if (rc)
        rc = ig_error_wrap(rc, "tensor '%s' (%s)", e->gt->name, e->hf_name);
    if (!rc && !awq) {
        hfq_gptq_g_idx(g, g_idx);
        rc = put(w, g_idx, (size_t)g->n_in * 4);
    }
    if (!rc)
        rc = put(w, qw, qw_bytes);
    if (!rc)
        rc = put(w, qz, qz_bytes);
    if (!rc)
        rc = put(w, sc, hfq_scales_bytes(g));
    free(qw), free(qz), free(sc), free(codes), free(zeros), free(s16), free(g_idx);
    return rc;
}

/* bnb: the source linear's floats in HF row order, through bitsandbytes' rule (bnb4.h). */
static int quantize_bnb(const struct export_state *s, const struct entry *e, uint8_t *codes, uint8_t *absmax_q,
                        float *nested_absmax, float *offset)
{
    const int64_t n_in = e->gt->ne[0], n_out = e->gt->ne[1];
    float *x = ig_malloc((size_t)(n_in * n_out) * sizeof *x), *row = ig_malloc((size_t)n_in * sizeof *row);
    int rc = x && row ? 0 : IG_ENOMEM;
    for (int64_t r = 0; r < n_out && !rc; r++) {
        rc = tensor_read_rows_f32(e->st, r, 1, row);
        if (!rc)
            memcpy(x + hf_row(e, r) * n_in, row, (size_t)n_in * sizeof *row);
    }
    if (!rc)
        rc = bnb_nf4_quantize(x, n_in * n_out, s->dyn_map, codes, absmax_q, nested_absmax, offset, NULL);
    free(x);
    free(row);
    return rc ? ig_error_wrap(rc, "tensor '%s' (%s)", e->gt->name, e->hf_name) : 0;
}

static int write_bnb_linear(const struct export_state *s, struct st_writer *w, const struct entry *e)
{
    const int64_t n = e->gt->ne[0] * e->gt->ne[1], n_blocks = (n + BNB4_BLOCKSIZE - 1) / BNB4_BLOCKSIZE;
    const int64_t n_nested = (n_blocks + BNB4_NESTED_BLOCKSIZE - 1) / BNB4_NESTED_BLOCKSIZE;
    uint8_t *codes = ig_malloc((size_t)n), *packed = ig_malloc((size_t)(n + 1) / 2), *aq = ig_malloc((size_t)n_blocks);
    float *na = ig_malloc((size_t)n_nested * sizeof *na), offset = 0.0f;
    int rc = codes && packed && aq && na ? quantize_bnb(s, e, codes, aq, na, &offset) : IG_ENOMEM;
    if (!rc && offset != e->bnb_offset)   /* the header already holds the first pass's JSON */
        rc = ig_error_set(IG_EINVAL, "tensor '%s': the second quantization gave offset %g, the first %g", e->gt->name,
                          (double)offset, (double)e->bnb_offset);
    char json[512];
    int len = hfq_bnb4_state_json(json, sizeof json, BNB4_BLOCKSIZE, torch_dtype_of(e->st->type), e->gt->ne[1], e->gt->ne[0],
                                  BNB4_NESTED_BLOCKSIZE, offset);
    if (!rc) {
        hfq_bnb4_pack(codes, n, packed);
        rc = put(w, packed, (size_t)(n + 1) / 2);
    }
    if (!rc)
        rc = put(w, aq, (size_t)n_blocks);
    if (!rc)
        rc = put(w, na, (size_t)n_nested * sizeof *na);
    if (!rc)
        rc = put(w, s->dyn_map, 256 * sizeof(float));
    if (!rc)
        rc = put(w, nf4_code, 16 * sizeof(float));
    if (!rc)
        rc = put(w, json, (size_t)len);
    free(codes), free(packed), free(aq), free(na);
    return rc;
}

static int write_weights(struct export_state *s)
{
    char *path = file_path_join(s->tmp, "model.safetensors");
    struct st_writer *w = NULL;
    int rc = path ? st_writer_open(&w, path) : IG_ENOMEM;
    for (int64_t i = 0; i < s->n_entries && !rc; i++)
        rc = declare_entry(s, w, &s->entries[i]);
    if (!rc)
        rc = st_writer_begin_data(w);
    for (int64_t i = 0; i < s->n_entries && !rc; i++) {
        const struct entry *e = &s->entries[i];
        rc = e->kind == ENTRY_FLOAT ? write_float(w, e)
             : s->fmt->method == HFQ_BNB4 ? write_bnb_linear(s, w, e) : write_int_linear(s, w, e);
    }
    if (!rc) {
        rc = st_writer_close(w);
        w = NULL;
    }
    st_writer_abort(w);
    free(path);
    return rc;
}

/* ---- the other files --------------------------------------------------------------------------------- */

static int write_json_file(const char *folder, const char *name, json_t *j)
{
    char *path = file_path_join(folder, name);
    int rc = path && j ? 0 : IG_ENOMEM;
    if (!rc && json_dump_file(j, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0)
        rc = ig_error_set(IG_EIO, "%s: cannot write", path);
    free(path);
    return rc;
}

/* Tokenizer and generation files, byte for byte. */
static int copy_side_files(struct export_state *s)
{
    int rc = 0;
    for (size_t i = 0; i < sizeof side_files / sizeof side_files[0] && !rc; i++) {
        char *from = file_path_join(s->src->path, side_files[i]), *to = file_path_join(s->tmp, side_files[i]);
        size_t n = 0;
        char *bytes = from && file_is_regular(from) ? file_read_all(from, EXPORT_SIDE_MAX_BYTES, &n) : NULL;
        if (!from || !to)
            rc = IG_ENOMEM;
        else if (bytes) {
            FILE *f = fopen(to, "wb");
            if (!f || fwrite(bytes, 1, n, f) != n || fflush(f) != 0 || fsync(fileno(f)) != 0)
                rc = ig_error_set(IG_EIO, "%s: cannot write: %s", to, strerror(errno));
            if (f && fclose(f) != 0 && !rc)
                rc = ig_error_set(IG_EIO, "%s: cannot write", to);
            snprintf(s->copied + strlen(s->copied), sizeof s->copied - strlen(s->copied), "%s%s",
                     s->copied[0] ? ", " : "", side_files[i]);
        } else if (file_is_regular(from)) {
            rc = ig_error_wrap(IG_EIO, "%s: cannot read", from);
        }
        free(bytes);
        free(from);
        free(to);
    }
    return rc;
}

/* The quantization_config this export states, from the format and the GGUF's ingot.* keys. */
static json_t *quant_config(const struct export_state *s, const char *compute_dtype)
{
    struct hfq_write_config c = {0};
    c.method = s->fmt->method;
    c.zeros_v1 = s->fmt->zeros_v1;
    c.quantizer = "ingot:" INGOT_VERSION;
    c.compute_dtype = compute_dtype;
    c.damp_percent = 0.01;   /* AutoGPTQ's default: what an rtn or awq export reports */
    float damp;
    bool act_order = false;
    if (gguf_get_f32(s->g, "ingot.gptq.damp", &damp) == 0)
        c.damp_percent = damp;
    if (gguf_get_bool(s->g, "ingot.gptq.act_order", &act_order) == 0)
        c.desc_act = act_order;
    c.bits = 4;
    for (int64_t i = 0; i < s->n_entries; i++)
        if (s->entries[i].kind == ENTRY_LINEAR && s->fmt->method != HFQ_BNB4) {
            c.bits = s->entries[i].geom.bits;
            c.group_size = s->entries[i].geom.group_size;
        }
    return hfq_config_json(&c);
}

/* config.json: the source's, with quantization_config (and, for the fp16 kernels of GPTQ
 * and AWQ, torch_dtype float16); GPTQ also gets AutoGPTQ's quantize_config.json. */
static int write_configs(struct export_state *s)
{
    char *path = file_path_join(s->src->path, "config.json");
    json_error_t err;
    json_t *cfg = path ? json_load_file(path, 0, &err) : NULL;
    int rc = cfg && json_is_object(cfg) ? 0 : ig_error_set(IG_EINVAL, "%s: cannot read as a JSON object", path ? path : "config.json");
    free(path);
    const json_t *td = cfg ? json_object_get(cfg, "torch_dtype") : NULL;
    const char *dtype = json_is_string(td) ? json_string_value(td) : "float16";
    if (strcmp(dtype, "bfloat16") != 0 && strcmp(dtype, "float32") != 0)
        dtype = "float16";
    json_t *qc = rc ? NULL : quant_config(s, dtype);
    if (!rc && !qc)
        rc = IG_ENOMEM;
    if (!rc && s->fmt->method != HFQ_BNB4)
        json_object_set_new(cfg, "torch_dtype", json_string("float16"));
    if (!rc && s->fmt->method == HFQ_GPTQ)
        rc = write_json_file(s->tmp, "quantize_config.json", qc);
    if (!rc) {
        json_object_set(cfg, "quantization_config", qc);
        rc = write_json_file(s->tmp, "config.json", cfg);
    }
    json_decref(qc);
    json_decref(cfg);
    return rc;
}

/* ingot_export.json: what made the folder; its presence lets a later export replace it. */
static int write_marker(struct export_state *s)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s}", "ingot_version", INGOT_VERSION, "format", s->fmt->name,
                          "type", s->a->type_name, "method", s->a->method, "source", s->a->src_path, "quantized_linears",
                          (json_int_t)s->n_linears, "files", "model.safetensors, config.json and the source's tokenizer files");
    int rc = write_json_file(s->tmp, EXPORT_MARKER, j);
    json_decref(j);
    char *partial = file_path_join(s->tmp, EXPORT_MARKER ".partial");
    if (!rc && (!partial || unlink(partial) != 0))
        rc = ig_error_set(IG_EIO, "%s: cannot remove", partial ? partial : s->tmp);
    free(partial);
    return rc;
}

static int fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc = fd >= 0 && fsync(fd) == 0 ? 0 : ig_error_set(IG_EIO, "%s: fsync failed: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    return rc;
}

/* tmp -> FOLDER: a plain rename when FOLDER is absent, else an atomic exchange (the old
 * contents land at tmp and are removed). */
static int commit(struct export_state *s)
{
    const char *out = s->a->out_path;
    int rc = fsync_path(s->tmp);
    struct stat st;
    if (rc)
        return rc;
    if (stat(out, &st) != 0) {
        if (rename(s->tmp, out) != 0)
            return ig_error_set(IG_EIO, "%s: cannot rename %s to it: %s", out, s->tmp, strerror(errno));
    } else if (renameat2(AT_FDCWD, s->tmp, AT_FDCWD, out, RENAME_EXCHANGE) == 0) {
        remove_tree(s->tmp);
    } else {
        return ig_error_set(IG_EIO, "%s: cannot replace it with %s: %s", out, s->tmp, strerror(errno));
    }
    free(s->tmp);
    s->tmp = NULL;
    char *parent = parent_of(out);
    rc = parent ? fsync_path(parent) : IG_ENOMEM;
    free(parent);
    return rc;
}

/* ---- the command ---------------------------------------------------------------------------------- */

static int export_write(struct export_state *s, const char *gguf_path)
{
    int rc = gguf_open(&s->g, gguf_path);
    if (!rc)
        rc = plan(s);
    if (!rc)
        rc = write_weights(s);
    if (!rc)
        rc = write_configs(s);
    if (!rc)
        rc = copy_side_files(s);
    gguf_close(s->g);
    s->g = NULL;
    if (unlink(gguf_path) != 0 && !rc)
        rc = ig_error_set(IG_EIO, "%s: cannot remove: %s", gguf_path, strerror(errno));
    if (!rc)
        rc = write_marker(s);
    return rc ? rc : commit(s);
}

static void print_summary(const struct export_state *s)
{
    FILE *f = s->a->json_stdout ? stderr : stdout;
    const char *what = s->fmt->method == HFQ_GPTQ ? (s->fmt->zeros_v1 ? "GPTQ (checkpoint_format gptq, v1 zeros)"
                                                                      : "GPTQ (checkpoint_format gptq_v2)")
                       : s->fmt->method == HFQ_AWQ ? "AWQ (AutoAWQ GEMM, version gemm)"
                                                   : "bitsandbytes NF4 (blocksize 64, double quantization)";
    fprintf(f, "exported %s: %s, type %s, %lld quantized linears, %lld other tensors; copied %s\n", s->a->out_path,
            what, s->a->type_name, (long long)s->n_linears, (long long)(s->n_entries - s->n_linears),
            s->copied[0] ? s->copied : "no tokenizer files");
}

int export_hf_main(const struct export_hf_args *args, int argc, char **argv)
{
    /* FOLDER without trailing slashes, so FOLDER.tmp.<pid> sits beside it */
    char out[PATH_MAX];
    snprintf(out, sizeof out, "%s", args->out_path);
    for (size_t n = strlen(out); n > 1 && out[n - 1] == '/';)
        out[--n] = '\0';
    struct export_hf_args norm = *args;
    norm.out_path = out;
    const struct export_hf_args *a = &norm;
    struct export_state s = {0};
    s.a = a;
    s.fmt = format_find(a->format);
    if (!s.fmt)
        return cli_usage_error("convert", "--format '%s': expected gguf, gptq, gptq_v2, awq or bnb", a->format);
    int code = check_args(a, s.fmt);
    if (code)
        return code;
    int rc = cli_model_src_open(&s.src, a->src_path, NULL);
    if (!rc && s.src->kind != MODEL_SRC_HF)
        rc = ig_error_set(IG_EINVAL, "%s: --format %s needs an HF folder as SRC (its config.json and tokenizer files "
                          "go into the export); convert a GGUF or llama2.c source with the default --format gguf",
                          a->src_path, s.fmt->name);
    if (!rc)
        rc = check_source_layout(s.src, s.fmt);
    if (!rc)
        rc = check_out_folder(a->out_path, s.src);
    if (!rc) {
        remove_stale(a->out_path);
        rc = make_tmp(&s);
    }
    if (!rc && s.fmt->method == HFQ_BNB4)
        bnb_dynamic_map(s.dyn_map);
    char *gguf_path = !rc ? file_path_join(s.tmp, EXPORT_GGUF) : NULL;
    if (!rc && !gguf_path)
        rc = IG_ENOMEM;
    if (!rc) {
        /* bnb blocks run over the flattened tensor: rows that are no whole NF4 super-block (256)
         * are fine, so the GGUF's NF4_F16 fallback is too (its blocks of 64 are not used) */
        code = run_convert(argc, argv, gguf_path, s.fmt->method == HFQ_BNB4);
        if (!code)
            rc = export_write(&s, gguf_path);
    }
    if (!rc && !code)
        print_summary(&s);
    remove_tree(s.tmp);
    free(s.tmp);
    free(gguf_path);
    free(s.entries);
    model_src_close(s.src);
    return code ? code : rc ? cli_fail("convert", rc) : EXIT_OK;
}

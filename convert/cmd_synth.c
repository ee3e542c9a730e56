/* cmd_synth.c — `ingot synth -o FOLDER [--arch A]`: a seeded HF folder and corpus.
 *
 * Writes config.json, tokenizer.json (SentencePiece-style BPE with byte fallback, or for
 * qwen3 Qwen's byte-level BPE: synth_bpe.c; gemma2/3 get a tokenizer.model: synth_gemma.c),
 * tokenizer_config.json, model.safetensors (F16 or F32; weights N(0, 0.02) from a seeded
 * splitmix64 generator, norms 1) and corpus.txt (seeded sentences over the tokenizer's
 * words). The same seed and shape give the same bytes, so the README's demo and the
 * benchmarks need no download. Tensors are generated one at a time, so a 7B-shaped model
 * streams to disk without being held in memory.
 */
#include "cli.h"
#include "synth.h"

#include "../common/ig_error.h"
#include "../common/ig_half.h"
#include "../formats/file_map.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char synth_usage[] =
    "usage: ingot synth -o FOLDER [--arch A] [--seed N] [--dim N] [--layers N] [--heads N] [--kv-heads N]\n"
    "                   [--head-dim N] [--ff N] [--ctx N] [--dtype f16|f32] [--corpus-lines N] [--vocab N]\n"
    "                   [--experts N] [--experts-used N] [--rope longrope] [--orig-ctx N] [--partial-rotary F]\n"
    "\n"
    "Writes an HF folder with seeded random weights and a seeded corpus.txt, for tests, demos and\n"
    "benchmarks. Defaults: llama, dim 256, 2 layers, 4 heads, 2 kv heads, ff 512.\n"
    "  --arch A       llama, qwen3 (per-head q/k norms, Qwen's byte-level BPE), mixtral (MoE:\n"
    "                 --experts 4, --experts-used 2 by default), phi3 (fused qkv and gate_up),\n"
    "                 gemma2 or gemma3 (SentencePiece tokenizer.model, tied embeddings, (1 + w)\n"
    "                 norms, sliding window 16)\n"
    "  --head-dim N   head size when it is not dim / heads (written to config.json as head_dim)\n"
    "  --rope longrope  phi3: Phi-3-128k's rope scaling, seeded long/short factors, trained context\n"
    "                 --ctx, original context --orig-ctx N (default --ctx / 8)\n"
    "  --partial-rotary F  phi3: partial_rotary_factor F (Phi-4-mini: 0.75), RoPE on the first\n"
    "                 int(F x dim) / heads dims of each head\n"
    "  --vocab N      pad the tokenizer's vocabulary to N tokens (<extra_K> tokens the text never\n"
    "                 produces), for a real model's embedding and output shapes (e.g. 32000)\n";

/* Words of the synthetic language: each becomes one "▁word" token. */
#define N_WORDS 36
const char *const synth_words[N_WORDS] = {
    "the", "a", "cat", "dog", "bird", "tree", "house", "sun", "moon", "girl", "boy", "ball",
    "red", "big", "small", "happy", "sad", "runs", "sees", "likes", "finds", "jumps", "sings", "plays",
    "in", "on", "with", "and", "to", "park", "garden", "river", "day", "night", "friend", "mom",
};
const int synth_n_words = N_WORDS;

/* ---- seeded numbers ------------------------------------------------------------------------ */

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double uniform01(uint64_t *s)
{
    return ((double)(splitmix64(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* Box-Muller; one normal per call keeps the stream simple to reproduce. */
static float normal(uint64_t *s, float sigma)
{
    double u1 = uniform01(s), u2 = uniform01(s);
    return (float)(sigma * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

/* ---- tokenizer ------------------------------------------------------------------------------ */

static void add_token(json_t *vocab, const char *text, int64_t *next_id)
{
    if (!json_object_get(vocab, text))
        json_object_set_new(vocab, text, json_integer((*next_id)++));
}

static json_t *make_tokenizer(int64_t *n_vocab, int64_t pad_to)
{
    json_t *vocab = json_object(), *merges = json_array(), *added = json_array();
    int64_t id = 0;
    const char *specials[] = {"<unk>", "<s>", "</s>"};
    for (int i = 0; i < 3; i++) {
        json_array_append_new(added, json_pack("{s:I, s:s, s:b, s:b, s:b, s:b, s:b}", "id", (json_int_t)i, "content",
                                               specials[i], "single_word", 0, "lstrip", 0, "rstrip", 0, "normalized",
                                               0, "special", 1));
        add_token(vocab, specials[i], &id);
    }
    for (int b = 0; b < 256; b++) {
        char t[8];
        snprintf(t, sizeof t, "<0x%02X>", b);
        add_token(vocab, t, &id);
    }
    add_token(vocab, "\xe2\x96\x81", &id);   /* "▁" */
    for (char c = 'a'; c <= 'z'; c++) {
        char t[2] = {c, 0};
        add_token(vocab, t, &id);
    }
    add_token(vocab, ".", &id);
    add_token(vocab, ",", &id);
    for (size_t w = 0; w < N_WORDS; w++) {
        /* "▁" + w[0], then one merge per further letter: ▁t, ▁th, ▁the */
        char prefix[64] = "\xe2\x96\x81";
        for (size_t k = 0; synth_words[w][k]; k++) {
            char merged[64], merge[128];
            snprintf(merged, sizeof merged, "%s%c", prefix, synth_words[w][k]);
            if (!json_object_get(vocab, merged)) {
                snprintf(merge, sizeof merge, "%s %c", prefix, synth_words[w][k]);
                json_array_append_new(merges, json_string(merge));
                add_token(vocab, merged, &id);
            }
            snprintf(prefix, sizeof prefix, "%s", merged);
        }
    }
    /* padding: tokens no merge builds and no byte needs, so the text's ids stay the same */
    while (id < pad_to) {
        char t[32];
        snprintf(t, sizeof t, "<extra_%lld>", (long long)id);
        add_token(vocab, t, &id);
    }
    *n_vocab = id;
    json_t *normalizer = json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:{s:s}, s:s}]}", "type", "Sequence", "normalizers",
                                   "type", "Prepend", "prepend", "\xe2\x96\x81", "type", "Replace", "pattern",
                                   "String", " ", "content", "\xe2\x96\x81");
    json_t *decoder = json_pack("{s:s, s:[{s:s, s:{s:s}, s:s}, {s:s}, {s:s}, {s:s, s:s, s:i, s:i}]}", "type",
                                "Sequence", "decoders", "type", "Replace", "pattern", "String", "\xe2\x96\x81",
                                "content", " ", "type", "ByteFallback", "type", "Fuse", "type", "Strip", "content",
                                " ", "start", 1, "stop", 0);
    json_t *model = json_pack("{s:s, s:n, s:s, s:n, s:n, s:b, s:b, s:o, s:o}", "type", "BPE", "dropout", "unk_token",
                              "<unk>", "continuing_subword_prefix", "end_of_word_suffix", "fuse_unk", 1,
                              "byte_fallback", 1, "vocab", vocab, "merges", merges);
    return json_pack("{s:s, s:n, s:n, s:o, s:o, s:n, s:n, s:o, s:o}", "version", "1.0", "truncation", "padding",
                     "added_tokens", added, "normalizer", normalizer, "pre_tokenizer", "post_processor", "decoder",
                     decoder, "model", model);
}

/* ---- files ------------------------------------------------------------------------------------- */

static int write_json(const char *folder, const char *name, json_t *j)
{
    char *path = file_path_join(folder, name);
    int rc = path ? 0 : IG_ENOMEM;
    if (!rc && json_dump_file(j, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0)
        rc = ig_error_set(IG_EIO, "%s: cannot write", path);
    free(path);
    json_decref(j);
    return rc;
}

/* Every tensor of the model: the embeddings, each block's (from the architecture), the final
 * norm. t has room for synth_max_tensors(o). */
static int64_t synth_max_tensors(const struct synth_opts *o)
{
    return o->layers * (SYNTH_MAX_BLOCK_TENSORS + 3 * o->experts) + 3;
}

static int64_t list_tensors(const struct synth_opts *o, const struct synth_arch *a, int64_t n_vocab,
                            struct synth_tensor *t)
{
    int64_t n = 0;
    const bool gemma = a->tok == SYNTH_TOK_GEMMA_SPM;   /* tied embeddings, (1 + w) norms */
    if (!gemma)
        t[n++] = (struct synth_tensor){"lm_head.weight", n_vocab, o->dim, SYNTH_RANDOM};
    t[n++] = (struct synth_tensor){"model.embed_tokens.weight", n_vocab, o->dim, SYNTH_RANDOM};
    for (int64_t l = 0; l < o->layers; l++)
        n += a->block_tensors(o, l, t + n);
    t[n++] = (struct synth_tensor){"model.norm.weight", o->dim, 0, gemma ? SYNTH_NEAR_ZERO : SYNTH_ONES};
    return n;
}

/* One value of a tensor initialised as init. */
static float synth_value(enum synth_init init, uint64_t *state)
{
    switch (init) {
    case SYNTH_ONES: return 1.0f;
    case SYNTH_NEAR_ONE: return 1.0f + normal(state, 0.1f);
    case SYNTH_NEAR_ZERO: return normal(state, 0.1f);
    default: return normal(state, 0.02f);
    }
}

static int compare_tensor_names(const void *a, const void *b)
{
    return strcmp(((const struct synth_tensor *)a)->name, ((const struct synth_tensor *)b)->name);
}

static int write_weights(const struct synth_opts *o, const struct synth_arch *a, int64_t n_vocab)
{
    struct synth_tensor *t = ig_calloc((size_t)synth_max_tensors(o), sizeof *t);
    if (!t)
        return IG_ENOMEM;
    int64_t n = list_tensors(o, a, n_vocab, t);
    qsort(t, (size_t)n, sizeof *t, compare_tensor_names);   /* safetensors lists names sorted */
    size_t esize = o->f32 ? 4 : 2;
    json_t *header = json_object();
    uint64_t off = 0;
    for (int64_t i = 0; i < n; i++) {
        uint64_t bytes = (uint64_t)t[i].rows * (uint64_t)(t[i].cols ? t[i].cols : 1) * esize;
        json_t *shape = t[i].cols ? json_pack("[I, I]", (json_int_t)t[i].rows, (json_int_t)t[i].cols)
                                  : json_pack("[I]", (json_int_t)t[i].rows);
        json_object_set_new(header, t[i].name, json_pack("{s:s, s:o, s:[I, I]}", "dtype", o->f32 ? "F32" : "F16",
                                                         "shape", shape, "data_offsets", (json_int_t)off,
                                                         (json_int_t)(off + bytes)));
        off += bytes;
    }
    json_object_set_new(header, "__metadata__", json_pack("{s:s}", "format", "pt"));
    char *text = json_dumps(header, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(header);
    char *path = file_path_join(o->out, "model.safetensors");
    FILE *f = path && text ? fopen(path, "wb") : NULL;
    int rc = f ? 0 : ig_error_set(IG_EIO, "%s: cannot create", path ? path : o->out);
    if (!rc) {
        uint64_t len = strlen(text), padded = (len + 7) / 8 * 8;
        fwrite(&padded, 8, 1, f);
        fwrite(text, 1, len, f);
        for (uint64_t i = len; i < padded; i++)
            fputc(' ', f);
        uint64_t state = o->seed;
        for (int64_t i = 0; i < n; i++) {
            int64_t count = t[i].rows * (t[i].cols ? t[i].cols : 1);
            for (int64_t k = 0; k < count; k++) {
                float v = synth_value(t[i].init, &state);
                if (o->f32) {
                    fwrite(&v, 4, 1, f);
                } else {
                    uint16_t h = ig_fp32_to_fp16(v);
                    fwrite(&h, 2, 1, f);
                }
            }
        }
        if (fclose(f) != 0)
            rc = ig_error_set(IG_EIO, "%s: write failed: %s", path, strerror(errno));
    }
    free(path);
    free(text);
    free(t);
    return rc;
}

static int write_corpus(const struct synth_opts *o)
{
    char *path = file_path_join(o->out, "corpus.txt");
    FILE *f = path ? fopen(path, "w") : NULL;
    int rc = f ? 0 : ig_error_set(IG_EIO, "%s: cannot create", path ? path : o->out);
    uint64_t state = o->seed ^ 0x5eed;
    for (int64_t line = 0; line < o->corpus_lines && !rc; line++) {
        int n = 4 + (int)(splitmix64(&state) % 9);
        for (int k = 0; k < n; k++)
            fprintf(f, "%s%s", k ? " " : "", synth_words[splitmix64(&state) % N_WORDS]);
        fputs(splitmix64(&state) % 4 ? ".\n" : ", and the day ends.\n", f);
    }
    if (f && fclose(f) != 0)
        rc = ig_error_set(IG_EIO, "%s: write failed", path);
    free(path);
    return rc;
}

/* ---- the command -------------------------------------------------------------------------------- */

static int parse_synth(int argc, char **argv, struct synth_opts *o)
{
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'}, {"seed", required_argument, 0, 's'},
        {"dim", required_argument, 0, 'd'},    {"layers", required_argument, 0, 'l'},
        {"heads", required_argument, 0, 'H'},  {"kv-heads", required_argument, 0, 'K'},
        {"ff", required_argument, 0, 'f'},     {"ctx", required_argument, 0, 'c'},
        {"dtype", required_argument, 0, 't'},  {"corpus-lines", required_argument, 0, 'n'},
        {"help", no_argument, 0, 'h'},         {"vocab", required_argument, 0, 'V'},
        {"arch", required_argument, 0, 'A'},   {"head-dim", required_argument, 0, 'D'},
        {"experts", required_argument, 0, 'E'}, {"experts-used", required_argument, 0, 'U'},
        {"rope", required_argument, 0, 'R'},   {"orig-ctx", required_argument, 0, 'O'},
        {"partial-rotary", required_argument, 0, 'P'},
        {0, 0, 0, 0},
    };
    *o = (struct synth_opts){NULL, 1, 256, 2, 4, 2, 512, 256, 4000, false, 0, "llama", 0, 0, 0, NULL, 0, 0.0};
    bool moe_opts = false, phi3_opts = false;
    int c;
    int64_t v;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        const char *opt = cli_option_name(longopts, c);
        switch (c) {
        case 'o': o->out = optarg; break;
        case 's': if (!cli_parse_int("synth", opt, optarg, 0, INT64_MAX, &v)) return EXIT_BAD_INPUT; o->seed = (uint64_t)v; break;
        case 'd': if (!cli_parse_int("synth", opt, optarg, 1, 1 << 16, &o->dim)) return EXIT_BAD_INPUT; break;
        case 'l': if (!cli_parse_int("synth", opt, optarg, 1, 1024, &o->layers)) return EXIT_BAD_INPUT; break;
        case 'H': if (!cli_parse_int("synth", opt, optarg, 1, 1024, &o->heads)) return EXIT_BAD_INPUT; break;
        case 'K': if (!cli_parse_int("synth", opt, optarg, 1, 1024, &o->kv_heads)) return EXIT_BAD_INPUT; break;
        case 'f': if (!cli_parse_int("synth", opt, optarg, 1, 1 << 20, &o->ff)) return EXIT_BAD_INPUT; break;
        case 'c': if (!cli_parse_int("synth", opt, optarg, 1, 1 << 20, &o->ctx)) return EXIT_BAD_INPUT; break;
        case 'V': if (!cli_parse_int("synth", opt, optarg, 1, 1 << 22, &o->vocab)) return EXIT_BAD_INPUT; break;
        case 'A': o->arch = optarg; break;
        case 'D': if (!cli_parse_int("synth", opt, optarg, 2, 1 << 12, &o->head_dim)) return EXIT_BAD_INPUT; break;
        case 'E': if (!cli_parse_int("synth", opt, optarg, 1, 256, &o->experts)) return EXIT_BAD_INPUT; moe_opts = true; break;
        case 'U': if (!cli_parse_int("synth", opt, optarg, 1, 256, &o->experts_used)) return EXIT_BAD_INPUT; moe_opts = true; break;
        case 'n': if (!cli_parse_int("synth", opt, optarg, 0, 1 << 24, &o->corpus_lines)) return EXIT_BAD_INPUT; break;
        case 'R': o->rope = optarg; phi3_opts = true; break;
        case 'O': if (!cli_parse_int("synth", opt, optarg, 1, 1 << 20, &o->orig_ctx)) return EXIT_BAD_INPUT; phi3_opts = true; break;
        case 'P': {
            char *end;
            o->partial_rotary = strtod(optarg, &end);
            if (end == optarg || *end || !(o->partial_rotary > 0) || o->partial_rotary > 1)
                return cli_usage_error("synth", "--partial-rotary '%s': expected a number in (0, 1]", optarg);
            phi3_opts = true;
            break;
        }
        case 't':
            if (strcmp(optarg, "f16") && strcmp(optarg, "f32"))
                return cli_usage_error("synth", "--dtype '%s': expected f16 or f32", optarg);
            o->f32 = strcmp(optarg, "f32") == 0;
            break;
        case 'h': fputs(synth_usage, stdout); exit(EXIT_OK);
        default: return cli_usage_error("synth", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (!o->out || optind != argc)
        return cli_usage_error("synth", "expected -o FOLDER and no other arguments");
    const struct synth_arch *a = synth_arch_find(o->arch);
    char names[128];
    if (!a)
        return cli_usage_error("synth", "--arch '%s': expected one of %s", o->arch, synth_arch_names(names, sizeof names));
    if (o->head_dim ? o->head_dim % 2 || o->heads % o->kv_heads
                    : o->dim % o->heads || o->heads % o->kv_heads || (o->dim / o->heads) % 2)
        return cli_usage_error("synth", "--dim %lld, --heads %lld, --kv-heads %lld: heads must divide dim into even head sizes (or --head-dim be even) and kv-heads must divide heads",
                               (long long)o->dim, (long long)o->heads, (long long)o->kv_heads);
    bool moe = strcmp(a->name, "mixtral") == 0;
    if (moe_opts && !moe)
        return cli_usage_error("synth", "--experts and --experts-used apply to --arch mixtral only");
    if (phi3_opts && strcmp(a->name, "phi3") != 0)
        return cli_usage_error("synth", "--rope, --orig-ctx and --partial-rotary apply to --arch phi3 only");
    if (moe) {   /* Mixtral's shape in small: 8 experts, 2 per token; 4 keep the tiny model tiny */
        o->experts = o->experts ? o->experts : 4;
        o->experts_used = o->experts_used ? o->experts_used : 2;
    }
    const char *why = a->check ? a->check(o) : NULL;
    return why ? cli_usage_error("synth", "--arch %s: %s", a->name, why) : 0;
}

int cmd_synth(int argc, char **argv)
{
    struct synth_opts o;
    int rc = parse_synth(argc, argv, &o);
    if (rc)
        return rc;
    if (mkdir(o.out, 0755) != 0 && errno != EEXIST)
        return cli_fail("synth", ig_error_set(IG_EIO, "%s: cannot create folder: %s", o.out, strerror(errno)));
    const struct synth_arch *a = synth_arch_find(o.arch);
    bool byte_bpe = a->tok == SYNTH_TOK_BYTE_BPE, gemma = a->tok == SYNTH_TOK_GEMMA_SPM;
    int64_t n_vocab = 0;
    json_t *tok = NULL;
    if (gemma && (rc = synth_spm_model_write(o.out, o.vocab, &n_vocab)))   /* tokenizer.model */
        return cli_fail("synth", rc);
    if (!gemma)
        tok = byte_bpe ? synth_byte_bpe_tokenizer(&n_vocab, o.vocab) : make_tokenizer(&n_vocab, o.vocab);
    /* byte-level BPE: <|endoftext|> (the first special, after the vocabulary) is BOS and EOS, as
     * in Qwen's config.json */
    json_int_t bos = byte_bpe ? (json_int_t)(n_vocab - 3) : 1, eos = byte_bpe ? (json_int_t)(n_vocab - 3) : 2;
    if (gemma)   /* gemma's ids: <eos> 1, <bos> 2 */
        bos = 2, eos = 1;
    json_t *config = json_pack("{s:[s], s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:b, s:I, s:I, s:s}",
                               "architectures", a->architecture, "model_type", a->model_type, "hidden_size",
                               (json_int_t)o.dim, "intermediate_size", (json_int_t)o.ff, "num_hidden_layers",
                               (json_int_t)o.layers, "num_attention_heads", (json_int_t)o.heads,
                               "num_key_value_heads", (json_int_t)o.kv_heads, "vocab_size", (json_int_t)n_vocab,
                               "max_position_embeddings", (json_int_t)o.ctx, "rms_norm_eps", 1e-5, "rope_theta",
                               10000.0, "tie_word_embeddings", 0, "bos_token_id", bos, "eos_token_id", eos,
                               "torch_dtype", o.f32 ? "float32" : "float16");
    if (o.head_dim)
        json_object_set_new(config, "head_dim", json_integer(o.head_dim));
    if (a->config)
        a->config(&o, config);
    json_t *tok_config = gemma      ? synth_gemma_tokenizer_config()
                         : byte_bpe ? synth_byte_bpe_tokenizer_config()
                                  : json_pack("{s:b, s:b, s:s, s:s, s:s}", "add_bos_token", 1, "add_eos_token", 0,
                                              "bos_token", "<s>", "eos_token", "</s>", "unk_token", "<unk>");
    rc = tok ? write_json(o.out, "tokenizer.json", tok) : 0;
    if (!rc)
        rc = write_json(o.out, "config.json", config);
    else
        json_decref(config);
    if (!rc)
        rc = write_json(o.out, "tokenizer_config.json", tok_config);
    else
        json_decref(tok_config);
    if (!rc)
        rc = write_weights(&o, a, n_vocab);
    if (!rc)
        rc = write_corpus(&o);
    if (rc)
        return cli_fail("synth", rc);
    printf("wrote %s: %s, %lld layers, dim %lld, ff %lld, heads %lld/%lld, vocab %lld, seed %llu, %s; corpus.txt %lld lines\n",
           o.out, a->name, (long long)o.layers, (long long)o.dim, (long long)o.ff, (long long)o.heads, (long long)o.kv_heads,
           (long long)n_vocab, (unsigned long long)o.seed, o.f32 ? "F32" : "F16", (long long)o.corpus_lines);
    return EXIT_OK;
}

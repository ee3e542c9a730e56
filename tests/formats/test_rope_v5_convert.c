/* test_rope_v5_convert.c — end to end through `ingot convert`:
 *   1. an HF folder whose config.json is in transformers v5's form (rope_parameters) converts to
 *      the same GGUF as the folder with the old keys (rope_theta), every key but ingot's own
 *      provenance (which hashes config.json) and every tensor byte alike;
 *   2. a config whose old and new keys disagree exits 2 naming both, and writes nothing;
 *   3. a GGUF source's vocabulary holds tokenizer.chat_template, and a GGUF -> GGUF conversion
 *      keeps it (cmd_convert copies a GGUF source's keys as they are; this guards both).
 * The folders come from `ingot synth` (test_synth_f32_model); the expected values are the
 * configs' own (the theta written into them, the template text written into them).
 */
#include "../test_util.h"

#include "common/ig_error.h"
#include "formats/gguf.h"
#include "formats/vocab.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Rewrite folder/config.json: drop rope_theta and, when v5, put theta into rope_parameters;
 * also_old keeps a top-level rope_theta of old_theta beside it. */
static void write_config(const char *folder, double theta, bool v5, bool also_old, double old_theta)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/config.json", folder);
    json_error_t err;
    json_t *c = json_load_file(path, 0, &err);
    cr_assert(c, "%s: %s", path, err.text);
    json_object_del(c, "rope_theta");
    if (v5)
        json_object_set_new(c, "rope_parameters", json_pack("{s:s, s:f}", "rope_type", "default", "rope_theta", theta));
    if (!v5 || also_old)
        json_object_set_new(c, "rope_theta", json_real(v5 ? old_theta : theta));
    cr_assert_eq(json_dump_file(c, path, JSON_INDENT(2)), 0);
    json_decref(c);
}

static void convert(const char *src, const char *out, const char *type, int want_exit, struct test_run *r)
{
    const char *argv[] = {"convert", src, "-o", out, "--type", type, NULL};
    test_run_ingot(r, argv);
    cr_assert_eq(r->exit_code, want_exit, "convert %s -> %s: exit %d, expected %d: %s", src, out, r->exit_code,
                 want_exit, r->err);
}

static struct gguf_file *open_gguf(const char *path)
{
    struct gguf_file *g = NULL;
    cr_assert_eq(gguf_open(&g, path), 0, "%s", ig_error_message());
    return g;
}

/* A string key's value (heap, caller frees), or NULL when the key is absent. */
static char *gguf_string(const struct gguf_file *g, const char *key)
{
    const struct gguf_kv *kv = gguf_kv_at(g, gguf_find_key(g, key));
    if (!kv)
        return NULL;
    char *buf = malloc((size_t)kv->value_bytes + 1);
    cr_assert(buf);
    cr_assert_eq(gguf_get_str(g, key, buf, (size_t)kv->value_bytes + 1), 0, "%s", ig_error_message());
    return buf;
}

static bool starts_with(const struct gguf_str *s, const char *prefix)
{
    size_t n = strlen(prefix);
    return s->len >= n && memcmp(s->data, prefix, n) == 0;
}

Test(rope_v5_convert, v5_config_converts_to_the_same_gguf)
{
    const char *old = test_synth_f32_model("256");
    const char *v5 = test_synth_f32_model("256");   /* the same seed: the same weights */
    write_config(old, 500000.0, false, false, 0);
    write_config(v5, 500000.0, true, false, 0);
    char a_path[4300], b_path[4300];
    snprintf(a_path, sizeof a_path, "%s/old.gguf", old);
    snprintf(b_path, sizeof b_path, "%s/v5.gguf", v5);
    struct test_run r;
    convert(old, a_path, "Q8_0", 0, &r);
    convert(v5, b_path, "Q8_0", 0, &r);
    struct gguf_file *a = open_gguf(a_path), *b = open_gguf(b_path);
    float theta = 0;
    cr_assert_eq(gguf_get_f32(b, "llama.rope.freq_base", &theta), 0, "%s", ig_error_message());
    cr_expect_eq(theta, 500000.0f, "the v5 config's theta, not the 10000 default");
    int64_t compared = 0;
    for (int64_t i = 0; i < gguf_n_kv(a); i++) {
        const struct gguf_kv *ka = gguf_kv_at(a, i);
        if (starts_with(&ka->key, "ingot."))
            continue;   /* provenance: hashes of the source files, config.json among them */
        char key[256];
        snprintf(key, sizeof key, "%.*s", (int)ka->key.len, ka->key.data);
        const struct gguf_kv *kb = gguf_kv_at(b, gguf_find_key(b, key));
        cr_assert(kb, "key '%s' is missing from the v5 conversion", key);
        cr_expect(ka->type == kb->type && ka->value_bytes == kb->value_bytes &&
                      memcmp(ka->value, kb->value, (size_t)ka->value_bytes) == 0,
                  "key '%s' differs", key);
        compared++;
    }
    cr_expect_geq(compared, 20);
    cr_assert_eq(gguf_n_tensors(a), gguf_n_tensors(b));
    for (int64_t i = 0; i < gguf_n_tensors(a); i++) {
        const struct gguf_tensor_info *ta = gguf_tensor_at(a, i), *tb = gguf_tensor_at(b, i);
        cr_expect_str_eq(ta->name, tb->name);
        cr_expect(ta->type == tb->type && ta->size_bytes == tb->size_bytes &&
                      memcmp(ta->data, tb->data, (size_t)ta->size_bytes) == 0,
                  "tensor '%s' differs", ta->name);
    }
    gguf_close(a);
    gguf_close(b);
}

Test(rope_v5_convert, disagreeing_forms_exit_2_and_write_nothing)
{
    const char *d = test_synth_f32_model("256");
    write_config(d, 1000000.0, true, true, 500000.0);
    char out[4300];
    snprintf(out, sizeof out, "%s/out.gguf", d);
    struct test_run r;
    convert(d, out, "F16", 2, &r);
    cr_expect(strstr(r.err, "'rope_theta'") && strstr(r.err, "'rope_parameters.rope_theta'"), "stderr: %s", r.err);
    cr_expect_neq(access(out, F_OK), 0, "no output file after a refusal");
}

/* A Qwen-style template with a quote, a newline and non-ASCII text, so a byte-exact copy is seen. */
static const char template_text[] =
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant \xc3\xa9\n{% endif %}";

Test(rope_v5_convert, gguf_to_gguf_keeps_the_chat_template)
{
    const char *d = test_synth_f32_model("256");
    char path[4300], f16[4300], q4[4300];
    snprintf(path, sizeof path, "%s/tokenizer_config.json", d);
    json_t *tc = json_load_file(path, 0, NULL);
    cr_assert(tc);
    json_object_set_new(tc, "chat_template", json_string(template_text));
    cr_assert_eq(json_dump_file(tc, path, JSON_INDENT(2)), 0);
    json_decref(tc);
    snprintf(f16, sizeof f16, "%s/f16.gguf", d);
    snprintf(q4, sizeof q4, "%s/q4.gguf", d);
    struct test_run r;
    convert(d, f16, "F16", 0, &r);
    convert(f16, q4, "Q4_0", 0, &r);
    struct gguf_file *g = open_gguf(f16);
    char *t = gguf_string(g, "tokenizer.chat_template");
    cr_assert(t, "the HF -> GGUF conversion wrote no template");
    cr_expect_str_eq(t, template_text);
    free(t);
    /* a GGUF source's vocabulary holds it (gguf_model.c), as an HF folder's does, so whatever
     * writes a source's vocabulary (gguf_meta_write_vocab) writes the template too */
    struct vocab v;
    vocab_init(&v);
    cr_assert_eq(gguf_vocab_read(g, &v), 0, "%s", ig_error_message());
    cr_assert(v.chat_template, "gguf_vocab_read left tokenizer.chat_template out");
    cr_expect_str_eq(v.chat_template, template_text);
    vocab_free(&v);
    gguf_close(g);
    g = open_gguf(q4);
    t = gguf_string(g, "tokenizer.chat_template");
    cr_assert(t, "the GGUF -> GGUF conversion dropped tokenizer.chat_template");
    cr_expect_str_eq(t, template_text);
    free(t);
    gguf_close(g);
}

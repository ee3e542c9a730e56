/* test_inspect_escape.c — `ingot inspect` shows hostile names and strings safely.
 *
 * A handcrafted GGUF (built byte by byte below, as the reader's layout in formats/gguf.h
 * gives it) holds a key whose name is invalid UTF-8 with an escape sequence in it, a string
 * value with invalid UTF-8 and a terminal title sequence, and a tensor whose name clears
 * the screen. Text output escapes every control byte as \xNN; --json prints the whole
 * document with U+FFFD for invalid bytes and says so in "warnings", on stderr too.
 */
#include "../test_util.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

struct buf {
    uint8_t b[4096];
    size_t n;
};

static void put(struct buf *b, const void *p, size_t n)
{
    memcpy(b->b + b->n, p, n);
    b->n += n;
}
static void put_u32(struct buf *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(struct buf *b, uint64_t v) { put(b, &v, 8); }
static void put_str(struct buf *b, const char *s, size_t n)
{
    put_u64(b, n);
    put(b, s, n);
}

#define BAD_KEY "bad.\xff\x1b[31mkey"
#define BAD_VAL "ab\xff" "cd\x1b]0;title\x07"
#define BAD_TENSOR "t\x1b[2J.weight"

static const char *write_hostile(void)
{
    static char path[4200];
    static struct buf b;
    b.n = 0;
    put(&b, "GGUF", 4);
    put_u32(&b, 3);
    put_u64(&b, 1);   /* tensors */
    put_u64(&b, 3);   /* keys */
    put_str(&b, "general.architecture", 20);
    put_u32(&b, 8);   /* STRING */
    put_str(&b, "llama", 5);
    put_str(&b, BAD_KEY, sizeof BAD_KEY - 1);
    put_u32(&b, 4);   /* UINT32 */
    put_u32(&b, 7);
    put_str(&b, "x.str", 5);
    put_u32(&b, 8);
    put_str(&b, BAD_VAL, sizeof BAD_VAL - 1);
    put_str(&b, BAD_TENSOR, sizeof BAD_TENSOR - 1);
    put_u32(&b, 1);   /* n_dims */
    put_u64(&b, 4);   /* ne[0] */
    put_u32(&b, 0);   /* F32 */
    put_u64(&b, 0);   /* offset */
    while (b.n % 32)
        b.b[b.n++] = 0;
    float data[4] = {1, 2, 3, 4};
    put(&b, data, sizeof data);
    snprintf(path, sizeof path, "%s/hostile.gguf", test_tmp_dir());
    cr_assert_eq(test_write_file(path, b.b, b.n), 0);
    return path;
}

static bool has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 && *s != '\n')
            return true;
    return false;
}

Test(inspect_escape, text_escapes_control_bytes_of_names_and_values)
{
    const char *path = write_hostile();
    struct test_run r;
    const char *argv[] = {"inspect", path, NULL};
    test_run_ingot(&r, argv);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_expect(!has_control(r.out), "no control byte reaches the terminal: %s", r.out);
    cr_expect_null(strchr(r.out, '\xff'), "invalid UTF-8 is escaped");
    cr_expect(strstr(r.out, "bad.\\xff\\x1b[31mkey"), "%s", r.out);
    cr_expect(strstr(r.out, "\"ab\\xffcd\\x1b]0;title\\x07\""), "%s", r.out);
    cr_expect(strstr(r.out, "t\\x1b[2J.weight"), "%s", r.out);
}

Test(inspect_escape, json_replaces_invalid_utf8_and_warns)
{
    const char *path = write_hostile();
    struct test_run r;
    const char *argv[] = {"inspect", "--json", path, NULL};
    test_run_ingot(&r, argv);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    json_error_t e;
    json_t *j = json_loads(r.out, 0, &e);
    cr_assert_not_null(j, "the whole document is printed: %s (%s)", e.text, r.out);
    json_t *meta = json_object_get(j, "metadata");
    cr_expect_eq(json_object_size(meta), 3, "no key is dropped");
    json_t *k = json_object_get(meta, "bad.\xef\xbf\xbd\x1b[31mkey");
    cr_expect(json_is_integer(k) && json_integer_value(k) == 7, "the key under its U+FFFD name");
    cr_expect_str_eq(json_string_value(json_object_get(meta, "x.str")), "ab\xef\xbf\xbd" "cd\x1b]0;title\x07");
    json_t *t0 = json_array_get(json_object_get(j, "tensors"), 0);
    cr_expect_str_eq(json_string_value(json_object_get(t0, "name")), BAD_TENSOR);
    json_t *w = json_object_get(j, "warnings");
    cr_assert(json_is_array(w));
    cr_expect_eq(json_array_size(w), 2, "the key's name and x.str's value");
    cr_expect(strstr(json_string_value(json_array_get(w, 0)), "the name of metadata key 1"));
    cr_expect(strstr(json_string_value(json_array_get(w, 1)), "metadata key 'x.str'") &&
              strstr(json_string_value(json_array_get(w, 1)), "U+FFFD"));
    cr_expect(strstr(r.err, "warning") && strstr(r.err, "x.str"), "%s", r.err);
    json_decref(j);
}

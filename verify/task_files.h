/* task_files.h — task files into items: every option of an item is a (context, continuation)
 * pair whose continuation is scored given its context (tasks.h does the scoring).
 *
 * A task is named KIND:PATH or PATH (the kind then comes from the file's first line):
 *   1. hellaswag — llama.cpp's HellaSwag text format, 6 lines per item: "activity_label: ctx",
 *      the gold ending 0..3, then four endings. Option j = (ctx, " " + ending_j); category =
 *      the activity label (the text before the first ": ").
 *   2. mc — multiple-choice JSON lines, one item a line, in one of three schemas:
 *      {query, choices[], gold}            option j = (query, " " + choices[j])  (ARC, BoolQ,
 *                                           COPA, OpenBookQA as llm-foundry ships them)
 *      {context_options[], continuation, gold}  option j = (context_options[j], " " + continuation):
 *                                           partial scoring, the shared continuation given each
 *                                           context (WinoGrande)
 *      {goal, sol1, sol2} (PIQA)            option j = ("Question: " + goal + "\nAnswer:", " " + sol_j);
 *                                           gold from an integer field "label", else from the labels
 *                                           file beside it: NAME.jsonl → NAME-labels.lst, one 0/1 a line.
 *      An optional string field "category" groups items into tiers.
 *   3. cls — classification JSON lines {text, label}. A first line {"labels": [...]} (optionally
 *      with "verbalizers": [...], one string per label; default " " + label) gives the label
 *      list; without it the labels are those seen, sorted by strcmp. Option j = (text,
 *      verbalizer_j); category = the gold label.
 *   4. lambada — JSON lines {context, continuation}: one option (context, " " + continuation),
 *      correct when the greedy continuation equals it.
 *   5. cloze — any plain text (held-out TinyStories): cloze_build (cloze.h) with seed
 *      TASK_CLOZE_SEED, TASK_CLOZE_ITEMS items, 4 choices, 400 context bytes, read as mc.
 * Empty JSON lines are skipped. Every fault is IG_EINVAL with "FILE:LINE: field 'F': ..." .
 */
#ifndef VERIFY_TASK_FILES_H
#define VERIFY_TASK_FILES_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum task_kind {
    TASK_KIND_AUTO = 0,
    TASK_KIND_HELLASWAG,
    TASK_KIND_MC,
    TASK_KIND_CLS,
    TASK_KIND_LAMBADA,
    TASK_KIND_CLOZE,   /* plain text → last-word cloze (cloze.h), then scored as mc */
};

/* cloze:PATH builds with these (cloze.h); `ingot task make-cloze` takes others. */
#define TASK_CLOZE_SEED 1
#define TASK_CLOZE_ITEMS 500

struct task_option {
    char *context;        /* owned, NUL-terminated */
    char *continuation;   /* owned */
};

struct task_item {
    int64_t line;                  /* 1-based line in the file (HellaSwag: the item's first line) */
    int64_t index;                 /* position in the file, 0-based (stays put under selection) */
    int32_t n_options;
    int32_t gold;                  /* 0 .. n_options-1 */
    int32_t category;              /* into task_set.categories, or -1 */
    struct task_option *options;   /* [n_options], owned */
};

struct task_set {
    char *path;                    /* as given, without the KIND: prefix */
    char *name;                    /* base name without folder and extensions */
    enum task_kind kind;
    const char *schema;            /* "hellaswag", "query_choices", "winogrande", "piqa", "cls", "lambada" */
    int64_t n_items;
    struct task_item *items;       /* [n_items] */
    int64_t n_categories;
    char **categories;             /* [n_categories], in order of first appearance */
    int32_t n_labels;              /* cls: the labels, else 0 */
    char **labels;                 /* [n_labels] */
};

/* Load spec ("hellaswag:PATH", "mc:PATH", "cls:PATH", "lambada:PATH", "cloze:PATH" or "PATH").
 * Returns 0, IG_EINVAL naming the file, line and field, IG_EIO (unreadable) or IG_ENOMEM;
 * *out is NULL on failure. */
int task_set_load(struct task_set **out, const char *spec);

/* Release; accepts NULL. */
void task_set_destroy(struct task_set *t);

/* Keep `limit` items chosen as llama-perplexity chooses HellaSwag tasks: mt19937(1); draw
 * k = uniform(0, remaining − 1) over the items not drawn yet (in file order), take it and
 * erase it, so the items after it move down one slot (perplexity.cpp's prompt_lines.erase).
 * (peers/README.md says the last item moves into the slot instead; that order does not
 * reproduce llama-perplexity's running figures on tl3m, the erase order does.) Items end
 * up in draw order. limit <= 0 or >= n_items keeps every item in file order. O(limit·n). */
void task_set_select(struct task_set *t, int64_t limit);

/* "hellaswag", "mc", "cls", "lambada", "cloze". */
const char *task_kind_name(enum task_kind k);

#ifdef __cplusplus
}
#endif

#endif /* VERIFY_TASK_FILES_H */

/* state.h — the resume state of a batch: which jobs finished, with what fingerprint.
 *
 * One JSON file beside the outputs, ingot-batch.state.json (a shard writes
 * ingot-batch.state.<I>-of-<N>.json, so shards sharing a folder never write one file),
 * maps each job (its output file name) to {fingerprint, status, convert, figures}:
 *   status "running"  written before the job's convert starts;
 *   status "done"     written after it exits 0, with convert's JSON report;
 *   figures           verify's figures for the container, once measured.
 * Every update rewrites the file atomically (temp file, fsync, rename, fsync of the folder),
 * so a kill leaves the previous state or the new one. Lookups read every state file in the
 * folder, so a rerun with another shard split still finds finished work.
 */
#ifndef BATCH_STATE_H
#define BATCH_STATE_H

struct batch_state;
struct json_t;

/* Open the state in folder dir (created if missing), writing to file_name inside it and
 * reading every ingot-batch.state*.json there. Returns 0, IG_EIO, or IG_EINVAL for a state
 * file that is not ingot's JSON (naming it). *st is freed by batch_state_close. */
int batch_state_open(struct batch_state **st, const char *dir, const char *file_name);

/* The entry for job, or NULL (borrowed; valid until the next put or close). */
struct json_t *batch_state_get(const struct batch_state *st, const char *job);

/* Replace job's entry with entry (reference stolen) and rewrite the file atomically.
 * Returns 0 or IG_EIO naming the file. */
int batch_state_put(struct batch_state *st, const char *job, struct json_t *entry);

void batch_state_close(struct batch_state *st);

/* Write j to path atomically (path.tmp.<pid>, fsync, rename, fsync of the folder); does
 * not take j's reference. Returns 0 or IG_EIO. */
int batch_json_write_atomic(const struct json_t *j, const char *path);

/* Write text to path atomically, as above. Returns 0 or IG_EIO. */
int batch_text_write_atomic(const char *text, const char *path);

#endif /* BATCH_STATE_H */

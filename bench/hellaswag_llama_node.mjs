// hellaswag_llama_node.mjs — llama.cpp's HellaSwag throughput (items/s) and acc_norm, scored
// as `llama-perplexity --hellaswag` scores it, for comparison with `ingot verify --tasks
// hellaswag:FILE` (bench/bench_hellaswag.sh). Uses the prebuilt libllama of the npm package
// node-llama-cpp (not part of ingot; install it yourself: `npm install node-llama-cpp@3.22.1`).
//
// usage: node bench/hellaswag_llama_node.mjs MODEL.gguf HELLASWAG.txt N_TASKS THREADS  -> one JSON line
//   env HS_DRAW=lemire|scaling  how uniform_int_distribution<size_t>(0, remaining-1) turns an
//                               mt19937 output into an index (default lemire: libstdc++ >= 10's
//                               _S_nd, which ingot's verify/mt19937.c implements; scaling: the
//                               older two-division form)
//   env HS_MODE=decode          the same llama_decode calls (same batches, same KV copies) through
//                               evaluateWithoutGeneratingNewTokens, no log-probs read: llama.cpp's
//                               decode time without node-llama-cpp's per-token sampleToken calls
//                               (an upper bound on its speed; acc_norm is null)
//   env HS_DUMP=FILE            write the chosen task numbers (0-based, file order) and scores
//
// What it does, as llama-perplexity's hellaswag_score() does:
//  * the text is 6 lines per task (context, gold, 4 endings); N_TASKS tasks are drawn with
//    std::mt19937(1), each draw erased from the remaining list (later ones shift down);
//  * candidate i = tokenize(context + " " + ending_i) with BOS; cp = common prefix of the 4;
//  * score_i = mean over the tokens after cp of log p(token) (the first from the prefix's last
//    logit); acc_norm = fraction of tasks whose first argmax is the gold ending.
// Layout: llama-perplexity (default -np, so 4 sequences = 1 task per llama_decode) puts the
// prefix once in the batch with seq ids {0,1,2,3} and each ending's tokens on its own seq id.
// node-llama-cpp gives one seq id per token, so here each task is TWO llama_decode calls:
// the prefix on sequence 0 (logits of its last token only), a KV copy of it to sequences 1-3
// (llama_memory_seq_cp through node-llama-cpp's copySequenceStateFromOtherSequence), then the
// 4 endings in one batch on sequences 0-3 (logits of every token but the last). The tokens
// evaluated are exactly llama-perplexity's. Log-probs come from node-llama-cpp's sampleToken
// (logit of the next token, the max logit and Σexp(logit - max) over the vocabulary, one
// native call per scored token), so the JS layer's per-token cost is included in the time.
// The time covers tokenization and scoring of all N tasks (not loading the model); tokenize_s
// is the part spent in tokenization.
import {getLlama} from "node-llama-cpp";
import {readFileSync, writeFileSync} from "node:fs";

const [,, modelPath, hsPath, nTasksArg, threadsArg] = process.argv;
if (!modelPath || !hsPath || !nTasksArg || !threadsArg) {
  console.error("usage: node hellaswag_llama_node.mjs MODEL.gguf HELLASWAG.txt N_TASKS THREADS");
  process.exit(2);
}
const threads = Number(threadsArg);
const draw = process.env.HS_DRAW || "lemire";
const decodeOnly = process.env.HS_MODE === "decode";

// ---- std::mt19937 and libstdc++'s uniform_int_distribution -------------------------------
class MT19937 {
  constructor(seed) {
    this.x = new Uint32Array(624); this.x[0] = seed >>> 0;
    for (let i = 1; i < 624; i++) {
      const p = this.x[i - 1] ^ (this.x[i - 1] >>> 30);
      this.x[i] = (Math.imul(1812433253, p) + i) >>> 0;
    }
    this.i = 624;
  }
  next() {
    if (this.i >= 624) {
      const x = this.x;
      for (let k = 0; k < 624; k++) {
        const y = (x[k] & 0x80000000) | (x[(k + 1) % 624] & 0x7fffffff);
        x[k] = (x[(k + 397) % 624] ^ (y >>> 1) ^ ((y & 1) ? 0x9908b0df : 0)) >>> 0;
      }
      this.i = 0;
    }
    let z = this.x[this.i++];
    z ^= z >>> 11; z ^= (z << 7) & 0x9d2c5680; z ^= (z << 15) & 0xefc60000; z ^= z >>> 18;
    return z >>> 0;
  }
}
// index in [0, n) for uniform_int_distribution<size_t>(0, n-1), n < 2^32
function uniform(g, n) {
  if (draw === "scaling") {   // __urngrange / __uerange, reject at or past uerange * scaling
    const scaling = Math.floor(0xffffffff / n), past = n * scaling;
    let r; do r = g.next(); while (r >= past);
    return Math.floor(r / scaling);
  }
  const N = BigInt(n);   // _S_nd (Lemire): 64-bit product, reject low < (2^32 - n) mod n
  let prod = BigInt(g.next()) * N, low = prod & 0xffffffffn;
  if (low < N) {
    const thr = ((1n << 32n) - N) % N;
    while (low < thr) { prod = BigInt(g.next()) * N; low = prod & 0xffffffffn; }
  }
  return Number(prod >> 32n);
}

// ---- the tasks ----------------------------------------------------------------------------
const lines = readFileSync(hsPath, "utf8").split("\n");
if (lines.length && lines[lines.length - 1] === "") lines.pop();
if (lines.length % 6) { console.error(`${hsPath}: ${lines.length} lines, not a multiple of 6`); process.exit(2); }
const total = lines.length / 6;
const nTasks = Math.min(Number(nTasksArg), total);
const remaining = Array.from({length: total}, (_, i) => i);
const g = new MT19937(1);
const chosen = [];
for (let k = 0; k < nTasks; k++) {
  const j = uniform(g, remaining.length);
  chosen.push(remaining[j]);
  remaining.splice(j, 1);
}

// ---- llama.cpp ----------------------------------------------------------------------------
const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
const model = await llama.loadModel({modelPath});
const bos = model.tokens.bos;
const addBos = bos != null && model.tokens.shouldPrependBosToken !== false;
const tok = text => { const t = Array.from(model.tokenize(text, false)); return addBos ? [bos, ...t] : t; };
// the longest candidate bounds the context
let maxLen = 0;
const tasks = chosen.map(t => {
  const ctxText = lines[6 * t], gold = Number(lines[6 * t + 1]);
  const endings = [2, 3, 4, 5].map(k => lines[6 * t + k]);
  return {t, ctxText, gold, endings};
});
// tokenizing here once only to size the context; the timed loop tokenizes again, as llama-perplexity does
for (const k of tasks) for (const e of k.endings) maxLen = Math.max(maxLen, tok(k.ctxText + " " + e).length);
const ctxSize = 4 * (maxLen + 8);
const ctx = await model.createContext({contextSize: ctxSize, batchSize: ctxSize, sequences: 4, threads});
const seqs = [0, 1, 2, 3].map(() => ctx.getSequence());

const logprobFrom = (out, next) => {
  const lg = out.next.logits;
  // the greedy sampler's pick (includeSelected) is the argmax, so the largest value here is the
  // max logit; includeMax is not used: this version adds the max only when it is already listed
  const max = Math.max(...lg.values());
  return lg.get(next) - max - Math.log(out.next.totalLogitWeight);
};
const want = next => ({generateNext: {logits: {filter: {tokens: [next], includeSelected: true}}, totalLogitWeight: true}});

let correct = 0, tokensEvaluated = 0, tokenizeNs = 0n;
const dump = [];
const t0 = process.hrtime.bigint();
for (const k of tasks) {
  const tt = process.hrtime.bigint();
  const cand = k.endings.map(e => tok(k.ctxText + " " + e));
  tokenizeNs += process.hrtime.bigint() - tt;
  let cp = 0;
  for (;; cp++) {
    const c0 = cand[0][cp];
    if (c0 === undefined || cand.some(c => c[cp] !== c0)) break;
  }
  const P = Math.min(cp, ...cand.map(c => c.length - 1));   // keep at least one token per ending
  await Promise.all(seqs.map(s => s.clearHistory()));
  if (decodeOnly) {
    await seqs[0].evaluateWithoutGeneratingNewTokens(cand[0].slice(0, P));
    tokensEvaluated += P;
    for (let s = 1; s < 4; s++) await seqs[s]._copyStateFromOtherSequence(seqs[0], P);
    await Promise.all(cand.map((c, s) => { tokensEvaluated += c.length - P - 1; return seqs[s].evaluateWithoutGeneratingNewTokens(c.slice(P, -1)); }));
    continue;
  }
  // decode 1: the common prefix on sequence 0, logits of its last token (scores each ending's token P)
  const prefixIn = cand[0].slice(0, P).map((x, i) => i === P - 1 ? [x, {generateNext: {logits: {filter: {tokens: [...new Set(cand.map(c => c[P]))], includeSelected: true}}, totalLogitWeight: true}}] : x);
  const prefixOut = await seqs[0].controlledEvaluate(prefixIn);
  tokensEvaluated += P;
  for (let s = 1; s < 4; s++) await seqs[s]._copyStateFromOtherSequence(seqs[0], P);
  // decode 2: the 4 endings in one batch, one sequence each
  const outs = await Promise.all(cand.map((c, s) => {
    const rest = c.slice(P);
    tokensEvaluated += rest.length - 1;
    return seqs[s].controlledEvaluate(rest.slice(0, -1).map((x, i) => [x, want(rest[i + 1])]));
  }));
  const scores = cand.map((c, s) => {
    let sum = logprobFrom(prefixOut[P - 1], c[P]), n = 1;
    for (let i = 0; i < c.length - P - 1; i++, n++) sum += logprobFrom(outs[s][i], c[P + 1 + i]);
    return sum / n;
  });
  let best = 0;
  for (let s = 1; s < 4; s++) if (scores[s] > scores[best]) best = s;
  if (best === k.gold) correct++;
  if (process.env.HS_DUMP) dump.push({task: k.t, gold: k.gold, pred: best, cp: P, scores});
}
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
if (process.env.HS_DUMP) writeFileSync(process.env.HS_DUMP, dump.map(d => JSON.stringify(d)).join("\n") + "\n");
console.log(JSON.stringify({
  bench: decodeOnly
    ? "llama.cpp HellaSwag decode only, no log-probs read (node-llama-cpp 3.22.1 libllama; prefix decode + seq copy + 4-ending decode per task)"
    : "llama.cpp HellaSwag, llama-perplexity scoring (node-llama-cpp 3.22.1 libllama; prefix decode + seq copy + 4-ending decode per task)",
  model: modelPath, n_tasks: nTasks, threads, draw, acc_norm: decodeOnly ? null : correct / nTasks, seconds,
  items_per_s: nTasks / seconds, tokenize_s: Number(tokenizeNs) / 1e9, tokens_evaluated: tokensEvaluated,
}));
await ctx.dispose(); await model.dispose(); await llama.dispose();

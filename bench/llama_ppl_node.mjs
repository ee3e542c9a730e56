// llama_ppl_node.mjs — llama.cpp's perplexity of a GGUF on a text, windowed as llama-perplexity
// windows it, and (with a second model) the KL divergence of the first model's next-token
// distribution from the second's; also prints a few raw logits, for tests that pin llama.cpp's
// arithmetic on a new architecture. Uses the prebuilt libllama of the npm package node-llama-cpp
// (not part of ingot: `npm install node-llama-cpp@3.22.1`, run from the folder holding it).
//
// usage: node llama_ppl_node.mjs TEXT N_CTX MAX_CHUNKS MODEL.gguf [BASE.gguf]   -> one JSON line
//   ppl, ppl_stderr: llama-perplexity's "Final estimate" (shared/reference/gguf-facts.md, section 6):
//     the text tokenized once with add_special, chunks of N_CTX tokens, the first token of each
//     replaced by BOS when the vocabulary adds one, the second half of each chunk scored
//   kld_mean, same_top_pct (BASE given): over the same scored positions, Σ p_base (log p_base -
//     log p), in double from both models' full fp32 logits (llama-perplexity quantizes the base's
//     log-probs to 16 bits first; the difference is far below the tests' tolerances)
//   logits: the first 8 logits at positions 0, 1, N_CTX/2 - 1 and N_CTX-2 of chunk 0 (MODEL); the
//     last position is left out: node-llama-cpp's logits there are not the model's alone. Keys
//     and values are cached in F16 (llama.cpp's default), which moves logits by ~1e-4
import {getLlama} from "node-llama-cpp";
import {readFileSync} from "node:fs";

const [,, textPath, nCtxArg, maxChunksArg, modelPath, basePath] = process.argv;
if (!textPath || !nCtxArg || !maxChunksArg || !modelPath) {
  console.error("usage: node llama_ppl_node.mjs TEXT N_CTX MAX_CHUNKS MODEL.gguf [BASE.gguf]");
  process.exit(2);
}
const C = Number(nCtxArg);
const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});

// log-softmax of every scored position of every chunk: [chunk][pos - first] -> Float64Array
async function run(path, chunksIn) {
  const model = await llama.loadModel({modelPath: path});
  const bos = model.tokens.bos;
  const addBos = bos != null && model.tokens.shouldPrependBosToken !== false;
  let chunks = chunksIn;
  if (!chunks) {
    const t = Array.from(model.tokenize(readFileSync(textPath, "utf8"), false));
    const toks = addBos ? [bos, ...t] : t;
    const n = Math.min(Number(maxChunksArg), Math.floor(toks.length / C));
    chunks = [];
    for (let k = 0; k < n; k++) chunks.push(toks.slice(k * C, (k + 1) * C));
  }
  const ctx = await model.createContext({contextSize: C, batchSize: C, sequences: 1, threads: 2});
  const seq = ctx.getSequence();
  const out = [], firstLogits = [];
  for (const [k, chunk] of chunks.entries()) {
    const input = chunk.slice();
    if (addBos) input[0] = bos;   // llama-perplexity replaces, it does not insert
    await seq.clearHistory();
    const res = await seq.controlledEvaluate(input.map(t => [t, {generateNext: {logits: true}}]));
    const rows = [];
    for (let p = 0; p < C; p++) {
      const m = res[p].next.logits;   // Map token -> logit, every token
      const v = new Float64Array(model.tokens.length ?? m.size);
      for (const [tok, x] of m) v[tok] = x;
      if (k === 0 && (p === 0 || p === 1 || p === C / 2 - 1 || p === C - 2)) firstLogits.push({pos: p, logits: Array.from(v.slice(0, 8))});
      if (p < C / 2 || p === C - 1) continue;
      let max = -Infinity;
      for (const x of v) max = Math.max(max, x);
      let s = 0;
      for (const x of v) s += Math.exp(x - max);
      const lse = max + Math.log(s);
      rows.push(v.map(x => x - lse));
    }
    out.push(rows);
  }
  await ctx.dispose();
  await model.dispose();
  return {chunks, logp: out, firstLogits};
}

const a = await run(modelPath, null);
let nll = 0, nll2 = 0, n = 0;
for (const [k, chunk] of a.chunks.entries())
  for (const [i, lp] of a.logp[k].entries()) {
    const tok = chunk[C / 2 + i + 1];
    nll += -lp[tok]; nll2 += lp[tok] * lp[tok]; n++;
  }
const m = nll / n, v = nll2 / n - m * m;
const result = {tool: "llama.cpp via node-llama-cpp 3.22.1 libllama", model: modelPath, text: textPath, n_ctx: C,
                chunks: a.chunks.length, scored: n, ppl: Math.exp(m), ppl_stderr: Math.exp(m) * Math.sqrt(v / (n - 1)),
                logits: a.firstLogits};
if (basePath) {
  const b = await run(basePath, a.chunks);
  let kld = 0, same = 0;
  for (const [k] of a.chunks.entries())
    for (const [i, lq] of a.logp[k].entries()) {
      const lb = b.logp[k][i];
      let s = 0, aq = 0, ab = 0;
      for (let t = 0; t < lb.length; t++) {
        s += Math.exp(lb[t]) * (lb[t] - lq[t]);
        if (lq[t] > lq[aq]) aq = t;
        if (lb[t] > lb[ab]) ab = t;
      }
      kld += s; same += aq === ab;
    }
  result.base = basePath;
  result.kld_mean = kld / n;
  result.same_top_pct = 100 * same / n;
}
console.log(JSON.stringify(result));

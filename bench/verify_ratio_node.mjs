// verify_ratio_node.mjs — llama.cpp's side of bench/bench_verify_ratio.sh: the time to evaluate
// the first N_WINDOWS windows of N_CTX tokens of a text, laid out as llama-perplexity lays them
// out (-c N_CTX -b 2048: 2048/N_CTX windows per llama_decode, one sequence each, BOS replacing
// the first token of each window), for each model given. Uses the prebuilt libllama of the
// npm package node-llama-cpp (not part of ingot: `npm install node-llama-cpp@3.22.1`).
//
// usage: node verify_ratio_node.mjs TEXT N_CTX N_WINDOWS THREADS MODEL.gguf [MODEL.gguf ...]
//   -> one JSON line: per model the seconds of its evaluation (median of ROUNDS, env, default 3)
//      and the CPU seconds the process spent in it (cpu_s: on a loaded machine, with THREADS 1,
//      a steadier measure of the work than the wall clock)
//
// What is timed is llama_decode of every token of every window (node-llama-cpp's
// evaluateWithoutGeneratingNewTokens), not loading or tokenizing; llama-perplexity also reads
// the scored half's logits and computes log-softmax/KL over them, which is left out here, so
// the figure is an upper bound on llama.cpp's speed (in llama.cpp's favour).
import {getLlama} from "node-llama-cpp";
import {readFileSync} from "node:fs";

const [,, textPath, nCtxArg, nWinArg, threadsArg, ...models] = process.argv;
if (!textPath || !nCtxArg || !nWinArg || !threadsArg || models.length === 0) {
  console.error("usage: node verify_ratio_node.mjs TEXT N_CTX N_WINDOWS THREADS MODEL.gguf [MODEL.gguf ...]");
  process.exit(2);
}
const C = Number(nCtxArg), W = Number(nWinArg), threads = Number(threadsArg);
const rounds = Number(process.env.ROUNDS || 3);
const perBatch = Math.max(1, Math.floor(2048 / C));   // llama-perplexity's n_seq = n_batch / n_ctx
const text = readFileSync(textPath, "utf8");
const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
const out = {bench: "llama.cpp evaluation, llama-perplexity layout (node-llama-cpp 3.22.1 libllama)", text: textPath,
             n_ctx: C, windows: W, sequences_per_batch: perBatch, threads, rounds, models: []};
for (const modelPath of models) {
  const model = await llama.loadModel({modelPath});
  const toks = Array.from(model.tokenize(text, false));
  const nWin = Math.min(W, Math.floor(toks.length / C));
  const bos = model.tokens.bos;
  const windows = [];
  for (let w = 0; w < nWin; w++) {
    const t = toks.slice(w * C, (w + 1) * C);
    if (bos != null) t[0] = bos;   // llama-perplexity replaces, it does not insert
    windows.push(t);
  }
  const ctx = await model.createContext({contextSize: C * perBatch, batchSize: C * perBatch, sequences: perBatch,
                                         threads});
  const seqs = []; for (let i = 0; i < perBatch; i++) seqs.push(ctx.getSequence());
  const times = [], cpus = [];
  for (let r = 0; r < rounds + 1; r++) {   // round 0 warms up
    const t0 = process.hrtime.bigint(), c0 = process.cpuUsage();
    for (let w0 = 0; w0 < nWin; w0 += perBatch) {
      const batch = windows.slice(w0, w0 + perBatch);
      await Promise.all(batch.map((_, i) => seqs[i].clearHistory()));
      await Promise.all(batch.map((t, i) => seqs[i].evaluateWithoutGeneratingNewTokens(t)));
    }
    const s = Number(process.hrtime.bigint() - t0) / 1e9, c = process.cpuUsage(c0);
    if (r > 0) { times.push(s); cpus.push((c.user + c.system) / 1e6); }
  }
  times.sort((a, b) => a - b);
  cpus.sort((a, b) => a - b);
  out.models.push({model: modelPath, windows: nWin, tokens: nWin * C, median_s: times[Math.floor(times.length / 2)],
                   min_s: times[0], all_s: times, cpu_s: cpus[Math.floor(cpus.length / 2)]});
  await ctx.dispose();
  await model.dispose();
}
console.log(JSON.stringify(out));

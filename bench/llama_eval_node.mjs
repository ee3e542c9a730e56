// llama_eval_node.mjs — llama.cpp's evaluation throughput on one file, laid out as
// llama-perplexity lays it out (SEQ windows of N_CTX tokens in one batch), for comparison
// with bench/bench_verify. Uses the prebuilt libllama of the npm package node-llama-cpp
// (not part of ingot; install it yourself: `npm install node-llama-cpp@3.22.1`).
// usage: node bench/llama_eval_node.mjs MODEL.gguf N_CTX ROUNDS THREADS SEQ   -> one JSON line
import {getLlama} from "node-llama-cpp";
const [,, modelPath, nCtx, rounds, threads, nSeq] = process.argv;
const S = Number(nSeq), C = Number(nCtx);
const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
const model = await llama.loadModel({modelPath});
const ctx = await model.createContext({contextSize: C * S, batchSize: C * S, sequences: S, threads: Number(threads)});
const seqs = []; for (let i = 0; i < S; i++) seqs.push(ctx.getSequence());
const toks = []; let s = 12345n;
for (let i = 0; i < C; i++) { s = (s * 6364136223846793005n + 1442695040888963407n) & ((1n<<64n)-1n); toks.push(Number((s >> 33n) % 512n)); }
const times = [];
for (let w = 0; w < Number(rounds) + 1; w++) {
  await Promise.all(seqs.map(q => q.clearHistory()));
  const t0 = process.hrtime.bigint();
  await Promise.all(seqs.map(q => q.evaluateWithoutGeneratingNewTokens(toks)));
  const t = Number(process.hrtime.bigint() - t0) / 1e9;
  if (w > 0) times.push(t);
}
times.sort((a,b)=>a-b);
const med = times[Math.floor(times.length/2)];
console.log(JSON.stringify({bench:"llama.cpp batched eval, llama-perplexity layout (node-llama-cpp 3.22.1 libllama)", model: modelPath, n_ctx: C, sequences: S, threads: Number(threads), median_s: med, min_s: times[0], tokens_per_s: C*S/med}));

// llama_logits_node.mjs — llama.cpp's logits for the first window of a text, for tests that pin a
// new architecture's arithmetic position by position. The window is what llama-perplexity's first
// chunk holds: BOS, then the text tokenized without special tokens, N_CTX tokens in all, evaluated
// in one batch. Prints one line per position: the position and the logits of tokens 0..7.
// Uses the prebuilt libllama of the npm package node-llama-cpp (`npm install node-llama-cpp@3.22.1`;
// copy this file next to the node_modules holding it). The last position of the window is printed
// too, but node-llama-cpp evaluates it apart from the batch, and with a sliding-window model its
// logits differ from the batch's (seen with gemma2 and gemma3): compare positions 0 .. N_CTX - 2.
// usage: node llama_logits_node.mjs TEXT MODEL.gguf N_CTX
import {getLlama} from "node-llama-cpp";
import {readFileSync} from "node:fs";
const [,, textPath, modelPath, nCtx] = process.argv;
const C = Number(nCtx || 64);
const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
const model = await llama.loadModel({modelPath});
const t = Array.from(model.tokenize(readFileSync(textPath, "utf8"), false));
const input = [model.tokens.bos, ...t].slice(0, C);
const ctx = await model.createContext({contextSize: C, batchSize: C, sequences: 1, threads: 2});
const seq = ctx.getSequence();
const res = await seq.controlledEvaluate(input.map(x => [x, {generateNext: {logits: true}}]));
for (let p = 0; p < C; p++) {
  const m = res[p].next.logits;
  const v = [];
  for (let k = 0; k < 8; k++) v.push(m.get(k));
  console.log(p, v.map(x => x.toFixed(6)).join(" "));
}

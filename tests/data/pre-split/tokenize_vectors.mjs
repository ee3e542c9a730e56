// node tokenize_vectors.mjs MODEL.gguf INPUTS.inp OUT — llama.cpp's ids (no specials) for each input.
import {getLlama} from "node-llama-cpp";
import {readFileSync, writeFileSync} from "node:fs";
const [,, modelPath, inpPath, outPath] = process.argv;
const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
const model = await llama.loadModel({modelPath, vocabOnly: true});
const inp = readFileSync(inpPath, "utf8").split("\n__ggml_vocab_test__\n");
// the separator is the end of every case; the text after the last one is empty
if (inp[inp.length - 1] === "") inp.pop();
const lines = inp.map(t => " " + Array.from(model.tokenize(t, false)).join(" "));
writeFileSync(outPath, lines.join("\n") + "\n");
console.log(inp.length, "cases");

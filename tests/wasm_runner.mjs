// tests/ on the 32-bit WebAssembly MicroPython (`make test-wasm`): each test file in a fresh interpreter.
//
//   node tests/wasm_runner.mjs WASM_PACKAGE_DIR [--heap 256K] [--jobs N] [test_x.py ...]
//
// WASM_PACKAGE_DIR holds node_modules/@micropython/micropython-webassembly-pyscript (the Makefile installs
// it into build/wasm). The repository's tests/, firmware/, hostmodels/, tools/, boards/ and build/testdata/ are copied
// into the port's in-memory filesystem at /repo, which becomes the current directory, and tests/run.py is
// driven step by step: begin(file), then one step() per test, then finish(). Each step is its own top-level
// call because this port collects garbage only between top-level calls (inside one it grows the heap instead,
// in new areas of up to 128 MB); so the heap a file reached, printed per file, is an upper bound of what it
// needs with a collector that runs at any time, as a board's does.
// Closes with "N passed, N failed, N skipped" over all files; exits 1 on any failure.
import fs from "fs";
import path from "path";
import os from "os";
import { fork } from "child_process";
import { fileURLToPath, pathToFileURL } from "url";

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const TREES = ["tests", "firmware", "hostmodels", "tools", "boards", "build/testdata"];
const SPLIT = 128 * 1024 * 1024; // gc.mem_free() on this port counts the 128 MB a new heap area may take

function parseSize(text) {
  const m = /^(\d+)([KkMm]?)$/.exec(text);
  if (!m) throw new Error("bad heap size " + text);
  return parseInt(m[1], 10) * ({ k: 1024, m: 1048576 }[m[2].toLowerCase()] || 1);
}

function collect(dir, rel, out) {
  if (!fs.existsSync(dir)) return;
  for (const name of fs.readdirSync(dir)) {
    if (name === "__pycache__" || name.startsWith(".")) continue;
    const from = path.join(dir, name);
    const to = rel + "/" + name;
    if (fs.statSync(from).isDirectory()) {
      out.push({ dir: to });
      collect(from, to, out);
    } else if (/\.(py|json|jsonl|csv)$/.test(name)) {
      out.push({ file: to, data: fs.readFileSync(from) });
    }
  }
}

async function runFile(loadMicroPython, tree, heap, file) {
  const lines = [];
  const say = (line) => lines.push(line);
  const mp = await loadMicroPython({ heapsize: heap, stdout: say, stderr: say, linebuffer: true });
  for (const p of ["/repo", "/repo/build"]) mp.FS.mkdir(p);
  for (const e of tree) {
    if (e.dir) mp.FS.mkdir("/repo/" + e.dir);
    else mp.FS.writeFile("/repo/" + e.file, e.data);
  }
  let most = 0;
  const heapNow = () => {
    mp.runPython("import gc\n_h = gc.mem_alloc() + gc.mem_free()");
    most = Math.max(most, mp.globals.get("_h") - SPLIT);
  };
  try {
    mp.runPython("import os\nos.chdir('/repo')\nimport sys\nsys.path.insert(0, '/repo/tests')\n" +
      "sys.path.append('/repo/tests/fakes/wasm')\nimport run");
    mp.runPython(`run.begin(${JSON.stringify(file.replace(/\.py$/, ""))})`);
    for (;;) {
      heapNow();
      mp.runPython("_more = run.step()");
      if (!mp.globals.get("_more")) break;
    }
    heapNow();
    mp.runPython("run.finish()");
  } catch (err) {
    say("FAIL " + file + " (the interpreter stopped)");
    for (const l of String(err.message || err).split("\n")) say("  " + l);
    say("0 passed, 1 failed, 0 skipped");
  }
  return { lines, most };
}

async function runFiles(pkgDir, heap, files, report) {
  const entry = path.join(pkgDir, "node_modules", "@micropython", "micropython-webassembly-pyscript",
    "micropython.mjs");
  const { loadMicroPython } = await import(pathToFileURL(path.resolve(entry)).href);
  const tree = [];
  for (const t of TREES) {
    tree.push({ dir: t });
    collect(path.join(ROOT, t), t, tree);
  }
  for (const file of files) report(file, await runFile(loadMicroPython, tree, heap, file));
}

function totals(lines) {
  for (const line of lines) {
    const m = /^(\d+) passed, (\d+) failed, (\d+) skipped$/.exec(line);
    if (m) return [1, 2, 3].map((i) => parseInt(m[i], 10));
  }
  return [0, 1, 0];
}

// A child (--child): runs the files it is given and sends each result to the parent.
if (process.argv[2] === "--child") {
  const [pkgDir, heap, ...files] = process.argv.slice(3);
  await runFiles(pkgDir, parseInt(heap, 10), files, (file, result) => process.send({ file, result }));
  process.exit(0);
}

const args = process.argv.slice(2);
const pkgDir = args.shift();
let heap = 256 * 1024;
let jobs = Math.min(2, os.cpus().length);
const wanted = [];
while (args.length) {
  const a = args.shift();
  if (a === "--heap") heap = parseSize(args.shift());
  else if (a === "--jobs") jobs = parseInt(args.shift(), 10);
  else wanted.push(a);
}
if (!pkgDir || !fs.existsSync(path.join(pkgDir, "node_modules", "@micropython"))) {
  console.log("wasm_runner: no WebAssembly MicroPython under " + pkgDir + " (make test-wasm installs it)");
  process.exit(2);
}
const all = fs.readdirSync(path.join(ROOT, "tests")).filter((n) => /^test_.*\.py$/.test(n)).sort();
const files = wanted.length ? all.filter((n) => wanted.some((w) => n === w || n.includes(w.replace(/\.py$/, "")))) : all;

// Files go to `jobs` child processes round-robin (heaviest-first order is not known, so interleave).
const results = new Map();
await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, files.length)) }, (_, j) => {
  const mine = files.filter((_, i) => i % jobs === j);
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ["--child", pkgDir, String(heap), ...mine],
      { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    child.on("message", (m) => results.set(m.file, m.result));
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error("wasm runner child exited " + code))));
  });
}));

let p = 0, f = 0, s = 0;
const bad = [];
for (const file of files) {
  const r = results.get(file) || { lines: ["FAIL " + file + " (no result)"], most: 0 };
  for (const line of r.lines) if (!/^\d+ passed, /.test(line)) console.log(line);
  const [tp, tf, ts] = totals(r.lines);
  console.log(`${file}: ${tp} passed, ${tf} failed, ${ts} skipped (heap ${(r.most / 1024).toFixed(0)} KB at most)`);
  p += tp; f += tf; s += ts;
  if (tf) bad.push(file);
}
console.log(`tests/ under the 32-bit WebAssembly MicroPython: ${p} passed, ${f} failed, ${s} skipped`);
if (bad.length) console.log("failing test files: " + bad.join(" "));
process.exit(bad.length ? 1 : 0);

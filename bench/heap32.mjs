// The firmware's heap under a 32-bit MicroPython: the WebAssembly port (4-byte words, 16-byte GC blocks)
// under Node.js, for `make bench-32` (see bench/bench_heap32.py, which prepares the files and compares).
//
//   node bench/heap32.mjs MODULE_PACKAGE_DIR MPY_DIR SCRIPT [HEAP_BYTES]
//
// MODULE_PACKAGE_DIR holds node_modules/@micropython/micropython-webassembly-pyscript; MPY_DIR (bytecode .mpy
// files) is copied to /fw in the port's in-memory filesystem; SCRIPT (Python) runs with a heap of HEAP_BYTES
// (1 MB by default) and prints its figures.
// SCRIPT may be cut into steps by lines "#--step--": each step is then its own top-level call, ended by a
// gc.collect(), because this port collects garbage only between top-level calls (inside one it adds heap
// areas instead). After each step a line "heap STEP ALLOC TOTAL PEAK" gives the heap in use (collected), the
// heap's size (more than HEAP_BYTES once a step needed more than that heap held) and the heap in use at the
// step's end before the collection: its live objects plus all it allocated, an upper bound of its peak.
import fs from "fs";
import path from "path";
import { pathToFileURL } from "url";

const [pkgDir, mpyDir, scriptPath, heapArg] = process.argv.slice(2);
const entry = path.join(pkgDir, "node_modules", "@micropython", "micropython-webassembly-pyscript",
  "micropython.mjs");
const { loadMicroPython } = await import(pathToFileURL(entry).href);
const heapsize = heapArg ? parseInt(heapArg, 10) : 1024 * 1024;
const mp = await loadMicroPython({ heapsize, stdout: (line) => console.log(line), linebuffer: true });

function copy(src, dst) {
  mp.FS.mkdir(dst);
  for (const name of fs.readdirSync(src)) {
    const from = path.join(src, name);
    if (fs.statSync(from).isDirectory()) copy(from, dst + "/" + name);
    else mp.FS.writeFile(dst + "/" + name, fs.readFileSync(from));
  }
}
copy(mpyDir, "/fw");
try {
  const steps = fs.readFileSync(scriptPath, "utf8").split("\n#--step--\n");
  steps.forEach((code, i) => {
    mp.runPython(steps.length > 1 ? code + "\nimport gc\n_p = gc.mem_alloc()\ngc.collect()\n" : code);
    if (steps.length > 1) {
      mp.runPython("import gc\n_a = gc.mem_alloc()\n_t = _a + gc.mem_free() - 128 * 1024 * 1024");
      console.log(`heap ${i} ${mp.globals.get("_a")} ${mp.globals.get("_t")} ${mp.globals.get("_p")}`);
    }
  });
} catch (err) {
  console.log("ERROR " + err.message);
  process.exit(1);
}

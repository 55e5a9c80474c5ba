// The firmware's heap under a 32-bit MicroPython: the WebAssembly port (4-byte words, 16-byte GC blocks)
// under Node.js, for `make bench-32` (see bench/bench_heap32.py, which prepares the files and compares).
//
//   node bench/heap32.mjs MODULE_PACKAGE_DIR MPY_DIR SCRIPT
//
// MODULE_PACKAGE_DIR holds node_modules/@micropython/micropython-webassembly-pyscript; MPY_DIR (bytecode .mpy
// files) is copied to /fw in the port's in-memory filesystem; SCRIPT (Python) runs with a 1 MB heap and
// prints its figures.
import fs from "fs";
import path from "path";
import { pathToFileURL } from "url";

const [pkgDir, mpyDir, scriptPath] = process.argv.slice(2);
const entry = path.join(pkgDir, "node_modules", "@micropython", "micropython-webassembly-pyscript",
  "micropython.mjs");
const { loadMicroPython } = await import(pathToFileURL(entry).href);
const mp = await loadMicroPython({ heapsize: 1024 * 1024, stdout: (line) => console.log(line), linebuffer: true });

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
  mp.runPython(fs.readFileSync(scriptPath, "utf8"));
} catch (err) {
  console.log("ERROR " + err.message);
  process.exit(1);
}

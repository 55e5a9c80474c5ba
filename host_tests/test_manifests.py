"""boards/<board>/manifest.py, the frozen builds' manifests, evaluated with a stand-in of
MicroPython's manifest functions (module, package, include, freeze, require): every file they name
exists, every module a meter imports is frozen once, nothing of the tests or the unix board is, and
main.py stays a file.

MicroPython's own tools/manifestfile.py runs them during the port's build (`make BOARD=RPI_PICO
FROZEN_MANIFEST=...`, README "Memory"); it is not part of this repository, so the semantics used
here are those its documentation gives: paths relative to the manifest's folder, `$(MPY_DIR)` /
`$(PORT_DIR)` the MicroPython tree, `package(name, base_path)` = every .py under base_path/name.
"""

import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Manifest:
    def __init__(self):
        self.frozen = {}  # module name -> source path
        self.external = []  # what comes from the MicroPython tree
        self.libraries = {}  # add_library(name, path)
        self.metadata = {}  # required package -> its metadata() keywords
        self._required = [None]  # the package whose manifest runs now (None: the top-level one)
        self._visited = set()  # as MicroPython's: a manifest file included twice runs once

    def run(self, path, options=None):
        path = os.path.abspath(path)
        if path in self._visited:
            return
        self._visited.add(path)
        here = os.path.dirname(path)
        saved = os.getcwd()
        os.chdir(here)  # manifest code (os.listdir) sees paths relative to its own file
        try:
            api = {
                "module": lambda name, base_path=".", opt=None: self.module(here, name, base_path),
                "package": lambda name, files=None, base_path=".", opt=None: self.package(
                    here, name, base_path
                ),
                "include": lambda p, **kw: self.include(here, p, kw),
                "freeze": lambda p, script=None, opt=None: self.external.append(
                    ("freeze", p, script)
                ),
                "require": lambda name, library=None, **kw: self.require(name, library),
                "add_library": lambda name, p, prepend=False: self.libraries.update(
                    {name: self._local(here, p)}
                ),
                "metadata": self.set_metadata,
                "options": type("IncludeOptions", (), dict(options or {})),
            }
            with open(path) as f:
                exec(compile(f.read(), path, "exec"), api)
        finally:
            os.chdir(saved)

    def require(self, name, library):
        """As MicroPython's: {library}/**/{name}/manifest.py, with a metadata() of its own; else
        the MicroPython tree's micropython-lib."""
        if library is None:
            self.external.append(("require", name))
            return
        assert library in self.libraries, "unknown library %r" % library
        for dirpath, _dirs, files in os.walk(self.libraries[library]):
            if os.path.basename(dirpath) == name and "manifest.py" in files:
                self._required.append(name)
                try:
                    self.run(os.path.join(dirpath, "manifest.py"))
                finally:
                    self._required.pop()
                return
        raise AssertionError("package %r not found in library %r" % (name, library))

    def set_metadata(self, **kw):
        owner = self._required[-1]
        assert owner not in self.metadata, "Duplicate call to metadata() for %r" % (owner,)
        self.metadata[owner] = kw

    def _local(self, here, p):
        return None if p.startswith("$(") else os.path.normpath(os.path.join(here, p))

    def include(self, here, p, options):
        local = self._local(here, p)
        if local is None:
            self.external.append(("include", p))
        else:
            self.run(
                local if local.endswith(".py") else os.path.join(local, "manifest.py"), options
            )

    def module(self, here, name, base_path):
        base = self._local(here, base_path)
        if base is None:
            self.external.append(("module", base_path, name))
            return
        src = os.path.join(base, name)
        assert os.path.isfile(src), "manifest names a missing file: %s" % src
        self.add(name[:-3].replace("/", "."), src)

    def package(self, here, name, base_path):
        base = self._local(here, base_path)
        assert base is not None and os.path.isdir(os.path.join(base, name)), name
        for dirpath, dirnames, files in os.walk(os.path.join(base, name)):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            for f in files:
                if f.endswith(".py"):
                    rel = os.path.relpath(os.path.join(dirpath, f), base)[:-3].replace(os.sep, ".")
                    self.add(
                        rel[:-9] if rel.endswith(".__init__") else rel, os.path.join(dirpath, f)
                    )

    def add(self, mod, src):
        assert mod not in self.frozen, "%s frozen twice" % mod
        self.frozen[mod] = src


def firmware_modules():
    out = set()
    fw = os.path.join(ROOT, "firmware")
    for dirpath, dirnames, files in os.walk(fw):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for f in files:
            if f.endswith(".py"):
                rel = os.path.relpath(os.path.join(dirpath, f), fw)[:-3].replace(os.sep, ".")
                out.add(rel[:-9] if rel.endswith(".__init__") else rel)
    return out


@pytest.mark.parametrize("board", ["rp2040", "esp32"])
def test_board_manifest_freezes_the_firmware(board):
    m = Manifest()
    m.run(os.path.join(ROOT, "boards", board, "manifest.py"))
    want = firmware_modules()
    assert want <= set(m.frozen), "not frozen: %s" % sorted(want - set(m.frozen))
    assert "norflash" not in m.frozen, "the tests' NOR model is not firmware"
    assert "board" in m.frozen and m.frozen["board"] == os.path.join(
        ROOT, "boards", board, "board.py"
    )
    assert "main" not in m.frozen, "main.py stays a file (make flash --frozen copies it)"
    for mod, src in m.frozen.items():
        assert not src.startswith(os.path.join(ROOT, "tests")) and "/boards/unix/" not in src, (
            mod,
            src,
        )
        assert not src.startswith(os.path.join(ROOT, "hostmodels")), (mod, src)
    if board == "rp2040":
        assert m.frozen["_boot"] == os.path.join(ROOT, "boards", "rp2040", "_boot.py"), (
            "our _boot.py"
        )
        assert ("include", "$(MPY_DIR)/extmod/asyncio") in m.external, (
            "asyncio, as the stock build has it"
        )
        assert ("module", "$(PORT_DIR)/modules", "rp2.py") in m.external, (
            "the rp2 module's Python part"
        )
        assert not any(e[0] == "include" and "boards/manifest.py" in e[1] for e in m.external), (
            "not the port's manifest: it would freeze the stock _boot.py over the record store's "
            "sectors"
        )
    else:
        assert ("include", "$(PORT_DIR)/boards/manifest.py") in m.external


def test_frozen_set_matches_what_make_flash_installs():
    # the frozen build and a make flash install run the same firmware modules
    from ststools import flash  # tools/flash.py

    m = Manifest()
    m.run(os.path.join(ROOT, "boards", "rp2040", "manifest.py"))
    board_files = {
        f[:-3]
        for f in os.listdir(os.path.join(ROOT, "boards", "rp2040"))
        if f.endswith(".py") and f not in flash.BOARD_SKIP
    }
    assert board_files <= set(m.frozen)
    # make flash copies exactly the frozen set's modules of firmware/ and the board: nothing a
    # board does not run
    copied = {rel[:-3].replace(os.sep, ".") for _, rel in flash.sources(ROOT, "rp2040")}
    copied = {mod[:-9] if mod.endswith(".__init__") else mod for mod in copied}
    assert copied == {
        mod
        for mod, src in m.frozen.items()
        if src.startswith(os.path.join(ROOT, "firmware") + os.sep) or mod in board_files
    }


def test_every_firmware_package_has_its_manifest_with_metadata():
    """Each firmware package is frozen through boards/packages/<name>/manifest.py, whose metadata()
    carries the one version number (firmware/version.py) and a description."""
    from ststools import paths

    m = Manifest()
    m.run(os.path.join(ROOT, "boards", "rp2040", "manifest.py"))
    fw = os.path.join(ROOT, "firmware")
    packages = {d for d in os.listdir(fw) if os.path.isfile(os.path.join(fw, d, "__init__.py"))}
    assert set(m.metadata) - {None} == packages
    for name in packages:
        meta = m.metadata[name]
        assert meta["version"] == paths.version() and meta["license"] == "MIT", (name, meta)
        assert len(meta["description"]) > 20, name

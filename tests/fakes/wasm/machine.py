"""`machine` for the WebAssembly port (`make test-wasm`), which has no machine module at all.

The unix port's own machine module has no Pin, UART, I2C, disable_irq or enable_irq either; the
drivers take those as constructor arguments (tests pass tests/fakes/machine.py objects) and fall
back where the port lacks them (drivers/pulse.py). So this module is as empty as that: it only lets
`import machine` work. tests/wasm_runner.mjs appends its folder to sys.path; a port with a built-in
machine never reads it.
"""

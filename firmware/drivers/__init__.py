"""Hardware drivers for the meter: keypad, displays, optical port, relay and digital inputs.

Every driver takes ready-made `machine` objects (Pin, I2C, UART) in its constructor,
micropython-lib style, so the wiring stays in `boards/<board>/board.py` and each driver is tested
on the host against fakes. Nothing here allocates in its periodic hot path (keypad scan step,
display refresh, pulse ISR).
"""

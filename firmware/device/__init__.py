"""The composition root: ties one board's drivers, the meter and the optical server together and
runs them.

  device.boot       start-up: record store, provisioning, Meter, TokenPipeline, optical server;
  board_main
  device.runtime    Runtime: the asyncio tasks, the display policy, the class 1 test sequence
  device.texts      the display texts of short codes, class 1 test items and warnings
  device.keyentry   KeyEntry: the keypad entry state machine (digits, Enter, short codes)
  device.pipeline   TokenPipeline: one token at a time from the keypad and the optical port to the
  meter
  device.supervise  supervised tasks: a task that raises is restarted
"""

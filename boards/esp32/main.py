"""The ESP32 DevKitC meter's main (`make flash` installs it last): device.boot.board_main does the
start-up (drivers, record store with page_writes=8, provisioning, meter, optical server, tasks) and
runs the meter."""

import board
from device import boot

boot.board_main(board, page_writes=8)

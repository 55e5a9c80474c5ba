"""Load relay output: the meter's supply switch.

`Relay(pin, active_high=True)`: `pin` is an output Pin (the board creates it with the inactive
level, so the load stays disconnected from power-up until the meter decides). `active_high=False`
for the common relay modules whose input is active low. Connected = relay energised = load
supplied.

For a latching (bistable) relay with set/reset coils, drive two Relay objects with a pulse from the
meter application; this class does not time pulses.
"""


class Relay:
    def __init__(self, pin, active_high=True, connected=False):
        self.pin = pin
        self.active_high = active_high
        self._on = not connected  # force the first write
        self.set(connected)

    def set(self, connected):
        connected = bool(connected)
        self.pin.value(1 if connected == self.active_high else 0)
        self._on = connected

    def connect(self):
        self.set(True)

    def disconnect(self):
        self.set(False)

    def is_connected(self):
        return self._on

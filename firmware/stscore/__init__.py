"""STS token core (IEC 62055-41): parse, decrypt (EA07 STA, EA11 MISTY1), CRC and field decoding.

Pure logic: nothing here imports `machine`. The viper ciphers are used where MicroPython runs them;
under CPython (the host tools) the plain-Python twins with the same API are used instead.
"""

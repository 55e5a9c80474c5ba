"""EA07 Standard Transfer Algorithm: the tables (provisioning data) and the plain-Python decrypt
twin.

IEC 62055-41 §6.5.3 (STA). The S-boxes and the permutation are data: the IEC informative *sample*
tables are built in here; production tables come from the meter's provisioning data (a JSON object
with S1, S2 and P lists, as ../shared/fixtures/sta_tables_production.json) and are validated before
use.

Decryption, in the form the meter uses (equivalent to running the encryption's round keys
backwards): start from the decoder key K; 16 rounds of
  1. inverse permutation (input bit P[i] -> output bit i),
  2. nibble n replaced through D1 if bit 4n of K is 0, through D2 if it is 1 (D1 = S2^-1, D2 =
  S1^-1),
  3. K rotated right by 1 (64-bit rotation).

`StaTables` precomputes, once, what the viper core needs: the two inverse S-boxes, the inverse
permutation and a fused substitute-then-permute table (4 KB in two halves, see below).
`decrypt()` here is the readable reference (bit by bit, Python ints); `stscore.sta_viper` is the
fast one.
"""

# IEC 62055-41 informative sample tables (public). Production tables are never in the source tree.
SAMPLE_S1 = (12, 10, 8, 4, 3, 15, 0, 2, 14, 1, 5, 13, 6, 9, 7, 11)
SAMPLE_S2 = (6, 9, 7, 4, 3, 10, 12, 14, 2, 13, 1, 15, 0, 11, 8, 5)
SAMPLE_P = (
    29,
    27,
    34,
    9,
    16,
    62,
    55,
    2,
    40,
    49,
    38,
    25,
    33,
    61,
    30,
    23,
    1,
    41,
    21,
    57,
    42,
    15,
    5,
    58,
    19,
    53,
    22,
    17,
    48,
    28,
    24,
    39,
    3,
    60,
    36,
    14,
    11,
    52,
    54,
    12,
    31,
    51,
    10,
    26,
    0,
    45,
    37,
    43,
    44,
    6,
    59,
    4,
    7,
    35,
    56,
    50,
    13,
    18,
    32,
    47,
    46,
    63,
    20,
    8,
)

ROUNDS = 16


class TableError(ValueError):
    """Provisioned STA tables are unusable (not permutations, wrong length, missing)."""


def _check_permutation(name, values, size):
    """`values` as bytes, if they are a permutation of 0..size-1 (TableError otherwise). Two small
    buffers."""
    if values is None:
        raise TableError("STA table %s is missing" % name)
    try:
        items = bytes(values)
    except (TypeError, ValueError):
        raise TableError("STA table %s is not a list of integers" % name)
    if len(items) == size:
        seen = bytearray(size)
        for v in items:
            if v >= size or seen[v]:
                break
            seen[v] = 1
        else:
            return items
    raise TableError("STA table %s is not a permutation of 0..%d" % (name, size - 1))


def _inverse(perm, out, at):
    for i in range(len(perm)):
        out[at + perm[i]] = i


class StaTables:
    """Validated STA tables and their precomputed decrypt form.

    s1, s2: substitution tables (used when the round-key bit is 0 / 1); p: input bit i -> output
    bit p[i]. Raises TableError with a specific message if any table is not a permutation.
    """

    def __init__(self, s1, s2, p, name="provisioned"):
        self.name = name
        self.s1 = _check_permutation("S1", s1, 16)
        self.s2 = _check_permutation("S2", s2, 16)
        self.p = _check_permutation("P", p, 64)
        # Decrypt tables: D1 (key bit 0) = S2^-1, D2 (key bit 1) = S1^-1, because encryption keys
        # on NOT K.
        # D1 | D2 | S2: the viper core's aux buffer (below); dsub is its first 32 bytes
        dsub = bytearray(48)
        _inverse(self.s2, dsub, 0)
        _inverse(self.s1, dsub, 16)
        dsub[32:] = self.s2
        pinv = bytearray(64)
        _inverse(self.p, pinv, 0)
        self.pinv = pinv
        # The viper core's fused round table: round r's inverse substitution followed by round
        # r+1's inverse permutation, per nibble. Entry (n, sel, v) is the 64-bit mask that nibble
        # value v at position n, substituted through D1 (sel 0) or D2 (sel 1), scatters to. One
        # round is then an OR of 16 lookups. Little-endian (hi, lo) word pairs (all target CPUs are
        # little-endian), 4 KB in two 2 KB halves (nibbles 0-7, 8-15): a fragmented heap finds two
        # 2 KB holes where it has no 4 KB one. Built bit by bit into the zeroed halves, in small
        # ints only: a 64-bit mask in a Python int would be a heap object on a 32-bit board at
        # every step (about 95 KB of garbage at boot, measured on the WebAssembly port); this
        # allocates nothing beyond the two halves.
        halves = (bytearray(2048), bytearray(2048))
        for n in range(16):
            half = halves[n >> 3]
            for sel in range(2):
                for v in range(16):
                    s = dsub[sel * 16 + v]
                    at = (((n & 7) * 2 + sel) * 16 + v) * 8  # the (hi, lo) little-endian word pair
                    for b in range(4):
                        if s >> b & 1:
                            q = pinv[4 * n + b]
                            half[at + ((q - 32) >> 3 if q >= 32 else 4 + (q >> 3))] |= 1 << (q & 7)
        self.fused_lo, self.fused_hi = halves
        # D1 | D2 | S2 in one buffer for the viper core. S2 undoes D1, so the first inverse
        # permutation can run as "substitute by S2, then a fused pass with every key bit taken as
        # 0".
        self.aux = dsub
        self.dsub = dsub  # D1 | D2 are its first 32 bytes (the plain twin indexes below 32)

    def same(self, s1, s2, p):
        return self.s1 == s1 and self.s2 == s2 and self.p == p

    @classmethod
    def from_json_obj(cls, obj, name="provisioned"):
        """Tables from provisioning data: {"S1": [...16], "S2": [...16], "P": [...64]}.

        The meter builds them once, at boot: the same tables asked for again (the state reloaded
        after a refused token, a key change, a restart of the meter object) come back as the object
        already built, so the two 2 KB halves are never allocated again in a heap that has since
        fragmented. Different tables (a new provisioning) are built anew and replace the remembered
        ones.
        """
        global _provisioned
        if not isinstance(obj, dict):
            raise TableError("STA tables must be an object with S1, S2 and P")
        s1 = _check_permutation("S1", obj.get("S1"), 16)
        s2 = _check_permutation("S2", obj.get("S2"), 16)
        p = _check_permutation("P", obj.get("P"), 64)
        for known in (_provisioned, _sample):
            if known is not None and known.same(s1, s2, p):
                return known
        _provisioned = None  # the old set's halves can be freed before the new ones are placed
        _provisioned = cls(s1, s2, p, name)
        return _provisioned


_sample = None
_provisioned = None  # the provisioned tables last built (see StaTables.from_json_obj)


def sample_tables(keep=True):
    """The IEC informative sample tables (built once, on first use: at boot on a sample-table
    meter). With keep=False, a set built now is not kept (stscore.selftest on a meter with other
    tables: its 4 KB go back to the heap after the test)."""
    global _sample
    if _sample is not None:
        return _sample
    tables = StaTables(SAMPLE_S1, SAMPLE_S2, SAMPLE_P, "sample")
    if keep:
        _sample = tables
    return tables


def _block_int(buf):
    v = 0
    for b in buf:
        v = (v << 8) | b
    return v


def decrypt(block, key, tables):
    """Decrypt the 8-byte `block` in place with the 8-byte `key` (big-endian). Plain-Python
    reference."""
    x = _block_int(block)
    k = _block_int(key)
    dsub, pinv = tables.dsub, tables.pinv
    for _ in range(ROUNDS):
        y = 0
        for i in range(64):  # inverse permutation: input bit i goes to output bit pinv[i]
            if x >> i & 1:
                y |= 1 << pinv[i]
        x = 0
        for n in range(16):
            sel = (k >> (4 * n)) & 1
            x |= dsub[sel * 16 + ((y >> (4 * n)) & 15)] << (4 * n)
        k = (k >> 1) | ((k & 1) << 63)
    for i in range(8):
        block[i] = (x >> (56 - 8 * i)) & 0xFF

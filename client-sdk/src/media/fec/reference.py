#!/usr/bin/env python3
"""Independent reference for flex-fec-rs (PROTOCOL.md section 16), written from the document.

It builds NULL-sealed RTP3 source messages (PROTOCOL.md section 4), computes each block's
repair payloads by Lagrange interpolation over GF(2^8) (the second form of section 16.3, not
the matrix form the Rust crate uses), and writes the vectors file the Rust tests read:

    python3 client-sdk/src/media/fec/reference.py client-sdk/src/media/fec/vectors.json

Standard library only. Not run by CI; rerun it when the vectors change.
"""

import json
import sys

POLY = 0x11D  # x^8 + x^4 + x^3 + x^2 + 1


def gf_mul(a, b):
    r = 0
    while b:
        if b & 1:
            r ^= a
        a <<= 1
        if a & 0x100:
            a ^= POLY
        b >>= 1
    return r


def gf_inv(a):
    # a^254 = a^-1 in GF(2^8)
    r, e = 1, 254
    while e:
        if e & 1:
            r = gf_mul(r, a)
        a = gf_mul(a, a)
        e >>= 1
    return r


def varint(v):
    if v < 64:
        return bytes([v])
    if v < 16384:
        return (v | 0x4000).to_bytes(2, "big")
    if v < 2**30:
        return (v | 0x80000000).to_bytes(4, "big")
    return (v | 0xC000000000000000).to_bytes(8, "big")


def tlv(tag, value):
    return varint(tag) + varint(len(value)) + value


def message(geid, seq, payload, capture=None, salt=None):
    """A NULL-sealed RTP3 message: GlobalEncodingID, sequence ID, optional salt and capture
    time, payload (PROTOCOL.md 4.1, 4.2; under NULL the payload value is the plaintext)."""
    m = tlv(1, bytes.fromhex(geid)) + tlv(6, varint(seq))
    if salt is not None:
        m += tlv(11, salt)
    if capture is not None:
        m += tlv(12, varint(capture))
    return m + tlv(0, payload)


def lagrange_at(points, values, x):
    """P(x) for the polynomial of degree < len(points) through (points[j], values[j])."""
    acc = 0
    for j, (xj, yj) in enumerate(zip(points, values)):
        num, den = 1, 1
        for i, xi in enumerate(points):
            if i != j:
                num = gf_mul(num, x ^ xi)
                den = gf_mul(den, xj ^ xi)
        acc ^= gf_mul(yj, gf_mul(num, gf_inv(den)))
    return acc


def repairs(geid, first, sources, m):
    k = len(sources)
    s = 2 + max(len(x) for x in sources)
    symbols = [len(x).to_bytes(2, "big") + x + bytes(s - 2 - len(x)) for x in sources]
    points = list(range(k))
    out = []
    for r in range(m):
        header = bytes([1]) + bytes.fromhex(geid) + varint(first) + varint(k) + varint(m) + varint(r)
        symbol = bytes(
            lagrange_at(points, [sym[b] for sym in symbols], k + r) for b in range(s)
        )
        out.append(header + symbol)
    return out, s


def xorshift(state):
    state ^= (state << 13) & 0xFFFFFFFFFFFFFFFF
    state ^= state >> 7
    state ^= (state << 17) & 0xFFFFFFFFFFFFFFFF
    return state


def noise(seed, n):
    s, out = seed | 1, bytearray()
    for _ in range(n):
        s = xorshift(s)
        out.append(s & 0xFF)
    return bytes(out)


def block(name, geid, first, sources, m, losses):
    reps, s = repairs(geid, first, sources, m)
    return {
        "name": name,
        "protected": geid,
        "first_sequence": first,
        "repair_count": m,
        "symbol_len": s,
        "sources": [x.hex() for x in sources],
        "repairs": [x.hex() for x in reps],
        "losses": losses,
    }


def main(path):
    g1 = "45dab5b3b9c1662a"  # PROTOCOL.md 4.3 "minimal NULL"
    g2 = "d23c20ade4c18c56"  # PROTOCOL.md 3 example
    blocks = [
        block(
            "worked example: k=2, m=1",
            g1,
            0,
            [message(g1, 0, b"hello"), message(g1, 1, b"hi!")],
            1,
            [[0], [1]],
        ),
        block(
            "k=1, m=1: the repair symbol is the source symbol",
            g1,
            7,
            [message(g1, 7, b"one audio frame", capture=3913056000123)],
            1,
            [[0]],
        ),
        block(
            "k=5, m=2, first message with salt and capture time",
            g2,
            1000,
            [
                message(g2, 1000, noise(1, 40), capture=3913056000123, salt=bytes(range(12))),
                message(g2, 1001, noise(2, 7), capture=3913056000123),
                message(g2, 1002, noise(3, 90)),
                message(g2, 1003, b""),
                message(g2, 1004, noise(5, 33), capture=3913056000156),
            ],
            2,
            [[0], [3], [1, 2], [0, 4], [2, 3]],
        ),
        block(
            "k=20, m=4 (the default rule), 4-byte first sequence ID",
            g2,
            70000,
            [
                message(g2, 70000 + i, noise(100 + i, 60 + (i * 397) % 1100), capture=3913056001000 + i // 5 * 33)
                for i in range(20)
            ],
            4,
            [[0, 1, 2, 3], [19], [5, 9, 13, 17], [16, 17, 18, 19]],
        ),
    ]
    geid = bytes.fromhex(g1)
    invalid = [
        ("empty", b"", "Varint"),
        ("version 2", b"\x02" + geid + b"\x00\x01\x01\x00" + bytes(3), "Version"),
        ("truncated GlobalEncodingID", b"\x01" + geid[:5], "Varint"),
        ("truncated counts", b"\x01" + geid + b"\x00\x01", "Varint"),
        ("non-canonical first sequence ID", b"\x01" + geid + b"\x40\x05\x01\x01\x00" + bytes(3), "Varint"),
        ("source count 0", b"\x01" + geid + b"\x00\x00\x01\x00" + bytes(3), "BadHeader"),
        ("repair count 0", b"\x01" + geid + b"\x00\x01\x00\x00" + bytes(3), "BadHeader"),
        ("repair index not below repair count", b"\x01" + geid + b"\x00\x02\x02\x02" + bytes(3), "BadHeader"),
        ("k + m = 257", b"\x01" + geid + b"\x00" + varint(200) + varint(57) + b"\x00" + bytes(3), "BadHeader"),
        ("count above 256", b"\x01" + geid + b"\x00" + varint(300) + b"\x01\x00" + bytes(3), "BadHeader"),
        ("last sequence ID above 2^62-1", b"\x01" + geid + varint(2**62 - 1) + b"\x02\x01\x00" + bytes(3), "BadHeader"),
        ("symbol of 2 bytes", b"\x01" + geid + b"\x00\x01\x01\x00" + bytes(2), "BadHeader"),
        ("symbol of 65538 bytes", b"\x01" + geid + b"\x00\x01\x01\x00" + bytes(65538), "BadHeader"),
    ]
    doc = {
        "description": "flex-fec-rs (PROTOCOL.md section 16): source messages are NULL-sealed RTP3 messages; repairs are the repair payloads (plaintext of the FEC encoding's messages) in repair-index order; each entry of losses is a set of source indices to drop, restorable from the block's other sources and repairs.",
        "produced_by": "client-sdk/src/media/fec/reference.py (Lagrange interpolation over GF(2^8))",
        "blocks": blocks,
        "invalid_repairs": [
            {"name": n, "payload": p.hex() if len(p) < 1000 else None, "payload_len": len(p), "error": e}
            for n, p, e in invalid
        ],
    }
    # The 65538-byte symbol is written as its header plus a length, to keep the file small.
    for entry, (_, p, _) in zip(doc["invalid_repairs"], invalid):
        if entry["payload"] is None:
            entry["payload"] = p[:13].hex()
            entry["zero_padding_to"] = len(p)
        del entry["payload_len"]
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])

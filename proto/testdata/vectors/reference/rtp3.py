#!/usr/bin/env python3
"""Independent reference implementation of PROTOCOL.md's identifiers, message keys, nonces and
RTP3 messages, used once to produce proto/testdata/vectors/rtp3.json from its inputs.

It shares no code with the Rust crate: it was written from PROTOCOL.md alone, so agreement
between the two is evidence that the document is complete. Needs `pip install xxhash cryptography`.
Not run by CI (CI checks the Rust crate against the committed JSON).

Usage: python3 rtp3.py rtp3.json   (rewrites the computed fields of the file in place)
"""
import json, sys
import xxhash
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives import hashes

def varint(v):
    assert 0 <= v < 2**62
    if v < 2**6: return bytes([v])
    if v < 2**14: return (v | 0x4000).to_bytes(2, "big")
    if v < 2**30: return (v | 0x80000000).to_bytes(4, "big")
    return (v | 0xC000000000000000).to_bytes(8, "big")

def tlv(tag, value): return varint(tag) + varint(len(value)) + value
def u64(v): return v.to_bytes(8, "big")

def geid(conf, ep, src, enc):
    return xxhash.xxh3_64_intdigest(b"NM-GEID1" + u64(conf) + u64(ep) + u64(src) + u64(enc), seed=0)

def gmid(g, seq):
    return xxhash.xxh3_64_intdigest(b"NM-GMID1" + u64(g) + u64(seq), seed=0)

KEY_LEN = {"AES128-GCM": 16, "AES256-GCM": 32, "NULL": 0}

def message_key(aead, secret, conf, ep, g):
    n = KEY_LEN[aead]
    if n == 0: return b""
    info = b"rtp3 key" + u64(conf) + u64(ep) + u64(g)
    return HKDF(algorithm=hashes.SHA256(), length=n, salt=b"newmedia rtp3 v1", info=info).derive(secret)

def nonce(salt, g, seq):
    x = (g & 0xFFFFFFFF).to_bytes(4, "big") + u64(seq)
    return bytes(a ^ b for a, b in zip(salt, x))

ORDER = [  # (json name, tag, kind)
    ("globalMessageID", 2, "hash"), ("conferenceID", 3, "int"), ("endpointID", 4, "int"),
    ("encodingID", 5, "int"), ("sequenceID", 6, "int"), ("activeLevel", 7, "int"), ("dscp", 8, "int"),
    ("sourceID", 9, "int"), ("sinkID", 10, "int"), ("salt", 11, "bytes"), ("captureTime", 12, "int"),
    ("locationInRoom", 13, "int"), ("referenceFrame", 14, "bool"), ("layerID", 15, "int"),
    ("chunk", 16, "chunk"),
]

def headers_bytes(h, g):
    out = tlv(1, u64(g))
    for name, tag, kind in ORDER:
        if name not in h: continue
        v = h[name]
        if kind == "int": out += tlv(tag, varint(v))
        elif kind == "bool": out += tlv(tag, varint(1 if v else 0))
        elif kind == "hash": out += tlv(tag, u64(int(v, 16)))
        elif kind == "bytes": out += tlv(tag, bytes.fromhex(v))
        elif kind == "chunk": out += tlv(tag, varint(v[0]) + varint(v[1]))
    return out

def message(m):
    g = geid(m["conferenceID"], m["endpointID"], m["sourceID"], m["encodingID"])
    salt = bytes.fromhex(m["salt"])
    key = message_key(m["aead"], m["secret"].encode(), m["conferenceID"], m["endpointID"], g)
    payload = bytes.fromhex(m["payload"])
    h = m["headers"]
    if "globalMessageID" in h:
        h["globalMessageID"] = f"{gmid(g, h['sequenceID']):016x}"
    sealed_len = len(payload) + (16 if key else 0)
    aad = headers_bytes(h, g) + varint(0) + varint(sealed_len)
    if key:
        body = AESGCM(key).encrypt(nonce(salt, g, h["sequenceID"]), payload, aad)
    else:
        body = payload
    return g, key, aad + body

def main(path):
    doc = json.load(open(path))
    for v in doc["ids"]:
        g = geid(v["conferenceID"], v["endpointID"], v["sourceID"], v["encodingID"])
        v["globalEncodingID"] = f"{g:016x}"
        v["globalMessageID"] = f"{gmid(g, v['sequenceID']):016x}"
    for m in doc["messages"]:
        g, key, msg = message(m)
        m["globalEncodingID"] = f"{g:016x}"
        m["key"] = key.hex()
        m["nonce"] = nonce(bytes.fromhex(m["salt"]), g, m["headers"]["sequenceID"]).hex()
        m["hex"] = msg.hex()
    json.dump(doc, open(path, "w"), indent=2)
    open(path, "a").write("\n")

if __name__ == "__main__":
    main(sys.argv[1])

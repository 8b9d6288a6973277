#!/usr/bin/env python3
"""Independent reference for PROTOCOL.md "Join grant": recomputes grant.json's "hex" from its
inputs with Python's Ed25519 (cryptography). Not run by CI. Usage: python3 grant.py grant.json"""
import json, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

def varint(v):
    if v < 64: return bytes([v])
    if v < 16384: return (v | 0x4000).to_bytes(2, "big")
    if v < 2**30: return (v | 0x80000000).to_bytes(4, "big")
    return (v | 0xC000000000000000).to_bytes(8, "big")

def tlv(tag, value): return varint(tag) + varint(len(value)) + value
def uint(tag, v): return tlv(tag, varint(v))
KIND = {"audio": 0, "video": 1, "data": 2}

def grant(g):
    out = uint(1, g["conferenceID"]) + uint(2, g["endpointID"]) + uint(3, g["expiresAt"]) + uint(4, g["keyID"])
    for p in g["publications"]:
        inner = uint(1, p["sourceID"]) + uint(2, p["encodingID"]) + uint(3, KIND[p["kind"]])
        for tag, name in [(4, "width"), (5, "height"), (6, "maxBitrate"), (7, "frameRate")]:
            if name in p: inner += uint(tag, p[name])
        out += tlv(5, inner)
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(g["signingKeySeed"]))
    return out + tlv(15, key.sign(b"newmedia grant v1" + out))

doc = json.load(open(sys.argv[1]))
for g in doc["grants"]:
    g["hex"] = grant(g).hex()
json.dump(doc, open(sys.argv[1], "w"), indent=2)
open(sys.argv[1], "a").write("\n")

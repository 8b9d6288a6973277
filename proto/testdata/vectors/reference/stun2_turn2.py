# Independent reference implementation of PROTOCOL.md §7-8 (STUN2, TURN2) that produced
# stun2.json and turn2.json; shares no code with the Rust crate. Needs `pip install cryptography`.
# Not run by CI: CI checks the Rust crate against the committed JSON.
import hmac, hashlib, json, ipaddress
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV

def varint(v):
    if v < 64: return bytes([v])
    if v < 16384: return (v | 0x4000).to_bytes(2, 'big')
    if v < 2**30: return (v | 0x80000000).to_bytes(4, 'big')
    return (v | 0xC000000000000000).to_bytes(8, 'big')

def tlv(tag, value): return varint(tag) + varint(len(value)) + value
def uint(tag, v): return tlv(tag, varint(v))

def hkdf(salt, ikm, info, L):
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    t, okm, i = b'', b'', 1
    while len(okm) < L:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest(); okm += t; i += 1
    return okm[:L]

def key(secret, direction): return hkdf(b'newmedia stun2 v1', secret, direction, 16)

def addr(s):
    host, port = s.rsplit(':', 1)
    ip = ipaddress.ip_address(host.strip('[]'))
    fam = 4 if ip.version == 4 else 6
    return bytes([fam]) + ip.packed + int(port).to_bytes(2, 'big')

REQ_MAGIC = bytes.fromhex('0e04') + b'NMSQ'
RESP_MAGIC = bytes.fromhex('0f04') + b'NMSR'

def seal(secret, direction, tid, plaintext):
    magic = REQ_MAGIC if direction == b'request' else RESP_MAGIC
    header = magic + b'\x01\x0c' + tid
    return header + AESGCMSIV(key(secret, direction)).encrypt(tid, plaintext, header)

stun = []
for name, a in [('ipv4 address', '192.0.2.1:3478'), ('ipv6 address', '[2001:db8::1]:443')]:
    stun.append(dict(name=name, type='socket_addr', addr=a, hex=addr(a).hex()))

TID1 = bytes(range(12))
TID2 = bytes.fromhex('a1b2c3d4e5f60718293a4b5c')
for name, secret, tid, ss in [
    ('request, public server, no sender secret', b'', TID1, None),
    ('request, public server, sender secret', b'', TID1, b'consent-1234'),
    ('request, shared secret, no sender secret', b'correct horse battery staple', TID2, None),
    ('request, shared secret, sender secret', b'correct horse battery staple', TID2, bytes(range(32))),
]:
    pt = b'' if ss is None else tlv(2, ss)
    stun.append(dict(name=name, type='request', shared_secret=secret.hex(), transaction_id=tid.hex(),
                     sender_secret=None if ss is None else ss.hex(),
                     key=key(secret, b'request').hex(), hex=seal(secret, b'request', tid, pt).hex()))
for name, secret, tid, obs in [
    ('response, public server, ipv4', b'', TID1, '203.0.113.5:61000'),
    ('response, public server, ipv6', b'', TID1, '[2001:db8:1::5]:50000'),
    ('response, shared secret, ipv4', b'correct horse battery staple', TID2, '198.51.100.77:3478'),
    ('response, shared secret, ipv6', b'correct horse battery staple', TID2, '[2001:db8::abcd]:443'),
]:
    pt = tlv(3, addr(obs))
    stun.append(dict(name=name, type='response', shared_secret=secret.hex(), transaction_id=tid.hex(),
                     observed=obs, key=key(secret, b'response').hex(),
                     hex=seal(secret, b'response', tid, pt).hex()))
# Decode-only: unknown plaintext tags are skipped.
pt = tlv(9, b'\x01\x02') + tlv(2, b'XY') + tlv(0x3fff, b'')
stun.append(dict(name='request with unknown plaintext fields (decode only)', type='request', decode_only=True,
                 shared_secret='', transaction_id=TID1.hex(), sender_secret=b'XY'.hex(),
                 key=key(b'', b'request').hex(), hex=seal(b'', b'request', TID1, pt).hex()))
pt = tlv(7, b'future') + tlv(3, addr('192.0.2.200:9'))
stun.append(dict(name='response with unknown plaintext fields (decode only)', type='response', decode_only=True,
                 shared_secret='', transaction_id=TID1.hex(), observed='192.0.2.200:9',
                 key=key(b'', b'response').hex(), hex=seal(b'', b'response', TID1, pt).hex()))
# Invalid datagrams.
good = bytes.fromhex(stun[3]['hex'])
stun.append(dict(name='request decoded with the wrong secret', type='request', shared_secret=b'wrong'.hex(),
                 error='authentication', hex=good.hex()))
bad = bytearray(good); bad[-1] ^= 1
stun.append(dict(name='request with a corrupted tag', type='request', shared_secret='', error='authentication', hex=bytes(bad).hex()))
stun.append(dict(name='response without observed address', type='response', shared_secret='',
                 error='missing_observed_address', hex=seal(b'', b'response', TID1, tlv(9, b'')).hex()))
stun.append(dict(name='request with a bad transaction-id field', type='request', shared_secret='',
                 error='bad_transaction_id_field', hex=(REQ_MAGIC + b'\x01\x0b' + TID1[:11] + bytes(17)).hex()))

def frame(kind, body): return b'\x01' + varint(kind) + varint(len(body)) + body
turn = []
FP = hashlib.sha256(b'example client certificate').digest()
turn.append(dict(name='register', type='register', fingerprint=FP.hex(), lifetime=None, hex=frame(1, tlv(1, FP)).hex()))
turn.append(dict(name='register with lifetime', type='register', fingerprint=FP.hex(), lifetime=3600,
                 hex=frame(1, tlv(1, FP) + uint(2, 3600)).hex()))
turn.append(dict(name='allocation ipv4', type='allocation', inbound='203.0.113.10:40000', outbound='203.0.113.10:443', lifetime=600,
                 hex=frame(2, tlv(1, addr('203.0.113.10:40000')) + tlv(2, addr('203.0.113.10:443')) + uint(3, 600)).hex()))
turn.append(dict(name='allocation ipv6', type='allocation', inbound='[2001:db8::10]:40000', outbound='[2001:db8::10]:443', lifetime=0,
                 hex=frame(2, tlv(1, addr('[2001:db8::10]:40000')) + tlv(2, addr('[2001:db8::10]:443')) + uint(3, 0)).hex()))
relayed_pkt = bytes.fromhex(stun[3]['hex'])
turn.append(dict(name='relayed stun2 request', type='relayed', source='198.51.100.1:5000', packet=relayed_pkt.hex(),
                 hex=frame(3, tlv(1, addr('198.51.100.1:5000')) + tlv(2, relayed_pkt)).hex()))
quic = bytes([0xc3]) + bytes(range(1, 100))
turn.append(dict(name='relayed quic packet from ipv6', type='relayed', source='[2001:db8::99]:61234', packet=quic.hex(),
                 hex=frame(3, tlv(1, addr('[2001:db8::99]:61234')) + tlv(2, quic)).hex()))
turn.append(dict(name='refresh', type='refresh', lifetime=None, hex=frame(4, b'').hex()))
turn.append(dict(name='refresh with lifetime', type='refresh', lifetime=600, hex=frame(4, uint(1, 600)).hex()))
turn.append(dict(name='release', type='refresh', lifetime=0, hex=frame(4, uint(1, 0)).hex()))
turn.append(dict(name='error unknown fingerprint', type='error', code=2, reason='unknown fingerprint',
                 hex=frame(5, uint(1, 2) + tlv(2, b'unknown fingerprint')).hex()))
turn.append(dict(name='error without reason', type='error', code=4, reason='', hex=frame(5, uint(1, 4)).hex()))
turn.append(dict(name='refresh with an unknown field (decode only)', type='refresh', lifetime=600, decode_only=True,
                 hex=frame(4, tlv(9, b'\xff') + uint(1, 600)).hex()))
turn.append(dict(name='unknown frame type (decode only)', type='unknown', kind=200, body='0100', decode_only=True,
                 hex=frame(200, b'\x01\x00').hex()))
turn.append(dict(name='relayed without source', type='relayed', error='missing_field', hex=frame(3, tlv(2, b'hi')).hex()))
turn.append(dict(name='unsupported version', type='refresh', error='frame', hex='020400'))

import sys
out = sys.argv[1]
json.dump(stun, open(out + '/stun2.json', 'w'), indent=2); open(out + '/stun2.json', 'a').write('\n')
json.dump(turn, open(out + '/turn2.json', 'w'), indent=2); open(out + '/turn2.json', 'a').write('\n')

//! Removing datagrams from a received batch in place, GRO segments included.

use quinn::udp::RecvMeta;
use std::io::IoSliceMut;

/// Keeps, in the first `count` entries of `bufs`/`metas`, only the datagrams for which `keep`
/// returns `true`, and returns how many entries are left. `keep` sees every datagram once, in
/// order, with the meta of the entry it arrived in (an empty datagram as an empty slice; it is
/// removed whatever `keep` says).
///
/// An entry may hold several datagrams (GRO): segments of `meta.stride` bytes, the last one
/// possibly shorter. A removed segment is closed up by moving the later segments of that entry
/// down by one stride, so every kept segment but the last is still exactly `stride` long and
/// `stride` stays valid; `meta.len` is rewritten. Entries left empty are removed by swapping
/// them (buffer slice and meta together) behind the returned count, so `bufs[i]` still goes with
/// `metas[i]`. Data moves only when something is removed from the middle of a GRO batch; the
/// common all-QUIC batch is read and left as is.
pub(crate) fn retain_datagrams(
    bufs: &mut [IoSliceMut<'_>],
    metas: &mut [RecvMeta],
    count: usize,
    mut keep: impl FnMut(&[u8], &RecvMeta) -> bool,
) -> usize {
    let count = count.min(bufs.len()).min(metas.len());
    let mut kept_entries = 0;
    for i in 0..count {
        let (Some(buf), Some(meta)) = (bufs.get_mut(i), metas.get_mut(i)) else {
            break;
        };
        let len = retain_segments(buf, meta, &mut keep);
        meta.len = len;
        if len == 0 {
            continue;
        }
        if i != kept_entries {
            // Both slices have at least `count` entries and `kept_entries < i < count`.
            bufs.swap(i, kept_entries);
            metas.swap(i, kept_entries);
        }
        kept_entries += 1;
    }
    kept_entries
}

/// Filters the segments of one entry in place; returns the entry's new length.
fn retain_segments(
    buf: &mut [u8],
    meta: &RecvMeta,
    keep: &mut impl FnMut(&[u8], &RecvMeta) -> bool,
) -> usize {
    let len = meta.len.min(buf.len());
    if len == 0 {
        // An empty datagram is a datagram too: `keep` sees (and counts) it; nothing is left.
        keep(&[], meta);
        return 0;
    }
    // A stride of 0 (not produced by quinn-udp) would never advance: treat the entry as one
    // datagram.
    let stride = if meta.stride == 0 { len } else { meta.stride };
    let mut read = 0;
    let mut write = 0;
    while read < len {
        let end = read.saturating_add(stride).min(len);
        let kept = buf
            .get(read..end)
            .is_some_and(|segment| keep(segment, meta));
        if kept {
            if write != read {
                buf.copy_within(read..end, write);
            }
            write += end - read;
        }
        read = end;
    }
    write
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    /// One GRO entry from `segments` (all but the last must be `stride` long), padded with
    /// 0xEE to `capacity` so stale bytes are visible.
    fn entry(segments: &[&[u8]], stride: usize, capacity: usize) -> (Vec<u8>, RecvMeta) {
        let mut buf: Vec<u8> = segments.concat();
        let len = buf.len();
        buf.resize(capacity, 0xEE);
        let meta = RecvMeta {
            addr: "127.0.0.1:9".parse::<SocketAddr>().unwrap(),
            len,
            stride,
            ..RecvMeta::default()
        };
        (buf, meta)
    }

    /// The datagrams an entry describes, the way quinn splits it.
    fn datagrams(buf: &[u8], meta: &RecvMeta) -> Vec<Vec<u8>> {
        buf[..meta.len]
            .chunks(meta.stride)
            .map(<[u8]>::to_vec)
            .collect()
    }

    /// Keeps datagrams whose first byte has the QUIC fixed bit, like the socket does.
    fn quic_only(datagram: &[u8], _: &RecvMeta) -> bool {
        datagram.first().is_some_and(|b| b & 0x40 != 0)
    }

    #[test]
    fn removes_a_segment_in_the_middle_of_a_gro_batch() {
        let (mut a, meta_a) = entry(&[b"\x41aaa", b"\x0Estu", b"\x42bbb", b"\x43c"], 4, 32);
        let mut bufs = [IoSliceMut::new(&mut a)];
        let mut metas = [meta_a];
        let mut seen = Vec::new();
        let n = retain_datagrams(&mut bufs, &mut metas, 1, |d, m| {
            seen.push(d.to_vec());
            quic_only(d, m)
        });
        assert_eq!(n, 1);
        assert_eq!(seen.len(), 4);
        assert_eq!(metas[0].stride, 4);
        assert_eq!(metas[0].len, 10);
        assert_eq!(
            datagrams(&bufs[0], &metas[0]),
            [b"\x41aaa".to_vec(), b"\x42bbb".to_vec(), b"\x43c".to_vec()]
        );
    }

    #[test]
    fn removes_first_and_short_last_segment() {
        let (mut a, meta) = entry(&[b"\x0Fxxx", b"\x41aaa", b"\x42bbb", b"\x00z"], 4, 16);
        let mut bufs = [IoSliceMut::new(&mut a)];
        let mut metas = [meta];
        assert_eq!(retain_datagrams(&mut bufs, &mut metas, 1, quic_only), 1);
        assert_eq!(metas[0].len, 8);
        assert_eq!(
            datagrams(&bufs[0], &metas[0]),
            [b"\x41aaa".to_vec(), b"\x42bbb".to_vec()]
        );
    }

    #[test]
    fn drops_empty_entries_and_keeps_buffers_with_their_metas() {
        let (mut a, mut meta_a) = entry(&[b"\x0Eaa", b"\x0Ebb"], 3, 8);
        let (mut b, mut meta_b) = entry(&[b"\x41b1"], 3, 8);
        let (mut c, mut meta_c) = entry(&[b"\x00"], 1, 8);
        let (mut d, mut meta_d) = entry(&[b"\x42d1", b"\x0Ed2", b"\x43d"], 3, 8);
        // Distinct sources, to check each meta still sits with its buffer.
        meta_a.addr = "127.0.0.1:1".parse().unwrap();
        meta_b.addr = "127.0.0.1:2".parse().unwrap();
        meta_c.addr = "127.0.0.1:3".parse().unwrap();
        meta_d.addr = "127.0.0.1:4".parse().unwrap();
        let (mut unused, meta_unused) = entry(&[b"\x44unused"], 7, 8);
        let mut bufs = [
            IoSliceMut::new(&mut a),
            IoSliceMut::new(&mut b),
            IoSliceMut::new(&mut c),
            IoSliceMut::new(&mut d),
            IoSliceMut::new(&mut unused),
        ];
        let mut metas = [meta_a, meta_b, meta_c, meta_d, meta_unused];
        // Only 4 entries were received; the fifth must not be looked at.
        let n = retain_datagrams(&mut bufs, &mut metas, 4, quic_only);
        assert_eq!(n, 2);
        assert_eq!(metas[0].addr.port(), 2);
        assert_eq!(datagrams(&bufs[0], &metas[0]), [b"\x41b1".to_vec()]);
        assert_eq!(metas[1].addr.port(), 4);
        assert_eq!(
            datagrams(&bufs[1], &metas[1]),
            [b"\x42d1".to_vec(), b"\x43d".to_vec()]
        );
        assert_eq!(metas[1].stride, 3);
    }

    #[test]
    fn all_quic_is_untouched_and_nothing_left_is_zero() {
        let (mut a, meta) = entry(&[b"\x41aa", b"\x42bb"], 3, 6);
        let before = a.clone();
        let mut bufs = [IoSliceMut::new(&mut a)];
        let mut metas = [meta];
        assert_eq!(retain_datagrams(&mut bufs, &mut metas, 1, quic_only), 1);
        assert_eq!(metas[0].len, 6);
        assert_eq!(&*bufs[0], &before[..]);

        let (mut e, meta) = entry(&[], 1, 4);
        let mut bufs = [IoSliceMut::new(&mut e)];
        let mut metas = [meta];
        let mut seen = 0;
        let n = retain_datagrams(&mut bufs, &mut metas, 1, |d, _| {
            assert!(d.is_empty());
            seen += 1;
            true
        });
        assert_eq!((n, seen), (0, 1));

        let (mut s, meta) = entry(&[b"\x0E"], 1, 4);
        let mut bufs = [IoSliceMut::new(&mut s)];
        let mut metas = [meta];
        assert_eq!(retain_datagrams(&mut bufs, &mut metas, 1, quic_only), 0);
        // A count larger than the slices is clamped, and stride 0 does not loop.
        let (mut z, mut meta) = entry(&[b"\x41zz"], 3, 4);
        meta.stride = 0;
        let mut bufs = [IoSliceMut::new(&mut z)];
        let mut metas = [meta];
        assert_eq!(retain_datagrams(&mut bufs, &mut metas, 9, quic_only), 1);
        assert_eq!(metas[0].len, 3);
    }
}

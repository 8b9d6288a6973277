//! Codec helpers (draft §5.5): the mandatory codecs' framing, and G.711 itself.

//! Tag numbers of RTP3 message fields (PROTOCOL.md "RTP3 message", table of tags).

/// The payload: the last field, its value the (sealed) payload running to the end of the message.
pub const PAYLOAD: u64 = 0;
/// GlobalEncodingID, 8 bytes big-endian. Required, and always the first field.
pub const GLOBAL_ENCODING_ID: u64 = 1;
/// GlobalMessageID, 8 bytes big-endian.
pub const GLOBAL_MESSAGE_ID: u64 = 2;
/// Conference ID, integer.
pub const CONFERENCE_ID: u64 = 3;
/// Endpoint ID, integer.
pub const ENDPOINT_ID: u64 = 4;
/// Encoding ID, integer.
pub const ENCODING_ID: u64 = 5;
/// Sequence ID, integer. Required.
pub const SEQUENCE_ID: u64 = 6;
/// Active level, integer 0-100.
pub const ACTIVE_LEVEL: u64 = 7;
/// DSCP, integer 0-63.
pub const DSCP: u64 = 8;
/// Source ID, integer.
pub const SOURCE_ID: u64 = 9;
/// Sink ID, integer.
pub const SINK_ID: u64 = 10;
/// Salt, 12 bytes.
pub const SALT: u64 = 11;
/// Capture time, integer (NTP time in ms, high bits discarded).
pub const CAPTURE_TIME: u64 = 12;
/// Location in room, integer.
pub const LOCATION_IN_ROOM: u64 = 13;
/// Reference frame, integer 0 or 1.
pub const REFERENCE_FRAME: u64 = 14;
/// Layer ID, integer.
pub const LAYER_ID: u64 = 15;
/// Frame chunk (our extension): two varints, chunk index and chunk count.
pub const FRAME_CHUNK: u64 = 16;

/// The highest tag this implementation knows; higher tags are skipped.
pub(crate) const MAX_KNOWN: u64 = FRAME_CHUNK;

/// The last tag of the ordered group (draft §5: GlobalEncodingID ... DSCP, in tag order).
pub(crate) const LAST_ORDERED: u64 = DSCP;

/// A human-readable name for error messages.
pub(crate) fn name(tag: u64) -> &'static str {
    match tag {
        PAYLOAD => "payload",
        GLOBAL_ENCODING_ID => "GlobalEncodingID",
        GLOBAL_MESSAGE_ID => "GlobalMessageID",
        CONFERENCE_ID => "conference ID",
        ENDPOINT_ID => "endpoint ID",
        ENCODING_ID => "encoding ID",
        SEQUENCE_ID => "sequence ID",
        ACTIVE_LEVEL => "active level",
        DSCP => "DSCP",
        SOURCE_ID => "source ID",
        SINK_ID => "sink ID",
        SALT => "salt",
        CAPTURE_TIME => "capture time",
        LOCATION_IN_ROOM => "location in room",
        REFERENCE_FRAME => "reference frame",
        LAYER_ID => "layer ID",
        FRAME_CHUNK => "frame chunk",
        _ => "unknown",
    }
}

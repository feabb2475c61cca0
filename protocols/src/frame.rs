//! Stream framing: how one JSON message is delimited on a libp2p stream.
//!
//! A frame is an unsigned-varint length prefix followed by exactly that many bytes of UTF-8 JSON,
//! the usual libp2p convention. The prefix follows the
//! [multiformats unsigned-varint spec](https://github.com/multiformats/unsigned-varint): LEB128,
//! least significant group first, at most 9 bytes (63 bits), and minimal (no trailing `0x00`
//! group). A payload is at most [`MAX_FRAME_LEN`] (1 MiB).
//!
//! ```text
//! 0x0e  {"id":1,"a":2}        one-byte prefix: 14 payload bytes follow
//! 0xac 0x02  <300 bytes>      two-byte prefix: 300 = 0x2c + (0x02 << 7)
//! ```
//!
//! Two layers, as in mini-redis's `frame`/`connection` split:
//! - [`decode_frame`] and [`encode_frame`] are pure functions over byte buffers. `decode_frame`
//!   keeps "need more bytes" (`Ok(None)`, a normal condition while data arrives) apart from a bad
//!   frame (`Err`), and reports an oversized frame as soon as the prefix is complete, before any
//!   payload is buffered.
//! - [`read_frame`], [`write_frame`], [`read_message`] and [`write_message`] run over
//!   `futures::io` streams (libp2p streams implement those traits). A peer announcing more than
//!   the limit is refused before anything is allocated for the payload, and the payload buffer
//!   grows only as bytes actually arrive, so a peer that announces 1 MiB and sends nothing costs
//!   little memory.

use futures::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ErrorCode;

/// The largest payload (JSON bytes, not counting the length prefix) a frame may carry: 1 MiB.
pub const MAX_FRAME_LEN: usize = 1 << 20;

/// The longest length prefix: 9 bytes, which carry 63 bits (multiformats unsigned-varint spec).
pub const MAX_HEADER_LEN: usize = 9;

/// Initial payload buffer size in [`read_frame`]; the buffer grows as data arrives, up to the
/// announced length.
const INITIAL_READ_CAPACITY: usize = 8 * 1024;

/// Why a frame could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The length prefix announces a payload larger than allowed (or a payload to write is larger
    /// than [`MAX_FRAME_LEN`]). Nothing of the payload was read.
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// The announced (or offered) payload length.
        len: u64,
        /// The limit in force.
        max: usize,
    },

    /// The stream ended in the middle of a frame. Both counts are of whole-frame bytes (prefix
    /// plus payload). When the stream ended inside the length prefix, the real frame length is
    /// unknown and `expected` is `received + 1`, the least that was missing.
    #[error("stream ended after {received} of {expected} bytes of a frame")]
    Truncated {
        /// How many bytes the frame has (at least).
        expected: usize,
        /// How many bytes arrived before the stream ended.
        received: usize,
    },

    /// The length prefix is not a valid unsigned varint: longer than [`MAX_HEADER_LEN`] bytes, or
    /// not minimally encoded.
    #[error(
        "frame length prefix is not a minimal unsigned varint of at most {MAX_HEADER_LEN} bytes"
    )]
    InvalidLength,

    /// The payload is not valid UTF-8.
    #[error("frame payload is not valid UTF-8")]
    InvalidUtf8,

    /// The payload is not the expected JSON (or a message could not be serialized).
    #[error("frame payload is not the expected JSON")]
    InvalidJson(#[source] serde_json::Error),

    /// Reading from or writing to the stream failed.
    #[error("stream I/O failed")]
    Io(#[from] std::io::Error),
}

impl FrameError {
    /// The wire error code to answer with: `invalid-request` for anything the peer sent wrong,
    /// `unavailable` for an I/O failure.
    pub fn code(&self) -> ErrorCode {
        match self {
            FrameError::Io(_) => ErrorCode::Unavailable,
            FrameError::TooLarge { .. }
            | FrameError::Truncated { .. }
            | FrameError::InvalidLength
            | FrameError::InvalidUtf8
            | FrameError::InvalidJson(_) => ErrorCode::InvalidRequest,
        }
    }
}

/// Decodes a length prefix at the start of `buf`.
///
/// `Ok(Some((value, prefix_len)))` when complete, `Ok(None)` when `buf` ends inside a prefix that
/// is valid so far.
fn decode_len(buf: &[u8]) -> Result<Option<(u64, usize)>, FrameError> {
    let mut value: u64 = 0;
    for (i, &byte) in buf.iter().take(MAX_HEADER_LEN).enumerate() {
        // i <= 8, so the shift is at most 56 and the 7 bits fit in the 63 bits allowed.
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            if byte == 0 && i > 0 {
                // A trailing zero group: the same value has a shorter encoding.
                return Err(FrameError::InvalidLength);
            }
            return Ok(Some((value, i + 1)));
        }
    }
    if buf.len() >= MAX_HEADER_LEN {
        // Nine bytes, all with the continuation bit set.
        Err(FrameError::InvalidLength)
    } else {
        Ok(None)
    }
}

/// Checks an announced length against the limit.
fn check_len(len: u64, max_len: usize) -> Result<usize, FrameError> {
    match usize::try_from(len) {
        Ok(n) if n <= max_len => Ok(n),
        _ => Err(FrameError::TooLarge { len, max: max_len }),
    }
}

/// Looks for one complete frame at the start of `buf`.
///
/// Returns `Ok(Some((header_len, payload_len)))` when `buf` holds the whole frame: the payload is
/// `buf[header_len..header_len + payload_len]` and anything after it belongs to the next frame.
/// Returns `Ok(None)` when more bytes are needed. `max_len` is the largest payload accepted; pass
/// [`MAX_FRAME_LEN`] unless a route has a tighter limit.
///
/// # Errors
///
/// - [`FrameError::TooLarge`] as soon as the prefix is complete and announces more than
///   `max_len`, however little of the payload is buffered.
/// - [`FrameError::InvalidLength`] for a prefix longer than [`MAX_HEADER_LEN`] bytes or not
///   minimally encoded.
pub fn decode_frame(buf: &[u8], max_len: usize) -> Result<Option<(usize, usize)>, FrameError> {
    let Some((len, header_len)) = decode_len(buf)? else {
        return Ok(None);
    };
    let payload_len = check_len(len, max_len)?;
    if buf.len() - header_len < payload_len {
        return Ok(None);
    }
    Ok(Some((header_len, payload_len)))
}

/// Appends one frame carrying `payload` to `out`.
///
/// # Errors
///
/// [`FrameError::TooLarge`] if `payload` is longer than [`MAX_FRAME_LEN`]; `out` is unchanged.
pub fn encode_frame(payload: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
    let len = payload.len() as u64;
    if payload.len() > MAX_FRAME_LEN {
        return Err(FrameError::TooLarge {
            len,
            max: MAX_FRAME_LEN,
        });
    }
    let mut header = unsigned_varint::encode::u64_buffer();
    let header = unsigned_varint::encode::u64(len, &mut header);
    out.reserve(header.len() + payload.len());
    out.extend_from_slice(header);
    out.extend_from_slice(payload);
    Ok(())
}

/// Reads into `buf` once, retrying reads that were interrupted.
async fn read_some<R: AsyncRead + Unpin>(
    r: &mut R,
    buf: &mut [u8],
) -> Result<usize, std::io::Error> {
    loop {
        match r.read(buf).await {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            result => return result,
        }
    }
}

/// Reads one frame and returns its payload.
///
/// Returns `Ok(None)` if the stream ends cleanly before the first byte of a frame. Reads the
/// length prefix byte by byte, so nothing after the frame is consumed. `max_len` is the largest
/// payload accepted; pass [`MAX_FRAME_LEN`] unless a route has a tighter limit.
///
/// Cancel safety: not cancel safe; dropping the future part-way loses the bytes read so far. Use
/// a timeout around the whole exchange and drop the stream with it.
///
/// # Errors
///
/// [`FrameError::TooLarge`] (before the payload is read or allocated),
/// [`FrameError::InvalidLength`], [`FrameError::Truncated`] if the stream ends mid-frame, and
/// [`FrameError::Io`].
pub async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut R,
    max_len: usize,
) -> Result<Option<Vec<u8>>, FrameError> {
    let mut header = [0u8; MAX_HEADER_LEN];
    let mut filled = 0;
    let (len, header_len) = loop {
        let n = read_some(r, &mut header[filled..=filled]).await?;
        if n == 0 {
            if filled == 0 {
                return Ok(None);
            }
            return Err(FrameError::Truncated {
                expected: filled + 1,
                received: filled,
            });
        }
        filled += 1;
        // decode_len fails at the latest when `filled` reaches MAX_HEADER_LEN, so the index
        // above stays in bounds.
        if let Some(found) = decode_len(&header[..filled])? {
            break found;
        }
    };
    let payload_len = check_len(len, max_len)?;
    let mut payload = Vec::with_capacity(payload_len.min(INITIAL_READ_CAPACITY));
    let mut limited = (&mut *r).take(len);
    loop {
        match limited.read_to_end(&mut payload).await {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            result => {
                result?;
                break;
            }
        }
    }
    if payload.len() < payload_len {
        return Err(FrameError::Truncated {
            expected: header_len + payload_len,
            received: header_len + payload.len(),
        });
    }
    Ok(Some(payload))
}

/// Writes one frame carrying `payload` and flushes the stream. Does not close it.
///
/// # Errors
///
/// [`FrameError::TooLarge`] if `payload` is longer than [`MAX_FRAME_LEN`] (nothing is written),
/// [`FrameError::Io`] if writing fails.
pub async fn write_frame<W: AsyncWrite + Unpin>(
    w: &mut W,
    payload: &[u8],
) -> Result<(), FrameError> {
    // One buffer, one write: the prefix and the payload leave in the same transport frame.
    let mut buf = Vec::new();
    encode_frame(payload, &mut buf)?;
    w.write_all(&buf).await?;
    w.flush().await?;
    Ok(())
}

/// Parses a frame's payload as UTF-8 JSON of type `T`.
///
/// # Errors
///
/// [`FrameError::InvalidUtf8`] or [`FrameError::InvalidJson`].
pub fn decode_message<T: DeserializeOwned>(payload: &[u8]) -> Result<T, FrameError> {
    let text = std::str::from_utf8(payload).map_err(|_| FrameError::InvalidUtf8)?;
    serde_json::from_str(text).map_err(FrameError::InvalidJson)
}

/// Reads one frame and parses it as JSON of type `T`.
///
/// Returns `Ok(None)` on a clean end of stream before the frame, like [`read_frame`].
///
/// # Errors
///
/// Those of [`read_frame`], plus [`FrameError::InvalidUtf8`] and [`FrameError::InvalidJson`].
pub async fn read_message<T: DeserializeOwned, R: AsyncRead + Unpin>(
    r: &mut R,
    max_len: usize,
) -> Result<Option<T>, FrameError> {
    match read_frame(r, max_len).await? {
        Some(payload) => decode_message(&payload).map(Some),
        None => Ok(None),
    }
}

/// Serializes `msg` as JSON and writes it as one frame, then flushes.
///
/// # Errors
///
/// [`FrameError::InvalidJson`] if `msg` cannot be serialized (e.g. a map with non-string keys),
/// and those of [`write_frame`].
pub async fn write_message<T: Serialize, W: AsyncWrite + Unpin>(
    w: &mut W,
    msg: &T,
) -> Result<(), FrameError> {
    let payload = serde_json::to_vec(msg).map_err(FrameError::InvalidJson)?;
    write_frame(w, &payload).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;
    use futures::io::Cursor;
    use proptest::prelude::*;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    fn frame(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_frame(payload, &mut out).unwrap();
        out
    }

    /// A reader that hands out its data in pieces ending at the given offsets, to exercise short
    /// reads.
    struct Chunked {
        data: Vec<u8>,
        pos: usize,
        splits: Vec<usize>,
    }

    impl AsyncRead for Chunked {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<std::io::Result<usize>> {
            let pos = self.pos;
            let next_split = self
                .splits
                .iter()
                .copied()
                .find(|&s| s > pos)
                .unwrap_or(self.data.len());
            let n = buf.len().min(next_split - pos);
            buf[..n].copy_from_slice(&self.data[pos..pos + n]);
            self.pos += n;
            Poll::Ready(Ok(n))
        }
    }

    /// A reader that always fails.
    struct Broken;

    impl AsyncRead for Broken {
        fn poll_read(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            _buf: &mut [u8],
        ) -> Poll<std::io::Result<usize>> {
            Poll::Ready(Err(std::io::ErrorKind::ConnectionReset.into()))
        }
    }

    #[test]
    fn length_prefix_matches_known_varints() {
        let cases: [(usize, &[u8]); 6] = [
            (0, &[0x00]),
            (1, &[0x01]),
            (127, &[0x7f]),
            (128, &[0x80, 0x01]),
            (300, &[0xac, 0x02]),
            (16_384, &[0x80, 0x80, 0x01]),
        ];
        for (len, header) in cases {
            let f = frame(&vec![b'x'; len]);
            assert_eq!(&f[..header.len()], header, "prefix of {len}");
            assert_eq!(f.len(), header.len() + len);
            assert_eq!(
                decode_frame(&f, MAX_FRAME_LEN).unwrap(),
                Some((header.len(), len))
            );
        }
        // The largest allowed frame has a three-byte prefix.
        let f = frame(&vec![b'x'; MAX_FRAME_LEN]);
        assert_eq!(&f[..3], &[0x80, 0x80, 0x40]);
        assert_eq!(
            decode_frame(&f, MAX_FRAME_LEN).unwrap(),
            Some((3, MAX_FRAME_LEN))
        );
    }

    #[test]
    fn encode_refuses_oversized_payload() {
        let mut out = vec![1, 2, 3];
        let err = encode_frame(&vec![0; MAX_FRAME_LEN + 1], &mut out).unwrap_err();
        assert!(matches!(
            err,
            FrameError::TooLarge { len, max: MAX_FRAME_LEN } if len == MAX_FRAME_LEN as u64 + 1
        ));
        assert_eq!(out, [1, 2, 3]);
    }

    #[test]
    fn too_large_is_reported_from_the_header_alone() {
        // 2 MiB = 2^21: four-byte prefix, no payload bytes at all.
        let header = [0x80, 0x80, 0x80, 0x01];
        assert!(matches!(
            decode_frame(&header, MAX_FRAME_LEN),
            Err(FrameError::TooLarge {
                len: 2_097_152,
                max: MAX_FRAME_LEN
            })
        ));
        // 2^28: a five-byte prefix.
        let header = [0x80, 0x80, 0x80, 0x80, 0x01];
        assert!(matches!(
            decode_frame(&header, MAX_FRAME_LEN),
            Err(FrameError::TooLarge {
                len: 268_435_456,
                ..
            })
        ));
        // The largest nine-byte prefix, 2^63 - 1.
        let header = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f];
        assert!(matches!(
            decode_frame(&header, MAX_FRAME_LEN),
            Err(FrameError::TooLarge { len, .. }) if len == u64::MAX >> 1
        ));
        // A tighter caller limit applies.
        let f = frame(b"0123456789");
        assert!(matches!(
            decode_frame(&f[..1], 9),
            Err(FrameError::TooLarge { len: 10, max: 9 })
        ));
        assert_eq!(decode_frame(&f, 10).unwrap(), Some((1, 10)));
    }

    #[test]
    fn overlong_and_non_minimal_prefixes_are_rejected() {
        let nine_continuations = [0x80u8; 9];
        assert!(matches!(
            decode_frame(&nine_continuations, MAX_FRAME_LEN),
            Err(FrameError::InvalidLength)
        ));
        // Ten bytes, a value that would fit in 64 bits but not in the nine bytes allowed.
        let ten = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert!(matches!(
            decode_frame(&ten, MAX_FRAME_LEN),
            Err(FrameError::InvalidLength)
        ));
        for non_minimal in [&[0x80, 0x00][..], &[0x81, 0x00], &[0x80, 0x80, 0x00, 5]] {
            assert!(
                matches!(
                    decode_frame(non_minimal, MAX_FRAME_LEN),
                    Err(FrameError::InvalidLength)
                ),
                "{non_minimal:x?}"
            );
        }
        // Eight continuation bytes are still a valid beginning.
        assert_eq!(decode_frame(&[0x80; 8], MAX_FRAME_LEN).unwrap(), None);
    }

    #[test]
    fn empty_buffer_needs_more_and_trailing_bytes_are_left_alone() {
        assert_eq!(decode_frame(&[], MAX_FRAME_LEN).unwrap(), None);
        let mut buf = frame(b"{}");
        buf.extend_from_slice(&frame(b"[1]"));
        assert_eq!(decode_frame(&buf, MAX_FRAME_LEN).unwrap(), Some((1, 2)));
        assert_eq!(
            decode_frame(&buf[3..], MAX_FRAME_LEN).unwrap(),
            Some((1, 3))
        );
        assert_eq!(
            decode_frame(&frame(b""), MAX_FRAME_LEN).unwrap(),
            Some((1, 0))
        );
    }

    #[test]
    fn error_codes() {
        assert_eq!(
            FrameError::TooLarge { len: 1, max: 0 }.code(),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            FrameError::Truncated {
                expected: 2,
                received: 1
            }
            .code(),
            ErrorCode::InvalidRequest
        );
        assert_eq!(FrameError::InvalidLength.code(), ErrorCode::InvalidRequest);
        assert_eq!(FrameError::InvalidUtf8.code(), ErrorCode::InvalidRequest);
        let json_err = serde_json::from_str::<u8>("x").unwrap_err();
        assert_eq!(
            FrameError::InvalidJson(json_err).code(),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            FrameError::Io(std::io::ErrorKind::BrokenPipe.into()).code(),
            ErrorCode::Unavailable
        );
    }

    #[tokio::test]
    async fn read_frame_clean_eof() {
        let mut r = Cursor::new(Vec::<u8>::new());
        assert!(read_frame(&mut r, MAX_FRAME_LEN).await.unwrap().is_none());
        let mut r = Cursor::new(Vec::<u8>::new());
        assert!(
            read_message::<serde_json::Value, _>(&mut r, MAX_FRAME_LEN)
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn read_frame_two_frames_back_to_back() {
        let mut data = frame(br#"{"a":1}"#);
        data.extend_from_slice(&frame(b""));
        data.extend_from_slice(&frame(&[b'z'; 300]));
        let mut r = Cursor::new(data);
        assert_eq!(
            read_frame(&mut r, MAX_FRAME_LEN).await.unwrap().unwrap(),
            br#"{"a":1}"#
        );
        assert_eq!(
            read_frame(&mut r, MAX_FRAME_LEN).await.unwrap().unwrap(),
            b""
        );
        assert_eq!(
            read_frame(&mut r, MAX_FRAME_LEN).await.unwrap().unwrap(),
            vec![b'z'; 300]
        );
        assert!(read_frame(&mut r, MAX_FRAME_LEN).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn read_frame_truncated_payload() {
        let mut data = frame(&[b'x'; 300]);
        data.truncate(2 + 100);
        let mut r = Cursor::new(data);
        assert!(matches!(
            read_frame(&mut r, MAX_FRAME_LEN).await,
            Err(FrameError::Truncated {
                expected: 302,
                received: 102
            })
        ));
    }

    #[tokio::test]
    async fn read_frame_truncated_header() {
        let mut r = Cursor::new(vec![0x80, 0x80]);
        assert!(matches!(
            read_frame(&mut r, MAX_FRAME_LEN).await,
            Err(FrameError::Truncated {
                expected: 3,
                received: 2
            })
        ));
    }

    #[tokio::test]
    async fn read_frame_oversized_stops_after_the_header() {
        // A 2 MiB announcement followed by some payload bytes: only the header is consumed.
        let mut data = vec![0x80, 0x80, 0x80, 0x01];
        data.extend_from_slice(&[b'x'; 64]);
        let mut r = Cursor::new(data);
        assert!(matches!(
            read_frame(&mut r, MAX_FRAME_LEN).await,
            Err(FrameError::TooLarge {
                len: 2_097_152,
                max: MAX_FRAME_LEN
            })
        ));
        assert_eq!(r.position(), 4);
    }

    #[tokio::test]
    async fn read_frame_overlong_prefix() {
        let mut r = Cursor::new(vec![0xff; 20]);
        assert!(matches!(
            read_frame(&mut r, MAX_FRAME_LEN).await,
            Err(FrameError::InvalidLength)
        ));
        assert_eq!(r.position(), MAX_HEADER_LEN as u64);
        let mut r = Cursor::new(vec![0x85, 0x00, b'a']);
        assert!(matches!(
            read_frame(&mut r, MAX_FRAME_LEN).await,
            Err(FrameError::InvalidLength)
        ));
    }

    #[tokio::test]
    async fn read_frame_io_error() {
        let err = read_frame(&mut Broken, MAX_FRAME_LEN).await.unwrap_err();
        assert!(
            matches!(&err, FrameError::Io(e) if e.kind() == std::io::ErrorKind::ConnectionReset)
        );
        assert_eq!(err.code(), ErrorCode::Unavailable);
    }

    #[tokio::test]
    async fn read_message_invalid_utf8_and_json() {
        let mut r = Cursor::new(frame(&[b'"', 0xff, 0xfe, b'"']));
        assert!(matches!(
            read_message::<String, _>(&mut r, MAX_FRAME_LEN).await,
            Err(FrameError::InvalidUtf8)
        ));
        let mut r = Cursor::new(frame(br#"{"a":"#));
        assert!(matches!(
            read_message::<serde_json::Value, _>(&mut r, MAX_FRAME_LEN).await,
            Err(FrameError::InvalidJson(_))
        ));
        // Valid JSON of the wrong shape is also InvalidJson.
        let mut r = Cursor::new(frame(br#"{"a":1}"#));
        assert!(matches!(
            read_message::<Vec<u8>, _>(&mut r, MAX_FRAME_LEN).await,
            Err(FrameError::InvalidJson(_))
        ));
    }

    #[tokio::test]
    async fn write_then_read_message() {
        let msg = serde_json::json!({"id": "x", "body": {"text": "h\u{e9}llo"}});
        let mut w = Cursor::new(Vec::new());
        write_message(&mut w, &msg).await.unwrap();
        write_message(&mut w, &42u32).await.unwrap();
        let bytes = w.into_inner();
        let expected_payload = serde_json::to_vec(&msg).unwrap();
        assert_eq!(bytes[0] as usize, expected_payload.len());
        assert_eq!(&bytes[1..=expected_payload.len()], &expected_payload[..]);

        let mut r = Cursor::new(bytes);
        let back: serde_json::Value = read_message(&mut r, MAX_FRAME_LEN).await.unwrap().unwrap();
        assert_eq!(back, msg);
        let n: u32 = read_message(&mut r, MAX_FRAME_LEN).await.unwrap().unwrap();
        assert_eq!(n, 42);
        assert!(
            read_message::<u32, _>(&mut r, MAX_FRAME_LEN)
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn write_frame_refuses_oversized_payload_and_writes_nothing() {
        let mut w = Cursor::new(Vec::new());
        assert!(matches!(
            write_frame(&mut w, &vec![0; MAX_FRAME_LEN + 1]).await,
            Err(FrameError::TooLarge { .. })
        ));
        assert!(w.into_inner().is_empty());
    }

    #[tokio::test]
    async fn write_message_reports_unserializable_values() {
        let mut map = std::collections::HashMap::new();
        map.insert(vec![1u8], 1);
        let mut w = Cursor::new(Vec::new());
        assert!(matches!(
            write_message(&mut w, &map).await,
            Err(FrameError::InvalidJson(_))
        ));
    }

    proptest! {
        #[test]
        fn every_proper_prefix_needs_more(payload in proptest::collection::vec(any::<u8>(), 0..600)) {
            let f = frame(&payload);
            for end in 0..f.len() {
                prop_assert_eq!(decode_frame(&f[..end], MAX_FRAME_LEN).unwrap(), None, "prefix {}", end);
            }
            let (header_len, payload_len) = decode_frame(&f, MAX_FRAME_LEN).unwrap().unwrap();
            prop_assert_eq!(header_len + payload_len, f.len());
            prop_assert_eq!(&f[header_len..], &payload[..]);
            let mut reference = unsigned_varint::encode::u64_buffer();
            prop_assert_eq!(
                &f[..header_len],
                unsigned_varint::encode::u64(payload.len() as u64, &mut reference)
            );
        }

        #[test]
        fn random_split_of_a_large_frame(len in 0usize..40_000, seed in any::<u8>(), split in any::<prop::sample::Index>()) {
            let payload: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect();
            let f = frame(&payload);
            let split = split.index(f.len() + 1);
            let got = decode_frame(&f[..split], MAX_FRAME_LEN).unwrap();
            if split == f.len() {
                prop_assert_eq!(got, Some((f.len() - len, len)));
            } else {
                prop_assert_eq!(got, None);
            }
        }

        #[test]
        fn read_frame_survives_short_reads(
            payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..400), 1..4),
            splits in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
        ) {
            let mut data = Vec::new();
            for p in &payloads {
                data.extend_from_slice(&frame(p));
            }
            let splits = splits.iter().map(|s| s.index(data.len() + 1)).collect();
            let mut r = Chunked { data, pos: 0, splits };
            for p in &payloads {
                let got = block_on(read_frame(&mut r, MAX_FRAME_LEN)).unwrap();
                prop_assert_eq!(got.as_deref(), Some(&p[..]));
            }
            prop_assert!(block_on(read_frame(&mut r, MAX_FRAME_LEN)).unwrap().is_none());
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..64), max in 0usize..100) {
            if let Ok(Some((h, n))) = decode_frame(&data, max) {
                prop_assert!((1..=MAX_HEADER_LEN).contains(&h) && n <= max && h + n <= data.len());
            }
            let mut r = Cursor::new(data.clone());
            match block_on(read_frame(&mut r, max)) {
                Ok(Some(p)) => prop_assert!(p.len() <= max),
                Ok(None) => prop_assert!(data.is_empty()),
                Err(_) => {}
            }
        }
    }
}

//! The live events of `GET /api/v1/events`: a parser of server-sent events and [`EventStream`],
//! which turns the response body into [`EventView`]s.
//!
//! The parser follows the SSE format of the HTML standard as far as Kith uses it: lines end with
//! LF, CRLF or CR (also when a chunk boundary falls between CR and LF); a line starting with `:`
//! is a comment (the node's keep-alives); `event:` names the event, `data:` lines are joined with
//! newlines, a blank line dispatches; `id:`, `retry:` and unknown fields are ignored. A line
//! longer than [`MAX_LINE`] bytes is an error rather than an unbounded buffer.

use std::{
    collections::VecDeque,
    pin::Pin,
    task::{Context, Poll},
};

use futures::Stream;
use kith_protocols::EventView;
use serde::Deserialize;

use crate::Error;

/// The longest line accepted, in bytes. Events are small JSON documents (a post is at most a few
/// KiB); anything near this size is a broken or hostile stream.
pub(crate) const MAX_LINE: usize = 1 << 20;

/// The event the node sends when the client fell behind: `event: lagged`, data `{"missed":n}`.
const LAGGED: &str = "lagged";

/// One dispatched server-sent event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    /// The `event:` name (`message` when none was given).
    pub(crate) event: String,
    /// The `data:` lines, joined with `\n`.
    pub(crate) data: String,
}

/// An incremental parser: feed it chunks as they arrive, take the complete events.
#[derive(Debug, Default)]
pub(crate) struct Parser {
    /// Bytes of a line not yet terminated.
    buf: Vec<u8>,
    /// The event name of the event being read.
    event: String,
    /// The data of the event being read, each line followed by `\n`.
    data: String,
    /// Whether the first line has been seen (a byte-order mark before it is skipped).
    started: bool,
}

impl Parser {
    /// Feeds `chunk`; appends every event it completes to `out`. An error (line too long, not
    /// UTF-8) leaves the parser unusable: the stream should end.
    pub(crate) fn push(&mut self, chunk: &[u8], out: &mut Vec<Message>) -> Result<(), String> {
        self.buf.extend_from_slice(chunk);
        if !self.started {
            const BOM: &[u8] = "\u{feff}".as_bytes();
            if self.buf.len() < BOM.len() && BOM.starts_with(&self.buf) {
                return Ok(());
            }
            if self.buf.starts_with(BOM) {
                self.buf.drain(..BOM.len());
            }
            self.started = true;
        }
        let mut start = 0;
        while let Some(offset) = self.buf[start..]
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
        {
            let end = start + offset;
            let terminator = match (self.buf[end], self.buf.get(end + 1)) {
                (b'\r', Some(b'\n')) => 2,
                // A CR as the last byte: an LF may follow in the next chunk.
                (b'\r', None) => break,
                _ => 1,
            };
            let line = std::str::from_utf8(&self.buf[start..end])
                .map_err(|_| "a line is not UTF-8".to_owned())?
                .to_owned();
            self.line(&line, out);
            start = end + terminator;
        }
        self.buf.drain(..start);
        if self.buf.len() > MAX_LINE {
            return Err(format!("a line is longer than {MAX_LINE} bytes"));
        }
        Ok(())
    }

    /// Ends the input: a CR held back in case an LF followed ends its line after all. A line
    /// without any terminator and an event without its blank line are dropped, as the standard
    /// says.
    pub(crate) fn finish(&mut self, out: &mut Vec<Message>) {
        if let Some(line) = self.buf.strip_suffix(b"\r")
            && let Ok(line) = std::str::from_utf8(line)
        {
            let line = line.to_owned();
            self.line(&line, out);
        }
        self.buf.clear();
    }

    /// Interprets one line.
    fn line(&mut self, line: &str, out: &mut Vec<Message>) {
        if line.is_empty() {
            let event = std::mem::take(&mut self.event);
            if self.data.is_empty() {
                return;
            }
            let mut data = std::mem::take(&mut self.data);
            data.pop(); // the `\n` after the last data line
            out.push(Message {
                event: if event.is_empty() {
                    "message".to_owned()
                } else {
                    event
                },
                data,
            });
            return;
        }
        if line.starts_with(':') {
            return; // a comment: the node's keep-alive
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => value.clone_into(&mut self.event),
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
            }
            _ => {} // id, retry and fields of later versions
        }
    }
}

/// The data of a `lagged` event.
#[derive(Debug, Deserialize)]
struct Lagged {
    missed: u64,
}

/// What one dispatched event means to the caller.
fn decode(message: Message, url: &str) -> Result<EventView, Error> {
    if message.event == LAGGED {
        let lagged: Lagged =
            serde_json::from_str(&message.data).map_err(|source| Error::Decode {
                url: url.to_owned(),
                source,
            })?;
        return Err(Error::Lagged {
            missed: lagged.missed,
        });
    }
    serde_json::from_str(&message.data).map_err(|source| Error::Decode {
        url: url.to_owned(),
        source,
    })
}

/// The node's live events, from [`Client::events`](crate::Client::events).
///
/// Yields each event as an [`EventView`]. Two errors are not fatal and the stream goes on after
/// them: [`Error::Lagged`] (the node dropped events because this client fell behind; reload
/// what you show) and [`Error::Decode`] (an event this version cannot read, e.g. of a newer
/// kind). After any other error the stream ends. It also ends, without an error, when the node
/// closes it (on shutdown).
pub struct EventStream {
    inner: Pin<Box<dyn Stream<Item = Result<EventView, Error>> + Send>>,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream").finish_non_exhaustive()
    }
}

/// The state of an open stream between two items.
struct Reading {
    /// `None` once the body has ended or failed: then only `pending` is left to yield.
    response: Option<reqwest::Response>,
    parser: Parser,
    pending: VecDeque<Result<EventView, Error>>,
    url: String,
}

impl EventStream {
    /// Reads the events of `response`, a successful answer of `GET /api/v1/events` from `url`.
    pub(crate) fn new(response: reqwest::Response, url: String) -> EventStream {
        let reading = Reading {
            response: Some(response),
            parser: Parser::default(),
            pending: VecDeque::new(),
            url,
        };
        let inner = futures::stream::unfold(reading, |mut reading| async move {
            loop {
                if let Some(item) = reading.pending.pop_front() {
                    return Some((item, reading));
                }
                let response = reading.response.as_mut()?;
                match response.chunk().await {
                    Ok(Some(chunk)) => {
                        let mut messages = Vec::new();
                        let parsed = reading.parser.push(&chunk, &mut messages);
                        for message in messages {
                            reading.pending.push_back(decode(message, &reading.url));
                        }
                        if let Err(reason) = parsed {
                            reading.response = None;
                            reading.pending.push_back(Err(Error::EventStream {
                                url: reading.url.clone(),
                                reason,
                            }));
                        }
                    }
                    Ok(None) => {
                        reading.response = None;
                        let mut messages = Vec::new();
                        reading.parser.finish(&mut messages);
                        for message in messages {
                            reading.pending.push_back(decode(message, &reading.url));
                        }
                    }
                    Err(error) => {
                        reading.response = None;
                        reading.pending.push_back(Err(Error::Http(error)));
                    }
                }
            }
        });
        EventStream {
            inner: Box::pin(inner),
        }
    }
}

impl EventStream {
    /// The next item, or `None` once the stream has ended: the same as `StreamExt::next`, for
    /// callers that do not use `futures`.
    pub async fn next_event(&mut self) -> Option<Result<EventView, Error>> {
        std::future::poll_fn(|cx| self.inner.as_mut().poll_next(cx)).await
    }
}

impl Stream for EventStream {
    type Item = Result<EventView, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn parse_all(chunks: &[&[u8]]) -> Vec<Message> {
        let mut parser = Parser::default();
        let mut out = Vec::new();
        for chunk in chunks {
            parser.push(chunk, &mut out).expect("well-formed");
        }
        parser.finish(&mut out);
        out
    }

    fn message(event: &str, data: &str) -> Message {
        Message {
            event: event.to_owned(),
            data: data.to_owned(),
        }
    }

    #[test]
    fn what_axum_sends_is_read() {
        let body = b": keep-alive\n\nevent: post\ndata: {\"a\":1}\n\n:\n\nevent: lagged\ndata: {\"missed\":3}\n\n";
        assert_eq!(
            parse_all(&[body]),
            [
                message("post", "{\"a\":1}"),
                message("lagged", "{\"missed\":3}")
            ]
        );
    }

    #[test]
    fn fields_per_the_standard() {
        let body = "\u{feff}data:no space\ndata:  two spaces\nid: 7\nretry: 10\nfuture: x\n\n\
                    event: e\n\ndata\n\nevent: only-name\nevent: named\ndata: x\n\n";
        assert_eq!(
            parse_all(&[body.as_bytes()]),
            [
                message("message", "no space\n two spaces"),
                // `event: e` without data dispatches nothing and is forgotten.
                message("message", ""),
                message("named", "x"),
            ]
        );
    }

    #[test]
    fn line_endings_split_across_chunks() {
        assert_eq!(
            parse_all(&[
                b"event: a\r",
                b"\ndata: 1\r",
                b"\r",
                b"event: b\rdata: 2\r\n\r\n"
            ]),
            [message("a", "1"), message("b", "2")]
        );
        // A byte-order mark split across chunks is still skipped.
        let bom = "\u{feff}".as_bytes();
        assert_eq!(
            parse_all(&[&bom[..1], &bom[1..], b"data: x\n\n"]),
            [message("message", "x")]
        );
    }

    #[test]
    fn overlong_lines_and_bad_utf8_are_errors() {
        let mut parser = Parser::default();
        let mut out = Vec::new();
        let long = vec![b'a'; MAX_LINE + 1];
        assert!(parser.push(&long, &mut out).is_err());
        let mut parser = Parser::default();
        assert!(parser.push(b"data: \xff\xfe\n\n", &mut out).is_err());
        assert!(out.is_empty());
    }

    #[test]
    fn lagged_events_are_a_non_fatal_error() {
        let error = decode(message("lagged", r#"{"missed":12}"#), "u").unwrap_err();
        assert!(matches!(error, Error::Lagged { missed: 12 }), "{error:?}");
        let peer = libp2p::PeerId::random();
        let view = decode(
            message(
                "peer_connected",
                &format!(r#"{{"type":"peer_connected","peer_id":"{peer}"}}"#),
            ),
            "u",
        )
        .expect("a view");
        assert_eq!(view, EventView::PeerConnected { peer_id: peer });
        assert!(matches!(
            decode(message("novel", r#"{"type":"novel"}"#), "u"),
            Err(Error::Decode { .. })
        ));
    }

    /// Encodes events as a server may, with `ending` after every line and comments between them.
    fn encode(events: &[(String, String)], ending: &str, comments: bool) -> Vec<u8> {
        let mut text = String::new();
        for (event, data) in events {
            if comments {
                text.push_str(&format!(":keep-alive{ending}"));
            }
            text.push_str(&format!("event: {event}{ending}"));
            for line in data.split('\n') {
                text.push_str(&format!("data: {line}{ending}"));
            }
            text.push_str(ending);
        }
        text.into_bytes()
    }

    proptest! {
        #[test]
        fn events_survive_any_chunking(
            events in prop::collection::vec(("[a-z_]{1,12}", "[^\r\n]{0,40}(\n[^\r\n]{0,40}){0,3}"), 0..8),
            ending in prop::sample::select(vec!["\n", "\r\n", "\r"]),
            comments in any::<bool>(),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
        ) {
            let body = encode(&events, ending, comments);
            let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(body.len() + 1)).collect();
            cuts.sort_unstable();
            let mut chunks = Vec::new();
            let mut from = 0;
            for cut in cuts {
                chunks.push(&body[from..cut]);
                from = cut;
            }
            chunks.push(&body[from..]);
            let parsed = parse_all(&chunks);
            let expected: Vec<Message> = events
                .iter()
                .map(|(event, data)| message(event, data))
                .collect();
            prop_assert_eq!(parsed, expected);
        }
    }
}

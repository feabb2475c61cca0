//! Request and response envelopes: the JSON objects carried in the frames of a route's stream.
//!
//! One stream carries exactly one exchange: the caller writes one [`Request`] frame, the callee
//! answers with one [`Response`] frame carrying the same `id`, and the stream is closed. The
//! envelope is the same for every route; only the `body` differs.
//!
//! ```text
//! request:  {"id":"<uuid>","ts":<unix ms>,"body":{...}}
//! success:  {"id":"<same uuid>","ok":true,"body":{...}}
//! failure:  {"id":"<same uuid>","ok":false,"error":{"code":"not-found","message":"...","retry_after_ms":1500}}
//! ```
//!
//! Unknown fields are ignored on reading, so later versions can add fields without breaking
//! older peers.

use std::fmt;
use std::marker::PhantomData;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use crate::WireError;

/// The current time as milliseconds since the Unix epoch, as used in `ts` fields on the wire.
///
/// A clock set before 1970 reads as 0 rather than failing: timestamps are informational.
pub fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A request: `{"id":"<uuid>","ts":<unix ms>,"body":{...}}`.
///
/// `B` is the route's request body type; the default, [`serde_json::Value`], lets a dispatcher
/// read the envelope before it knows the route's body type. Routes that take no parameters use
/// `{}` as the body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request<B = serde_json::Value> {
    /// A fresh random (v4) UUID chosen by the caller; the response repeats it.
    pub id: Uuid,
    /// When the caller created the request, in milliseconds since the Unix epoch.
    pub ts: u64,
    /// The route-specific parameters.
    pub body: B,
}

impl<B> Request<B> {
    /// A request with a fresh v4 id, stamped with the current time.
    pub fn new(body: B) -> Self {
        Request {
            id: Uuid::new_v4(),
            ts: now_unix_ms(),
            body,
        }
    }
}

/// A response: `{"id":"<uuid>","ok":true,"body":{...}}` on success or
/// `{"id":"<uuid>","ok":false,"error":{...}}` on failure (see [`WireError`]).
///
/// `id` repeats the request's id. When the callee cannot read the request's id at all (the frame
/// or its JSON is malformed) it answers with the nil UUID
/// (`00000000-0000-0000-0000-000000000000`, see [`Response::err_unparsed`]) and an
/// `invalid-request` error; a caller receiving a nil id knows its request was not understood.
///
/// Reading rejects `"ok":true` without `body`, `"ok":false` without `error`, a success carrying
/// an `error` or a failure carrying a `body`. A present `"body":null` is a body (the unit value for
/// routes that return nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response<B = serde_json::Value> {
    /// The id of the request this answers (nil if the request could not be read).
    pub id: Uuid,
    /// The body on success, the error on failure.
    pub result: Result<B, WireError>,
}

impl<B> Response<B> {
    /// A successful response.
    pub fn ok(id: Uuid, body: B) -> Self {
        Response {
            id,
            result: Ok(body),
        }
    }

    /// A failed response.
    pub fn err(id: Uuid, error: WireError) -> Self {
        Response {
            id,
            result: Err(error),
        }
    }

    /// A failed response to a request whose id could not be read: the id is the nil UUID.
    pub fn err_unparsed(error: WireError) -> Self {
        Response::err(Uuid::nil(), error)
    }

    /// Whether this is a success.
    pub fn is_ok(&self) -> bool {
        self.result.is_ok()
    }

    /// The body or the error, dropping the id.
    pub fn into_result(self) -> Result<B, WireError> {
        self.result
    }
}

impl<B: Serialize> Serialize for Response<B> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Response", 3)?;
        s.serialize_field("id", &self.id)?;
        match &self.result {
            Ok(body) => {
                s.serialize_field("ok", &true)?;
                s.serialize_field("body", body)?;
            }
            Err(error) => {
                s.serialize_field("ok", &false)?;
                s.serialize_field("error", error)?;
            }
        }
        s.end()
    }
}

/// The fields of a response object; anything else is skipped.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum Field {
    Id,
    Ok,
    Body,
    Error,
    #[serde(other)]
    Unknown,
}

const FIELDS: &[&str] = &["id", "ok", "body", "error"];

impl<'de, B: Deserialize<'de>> Deserialize<'de> for Response<B> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_struct("Response", FIELDS, ResponseVisitor(PhantomData))
    }
}

struct ResponseVisitor<B>(PhantomData<fn() -> B>);

impl<'de, B: Deserialize<'de>> Visitor<'de> for ResponseVisitor<B> {
    type Value = Response<B>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a response object with \"id\", \"ok\" and \"body\" or \"error\"")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Response<B>, A::Error> {
        let mut id: Option<Uuid> = None;
        let mut ok: Option<bool> = None;
        let mut body: Option<B> = None;
        let mut error: Option<WireError> = None;
        while let Some(field) = map.next_key::<Field>()? {
            match field {
                Field::Id => set_once(&mut id, "id", map.next_value()?)?,
                Field::Ok => set_once(&mut ok, "ok", map.next_value()?)?,
                Field::Body => set_once(&mut body, "body", map.next_value()?)?,
                Field::Error => set_once(&mut error, "error", map.next_value()?)?,
                Field::Unknown => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let id = id.ok_or_else(|| de::Error::missing_field("id"))?;
        let ok = ok.ok_or_else(|| de::Error::missing_field("ok"))?;
        let result = match (ok, body, error) {
            (true, Some(body), None) => Ok(body),
            (false, None, Some(error)) => Err(error),
            (true, None, _) => return Err(de::Error::custom("\"ok\":true without \"body\"")),
            (true, Some(_), Some(_)) => {
                return Err(de::Error::custom("\"ok\":true with an \"error\""));
            }
            (false, _, None) => return Err(de::Error::custom("\"ok\":false without \"error\"")),
            (false, Some(_), Some(_)) => {
                return Err(de::Error::custom("\"ok\":false with a \"body\""));
            }
        };
        Ok(Response { id, result })
    }
}

/// Stores a field's value, rejecting a second occurrence of the field.
fn set_once<T, E: de::Error>(slot: &mut Option<T>, name: &'static str, value: T) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::duplicate_field(name));
    }
    *slot = Some(value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;
    use serde_json::json;
    use std::time::Duration;

    const ID: &str = "67e55044-10b1-426f-9247-bb680e5fe0c8";

    fn id() -> Uuid {
        ID.parse().unwrap()
    }

    #[test]
    fn request_json_shape() {
        let req = Request {
            id: id(),
            ts: 1_700_000_000_123,
            body: json!({"limit": 20}),
        };
        let expected = format!(r#"{{"id":"{ID}","ts":1700000000123,"body":{{"limit":20}}}}"#);
        assert_eq!(serde_json::to_string(&req).unwrap(), expected);
        assert_eq!(serde_json::from_str::<Request>(&expected).unwrap(), req);

        // Unknown fields are ignored; a missing body is an error.
        let with_extra =
            format!(r#"{{"trace":"x","id":"{ID}","ts":1700000000123,"body":{{"limit":20}}}}"#);
        assert_eq!(serde_json::from_str::<Request>(&with_extra).unwrap(), req);
        let no_body = format!(r#"{{"id":"{ID}","ts":1}}"#);
        assert!(serde_json::from_str::<Request>(&no_body).is_err());
    }

    #[test]
    fn request_new_uses_fresh_v4_ids_and_current_time() {
        let before = now_unix_ms();
        let a = Request::new(json!({}));
        let b = Request::new(json!({}));
        let after = now_unix_ms();
        assert_ne!(a.id, b.id);
        assert_eq!(a.id.get_version_num(), 4);
        assert!(before <= a.ts && a.ts <= after);
    }

    #[test]
    fn typed_request_body() {
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct Get {
            limit: u32,
        }
        let json = format!(r#"{{"id":"{ID}","ts":5,"body":{{"limit":3}}}}"#);
        let req: Request<Get> = serde_json::from_str(&json).unwrap();
        assert_eq!(req.body, Get { limit: 3 });
        assert_eq!(serde_json::to_string(&req).unwrap(), json);
    }

    #[test]
    fn ok_response_json_shape() {
        let resp = Response::ok(id(), json!({"posts": []}));
        let expected = format!(r#"{{"id":"{ID}","ok":true,"body":{{"posts":[]}}}}"#);
        assert_eq!(serde_json::to_string(&resp).unwrap(), expected);
        let parsed: Response = serde_json::from_str(&expected).unwrap();
        assert_eq!(parsed, resp);
        assert!(parsed.is_ok());
        assert_eq!(parsed.into_result().unwrap(), json!({"posts": []}));
    }

    #[test]
    fn err_response_json_shape() {
        let resp: Response = Response::err(
            id(),
            WireError::new(ErrorCode::RateLimited, "too many requests")
                .with_retry_after(Duration::from_secs(2)),
        );
        let expected = format!(
            r#"{{"id":"{ID}","ok":false,"error":{{"code":"rate-limited","message":"too many requests","retry_after_ms":2000}}}}"#
        );
        assert_eq!(serde_json::to_string(&resp).unwrap(), expected);
        assert_eq!(serde_json::from_str::<Response>(&expected).unwrap(), resp);

        let resp: Response<()> = Response::err(id(), WireError::new(ErrorCode::NotFound, "gone"));
        let expected = format!(
            r#"{{"id":"{ID}","ok":false,"error":{{"code":"not-found","message":"gone"}}}}"#
        );
        assert_eq!(serde_json::to_string(&resp).unwrap(), expected);
        let parsed: Response<()> = serde_json::from_str(&expected).unwrap();
        assert_eq!(
            parsed.into_result().unwrap_err(),
            WireError::new(ErrorCode::NotFound, "gone")
        );
    }

    #[test]
    fn unparsed_request_gets_nil_id() {
        let resp: Response =
            Response::err_unparsed(WireError::new(ErrorCode::InvalidRequest, "bad json"));
        assert_eq!(
            serde_json::to_string(&resp).unwrap(),
            r#"{"id":"00000000-0000-0000-0000-000000000000","ok":false,"error":{"code":"invalid-request","message":"bad json"}}"#
        );
    }

    #[test]
    fn response_fields_in_any_order_and_unknown_fields_ignored() {
        let json = format!(
            r#"{{"body":{{"a":1}},"future":{{"x":[1,2,3]}},"ok":true,"id":"{ID}","more":null}}"#
        );
        let parsed: Response = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed, Response::ok(id(), json!({"a": 1})));
    }

    #[test]
    fn null_body_is_a_body() {
        let json = format!(r#"{{"id":"{ID}","ok":true,"body":null}}"#);
        let parsed: Response<()> = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed, Response::ok(id(), ()));
        let parsed: Response = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed, Response::ok(id(), serde_json::Value::Null));
        assert_eq!(
            serde_json::to_string(&Response::ok(id(), ())).unwrap(),
            json
        );
    }

    #[test]
    fn malformed_responses_are_rejected() {
        let err = r#"{"code":"timeout","message":"m"}"#;
        let cases = [
            format!(r#"{{"id":"{ID}","ok":true}}"#),
            format!(r#"{{"id":"{ID}","ok":false}}"#),
            format!(r#"{{"id":"{ID}","ok":false,"body":{{}}}}"#),
            format!(r#"{{"id":"{ID}","ok":true,"error":{err}}}"#),
            format!(r#"{{"id":"{ID}","ok":true,"body":{{}},"error":{err}}}"#),
            format!(r#"{{"id":"{ID}","ok":false,"body":{{}},"error":{err}}}"#),
            r#"{"ok":true,"body":{}}"#.to_owned(),
            format!(r#"{{"id":"{ID}","body":{{}}}}"#),
            r#"{"id":"not-a-uuid","ok":true,"body":{}}"#.to_owned(),
            format!(r#"{{"id":"{ID}","ok":"true","body":{{}}}}"#),
            format!(r#"{{"id":"{ID}","ok":true,"ok":true,"body":{{}}}}"#),
            format!(r#"{{"id":"{ID}","ok":false,"error":{{"code":"teapot","message":"m"}}}}"#),
            format!(r#"[{ID:?},true,{{}}]"#),
            "null".to_owned(),
        ];
        for json in cases {
            assert!(
                serde_json::from_str::<Response>(&json).is_err(),
                "{json} must be rejected"
            );
        }
    }

    #[test]
    fn typed_body_mismatch_is_an_error() {
        let json = format!(r#"{{"id":"{ID}","ok":true,"body":"x"}}"#);
        assert!(serde_json::from_str::<Response<u32>>(&json).is_err());
        let json = format!(r#"{{"id":"{ID}","ok":true,"body":7}}"#);
        assert_eq!(
            serde_json::from_str::<Response<u32>>(&json).unwrap(),
            Response::ok(id(), 7)
        );
    }
}

//! The two JSON steps of signing and verifying: parsing received bytes strictly into a map, and
//! writing a map as RFC 8785 canonical JSON.
//!
//! Parsing is strict about one thing `serde_json` lets through: a member name repeated in one
//! object. JSON parsers disagree about which duplicate wins, so a relay could otherwise hand two
//! implementations the same signed bytes and have them see different content. Such objects are
//! refused at every depth.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use super::ObjectError;

/// Parses `bytes` as one JSON object, refusing repeated member names at any depth.
///
/// Nesting is bounded by `serde_json`'s recursion limit (128), so hostile input cannot exhaust
/// the stack here or in [`canonicalize`].
pub(crate) fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, ObjectError> {
    match serde_json::from_slice::<StrictValue>(bytes) {
        Ok(StrictValue(Value::Object(map))) => Ok(map),
        Ok(StrictValue(other)) => Err(ObjectError::Malformed(format!(
            "expected a JSON object, got {}",
            json_type(&other)
        ))),
        Err(e) => Err(ObjectError::Malformed(e.to_string())),
    }
}

/// The RFC 8785 (JCS) canonical JSON of `map`: members sorted by their UTF-16 code units, no
/// white space, minimal string escapes, numbers as ECMAScript prints them.
pub(crate) fn canonicalize(map: &Map<String, Value>) -> Result<Vec<u8>, ObjectError> {
    // Can only fail on non-finite floats, which JSON text cannot express.
    serde_jcs::to_vec(map).map_err(|e| ObjectError::Malformed(format!("canonicalizing: {e}")))
}

/// The name of a JSON value's type, for error messages.
pub(crate) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A JSON value whose objects had no repeated member names.
struct StrictValue(Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("non-finite number"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                return Err(de::Error::custom("member name repeated in one object"));
            }
            let StrictValue(value) = access.next_value()?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_like_serde_json_when_there_are_no_duplicates() {
        let text = br#" { "a" : [1, -2, 3.5, true, null, {"b": "\u00e9\n"}], "c": {} } "#;
        let map = parse_object(text).unwrap();
        assert_eq!(
            Value::Object(map),
            serde_json::from_slice::<Value>(text).unwrap()
        );
    }

    #[test]
    fn refuses_duplicates_at_any_depth_and_non_objects() {
        for text in [
            r#"{"a":1,"a":1}"#,
            r#"{"a":1,"b":{"c":1,"c":2}}"#,
            r#"{"a":[{"x":null,"x":null}]}"#,
            // The same name spelled with an escape is still the same name.
            r#"{"a":1,"\u0061":2}"#,
        ] {
            assert!(
                matches!(parse_object(text.as_bytes()), Err(ObjectError::Malformed(m)) if m.contains("repeated")),
                "{text}"
            );
        }
        for text in [
            "[]",
            "1",
            "\"x\"",
            "null",
            "",
            "{",
            "{} {}",
            "{\"a\":1}x",
            "\u{feff}{}",
        ] {
            assert!(
                matches!(
                    parse_object(text.as_bytes()),
                    Err(ObjectError::Malformed(_))
                ),
                "{text:?}"
            );
        }
        assert!(parse_object(b"{\"a\":\"\xff\"}").is_err());
        assert!(parse_object(br#"{"a":"\ud800"}"#).is_err());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(matches!(
            parse_object(deep.as_bytes()),
            Err(ObjectError::Malformed(_))
        ));
        let ok = format!("{{\"a\":{}{}}}", "[".repeat(100), "]".repeat(100));
        let map = parse_object(ok.as_bytes()).unwrap();
        assert!(canonicalize(&map).is_ok());
    }

    #[test]
    fn canonical_form_follows_rfc_8785() {
        // Members sort by UTF-16 code units: "😀" (D83D DE00) comes before "｡" (FF61), the
        // opposite of code point (and UTF-8) order.
        let map = parse_object(
            r#"{"b":1,"a":[1.0,-0,1e3,0.000001,1e21],"\u00e9":"\u0041/\u001f","😀":true,"｡":false}"#
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(canonicalize(&map).unwrap()).unwrap(),
            "{\"a\":[1,0,1000,0.000001,1e+21],\"b\":1,\"é\":\"A/\\u001f\",\"😀\":true,\"｡\":false}"
        );
        let map = json!({"created_at": 1_700_000_000_000u64, "v": 1});
        assert_eq!(
            canonicalize(map.as_object().unwrap()).unwrap(),
            br#"{"created_at":1700000000000,"v":1}"#
        );
    }
}

//! Route ids: the names of the request/response protocols Kith nodes speak to each other.
//!
//! A route is `/{visibility}/{op}/{domain}[/{sub}]/{major.minor.patch}`, for example
//! `/public/get/info/0.0.0`. The string is used verbatim as the libp2p stream protocol name, so
//! multistream-select negotiates the route when a stream opens and a node that does not serve it
//! refuses the stream before any byte of the request is sent. One route is one protocol: this is
//! why Kith uses `libp2p-stream` rather than `request_response` (which offers all its protocols at
//! once).
//!
//! Parsing is strict, so that two spellings of one route cannot exist: lowercase only, no empty
//! segments, no trailing slash, no leading zeros in the version.

use std::fmt;
use std::str::FromStr;

use libp2p::StreamProtocol;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;

/// Longest allowed `domain` or `sub` segment, in bytes.
pub const MAX_SEGMENT_LEN: usize = 32;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Any peer holding the network key may call it (`public`).
    Public,
    /// Only peers the owner has authorised may call it (`private`); the dispatcher checks this
    /// before the handler runs.
    Private,
}

impl Visibility {
    /// The wire name: `public` or `private`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Private => "private",
        }
    }
}

impl fmt::Display for Visibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Visibility {
    type Err = Error;

    /// Parses the exact lowercase wire name.
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "public" => Ok(Visibility::Public),
            "private" => Ok(Visibility::Private),
            _ => Err(Error::UnknownName {
                kind: "visibility",
                value: s.to_owned(),
            }),
        }
    }
}

/// What a route does, in the REST sense.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// Read something; no side effects on the callee (`get`).
    Get,
    /// Create or submit something (`post`).
    Post,
    /// Remove something (`delete`).
    Delete,
}

impl Op {
    /// The wire name: `get`, `post` or `delete`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Op::Get => "get",
            Op::Post => "post",
            Op::Delete => "delete",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Op {
    type Err = Error;

    /// Parses the exact lowercase wire name.
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "get" => Ok(Op::Get),
            "post" => Ok(Op::Post),
            "delete" => Ok(Op::Delete),
            _ => Err(Error::UnknownName {
                kind: "op",
                value: s.to_owned(),
            }),
        }
    }
}

/// A semantic version core, `major.minor.patch`, as used in route ids and as the protocol version
/// in the node info.
///
/// Displayed and serialized as `0.1.0`. Parsing accepts only decimal numbers without leading zeros
/// (`0` itself is fine) that fit a `u32`; pre-release and build suffixes are rejected. Ordering is
/// semver precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Version {
    /// Incompatible changes (once at 1 or above).
    pub major: u32,
    /// Compatible additions; while `major` is 0, incompatible changes.
    pub minor: u32,
    /// Compatible fixes.
    pub patch: u32,
}

impl Version {
    /// Builds a version from its three parts.
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        Version {
            major,
            minor,
            patch,
        }
    }

    /// Whether software speaking `self` and software speaking `other` can talk to each other,
    /// following semver: the same major version, and while the major version is 0, also the same
    /// minor version. The patch version never matters. The relation is symmetric.
    pub const fn is_compatible_with(&self, other: &Version) -> bool {
        self.major == other.major && (self.major != 0 || self.minor == other.minor)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl FromStr for Version {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let invalid = |reason| Error::InvalidVersion {
            version: s.to_owned(),
            reason,
        };
        let mut parts = s.split('.');
        let (Some(major), Some(minor), Some(patch), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid("expected exactly three dot-separated numbers"));
        };
        Ok(Version {
            major: parse_version_part(major).map_err(invalid)?,
            minor: parse_version_part(minor).map_err(invalid)?,
            patch: parse_version_part(patch).map_err(invalid)?,
        })
    }
}

/// Parses one numeric identifier of a semver core.
fn parse_version_part(part: &str) -> Result<u32, &'static str> {
    if part.is_empty() {
        return Err("empty version number");
    }
    if !part.bytes().all(|b| b.is_ascii_digit()) {
        return Err("version numbers are decimal digits only");
    }
    if part.len() > 1 && part.starts_with('0') {
        return Err("version numbers have no leading zeros");
    }
    part.parse()
        .map_err(|_| "version number does not fit in 32 bits")
}

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(FromStrVisitor::<Version>::new(
            "a version such as \"0.1.0\"",
        ))
    }
}

/// A route id: `/{visibility}/{op}/{domain}[/{sub}]/{major.minor.patch}`.
///
/// `domain` and `sub` are 1 to [`MAX_SEGMENT_LEN`] bytes of lowercase ASCII letters, digits and
/// `-`. A `Route` value always holds a valid route, and its [`Display`](fmt::Display) form parses
/// back to an equal value (and vice versa: [`FromStr`] accepts exactly the strings `Display`
/// produces). Serialized as that string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Route {
    visibility: Visibility,
    op: Op,
    domain: String,
    sub: Option<String>,
    version: Version,
}

impl Route {
    /// Builds a route from its parts, checking `domain` and `sub` as [`FromStr`] does.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRoute`] if `domain` or `sub` is empty, longer than [`MAX_SEGMENT_LEN`] or
    /// contains anything but lowercase ASCII letters, digits and `-`.
    pub fn new(
        visibility: Visibility,
        op: Op,
        domain: &str,
        sub: Option<&str>,
        version: Version,
    ) -> Result<Route, Error> {
        let route = Route {
            visibility,
            op,
            domain: domain.to_owned(),
            sub: sub.map(str::to_owned),
            version,
        };
        let invalid = |reason: String| Error::InvalidRoute {
            route: route.to_string(),
            reason,
        };
        check_segment("domain", domain).map_err(invalid)?;
        if let Some(sub) = sub {
            check_segment("sub", sub).map_err(invalid)?;
        }
        Ok(route)
    }

    /// Who may call the route.
    pub fn visibility(&self) -> Visibility {
        self.visibility
    }

    /// What the route does.
    pub fn op(&self) -> Op {
        self.op
    }

    /// The thing the route is about, e.g. `info` or `posts`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The optional refinement of the domain, e.g. `replies` in `/public/get/posts/replies/0.0.0`.
    pub fn sub(&self) -> Option<&str> {
        self.sub.as_deref()
    }

    /// The route's version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// Whether only authorised peers may call this route.
    pub fn is_private(&self) -> bool {
        self.visibility == Visibility::Private
    }

    /// Whether `self` and `other` name the same endpoint (visibility, op, domain and sub), in any
    /// version.
    pub fn same_endpoint(&self, other: &Route) -> bool {
        self.visibility == other.visibility
            && self.op == other.op
            && self.domain == other.domain
            && self.sub == other.sub
    }

    /// Whether a caller speaking `self` can be served by a handler for `other`: the same endpoint
    /// and semver-compatible versions (see [`Version::is_compatible_with`]).
    pub fn compatible_with(&self, other: &Route) -> bool {
        self.same_endpoint(other) && self.version.is_compatible_with(&other.version)
    }

    /// The libp2p stream protocol name for this route: the route string itself.
    pub fn protocol(&self) -> StreamProtocol {
        StreamProtocol::try_from_owned(self.to_string())
            .expect("a route's Display form always starts with '/', the only StreamProtocol rule")
    }
}

/// Checks a `domain` or `sub` segment; the error is the reason, for [`Error::InvalidRoute`].
fn check_segment(what: &str, segment: &str) -> Result<(), String> {
    if segment.is_empty() {
        return Err(format!("{what} is empty"));
    }
    if segment.len() > MAX_SEGMENT_LEN {
        return Err(format!(
            "{what} is {} bytes long, at most {MAX_SEGMENT_LEN} allowed",
            segment.len()
        ));
    }
    if let Some(c) = segment
        .chars()
        .find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '-'))
    {
        return Err(format!(
            "{what} contains {c:?}; only lowercase ASCII letters, digits and '-' are allowed"
        ));
    }
    Ok(())
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/{}/{}/{}", self.visibility, self.op, self.domain)?;
        if let Some(sub) = &self.sub {
            write!(f, "/{sub}")?;
        }
        write!(f, "/{}", self.version)
    }
}

impl FromStr for Route {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let invalid = |reason: String| Error::InvalidRoute {
            route: s.to_owned(),
            reason,
        };
        let Some(rest) = s.strip_prefix('/') else {
            return Err(invalid("a route starts with '/'".to_owned()));
        };
        let segments: Vec<&str> = rest.split('/').collect();
        let (visibility, op, domain, sub, version) = match segments.as_slice() {
            [visibility, op, domain, version] => (*visibility, *op, *domain, None, *version),
            [visibility, op, domain, sub, version] => {
                (*visibility, *op, *domain, Some(*sub), *version)
            }
            _ => {
                return Err(invalid(format!(
                    "expected 4 or 5 segments after the leading '/' \
                     (visibility, op, domain, optional sub, version), found {}",
                    segments.len()
                )));
            }
        };
        let visibility = visibility
            .parse()
            .map_err(|e: Error| invalid(e.to_string()))?;
        let op = op.parse().map_err(|e: Error| invalid(e.to_string()))?;
        check_segment("domain", domain).map_err(invalid)?;
        if let Some(sub) = sub {
            check_segment("sub", sub).map_err(invalid)?;
        }
        let version = version.parse().map_err(|e: Error| invalid(e.to_string()))?;
        Ok(Route {
            visibility,
            op,
            domain: domain.to_owned(),
            sub: sub.map(str::to_owned),
            version,
        })
    }
}

impl Serialize for Route {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Route {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(FromStrVisitor::<Route>::new(
            "a route such as \"/public/get/info/0.0.0\"",
        ))
    }
}

/// A serde visitor that accepts a string and parses it with [`FromStr`], so string-typed wire
/// values are parsed without an intermediate `String`.
pub(crate) struct FromStrVisitor<T> {
    expecting: &'static str,
    _marker: std::marker::PhantomData<fn() -> T>,
}

impl<T> FromStrVisitor<T> {
    pub(crate) fn new(expecting: &'static str) -> Self {
        FromStrVisitor {
            expecting,
            _marker: std::marker::PhantomData,
        }
    }
}

impl<T> Visitor<'_> for FromStrVisitor<T>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        v.parse().map_err(E::custom)
    }
}

/// Whether a route is part of the network's plumbing or carries a person's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteClass {
    /// Needed to find and check peers: [`routes::info`] and [`routes::peers`]. Every node serves
    /// these, bootstrap nodes included.
    Infrastructure,
    /// Everything else: posts, follows and whatever later versions add. Bootstrap nodes hold no
    /// content and refuse these routes.
    Content,
}

/// Which [`RouteClass`] a route belongs to. The version is ignored: every version of the info and
/// peers endpoints is infrastructure.
pub fn class_of(route: &Route) -> RouteClass {
    if route.same_endpoint(&routes::info()) || route.same_endpoint(&routes::peers()) {
        RouteClass::Infrastructure
    } else {
        RouteClass::Content
    }
}

/// The well-known routes.
pub mod routes {
    use super::{Op, Route, Version, Visibility};

    pub use super::{RouteClass, class_of};

    /// Builds a well-known route from parts that are valid by construction.
    fn known(visibility: Visibility, op: Op, domain: &'static str) -> Route {
        Route {
            visibility,
            op,
            domain: domain.to_owned(),
            sub: None,
            version: Version::new(0, 0, 0),
        }
    }

    /// A well-known route with a sub-domain.
    fn known_sub(visibility: Visibility, op: Op, domain: &'static str, sub: &'static str) -> Route {
        Route {
            sub: Some(sub.to_owned()),
            ..known(visibility, op, domain)
        }
    }

    /// `/public/get/info/0.0.0`: the callee's [`NodeInfo`](crate::NodeInfo). Request body `{}`,
    /// response body the node info document.
    pub fn info() -> Route {
        known(Visibility::Public, Op::Get, "info")
    }

    /// `/public/get/peers/0.0.0`: peer exchange, the callee's known good peers. Request body `{}`,
    /// response body a [`PeersResponse`](crate::PeersResponse).
    pub fn peers() -> Route {
        known(Visibility::Public, Op::Get, "peers")
    }

    /// `/public/get/posts/0.0.0`: pull sync of the callee's own posts and deletes, and the set
    /// reconciliation that repairs holes. Request body a
    /// [`PostsRequest`](crate::PostsRequest), response body the matching
    /// [`PostsResponse`](crate::PostsResponse). Followers-only when the callee's account is locked.
    pub fn posts() -> Route {
        known(Visibility::Public, Op::Get, "posts")
    }

    /// `/public/get/profile/0.0.0`: the callee's signed profile. Request body `{}`, response
    /// body a [`ProfileResponse`](crate::ProfileResponse). Followers-only when locked.
    pub fn profile() -> Route {
        known(Visibility::Public, Op::Get, "profile")
    }

    /// `/public/post/follow/0.0.0`: the caller follows (or unfollows) the callee. Request body a
    /// [`FollowBody`](crate::FollowBody) carrying the caller's signed follow or unfollow, response
    /// body a [`FollowReply`](crate::FollowReply).
    pub fn follow() -> Route {
        known(Visibility::Public, Op::Post, "follow")
    }

    /// `/public/post/follow/decision/0.0.0`: a locked account's owner tells the caller's
    /// follow request was approved or rejected. Request body a
    /// [`FollowDecision`](crate::FollowDecision), response body `{}`.
    pub fn follow_decision() -> Route {
        known_sub(Visibility::Public, Op::Post, "follow", "decision")
    }

    /// `/public/post/objects/0.0.0`: the callee's followee hands over its own new objects
    /// directly (how a locked account, which publishes nothing on its open topic, reaches its
    /// approved followers). Request body an [`ObjectsBody`](crate::ObjectsBody), response body
    /// an [`ObjectsReply`](crate::ObjectsReply).
    pub fn objects() -> Route {
        known(Visibility::Public, Op::Post, "objects")
    }

    /// `/private/get/timeline/0.0.0`: the owner's home timeline, for the owner's paired
    /// devices only. Request body a [`TimelineRequest`](crate::TimelineRequest), response body
    /// an [`ObjectsPage`](crate::ObjectsPage).
    pub fn timeline() -> Route {
        known(Visibility::Private, Op::Get, "timeline")
    }

    /// Every content route a member node serves.
    pub fn content() -> [Route; 6] {
        [
            posts(),
            profile(),
            follow(),
            follow_decision(),
            objects(),
            timeline(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(s: &str) -> Result<Route, Error> {
        s.parse()
    }

    #[test]
    fn well_known_routes_have_their_documented_strings() {
        assert_eq!(routes::info().to_string(), "/public/get/info/0.0.0");
        assert_eq!(routes::peers().to_string(), "/public/get/peers/0.0.0");
        assert_eq!(routes::posts().to_string(), "/public/get/posts/0.0.0");
        assert_eq!(routes::follow().to_string(), "/public/post/follow/0.0.0");
        for route in [
            routes::info(),
            routes::peers(),
            routes::posts(),
            routes::follow(),
        ] {
            assert_eq!(parse(&route.to_string()).unwrap(), route);
            assert_eq!(route.protocol().as_ref(), route.to_string());
        }
    }

    #[test]
    fn parses_route_with_and_without_sub() {
        let r = parse("/private/delete/posts/replies/1.20.300").unwrap();
        assert_eq!(r.visibility(), Visibility::Private);
        assert_eq!(r.op(), Op::Delete);
        assert_eq!(r.domain(), "posts");
        assert_eq!(r.sub(), Some("replies"));
        assert_eq!(r.version(), Version::new(1, 20, 300));
        assert!(r.is_private());
        assert_eq!(r.to_string(), "/private/delete/posts/replies/1.20.300");

        let r = parse("/public/get/info/0.0.0").unwrap();
        assert_eq!(r.sub(), None);
        assert!(!r.is_private());
        assert_eq!(r, routes::info());
    }

    #[test]
    fn rejects_malformed_routes() {
        let bad = [
            "",
            "/",
            "public/get/info/0.0.0",
            "/public/get/info/0.0.0/",
            "//public/get/info/0.0.0",
            "/public/get/info",
            "/public/get/0.0.0",
            "/public/get/info/sub/extra/0.0.0",
            "/Public/get/info/0.0.0",
            "/protected/get/info/0.0.0",
            "/public/put/info/0.0.0",
            "/public/GET/info/0.0.0",
            "/public/get/Info/0.0.0",
            "/public/get/in_fo/0.0.0",
            "/public/get/in.fo/0.0.0",
            "/public/get/inf\u{f6}/0.0.0",
            "/public/get//0.0.0",
            "/public/get/info//0.0.0",
            "/public/get/info/x y/0.0.0",
            "/public/get/info/0.0",
            "/public/get/info/0.0.0.0",
            "/public/get/info/00.0.0",
            "/public/get/info/0.01.0",
            "/public/get/info/+1.0.0",
            "/public/get/info/-1.0.0",
            "/public/get/info/1.0.0-alpha",
            "/public/get/info/1.0.0+build",
            "/public/get/info/4294967296.0.0",
            "/public/get/info/1..0",
            "/public/get/info/v1.0.0",
            " /public/get/info/0.0.0",
            "/public/get/info/0.0.0 ",
        ];
        for s in bad {
            match parse(s) {
                Err(Error::InvalidRoute { route, reason }) => {
                    assert_eq!(route, s);
                    assert!(!reason.is_empty());
                }
                other => panic!("{s:?} should be rejected as a route, got {other:?}"),
            }
        }
    }

    #[test]
    fn segment_length_limit_is_32() {
        let ok = "a".repeat(32);
        let too_long = "a".repeat(33);
        assert!(parse(&format!("/public/get/{ok}/{ok}/0.0.0")).is_ok());
        assert!(parse(&format!("/public/get/{too_long}/0.0.0")).is_err());
        assert!(parse(&format!("/public/get/info/{too_long}/0.0.0")).is_err());
    }

    #[test]
    fn new_checks_segments() {
        let v = Version::new(0, 0, 0);
        let r = Route::new(Visibility::Public, Op::Get, "info", None, v).unwrap();
        assert_eq!(r, routes::info());
        let r = Route::new(Visibility::Public, Op::Get, "posts", Some("by-tag"), v).unwrap();
        assert_eq!(r.to_string(), "/public/get/posts/by-tag/0.0.0");
        for (domain, sub) in [
            ("", None),
            ("Info", None),
            ("info", Some("")),
            ("a/b", None),
        ] {
            assert!(
                matches!(
                    Route::new(Visibility::Public, Op::Get, domain, sub, v),
                    Err(Error::InvalidRoute { .. })
                ),
                "{domain:?} / {sub:?} must be rejected"
            );
        }
    }

    #[test]
    fn version_compatibility_follows_semver() {
        let v = |a, b, c| Version::new(a, b, c);
        assert!(v(0, 1, 0).is_compatible_with(&v(0, 1, 7)));
        assert!(!v(0, 1, 0).is_compatible_with(&v(0, 2, 0)));
        assert!(v(1, 0, 0).is_compatible_with(&v(1, 9, 3)));
        assert!(!v(1, 0, 0).is_compatible_with(&v(2, 0, 0)));
        assert!(!v(0, 0, 0).is_compatible_with(&v(1, 0, 0)));
        assert!(v(0, 0, 0).is_compatible_with(&v(0, 0, 9)));
        assert!(v(0, 1, 0) < v(0, 1, 1) && v(0, 1, 9) < v(0, 2, 0) && v(0, 9, 9) < v(1, 0, 0));
    }

    #[test]
    fn route_compatibility_needs_same_endpoint() {
        let a = parse("/public/get/posts/0.1.0").unwrap();
        assert!(a.compatible_with(&parse("/public/get/posts/0.1.4").unwrap()));
        assert!(!a.compatible_with(&parse("/public/get/posts/0.2.0").unwrap()));
        assert!(!a.compatible_with(&parse("/private/get/posts/0.1.0").unwrap()));
        assert!(!a.compatible_with(&parse("/public/delete/posts/0.1.0").unwrap()));
        assert!(!a.compatible_with(&parse("/public/get/post/0.1.0").unwrap()));
        assert!(!a.compatible_with(&parse("/public/get/posts/x/0.1.0").unwrap()));
    }

    #[test]
    fn route_classes() {
        assert_eq!(class_of(&routes::info()), RouteClass::Infrastructure);
        assert_eq!(class_of(&routes::peers()), RouteClass::Infrastructure);
        assert_eq!(
            class_of(&parse("/public/get/info/0.3.0").unwrap()),
            RouteClass::Infrastructure
        );
        assert_eq!(class_of(&routes::posts()), RouteClass::Content);
        assert_eq!(class_of(&routes::follow()), RouteClass::Content);
        assert_eq!(
            class_of(&parse("/private/get/info/0.0.0").unwrap()),
            RouteClass::Content
        );
        assert_eq!(
            class_of(&parse("/public/get/info/x/0.0.0").unwrap()),
            RouteClass::Content
        );
    }

    #[test]
    fn serde_uses_the_string_form() {
        let r = parse("/public/post/follow/0.0.0").unwrap();
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#""/public/post/follow/0.0.0""#
        );
        assert_eq!(
            serde_json::from_str::<Route>(r#""/public/post/follow/0.0.0""#).unwrap(),
            r
        );
        assert!(serde_json::from_str::<Route>(r#""/public/post/Follow/0.0.0""#).is_err());
        assert!(serde_json::from_str::<Route>("42").is_err());
        assert_eq!(
            serde_json::to_string(&Version::new(0, 1, 0)).unwrap(),
            r#""0.1.0""#
        );
        assert_eq!(
            serde_json::from_str::<Version>(r#""3.2.1""#).unwrap(),
            Version::new(3, 2, 1)
        );
        assert!(serde_json::from_str::<Version>(r#""3.2""#).is_err());
        assert_eq!(
            serde_json::to_string(&Visibility::Private).unwrap(),
            r#""private""#
        );
        assert_eq!(serde_json::to_string(&Op::Delete).unwrap(), r#""delete""#);
    }

    fn segment() -> impl Strategy<Value = String> {
        "[a-z0-9-]{1,32}"
    }

    prop_compose! {
        fn valid_route()(
            visibility in prop_oneof![Just(Visibility::Public), Just(Visibility::Private)],
            op in prop_oneof![Just(Op::Get), Just(Op::Post), Just(Op::Delete)],
            domain in segment(),
            sub in proptest::option::of(segment()),
            (major, minor, patch) in (any::<u32>(), any::<u32>(), any::<u32>()),
        ) -> Route {
            Route::new(visibility, op, &domain, sub.as_deref(), Version::new(major, minor, patch))
                .expect("the strategy only generates valid segments")
        }
    }

    proptest! {
        #[test]
        fn display_then_parse_is_identity(route in valid_route()) {
            let s = route.to_string();
            let parsed = parse(&s).unwrap();
            prop_assert_eq!(&parsed, &route);
            prop_assert_eq!(parsed.to_string(), s);
            let json = serde_json::to_string(&route).unwrap();
            prop_assert_eq!(serde_json::from_str::<Route>(&json).unwrap(), route);
        }

        #[test]
        fn arbitrary_strings_never_panic(s in "\\PC*") {
            if let Ok(route) = parse(&s) {
                prop_assert_eq!(route.to_string(), s);
            }
        }

        #[test]
        fn near_miss_strings_never_panic_and_accepted_ones_round_trip(
            s in "/(public|private|Public|x)?/(get|post|delete|put)?/[a-z0-9_.A-Z-]{0,34}(/[a-z0-9-]{0,33})?/[0-9.+a-]{0,14}/?"
        ) {
            if let Ok(route) = parse(&s) {
                prop_assert_eq!(route.to_string(), s);
            }
        }
    }
}

//! `GET /api/openapi.json`: the OpenAPI 3.1 document of the whole HTTP API, generated from the
//! code.
//!
//! Each handler carries a `#[utoipa::path]` annotation next to its code; each module gathers its
//! handlers in a `Docs` struct, and [`document`] merges those parts, declares the bearer scheme
//! (required on every operation except the probes and this document) and adds the 401 answer to
//! every `/api/v1/` operation. The body schemas come from the types in `kith-protocols` (its
//! `openapi` feature derives them), the same types the handlers serialize.
//!
//! The router's endpoint table and this document must list the same `(method, path)` pairs;
//! the tests below check it both ways.

use std::sync::LazyLock;

use utoipa::{
    OpenApi,
    openapi::{
        self, ContentBuilder, Ref, RefOr, ResponseBuilder,
        security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};

use crate::{
    api,
    extract::ApiJson,
    health, metrics,
    router::{API_PREFIX, Endpoint, Verb},
};

/// Where the document is served.
pub(crate) const DOCUMENT_PATH: &str = "/api/openapi.json";

/// The name of the bearer security scheme in the document (also spelled out in `Root`'s
/// `security`, where the macro wants a literal).
const BEARER: &str = "bearer";
/// The name of the browser session's security scheme (the `kith_session` cookie).
const SESSION: &str = "session";

/// `/api/openapi.json`.
pub(crate) fn endpoints() -> Vec<Endpoint> {
    vec![Endpoint::new(Verb::Get, DOCUMENT_PATH, openapi_document)]
}

/// The root of the document: its info, tags and global security requirement.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Kith node API",
        description = "The local HTTP API of a Kith node: its owner's posts, timeline, profile, \
            follows, devices, peers and live events. Everything under `/api/v1/` needs \
            `Authorization: Bearer <token>` (the token is in the data dir's `api.token`) or the web \
            UI's session cookie, with `X-CSRF-Token` on requests that change something. \
            Errors are `{\"error\":{\"code\",\"message\"}}` with a fitting status.",
        license(name = "MIT OR Apache-2.0"),
    ),
    paths(openapi_document),
    security(("bearer" = []), ("session" = [])),
    tags(
        (name = "probes", description = "Health, readiness and metrics, without authentication"),
        (name = "node", description = "This node"),
        (name = "peers", description = "Other nodes of the network"),
        (name = "network", description = "The private network"),
        (name = "blocks", description = "The blocklist"),
        (name = "mutes", description = "People hidden from the owner's timeline, events and notifications"),
        (name = "posts", description = "Posts and the home timeline"),
        (name = "users", description = "People by peer id"),
        (name = "profile", description = "The owner's profile"),
        (name = "follows", description = "Following, followers and follow requests"),
        (name = "devices", description = "Paired devices"),
        (name = "events", description = "Live events (server-sent events)"),
        (name = "notifications", description = "What happened to the owner: replies, likes, follows"),
        (name = "search", description = "People and posts this node knows, by name, peer id or words"),
        (name = "session", description = "The browser session and login links"),
        (name = "ui", description = "The web UI's login (the UI itself is served at `/`)"),
        (name = "meta", description = "This document"),
    )
)]
struct Root;

/// The whole document, built once.
static DOCUMENT: LazyLock<openapi::OpenApi> = LazyLock::new(document);

/// Builds the document from the parts of every module.
pub(crate) fn document() -> openapi::OpenApi {
    let mut doc = Root::openapi();
    for part in [
        health::Docs::openapi(),
        metrics::Docs::openapi(),
        api::node::Docs::openapi(),
        api::peers::Docs::openapi(),
        api::network::Docs::openapi(),
        api::blocks::Docs::openapi(),
        api::mutes::Docs::openapi(),
        api::posts::Docs::openapi(),
        api::users::Docs::openapi(),
        api::profile::Docs::openapi(),
        api::follows::Docs::openapi(),
        api::devices::Docs::openapi(),
        api::events::Docs::openapi(),
        api::notifications::Docs::openapi(),
        api::search::Docs::openapi(),
        api::session::Docs::openapi(),
        crate::ui::Docs::openapi(),
    ] {
        doc.merge(part);
    }
    doc.components
        .get_or_insert_with(Default::default)
        .add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The node's API token: the content of `api.token` in its data dir",
                    ))
                    .build(),
            ),
        );
    doc.components
        .get_or_insert_with(Default::default)
        .add_security_scheme(
            SESSION,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::session::SESSION_COOKIE,
                "The web UI's session (see POST /login and GET /login?code=); requests that \
                 change something also need `X-CSRF-Token` from GET /api/v1/session",
            ))),
        );
    let unauthorized = ResponseBuilder::new()
        .description("Missing or wrong token (with `WWW-Authenticate: Bearer`)")
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ApiErrorBody")))
                .build(),
        )
        .build();
    for (path, item) in doc.paths.paths.iter_mut() {
        if !path.starts_with(&format!("{API_PREFIX}/")) {
            continue;
        }
        for operation in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            operation
                .responses
                .responses
                .entry("401".to_owned())
                .or_insert_with(|| RefOr::T(unauthorized.clone()));
        }
    }
    doc
}

/// This document: the OpenAPI description of every endpoint.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "meta",
    security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object))
)]
pub(crate) async fn openapi_document() -> ApiJson<&'static openapi::OpenApi> {
    ApiJson(&DOCUMENT)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::*;
    use crate::router::endpoints;

    /// The `(METHOD, path)` pairs of the document.
    fn documented(doc: &Value) -> BTreeSet<(String, String)> {
        let paths = doc["paths"].as_object().expect("paths");
        let mut pairs = BTreeSet::new();
        for (path, item) in paths {
            for (method, _) in item.as_object().expect("a path item") {
                pairs.insert((method.to_uppercase(), path.clone()));
            }
        }
        pairs
    }

    fn document_json() -> Value {
        serde_json::to_value(document()).expect("the document serializes")
    }

    #[test]
    fn every_endpoint_is_documented_and_every_documented_one_is_routed() {
        let routed: BTreeSet<(String, String)> = endpoints()
            .iter()
            .map(|e| (e.verb.as_str().to_owned(), e.path.to_owned()))
            .collect();
        let documented = documented(&document_json());
        let undocumented: Vec<_> = routed.difference(&documented).collect();
        assert!(
            undocumented.is_empty(),
            "endpoints without an OpenAPI operation (add #[utoipa::path] and list it in the \
             module's Docs): {undocumented:?}"
        );
        let unrouted: Vec<_> = documented.difference(&routed).collect();
        assert!(
            unrouted.is_empty(),
            "documented operations that no endpoint serves: {unrouted:?}"
        );
        // The old and the new endpoints alike.
        for (method, path) in [
            ("GET", "/healthz"),
            ("GET", "/readyz"),
            ("GET", "/metrics"),
            ("GET", "/api/openapi.json"),
            ("GET", "/api/v1/node"),
            ("POST", "/api/v1/peers"),
            ("GET", "/api/v1/network/invite"),
            ("DELETE", "/api/v1/blocks/{peer_id}"),
            ("POST", "/api/v1/posts"),
            ("GET", "/api/v1/timeline"),
            ("PUT", "/api/v1/profile"),
            ("POST", "/api/v1/follows/requests/{peer_id}/approve"),
            ("DELETE", "/api/v1/devices/{peer_id}"),
            ("GET", "/api/v1/events"),
        ] {
            assert!(
                routed.contains(&(method.to_owned(), path.to_owned())),
                "{method} {path}"
            );
        }
    }

    #[test]
    fn the_api_needs_the_bearer_token_and_the_probes_do_not() {
        let doc = document_json();
        assert_eq!(
            doc["components"]["securitySchemes"][BEARER]["scheme"],
            "bearer"
        );
        assert_eq!(
            doc["security"],
            serde_json::json!([{ BEARER: [] }, { SESSION: [] }])
        );
        assert_eq!(
            doc["components"]["securitySchemes"][SESSION]["name"],
            "kith_session"
        );
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, operation) in item.as_object().expect("a path item") {
                let public = !path.starts_with("/api/v1/");
                if public {
                    // An empty requirement overrides the global one: no authentication.
                    assert_eq!(
                        operation["security"],
                        serde_json::json!([{}]),
                        "{method} {path} must say it needs no token"
                    );
                } else {
                    assert!(
                        operation.get("security").is_none(),
                        "{method} {path} must inherit the bearer requirement"
                    );
                    assert!(
                        operation["responses"]["401"].is_object(),
                        "{method} {path} has no 401 answer"
                    );
                }
            }
        }
    }

    #[test]
    fn every_schema_reference_resolves() {
        let doc = document_json();
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        for name in [
            "NewPost",
            "PostView",
            "PostPage",
            "ProfileView",
            "ProfileUpdate",
            "UserView",
            "FollowView",
            "FollowOutcome",
            "DeviceView",
            "EventView",
            "NodeInfo",
            "PeerView",
            "ApiErrorBody",
            "LaggedView",
        ] {
            assert!(schemas.contains_key(name), "no schema {name}");
        }
        let prefix = "\"#/components/schemas/";
        for (start, _) in text.match_indices(prefix) {
            let rest = &text[start + prefix.len()..];
            let name = &rest[..rest.find('"').expect("a closing quote")];
            assert!(schemas.contains_key(name), "dangling reference to {name}");
        }
    }

    #[test]
    fn path_parameters_are_declared() {
        let doc = document_json();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            let in_path: BTreeSet<&str> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                .collect();
            for (method, operation) in item.as_object().expect("a path item") {
                let declared: BTreeSet<&str> = operation["parameters"]
                    .as_array()
                    .map(|params| {
                        params
                            .iter()
                            .filter(|p| p["in"] == "path")
                            .filter_map(|p| p["name"].as_str())
                            .collect()
                    })
                    .unwrap_or_default();
                assert_eq!(in_path, declared, "{method} {path}");
            }
        }
    }
}

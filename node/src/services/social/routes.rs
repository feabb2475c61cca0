//! The social routes' stream handlers: decode the body, call the service, encode the answer.
//! Every rule is in the service; a service error becomes the wire error with the same code.

use std::future::Future;

use kith_protocols::{
    ErrorCode, FollowBody, FollowDecision, ObjectsBody, ObjectsPage, ObjectsReply, PostsRequest,
    TimelineRequest, WireError, routes,
};
use libp2p::PeerId;
use serde::{Serialize, de::DeserializeOwned};

use super::{MAX_PAGE, SocialService};
use crate::{Error, Handler, RequestContext, Router};

impl SocialService {
    /// Adds the social routes' handlers to `router`.
    pub(crate) fn serve(&self, router: Router) -> Router {
        router
            .route(
                routes::posts(),
                handler(self, |service, caller, request: PostsRequest| async move {
                    service.serve_posts(caller, request)
                }),
            )
            .route(
                routes::profile(),
                handler(self, |service, caller, _: serde_json::Value| async move {
                    service.serve_profile(caller)
                }),
            )
            .route(
                routes::follow(),
                handler(self, |service, caller, body: FollowBody| async move {
                    service.serve_follow(caller, body).await
                }),
            )
            .route(
                routes::follow_decision(),
                handler(self, |service, caller, body: FollowDecision| async move {
                    service.serve_decision(caller, body).await?;
                    Ok(serde_json::json!({}))
                }),
            )
            .route(
                routes::objects(),
                handler(self, |service, caller, body: ObjectsBody| async move {
                    let stored = service.serve_objects(caller, &body.objects).await?;
                    Ok(ObjectsReply { stored })
                }),
            )
            .route(
                routes::timeline(),
                // Private: the policy lets only paired devices this far.
                handler(self, |service, _, request: TimelineRequest| async move {
                    let limit = (request.limit as usize).clamp(1, MAX_PAGE);
                    let page = service
                        .inner
                        .social
                        .timeline(limit, super::parse_cursor(request.before.as_deref())?)?;
                    Ok(ObjectsPage {
                        objects: page.items.iter().map(|object| object.to_json()).collect(),
                        more: page.next.is_some(),
                        next: page.next.map(|cursor| cursor.to_string()),
                    })
                }),
            )
    }
}

/// A route handler from a typed service call.
fn handler<Req, Res, F, Fut>(service: &SocialService, call: F) -> impl Handler
where
    Req: DeserializeOwned + Send + 'static,
    Res: Serialize,
    F: Fn(SocialService, PeerId, Req) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Res, Error>> + Send + 'static,
{
    let service = service.clone();
    move |ctx: RequestContext, body: serde_json::Value| {
        let call = serde_json::from_value::<Req>(body)
            .map(|request| call(service.clone(), ctx.peer, request));
        let route = ctx.route;
        async move {
            let call = call.map_err(|e| {
                WireError::new(
                    ErrorCode::InvalidRequest,
                    format!("the body does not fit {route}: {e}"),
                )
            })?;
            let response = call.await.map_err(WireError::from)?;
            serde_json::to_value(response)
                .map_err(|e| WireError::new(ErrorCode::InternalError, e.to_string()))
        }
    }
}

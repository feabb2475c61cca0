//! Mutes against a real node: one started on loopback with its own store, and objects by other
//! people signed with fresh keys and stored directly (as if synced from their nodes).

use std::time::Duration;

use kith_config::NetworkKey;
use kith_protocols::{Content, NewPost, PostContent, Profile, SignedObject};
use kith_storage::Store;
use libp2p::identity::Keypair;
use tokio::sync::broadcast;

use super::*;
use crate::{Node, NodeConfig, NodeEvent};

/// How long a test waits for an event before failing.
const PATIENCE: Duration = Duration::from_secs(10);

struct Owner {
    node: Node,
    store: Store,
    _dir: tempfile::TempDir,
}

impl Owner {
    async fn start() -> Owner {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("db"), 8 << 20).expect("open store");
        let config = NodeConfig::loopback(Keypair::generate_ed25519(), NetworkKey::generate());
        let node = Node::start(config, store.clone())
            .await
            .expect("start node");
        Owner {
            node,
            store,
            _dir: dir,
        }
    }

    fn social(&self) -> &SocialService {
        self.node.social()
    }

    /// Stores `object` as if received from its author's node (a post goes on the home
    /// timeline; a reply or like of the owner's post records a notification).
    async fn receive(&self, object: &SignedObject) {
        let received = self
            .store
            .social()
            .insert_received(object, true, &self.social().me(), now_ms())
            .await
            .expect("insert");
        assert!(received.inserted.is_stored(), "{:?}", received.inserted);
    }
}

struct Person {
    keypair: Keypair,
}

impl Person {
    fn new() -> Person {
        Person {
            keypair: Keypair::generate_ed25519(),
        }
    }

    fn id(&self) -> PeerId {
        self.keypair.public().to_peer_id()
    }

    fn sign(&self, created_at: u64, content: Content) -> SignedObject {
        SignedObject::create(&self.keypair, created_at, content).expect("sign")
    }

    fn post(&self, created_at: u64, text: &str) -> SignedObject {
        self.sign(created_at, Content::Post(PostContent::new(text)))
    }
}

fn authors(page: &kith_protocols::PostPage) -> Vec<PeerId> {
    page.posts.iter().map(|post| post.author).collect()
}

/// The next social event on `events` (others skipped), or a failure after [`PATIENCE`].
async fn next_social(events: &mut broadcast::Receiver<NodeEvent>) -> EventView {
    tokio::time::timeout(PATIENCE, async {
        loop {
            if let NodeEvent::Social(view) = events.recv().await.expect("event stream") {
                return *view;
            }
        }
    })
    .await
    .expect("a social event in time")
}

#[tokio::test]
async fn muting_is_idempotent_listed_and_never_of_oneself() {
    let owner = Owner::start().await;
    let social = owner.social();
    let bob = Person::new();
    owner
        .receive(&bob.sign(
            1_000,
            Content::Profile(Profile {
                display_name: "Bob".to_owned(),
                ..Profile::default()
            }),
        ))
        .await;

    let error = social.mute(social.me()).await.unwrap_err();
    assert!(matches!(error, Error::Refused(_)), "{error:?}");
    assert!(social.mutes().unwrap().is_empty());

    let first = social.mute(bob.id()).await.unwrap();
    assert_eq!(first.peer_id, bob.id());
    assert_eq!(first.name.as_deref(), Some("Bob"));
    let again = social.mute(bob.id()).await.unwrap();
    assert_eq!(again, first, "muting again changes nothing");
    assert_eq!(social.mutes().unwrap(), vec![first]);
    assert!(social.is_muted(&bob.id()).unwrap());

    assert!(social.unmute(bob.id()).await.unwrap());
    assert!(!social.unmute(bob.id()).await.unwrap());
    assert!(social.mutes().unwrap().is_empty());
    owner.node.shutdown().await;
}

#[tokio::test]
async fn the_timeline_skips_muted_authors_still_fills_pages_and_comes_back() {
    let owner = Owner::start().await;
    let social = owner.social();
    let (bob, carol) = (Person::new(), Person::new());
    // Oldest first: 6 of Carol's, then 20 of Bob's on top.
    for at in 1..=6 {
        owner.receive(&carol.post(at, &format!("carol {at}"))).await;
    }
    for at in 7..=26 {
        owner.receive(&bob.post(at, &format!("bob {at}"))).await;
    }
    assert_eq!(authors(&social.timeline(5, None).unwrap()), [bob.id(); 5]);

    social.mute(bob.id()).await.unwrap();
    // The first page reads past Bob's 20 posts and still holds 5.
    let first = social.timeline(5, None).unwrap();
    assert_eq!(authors(&first), [carol.id(); 5]);
    let texts: Vec<&str> = first.posts.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(
        texts,
        ["carol 6", "carol 5", "carol 4", "carol 3", "carol 2"]
    );
    let rest = social
        .timeline(5, first.next.as_deref())
        .expect("the cursor of a filtered page works");
    assert_eq!(
        rest.posts
            .iter()
            .map(|p| p.text.as_str())
            .collect::<Vec<_>>(),
        ["carol 1"]
    );
    assert_eq!(rest.next, None);
    // A page of 1 examines at most 10 entries: all Bob's, so it is empty but goes on.
    let bounded = social.timeline(1, None).unwrap();
    assert!(bounded.posts.is_empty());
    let resumed = social.timeline(1, bounded.next.as_deref()).unwrap();
    assert!(resumed.posts.is_empty());
    let resumed = social.timeline(1, resumed.next.as_deref()).unwrap();
    assert_eq!(resumed.posts[0].text, "carol 6");

    // Their own page still shows them, and says they are muted.
    let user = social.user(&bob.id()).unwrap();
    assert!(user.muted);
    assert!(!social.user(&carol.id()).unwrap().muted);
    assert_eq!(
        authors(&social.user_posts(&bob.id(), 3, None).unwrap()),
        [bob.id(); 3]
    );
    // Posts that arrive while muted are stored (following goes on) but not shown.
    owner.receive(&bob.post(27, "bob while muted")).await;
    assert_eq!(
        social.user_posts(&bob.id(), 1, None).unwrap().posts[0].text,
        "bob while muted"
    );
    assert_eq!(authors(&social.timeline(5, None).unwrap()), [carol.id(); 5]);

    // Unmuting brings everything back.
    assert!(social.unmute(bob.id()).await.unwrap());
    assert!(!social.user(&bob.id()).unwrap().muted);
    let back = social.timeline(200, None).unwrap();
    assert_eq!(back.posts.len(), 27);
    assert_eq!(back.posts[0].text, "bob while muted");
    owner.node.shutdown().await;
}

#[tokio::test]
async fn muted_posts_and_notifications_are_not_emitted() {
    let owner = Owner::start().await;
    let social = owner.social();
    let (bob, carol) = (Person::new(), Person::new());
    let bobs = bob.post(1, "from bob");
    let carols = carol.post(2, "from carol");
    owner.receive(&bobs).await;
    owner.receive(&carols).await;
    let (bob_post, carol_post) = (
        social.post_view(&bobs).unwrap(),
        social.post_view(&carols).unwrap(),
    );
    social.mute(bob.id()).await.unwrap();

    let mut events = owner.node.handle().subscribe();
    // Bob's event is dropped; Carol's, emitted after it, is the first to arrive.
    social.emit(EventView::Post {
        post: bob_post.clone(),
    });
    social.emit(EventView::Post {
        post: carol_post.clone(),
    });
    assert_eq!(
        next_social(&mut events).await,
        EventView::Post {
            post: carol_post.clone()
        }
    );

    // A like of the owner's post by Bob: recorded, but neither emitted nor listed while muted.
    let own = social
        .create_post(NewPost {
            text: "mine".to_owned(),
            reply_to: None,
            quote_of: None,
        })
        .await
        .unwrap();
    let EventView::Post { post } = next_social(&mut events).await else {
        panic!("the owner's post event first");
    };
    assert_eq!(post.id, own.id);
    for (person, at) in [(&bob, 10), (&carol, 11)] {
        let like = person.sign(at, Content::Like { target: own.id });
        let received = owner
            .store
            .social()
            .insert_received(&like, false, &social.me(), now_ms())
            .await
            .unwrap();
        let notification = received.notification.expect("a like notifies");
        social.announce_notification(&notification);
    }
    let EventView::Notification { notification } = next_social(&mut events).await else {
        panic!("a notification event");
    };
    assert_eq!(notification.actor, carol.id(), "Bob's was not emitted");
    let listed = social.notifications(50, None).unwrap();
    let actors: Vec<PeerId> = listed.notifications.iter().map(|n| n.actor).collect();
    assert_eq!(actors, [carol.id()]);

    // Unmuted: listed again, and emitted again.
    social.unmute(bob.id()).await.unwrap();
    let listed = social.notifications(50, None).unwrap();
    let actors: HashSet<PeerId> = listed.notifications.iter().map(|n| n.actor).collect();
    assert_eq!(actors, HashSet::from([carol.id(), bob.id()]));
    social.emit(EventView::Post {
        post: bob_post.clone(),
    });
    assert_eq!(
        next_social(&mut events).await,
        EventView::Post { post: bob_post }
    );
    owner.node.shutdown().await;
}

//! Tests of the social trees against real sled databases in temporary directories, with
//! objects signed by fresh keypairs.

use std::collections::{BTreeMap, HashSet};

use kith_protocols::{Content, ObjectId, PostContent, Profile, SignedObject};
use libp2p::PeerId;
use libp2p::identity::Keypair;
use tempfile::TempDir;

use super::*;

const CACHE: u64 = 8 * 1024 * 1024;
const T0: u64 = 1_700_000_000_000;

/// The social trees (every tree but the peer book, blocklist, mutes and meta), for snapshots.
fn social_trees() -> impl Iterator<Item = TreeName> {
    TreeName::ALL.into_iter().filter(|t| {
        !matches!(
            t,
            TreeName::Peers | TreeName::Blocks | TreeName::Mutes | TreeName::Meta
        )
    })
}

fn open() -> (TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db"), CACHE).unwrap();
    (dir, store)
}

fn sign(keypair: &Keypair, created_at: u64, content: Content) -> SignedObject {
    SignedObject::create(keypair, created_at, content).unwrap()
}

fn post(keypair: &Keypair, created_at: u64, text: &str) -> SignedObject {
    sign(keypair, created_at, Content::Post(PostContent::new(text)))
}

fn reply(keypair: &Keypair, created_at: u64, parent: &SignedObject) -> SignedObject {
    reply_saying(keypair, created_at, parent, "a reply")
}

fn reply_saying(
    keypair: &Keypair,
    created_at: u64,
    parent: &SignedObject,
    text: &str,
) -> SignedObject {
    let mut content = PostContent::new(text);
    content.reply_to = Some(parent.id());
    sign(keypair, created_at, Content::Post(content))
}

fn delete(keypair: &Keypair, created_at: u64, target: &SignedObject) -> SignedObject {
    sign(
        keypair,
        created_at,
        Content::Delete {
            target: target.id(),
        },
    )
}

fn like(keypair: &Keypair, created_at: u64, target: &SignedObject) -> SignedObject {
    sign(
        keypair,
        created_at,
        Content::Like {
            target: target.id(),
        },
    )
}

fn profile(keypair: &Keypair, created_at: u64, name: &str) -> SignedObject {
    sign(
        keypair,
        created_at,
        Content::Profile(Profile {
            display_name: name.to_owned(),
            ..Profile::default()
        }),
    )
}

/// Every key and value of every social tree.
type Snapshot = BTreeMap<TreeName, Vec<(Vec<u8>, Vec<u8>)>>;

fn snapshot(store: &Store) -> Snapshot {
    social_trees()
        .map(|tree| {
            let entries = store
                .tree(tree)
                .iter()
                .map(|entry| {
                    let (key, value) = entry.unwrap();
                    (key.to_vec(), value.to_vec())
                })
                .collect();
            (tree, entries)
        })
        .collect()
}

fn len(store: &Store, tree: TreeName) -> usize {
    store.tree(tree).len()
}

fn ids(items: &[SignedObject]) -> Vec<ObjectId> {
    items.iter().map(SignedObject::id).collect()
}

/// Follows `next` cursors until the end, checking that no page is empty or over `limit`.
fn collect_pages(limit: usize, mut page: impl FnMut(Option<Cursor>) -> Page) -> Vec<ObjectId> {
    let mut all = Vec::new();
    let mut cursor = None;
    loop {
        let current = page(cursor);
        assert!(current.items.len() <= limit);
        all.extend(ids(&current.items));
        match current.next {
            Some(next) => {
                assert_eq!(current.items.len(), limit, "only a full page has a next");
                // Cursors survive the trip through their public text form.
                cursor = Some(next.to_string().parse().unwrap());
            }
            None => return all,
        }
    }
}

#[tokio::test]
async fn a_post_is_stored_and_read_back_through_every_index() {
    let (_dir, store) = open();
    let social = store.social();
    let alice = Keypair::generate_ed25519();
    let parent = post(&alice, T0, "hello");
    let answer = reply(&alice, T0 + 1, &parent);

    assert_eq!(social.get(&parent.id()).unwrap(), None);
    assert_eq!(
        social.insert(&parent, true).await.unwrap(),
        Inserted::Stored
    );
    assert_eq!(
        social.insert(&answer, false).await.unwrap(),
        Inserted::Stored
    );

    let stored = social.get(&parent.id()).unwrap().unwrap();
    assert_eq!(stored, parent);
    assert_eq!(stored.as_bytes(), parent.as_bytes());
    assert!(social.contains(&answer.id()).unwrap());

    let timeline = social.timeline(10, None).unwrap();
    assert_eq!(
        ids(&timeline.items),
        vec![parent.id()],
        "the reply was not for the timeline"
    );
    assert_eq!(timeline.next, None);
    let by_alice = social
        .posts_by(&alice.public().to_peer_id(), 10, None)
        .unwrap();
    assert_eq!(ids(&by_alice.items), vec![answer.id(), parent.id()]);
    let replies = social.replies(&parent.id(), 10, None).unwrap();
    assert_eq!(ids(&replies.items), vec![answer.id()]);
    assert!(
        social
            .replies(&answer.id(), 10, None)
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        social
            .posts_by(&PeerId::random(), 10, None)
            .unwrap()
            .items
            .is_empty()
    );
}

#[tokio::test]
async fn storing_an_object_twice_changes_nothing() {
    let (_dir, store) = open();
    let social = store.social();
    let alice = Keypair::generate_ed25519();
    let bob = Keypair::generate_ed25519();
    let parent = post(&alice, T0, "hello");
    let objects = [
        parent.clone(),
        reply(&bob, T0 + 1, &parent),
        like(&bob, T0 + 2, &parent),
        profile(&alice, T0, "Alice"),
        sign(
            &bob,
            T0,
            Content::Follow {
                target: alice.public().to_peer_id(),
            },
        ),
    ];
    for object in &objects {
        assert_eq!(social.insert(object, true).await.unwrap(), Inserted::Stored);
    }
    let doomed = post(&alice, T0 + 5, "soon gone");
    social.insert(&doomed, true).await.unwrap();
    let deletion = delete(&alice, T0 + 6, &doomed);
    assert_eq!(
        social.insert(&deletion, true).await.unwrap(),
        Inserted::Stored
    );

    let before = snapshot(&store);
    assert_eq!(before[&TreeName::Objects].len(), objects.len() + 1);
    assert_eq!(before[&TreeName::Timeline].len(), 2);
    for object in objects.iter().chain([&deletion]) {
        assert_eq!(
            social.insert(object, true).await.unwrap(),
            Inserted::Duplicate,
            "{object:?}"
        );
        assert_eq!(snapshot(&store), before, "{object:?}");
    }
    // A second like of the same post by the same liker, and a second delete of the same post
    // by its author, are duplicates too, and are not stored.
    assert_eq!(
        social
            .insert(&like(&bob, T0 + 9, &parent), true)
            .await
            .unwrap(),
        Inserted::Duplicate
    );
    assert_eq!(
        social
            .insert(&delete(&alice, T0 + 9, &doomed), true)
            .await
            .unwrap(),
        Inserted::Duplicate
    );
    assert_eq!(snapshot(&store), before);
}

#[tokio::test]
async fn timeline_order_is_the_same_on_every_node() {
    let authors: Vec<Keypair> = (0..4).map(|_| Keypair::generate_ed25519()).collect();
    let mut posts = Vec::new();
    for (i, author) in authors.iter().enumerate() {
        // Every author posts twice at T0 (same millisecond), and once at their own time.
        posts.push(post(author, T0, "same time"));
        posts.push(post(author, T0, "same time, again"));
        posts.push(post(author, T0 - 1 - i as u64, "earlier"));
    }
    let (_dir_a, store_a) = open();
    let (_dir_b, store_b) = open();
    for object in &posts {
        store_a.social().insert(object, true).await.unwrap();
    }
    for object in posts.iter().rev() {
        store_b.social().insert(object, true).await.unwrap();
    }
    let page_a = ids(&store_a.social().timeline(100, None).unwrap().items);
    let page_b = ids(&store_b.social().timeline(100, None).unwrap().items);
    assert_eq!(page_a.len(), posts.len());
    assert_eq!(page_a, page_b);

    // The order is (created_at, author, id), newest first.
    let mut expected: Vec<_> = posts
        .iter()
        .map(|p| (p.created_at(), keys::peer(&p.author()), p.id()))
        .collect();
    expected.sort();
    expected.reverse();
    assert_eq!(
        page_a,
        expected
            .into_iter()
            .map(|(_, _, id)| id)
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn paging_yields_every_post_once_newest_first() {
    let (_dir, store) = open();
    let social = store.social();
    let alice = Keypair::generate_ed25519();
    let bob = Keypair::generate_ed25519();
    let root = post(&alice, T0, "root");
    social.insert(&root, true).await.unwrap();
    let mut inserted = vec![root.clone()];
    for i in 0..57u64 {
        let author = if i % 3 == 0 { &bob } else { &alice };
        // Some share a millisecond, some arrive out of order.
        let created_at = T0 + 1 + (i * 7919) % 40;
        let object = reply_saying(author, created_at, &root, &format!("reply {i}"));
        assert_eq!(
            social.insert(&object, true).await.unwrap(),
            Inserted::Stored
        );
        inserted.push(object);
    }
    let mut newest_first: Vec<_> = inserted
        .iter()
        .map(|p| (p.created_at(), keys::peer(&p.author()), p.id()))
        .collect();
    newest_first.sort();
    newest_first.reverse();
    let newest_first: Vec<_> = newest_first.into_iter().map(|(_, _, id)| id).collect();

    for limit in [1, 7, 10, 58, 100] {
        let all = collect_pages(limit, |before| social.timeline(limit, before).unwrap());
        assert_eq!(all, newest_first, "limit {limit}");
    }

    let alice_id = alice.public().to_peer_id();
    let mut alices: Vec<_> = inserted
        .iter()
        .filter(|p| p.author() == alice_id)
        .map(|p| (p.created_at(), p.id()))
        .collect();
    alices.sort();
    alices.reverse();
    let alices: Vec<_> = alices.into_iter().map(|(_, id)| id).collect();
    let all = collect_pages(6, |before| social.posts_by(&alice_id, 6, before).unwrap());
    assert_eq!(all, alices);

    let mut replies: Vec<_> = inserted[1..]
        .iter()
        .map(|p| (p.created_at(), p.id()))
        .collect();
    replies.sort();
    let replies: Vec<_> = replies.into_iter().map(|(_, id)| id).collect();
    let all = collect_pages(5, |after| social.replies(&root.id(), 5, after).unwrap());
    assert_eq!(all, replies, "replies come oldest first");

    // A post inserted between two page reads neither repeats nor shifts the pages.
    let first = social.timeline(10, None).unwrap();
    social
        .insert(&post(&bob, T0 + 1000, "newer"), true)
        .await
        .unwrap();
    let second = social.timeline(10, first.next.clone()).unwrap();
    assert_eq!(ids(&second.items), newest_first[10..20].to_vec());

    // A limit of zero reads nothing; a cursor from another listing is just a position.
    assert!(social.timeline(0, None).unwrap().items.is_empty());
    let foreign = social.posts_by(&alice_id, 1, None).unwrap().next;
    let page = social.timeline(5, foreign).unwrap();
    assert!(page.items.len() <= 5);
}

#[tokio::test]
async fn a_delete_removes_the_post_everywhere_and_for_good() {
    let (_dir, store) = open();
    let social = store.social();
    let alice = Keypair::generate_ed25519();
    let bob = Keypair::generate_ed25519();
    let carol = Keypair::generate_ed25519();
    let parent = post(&bob, T0, "parent");
    let target = reply(&alice, T0 + 1, &parent);
    let keep = post(&alice, T0 + 2, "stays");
    social.insert(&parent, true).await.unwrap();
    social.insert(&target, true).await.unwrap();
    social.insert(&keep, true).await.unwrap();
    let likes = [like(&bob, T0 + 3, &target), like(&carol, T0 + 3, &target)];
    for object in &likes {
        assert_eq!(social.insert(object, true).await.unwrap(), Inserted::Stored);
    }
    assert_eq!(social.like_count(&target.id()).unwrap(), 2);
    assert_eq!(
        social
            .like_by(&target.id(), &bob.public().to_peer_id())
            .unwrap(),
        Some(likes[0].id())
    );
    let before = snapshot(&store);

    let deletion = delete(&alice, T0 + 10, &target);
    assert_eq!(
        social.insert(&deletion, true).await.unwrap(),
        Inserted::Stored
    );

    assert_eq!(social.get(&target.id()).unwrap(), None);
    for like in &likes {
        assert_eq!(
            social.get(&like.id()).unwrap(),
            None,
            "likes go with the post"
        );
    }
    assert_eq!(social.like_count(&target.id()).unwrap(), 0);
    assert_eq!(
        social
            .like_by(&target.id(), &bob.public().to_peer_id())
            .unwrap(),
        None
    );
    assert_eq!(
        ids(&social.timeline(10, None).unwrap().items),
        vec![keep.id(), parent.id()]
    );
    let alice_id = alice.public().to_peer_id();
    assert_eq!(
        ids(&social.posts_by(&alice_id, 10, None).unwrap().items),
        vec![keep.id()]
    );
    assert!(
        social
            .replies(&parent.id(), 10, None)
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(
        social.tombstone(&target.id()).unwrap(),
        Some(Tombstone {
            delete: deletion.id(),
            author: alice_id
        })
    );
    assert_eq!(social.get(&deletion.id()).unwrap(), Some(deletion.clone()));
    assert_eq!(
        ids(&social.deletes_since(&alice_id, None, 10).unwrap()),
        vec![deletion.id()]
    );

    // Exactly: the post, its three index entries, two likes, two like objects and the counter
    // left; the delete object, its index entry and the tombstone came.
    let after = snapshot(&store);
    let change = |tree: TreeName| after[&tree].len() as i64 - before[&tree].len() as i64;
    assert_eq!(change(TreeName::Objects), -1 - 2 + 1);
    assert_eq!(change(TreeName::PostsByAuthor), -1);
    assert_eq!(change(TreeName::Timeline), -1);
    assert_eq!(change(TreeName::Replies), -1);
    assert_eq!(change(TreeName::Likes), -2);
    assert_eq!(change(TreeName::LikeCounts), -1);
    assert_eq!(change(TreeName::Tombstones), 1);
    assert_eq!(change(TreeName::DeletesByAuthor), 1);

    // The post arriving again (relayed late) is refused, and so is a like of it.
    assert_eq!(
        social.insert(&target, true).await.unwrap(),
        Inserted::Deleted
    );
    assert_eq!(
        social
            .insert(&like(&carol, T0 + 20, &target), true)
            .await
            .unwrap(),
        Inserted::Deleted
    );
    assert_eq!(snapshot(&store), after);
}

#[tokio::test]
async fn a_delete_that_arrives_first_refuses_the_post_later() {
    let (_dir, store) = open();
    let social = store.social();
    let alice = Keypair::generate_ed25519();
    let bob = Keypair::generate_ed25519();
    let target = post(&alice, T0, "deleted before it arrived");
    let deletion = delete(&alice, T0 + 1, &target);
    let early_like = like(&bob, T0 + 1, &target);

    assert_eq!(
        social.insert(&deletion, true).await.unwrap(),
        Inserted::Stored
    );
    // Unconfirmed: the post is not known, so nobody knows yet whose it is.
    assert_eq!(social.tombstone(&target.id()).unwrap(), None);
    assert_eq!(
        social.insert(&early_like, true).await.unwrap(),
        Inserted::Stored
    );
    assert_eq!(social.like_count(&target.id()).unwrap(), 1);

    assert_eq!(
        social.insert(&target, true).await.unwrap(),
        Inserted::Deleted
    );
    assert_eq!(social.get(&target.id()).unwrap(), None);
    assert!(social.timeline(10, None).unwrap().items.is_empty());
    assert_eq!(
        social.tombstone(&target.id()).unwrap().map(|t| t.delete),
        Some(deletion.id())
    );
    assert_eq!(
        social.like_count(&target.id()).unwrap(),
        0,
        "early likes went with it"
    );
    assert_eq!(social.get(&early_like.id()).unwrap(), None);
    assert_eq!(len(&store, TreeName::Likes), 0);
    assert_eq!(
        social.insert(&target, true).await.unwrap(),
        Inserted::Deleted
    );
}

#[tokio::test]
async fn only_the_author_can_delete_a_post() {
    let (_dir, store) = open();
    let social = store.social();
    let alice = Keypair::generate_ed25519();
    let mallory = Keypair::generate_ed25519();

    // Known post: a delete by someone else is refused and stores nothing.
    let known = post(&alice, T0, "mine");
    social.insert(&known, true).await.unwrap();
    let before = snapshot(&store);
    let forged = delete(&mallory, T0 + 1, &known);
    assert_eq!(
        social.insert(&forged, true).await.unwrap(),
        Inserted::Forbidden
    );
    assert_eq!(snapshot(&store), before);
    assert!(social.get(&known.id()).unwrap().is_some());

    // Deleting something that is not a post is refused too.
    let name = profile(&alice, T0, "Alice");
    social.insert(&name, true).await.unwrap();
    let not_a_post = sign(&alice, T0 + 1, Content::Delete { target: name.id() });
    assert_eq!(
        social.insert(&not_a_post, true).await.unwrap(),
        Inserted::Forbidden
    );

    // Unknown post: the forged delete is recorded unconfirmed, but does not hide the post,
    // which arrives from its real author.
    let later = post(&alice, T0 + 2, "arrives after a forged delete");
    let forged = delete(&mallory, T0 + 3, &later);
    assert_eq!(
        social.insert(&forged, true).await.unwrap(),
        Inserted::Stored
    );
    assert_eq!(social.insert(&later, true).await.unwrap(), Inserted::Stored);
    assert!(social.get(&later.id()).unwrap().is_some());
    assert_eq!(social.tombstone(&later.id()).unwrap(), None);
    assert!(
        !store
            .tree(TreeName::Tombstones)
            .contains_key(later.id().as_bytes())
            .unwrap(),
        "the forgery was dropped when the post arrived"
    );
    // The real author can still delete it.
    assert_eq!(
        social
            .insert(&delete(&alice, T0 + 4, &later), true)
            .await
            .unwrap(),
        Inserted::Stored
    );
    assert_eq!(social.get(&later.id()).unwrap(), None);
    // And once a deletion is confirmed, others' deletes of it are refused.
    assert_eq!(
        social
            .insert(&delete(&mallory, T0 + 5, &later), true)
            .await
            .unwrap(),
        Inserted::Forbidden
    );
}

#[tokio::test]
async fn unconfirmed_deletes_of_one_post_are_capped() {
    let (_dir, store) = open();
    let social = store.social();
    let alice = Keypair::generate_ed25519();
    let target = post(&alice, T0, "popular with forgers");
    for i in 0..MAX_PENDING_DELETES {
        let forger = Keypair::generate_ed25519();
        assert_eq!(
            social
                .insert(&delete(&forger, T0 + i as u64, &target), true)
                .await
                .unwrap(),
            Inserted::Stored
        );
    }
    let one_too_many = delete(&Keypair::generate_ed25519(), T0, &target);
    assert_eq!(
        social.insert(&one_too_many, true).await.unwrap(),
        Inserted::Forbidden
    );
    assert_eq!(
        social.insert(&target, true).await.unwrap(),
        Inserted::Stored
    );
}

#[tokio::test]
async fn the_newest_profile_wins_in_any_order() {
    let (_dir, store) = open();
    let social = store.social();
    let alice = Keypair::generate_ed25519();
    let alice_id = alice.public().to_peer_id();
    let old = profile(&alice, T0, "Old Alice");
    let new = profile(&alice, T0 + 1, "New Alice");

    assert_eq!(social.profile(&alice_id).unwrap(), None);
    assert_eq!(social.insert(&old, true).await.unwrap(), Inserted::Stored);
    assert_eq!(social.profile(&alice_id).unwrap(), Some(old.clone()));
    assert_eq!(social.insert(&new, true).await.unwrap(), Inserted::Stored);
    assert_eq!(social.profile(&alice_id).unwrap(), Some(new.clone()));
    assert_eq!(
        social.get(&old.id()).unwrap(),
        None,
        "the superseded one is dropped"
    );
    assert_eq!(
        social.insert(&old, true).await.unwrap(),
        Inserted::Superseded
    );
    assert_eq!(
        social.insert(&new, true).await.unwrap(),
        Inserted::Duplicate
    );
    assert_eq!(social.profile(&alice_id).unwrap(), Some(new.clone()));

    // Equal times: the greater id wins, whichever arrives first.
    let a = profile(&alice, T0 + 5, "A");
    let b = profile(&alice, T0 + 5, "B");
    let (low, high) = if a.id() < b.id() { (a, b) } else { (b, a) };
    for order in [[&low, &high], [&high, &low]] {
        let (_dir, store) = open();
        let social = store.social();
        for object in order {
            social.insert(object, true).await.unwrap();
        }
        assert_eq!(social.profile(&alice_id).unwrap(), Some(high.clone()));
        assert_eq!(len(&store, TreeName::Objects), 1);
    }
}

#[tokio::test]
async fn follow_states_move_through_their_transitions() {
    let (_dir, store) = open();
    let social = store.social();
    let (bob, carol) = (PeerId::random(), PeerId::random());
    let object = ObjectId::from_bytes([7; 32]);
    let requested = FollowState {
        object,
        status: FollowStatus::Requested,
        since_ms: 1,
    };

    // Following: we ask a locked account, it approves, we unfollow.
    assert_eq!(social.following_state(&bob).unwrap(), None);
    assert!(
        !social.activate_following(bob, 2).await.unwrap(),
        "nothing to activate"
    );
    social.set_following(bob, requested).await.unwrap();
    assert_eq!(social.following().unwrap(), vec![(bob, requested)]);
    assert!(social.activate_following(bob, 2).await.unwrap());
    let active = FollowState {
        status: FollowStatus::Active,
        since_ms: 2,
        ..requested
    };
    assert_eq!(social.following_state(&bob).unwrap(), Some(active));
    assert!(
        !social.activate_following(bob, 3).await.unwrap(),
        "already active"
    );
    assert_eq!(social.following_state(&bob).unwrap(), Some(active));
    assert_eq!(social.remove_following(bob).await.unwrap(), Some(active));
    assert_eq!(social.remove_following(bob).await.unwrap(), None);
    assert!(social.following().unwrap().is_empty());

    // Followers: one request approved, one rejected; the trees are separate.
    social.set_follower(bob, requested).await.unwrap();
    social.set_follower(carol, requested).await.unwrap();
    assert!(social.approve_follower(bob, 5).await.unwrap());
    assert_eq!(
        social.remove_follower(carol).await.unwrap(),
        Some(requested)
    );
    assert_eq!(
        social.followers().unwrap(),
        vec![(
            bob,
            FollowState {
                status: FollowStatus::Active,
                since_ms: 5,
                ..requested
            }
        )]
    );
    assert_eq!(social.follower_state(&carol).unwrap(), None);
    assert!(social.following().unwrap().is_empty());

    // The stored form is readable JSON.
    let raw = store
        .tree(TreeName::Followers)
        .get(bob.to_bytes())
        .unwrap()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(json["status"], "active");
    assert_eq!(json["object"], object.to_string());
    assert_eq!(json["since_ms"], 5);
}

#[tokio::test]
async fn posts_since_and_range_digest_agree_with_what_was_inserted() {
    let (_dir, store) = open();
    let social = store.social();
    let alice = Keypair::generate_ed25519();
    let alice_id = alice.public().to_peer_id();
    let mut posts = Vec::new();
    for i in 0..30u64 {
        let object = post(&alice, T0 + (i / 2) * 10, &format!("post {i}"));
        social.insert(&object, i % 2 == 0).await.unwrap();
        posts.push(object);
    }
    // Someone else's posts are not Alice's.
    social
        .insert(&post(&Keypair::generate_ed25519(), T0 + 50, "other"), true)
        .await
        .unwrap();
    let mut oldest_first: Vec<_> = posts.iter().map(|p| (p.created_at(), p.id())).collect();
    oldest_first.sort();

    // Paged by (created_at, id) positions, as sync does.
    let mut synced = Vec::new();
    let mut after = None;
    loop {
        let batch = social.posts_since(&alice_id, after, 4).unwrap();
        if batch.is_empty() {
            break;
        }
        after = batch.last().map(|p| (p.created_at(), p.id()));
        synced.extend(batch.iter().map(|p| (p.created_at(), p.id())));
    }
    assert_eq!(synced, oldest_first);
    let from_middle = social
        .posts_since(&alice_id, Some(oldest_first[9]), 100)
        .unwrap();
    assert_eq!(
        from_middle
            .iter()
            .map(|p| (p.created_at(), p.id()))
            .collect::<Vec<_>>(),
        oldest_first[10..].to_vec()
    );

    let expected = |from: u64, to: u64| {
        let mut digest = [0u8; 32];
        let mut count = 0;
        for (created_at, id) in &oldest_first {
            if (from..to).contains(created_at) {
                count += 1;
                for (d, b) in digest.iter_mut().zip(id.as_bytes()) {
                    *d ^= b;
                }
            }
        }
        (count, digest)
    };
    for (from, to) in [
        (0, u64::MAX),
        (T0, T0 + 1),
        (T0 + 10, T0 + 60),
        (T0 + 11, T0 + 60),
        (T0 + 140, T0 + 150),
        (T0 + 60, T0 + 10),
        (T0 + 500, T0 + 600),
    ] {
        assert_eq!(
            social.range_digest(&alice_id, from, to).unwrap(),
            expected(from, to),
            "{from}..{to}"
        );
        // The leaf step lists the same ids the digest covers, oldest first.
        let in_range: Vec<ObjectId> = oldest_first
            .iter()
            .filter(|(created_at, _)| (from..to).contains(created_at))
            .map(|(_, id)| *id)
            .collect();
        let (listed, more) = social.post_ids_between(&alice_id, from, to, 100).unwrap();
        assert_eq!((listed, more), (in_range.clone(), false), "{from}..{to}");
        if in_range.len() > 3 {
            let (listed, more) = social.post_ids_between(&alice_id, from, to, 3).unwrap();
            assert_eq!((listed.as_slice(), more), (&in_range[..3], true));
        }
    }
    assert_eq!(social.range_digest(&alice_id, 0, u64::MAX).unwrap().0, 30);

    // A node holding the same posts, inserted in another order, has the same digests.
    let (_dir_b, store_b) = open();
    for object in posts.iter().rev() {
        store_b.social().insert(object, false).await.unwrap();
    }
    assert_eq!(
        store_b
            .social()
            .range_digest(&alice_id, T0, T0 + 100)
            .unwrap(),
        social.range_digest(&alice_id, T0, T0 + 100).unwrap()
    );

    // add_to_timeline puts every post of the author on the timeline; removing takes them off.
    assert_eq!(social.timeline(100, None).unwrap().items.len(), 15 + 1);
    assert_eq!(social.add_to_timeline(alice_id).await.unwrap(), 30);
    assert_eq!(social.timeline(100, None).unwrap().items.len(), 30 + 1);
    assert_eq!(social.remove_from_timeline(alice_id).await.unwrap(), 30);
    assert_eq!(social.timeline(100, None).unwrap().items.len(), 1);
    assert_eq!(
        social.posts_by(&alice_id, 100, None).unwrap().items.len(),
        30
    );
}

#[tokio::test]
async fn sync_cursors_only_move_forward() {
    let (_dir, store) = open();
    let social = store.social();
    let bob = PeerId::random();
    let (early, late) = (
        (T0, ObjectId::from_bytes([9; 32])),
        (T0 + 1, ObjectId::from_bytes([1; 32])),
    );
    assert_eq!(social.sync_cursor(&bob).unwrap(), None);
    assert!(social.set_sync_cursor(bob, early).await.unwrap());
    assert!(social.set_sync_cursor(bob, late).await.unwrap());
    assert!(!social.set_sync_cursor(bob, early).await.unwrap());
    assert!(!social.set_sync_cursor(bob, late).await.unwrap());
    assert_eq!(social.sync_cursor(&bob).unwrap(), Some(late));
    assert_eq!(social.sync_cursor(&PeerId::random()).unwrap(), None);
    social.reset_sync_cursor(bob).await.unwrap();
    assert_eq!(social.sync_cursor(&bob).unwrap(), None);
    assert!(social.set_sync_cursor(bob, early).await.unwrap());
}

#[tokio::test]
async fn everything_survives_close_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let alice = Keypair::generate_ed25519();
    let alice_id = alice.public().to_peer_id();
    let bob = PeerId::random();
    let first = post(&alice, T0, "before the restart");
    let second = post(&alice, T0 + 1, "also");
    let name = profile(&alice, T0, "Alice");
    let state = FollowState {
        object: ObjectId::from_bytes([3; 32]),
        status: FollowStatus::Active,
        since_ms: 4,
    };
    let store = Store::open(&path, CACHE).unwrap();
    {
        let social = store.social();
        social.insert(&first, true).await.unwrap();
        social.insert(&second, true).await.unwrap();
        social.insert(&name, true).await.unwrap();
        social
            .insert(&like(&alice, T0, &first), true)
            .await
            .unwrap();
        social.set_following(bob, state).await.unwrap();
        social.set_follower(bob, state).await.unwrap();
        social.set_sync_cursor(bob, (T0, first.id())).await.unwrap();
    }
    let before = snapshot(&store);
    store.close().await.unwrap();

    let store = Store::open(&path, CACHE).unwrap();
    assert_eq!(snapshot(&store), before);
    let social = store.social();
    assert_eq!(
        ids(&social.timeline(10, None).unwrap().items),
        vec![second.id(), first.id()]
    );
    assert_eq!(social.profile(&alice_id).unwrap(), Some(name));
    assert_eq!(social.like_count(&first.id()).unwrap(), 1);
    assert_eq!(social.following().unwrap(), vec![(bob, state)]);
    assert_eq!(social.followers().unwrap(), vec![(bob, state)]);
    assert_eq!(social.sync_cursor(&bob).unwrap(), Some((T0, first.id())));
    assert_eq!(
        social.insert(&first, true).await.unwrap(),
        Inserted::Duplicate
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_inserts_are_all_stored() {
    let (_dir, store) = open();
    let authors: Vec<Keypair> = (0..5).map(|_| Keypair::generate_ed25519()).collect();
    let posts: Vec<SignedObject> = (0..100u64)
        .map(|i| {
            post(
                &authors[(i % 5) as usize],
                T0 + i % 10,
                &format!("post {i}"),
            )
        })
        .collect();
    let tasks: Vec<_> = posts
        .iter()
        .cloned()
        .map(|object| {
            let social = store.social();
            tokio::spawn(async move { social.insert(&object, true).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), Inserted::Stored);
    }
    let social = store.social();
    let listed: HashSet<_> = ids(&social.timeline(1000, None).unwrap().items)
        .into_iter()
        .collect();
    assert_eq!(listed, posts.iter().map(SignedObject::id).collect());
    assert_eq!(len(&store, TreeName::Objects), 100);
    assert_eq!(len(&store, TreeName::PostsByAuthor), 100);
    assert_eq!(len(&store, TreeName::Timeline), 100);
}

/// A post and its delete racing (each order, many times): whoever lands first, the post ends
/// up deleted, with no index entry left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_racing_its_delete_always_ends_deleted() {
    let (_dir, store) = open();
    let alice = Keypair::generate_ed25519();
    let bob = Keypair::generate_ed25519();
    let mut pairs = Vec::new();
    for i in 0..40u64 {
        let target = reply(&alice, T0 + i, &post(&bob, T0, "parent"));
        let deletion = delete(&alice, T0 + 100 + i, &target);
        let liked = like(&bob, T0 + 200 + i, &target);
        pairs.push((target, deletion, liked));
    }
    let mut tasks = Vec::new();
    for (i, (target, deletion, liked)) in pairs.iter().cloned().enumerate() {
        let mut objects = vec![target, deletion, liked];
        objects.rotate_left(i % 3);
        for object in objects {
            let social = store.social();
            tasks.push(tokio::spawn(
                async move { social.insert(&object, true).await },
            ));
        }
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let social = store.social();
    for (target, deletion, liked) in &pairs {
        assert_eq!(social.get(&target.id()).unwrap(), None);
        assert_eq!(
            social.tombstone(&target.id()).unwrap().map(|t| t.delete),
            Some(deletion.id())
        );
        assert_eq!(social.get(&liked.id()).unwrap(), None);
        assert_eq!(social.like_count(&target.id()).unwrap(), 0);
    }
    assert_eq!(len(&store, TreeName::PostsByAuthor), 0);
    assert_eq!(len(&store, TreeName::Timeline), 0);
    assert_eq!(len(&store, TreeName::Replies), 0);
    assert_eq!(
        len(&store, TreeName::ReplyCounts),
        0,
        "every reply counted was uncounted"
    );
    assert_eq!(len(&store, TreeName::Likes), 0);
    assert_eq!(len(&store, TreeName::LikeCounts), 0);
    assert_eq!(len(&store, TreeName::DeletesByAuthor), 40);
    assert_eq!(
        len(&store, TreeName::Objects),
        40,
        "only the deletes are left"
    );
}

/// Many likes of one post racing with each other: every one counted once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_likes_are_all_counted() {
    let (_dir, store) = open();
    let alice = Keypair::generate_ed25519();
    let target = post(&alice, T0, "like me");
    store.social().insert(&target, true).await.unwrap();
    let likes: Vec<_> = (0..30)
        .map(|_| like(&Keypair::generate_ed25519(), T0 + 1, &target))
        .collect();
    let tasks: Vec<_> = likes
        .iter()
        .cloned()
        .map(|object| {
            let social = store.social();
            tokio::spawn(async move { social.insert(&object, true).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), Inserted::Stored);
    }
    assert_eq!(store.social().like_count(&target.id()).unwrap(), 30);
    assert_eq!(len(&store, TreeName::Likes), 30);
}

#[tokio::test]
async fn corrupt_index_entries_are_skipped_by_listings() {
    let (_dir, store) = open();
    let social = store.social();
    let alice = Keypair::generate_ed25519();
    let good = post(&alice, T0, "good");
    social.insert(&good, true).await.unwrap();
    let missing = ObjectId::from_bytes([0xee; 32]);
    store
        .batch()
        .put(
            TreeName::Timeline,
            keys::timeline(T0 + 1, &alice.public().to_peer_id(), &missing),
            Vec::new(),
        )
        .put(
            TreeName::Objects,
            missing.as_bytes().to_vec(),
            b"{not json".to_vec(),
        )
        .put(TreeName::Timeline, vec![1, 2, 3], Vec::new())
        .commit()
        .await
        .unwrap();
    assert_eq!(
        ids(&social.timeline(10, None).unwrap().items),
        vec![good.id()]
    );
    assert!(matches!(
        social.get(&missing),
        Err(Error::Corrupt {
            tree: "objects",
            ..
        })
    ));
}

/// Holds the writer; returns once it is held. Sending on (or dropping) the result releases it.
async fn hold(store: &Store) -> std::sync::mpsc::SyncSender<()> {
    let (release, released) = std::sync::mpsc::sync_channel(1);
    let (holding, held) = tokio::sync::oneshot::channel();
    store
        .send(crate::writer::WriteRequest::Hold {
            holding,
            release: released,
        })
        .await
        .unwrap();
    held.await.unwrap();
    release
}

/// Waits (without sleeping) until `n` requests are queued behind a held writer.
async fn until_queued(store: &Store, n: usize) {
    let requests = store.requests();
    while requests.max_capacity() - requests.capacity() < n {
        tokio::task::yield_now().await;
    }
}

/// Inserts `objects` so that each one decides on the same stale snapshot: the writer is held
/// until all of them are queued, so every insert but the first finds its premises changed when
/// it applies and has to decide again. Returns each insert's outcome, in order.
async fn insert_on_a_stale_snapshot(store: &Store, objects: &[SignedObject]) -> Vec<Inserted> {
    let release = hold(store).await;
    let mut tasks = Vec::new();
    for (queued, object) in objects.iter().cloned().enumerate() {
        let social = store.social();
        tasks.push(tokio::spawn(
            async move { social.insert(&object, true).await },
        ));
        until_queued(store, queued + 1).await;
    }
    release.send(()).unwrap();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap().unwrap());
    }
    outcomes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_made_on_a_stale_snapshot_is_made_again() {
    let alice = Keypair::generate_ed25519();
    let bob = Keypair::generate_ed25519();
    let target = post(&alice, T0, "racing");
    let deletion = delete(&alice, T0 + 1, &target);
    let liked = like(&bob, T0 + 2, &target);

    // The delete lands first, unconfirmed; the post, planned as "store", must see it.
    let (_dir, store) = open();
    let outcomes = insert_on_a_stale_snapshot(&store, &[deletion.clone(), target.clone()]).await;
    assert_eq!(outcomes, [Inserted::Stored, Inserted::Deleted]);
    assert_eq!(store.social().get(&target.id()).unwrap(), None);
    assert!(store.social().tombstone(&target.id()).unwrap().is_some());
    assert_eq!(len(&store, TreeName::PostsByAuthor), 0);

    // The post lands first; the delete, planned as "unconfirmed", must see it and remove it.
    let (_dir, store) = open();
    let outcomes = insert_on_a_stale_snapshot(&store, &[target.clone(), deletion.clone()]).await;
    assert_eq!(outcomes, [Inserted::Stored, Inserted::Stored]);
    assert_eq!(store.social().get(&target.id()).unwrap(), None);
    assert!(store.social().tombstone(&target.id()).unwrap().is_some());
    assert_eq!(len(&store, TreeName::PostsByAuthor), 0);
    assert_eq!(len(&store, TreeName::Timeline), 0);

    // A like lands before the delete that did not list it: the delete must take it along.
    let (_dir, store) = open();
    store.social().insert(&target, true).await.unwrap();
    let outcomes = insert_on_a_stale_snapshot(&store, &[liked.clone(), deletion.clone()]).await;
    assert_eq!(outcomes, [Inserted::Stored, Inserted::Stored]);
    assert_eq!(store.social().get(&liked.id()).unwrap(), None);
    assert_eq!(len(&store, TreeName::Likes), 0);
    assert_eq!(len(&store, TreeName::LikeCounts), 0);

    // The delete lands before a like that did not see it: the like is refused.
    let (_dir, store) = open();
    store.social().insert(&target, true).await.unwrap();
    let outcomes = insert_on_a_stale_snapshot(&store, &[deletion.clone(), liked.clone()]).await;
    assert_eq!(outcomes, [Inserted::Stored, Inserted::Deleted]);
    assert_eq!(len(&store, TreeName::Likes), 0);
    assert_eq!(len(&store, TreeName::LikeCounts), 0);

    // The same object twice: the second finds the first.
    let (_dir, store) = open();
    let outcomes = insert_on_a_stale_snapshot(&store, &[target.clone(), target.clone()]).await;
    assert_eq!(outcomes, [Inserted::Stored, Inserted::Duplicate]);
    assert_eq!(len(&store, TreeName::PostsByAuthor), 1);

    // Two profiles planned against the same stored one: the newer wins either way.
    let (_dir, store) = open();
    let (older, newer) = (
        profile(&alice, T0, "older"),
        profile(&alice, T0 + 1, "newer"),
    );
    let outcomes = insert_on_a_stale_snapshot(&store, &[newer.clone(), older.clone()]).await;
    assert_eq!(outcomes, [Inserted::Stored, Inserted::Superseded]);
    assert_eq!(
        store
            .social()
            .profile(&alice.public().to_peer_id())
            .unwrap(),
        Some(newer)
    );
    assert_eq!(len(&store, TreeName::Objects), 1);
}

#[tokio::test]
async fn reply_counts_follow_the_replies_in_and_out() {
    let (_dir, store) = open();
    let social = store.social();
    let alice = Keypair::generate_ed25519();
    let repliers: Vec<Keypair> = (0..3).map(|_| Keypair::generate_ed25519()).collect();
    let parent = post(&alice, T0, "ask me anything");
    social.insert(&parent, true).await.unwrap();
    assert_eq!(social.reply_count(&parent.id()).unwrap(), 0);

    let replies: Vec<SignedObject> = repliers
        .iter()
        .enumerate()
        .map(|(i, author)| reply(author, T0 + 1 + i as u64, &parent))
        .collect();
    for (i, object) in replies.iter().enumerate() {
        assert_eq!(
            social.insert(object, false).await.unwrap(),
            Inserted::Stored
        );
        assert_eq!(social.reply_count(&parent.id()).unwrap(), i as u64 + 1);
    }
    // A duplicate is not counted again; a reply to the reply counts for the reply only.
    assert_eq!(
        social.insert(&replies[0], false).await.unwrap(),
        Inserted::Duplicate
    );
    let nested = reply(&alice, T0 + 10, &replies[0]);
    social.insert(&nested, false).await.unwrap();
    assert_eq!(social.reply_count(&parent.id()).unwrap(), 3);
    assert_eq!(social.reply_count(&replies[0].id()).unwrap(), 1);

    // Deleting a reply uncounts it; a refused delete (not the author's) changes nothing.
    assert_eq!(
        social
            .insert(&delete(&alice, T0 + 20, &replies[1]), true)
            .await
            .unwrap(),
        Inserted::Forbidden
    );
    assert_eq!(social.reply_count(&parent.id()).unwrap(), 3);
    social
        .insert(&delete(&repliers[1], T0 + 21, &replies[1]), true)
        .await
        .unwrap();
    assert_eq!(social.reply_count(&parent.id()).unwrap(), 2);
    // A deleted reply arriving again is refused, and not counted.
    assert_eq!(
        social.insert(&replies[1], false).await.unwrap(),
        Inserted::Deleted
    );
    assert_eq!(social.reply_count(&parent.id()).unwrap(), 2);

    // Deleting the parent leaves its replies (other people's posts) and so their count.
    social
        .insert(&delete(&alice, T0 + 22, &parent), true)
        .await
        .unwrap();
    assert_eq!(social.reply_count(&parent.id()).unwrap(), 2);
    for (author, object) in [(&repliers[0], &replies[0]), (&repliers[2], &replies[2])] {
        social
            .insert(&delete(author, T0 + 30, object), true)
            .await
            .unwrap();
    }
    assert_eq!(social.reply_count(&parent.id()).unwrap(), 0);
    // At zero the counter is gone: only the nested reply's parent (already deleted) counts.
    assert_eq!(len(&store, TreeName::ReplyCounts), 1);
    assert_eq!(
        store
            .tree(TreeName::ReplyCounts)
            .get(replies[0].id().as_bytes())
            .unwrap()
            .as_deref(),
        Some(&1u64.to_be_bytes()[..])
    );
}

#[tokio::test]
async fn replies_page_newest_first() {
    let (_dir, store) = open();
    let social = store.social();
    let alice = Keypair::generate_ed25519();
    let parent = post(&alice, T0, "thread");
    social.insert(&parent, true).await.unwrap();
    let other = post(&alice, T0, "another thread");
    social.insert(&other, true).await.unwrap();
    let mut replies = Vec::new();
    for i in 0..7u64 {
        // Two replies share every millisecond: the id breaks the tie, the same way each time.
        let object = reply_saying(&Keypair::generate_ed25519(), T0 + 1 + i / 2, &parent, "r");
        social.insert(&object, false).await.unwrap();
        replies.push(object);
    }
    social
        .insert(&reply(&alice, T0 + 100, &other), false)
        .await
        .unwrap();

    let oldest_first = ids(&social.replies(&parent.id(), 100, None).unwrap().items);
    let mut expected = oldest_first.clone();
    expected.reverse();
    assert_eq!(oldest_first.len(), 7);
    for limit in [1, 2, 3, 7, 100] {
        let paged = collect_pages(limit, |cursor| {
            social
                .replies_newest_first(&parent.id(), limit, cursor)
                .unwrap()
        });
        assert_eq!(paged, expected, "limit {limit}");
    }
    // A reply that arrives between pages shows up at the top, never inside later pages.
    let first = social.replies_newest_first(&parent.id(), 3, None).unwrap();
    let late = reply(&alice, T0 + 50, &parent);
    social.insert(&late, false).await.unwrap();
    let rest = social
        .replies_newest_first(&parent.id(), 100, first.next)
        .unwrap();
    assert_eq!(ids(&rest.items), expected[3..].to_vec());
    assert_eq!(
        ids(&social
            .replies_newest_first(&parent.id(), 1, None)
            .unwrap()
            .items),
        vec![late.id()]
    );
    assert!(
        social
            .replies_newest_first(&ObjectId::from_bytes([9; 32]), 10, None)
            .unwrap()
            .items
            .is_empty()
    );
}

/// The notifications a store lists, newest first, as (kind, actor, post).
fn listed(social: &Social) -> Vec<(NotificationKind, PeerId, Option<ObjectId>)> {
    social
        .notifications(1000, None)
        .unwrap()
        .items
        .into_iter()
        .map(|n| (n.kind, n.actor, n.post))
        .collect()
}

#[tokio::test]
async fn replies_and_likes_by_others_of_the_owners_posts_notify_once() {
    let (_dir, store) = open();
    let social = store.social();
    let owner_key = Keypair::generate_ed25519();
    let owner = owner_key.public().to_peer_id();
    let bob = Keypair::generate_ed25519();
    let bob_id = bob.public().to_peer_id();
    let mine = post(&owner_key, T0, "mine");
    let theirs = post(&bob, T0, "theirs");
    social.insert(&mine, true).await.unwrap();
    social.insert(&theirs, true).await.unwrap();

    let answer = reply(&bob, T0 + 1, &mine);
    let received = social
        .insert_received(&answer, false, &owner, T0 + 1000)
        .await
        .unwrap();
    assert_eq!(received.inserted, Inserted::Stored);
    let notification = received
        .notification
        .expect("a reply to the owner notifies");
    assert_eq!(
        notification,
        Notification {
            object: answer.id(),
            kind: NotificationKind::Reply,
            at_ms: T0 + 1000,
            actor: bob_id,
            post: Some(answer.id()),
        }
    );
    // The same reply again, however it comes: stored once, one notification.
    for _ in 0..2 {
        let again = social
            .insert_received(&answer, false, &owner, T0 + 2000)
            .await
            .unwrap();
        assert_eq!(again.inserted, Inserted::Duplicate);
        assert_eq!(again.notification, None);
    }

    let liked = like(&bob, T0 + 2, &mine);
    let received = social
        .insert_received(&liked, false, &owner, T0 + 3000)
        .await
        .unwrap();
    assert_eq!(
        received.notification.map(|n| (n.kind, n.post, n.object)),
        Some((NotificationKind::Like, Some(mine.id()), liked.id()))
    );
    // A second like by the same liker is a duplicate: no second notification.
    let second = social
        .insert_received(&like(&bob, T0 + 9, &mine), false, &owner, T0 + 4000)
        .await
        .unwrap();
    assert_eq!(second.inserted, Inserted::Duplicate);
    assert_eq!(second.notification, None);

    // Not news for the owner: their own reply and like, replies and likes of someone else's
    // post, a reply to a post not stored here, and anything stored with plain `insert`.
    let quiet = [
        reply(&owner_key, T0 + 5, &mine),
        like(&owner_key, T0 + 5, &mine),
        reply(&Keypair::generate_ed25519(), T0 + 5, &theirs),
        like(&Keypair::generate_ed25519(), T0 + 5, &theirs),
        reply(&bob, T0 + 5, &post(&owner_key, T0 + 4, "never stored here")),
    ];
    for object in &quiet {
        let received = social
            .insert_received(object, false, &owner, T0 + 5000)
            .await
            .unwrap();
        assert_eq!(received.inserted, Inserted::Stored, "{object:?}");
        assert_eq!(received.notification, None, "{object:?}");
    }
    let carol = Keypair::generate_ed25519();
    social
        .insert(&reply(&carol, T0 + 6, &mine), false)
        .await
        .unwrap();
    social
        .insert(&like(&carol, T0 + 6, &mine), false)
        .await
        .unwrap();

    assert_eq!(
        listed(&social),
        vec![
            (NotificationKind::Like, bob_id, Some(mine.id())),
            (NotificationKind::Reply, bob_id, Some(answer.id())),
        ]
    );
    assert_eq!(len(&store, TreeName::Notifications), 2);
    assert_eq!(social.reply_count(&mine.id()).unwrap(), 3);
    assert_eq!(social.like_count(&mine.id()).unwrap(), 3);
}

#[tokio::test]
async fn a_new_follower_notifies_once() {
    let (_dir, store) = open();
    let social = store.social();
    let bob = PeerId::random();
    let carol = PeerId::random();
    let state = |object: u8, status, since_ms| FollowState {
        object: ObjectId::from_bytes([object; 32]),
        status,
        since_ms,
    };

    let added = social
        .add_follower(bob, state(1, FollowStatus::Active, T0))
        .await
        .unwrap();
    assert_eq!(
        added,
        Some(Notification {
            object: ObjectId::from_bytes([1; 32]),
            kind: NotificationKind::Follow,
            at_ms: T0,
            actor: bob,
            post: None,
        })
    );
    // Already recorded: nothing changes, whatever the second follow says.
    assert_eq!(
        social
            .add_follower(bob, state(2, FollowStatus::Requested, T0 + 5))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        social.follower_state(&bob).unwrap(),
        Some(state(1, FollowStatus::Active, T0))
    );
    let requested = social
        .add_follower(carol, state(3, FollowStatus::Requested, T0 + 1))
        .await
        .unwrap();
    assert_eq!(
        requested.map(|n| n.kind),
        Some(NotificationKind::FollowRequest)
    );
    assert_eq!(
        listed(&social),
        vec![
            (NotificationKind::FollowRequest, carol, None),
            (NotificationKind::Follow, bob, None),
        ]
    );

    // A rejected follower who asks again is a new request, and new news.
    social.remove_follower(carol).await.unwrap();
    assert!(
        social
            .add_follower(carol, state(3, FollowStatus::Requested, T0 + 9))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(len(&store, TreeName::Notifications), 3);
}

/// The owner's post, and `n` strangers' replies to it received at `T0 + 1000 + i`: the owner's
/// key, the post, and each reply with its author's key.
async fn replied(social: &Social, n: u64) -> (Keypair, SignedObject, Vec<(Keypair, SignedObject)>) {
    let owner_key = Keypair::generate_ed25519();
    let owner = owner_key.public().to_peer_id();
    let mine = post(&owner_key, T0, "mine");
    social.insert(&mine, true).await.unwrap();
    let mut replies = Vec::new();
    for i in 0..n {
        let author = Keypair::generate_ed25519();
        let object = reply(&author, T0 + 1, &mine);
        let received = social
            .insert_received(&object, false, &owner, T0 + 1000 + i)
            .await
            .unwrap();
        assert!(received.notification.is_some());
        replies.push((author, object));
    }
    (owner_key, mine, replies)
}

#[tokio::test]
async fn notifications_page_newest_first_and_skip_what_was_deleted() {
    let (_dir, store) = open();
    let social = store.social();
    let (owner_key, mine, replies) = replied(&social, 9).await;
    let owner = owner_key.public().to_peer_id();
    let newest_first: Vec<ObjectId> = replies.iter().rev().map(|(_, r)| r.id()).collect();

    for limit in [1, 2, 4, 9, 50] {
        let mut cursor = None;
        let mut seen = Vec::new();
        loop {
            let page = social.notifications(limit, cursor).unwrap();
            assert!(page.items.len() <= limit);
            assert!(
                page.items.windows(2).all(|w| w[0].at_ms > w[1].at_ms),
                "newest first"
            );
            seen.extend(page.items.iter().map(|n| n.object));
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, newest_first, "limit {limit}");
    }

    // A reply deleted by its author takes its notification off the list, and the page is
    // still full: the listing reads past it.
    let (author, newest) = &replies[8];
    social
        .insert(&delete(author, T0 + 3, newest), true)
        .await
        .unwrap();
    let page = social.notifications(2, None).unwrap();
    assert_eq!(
        page.items.iter().map(|n| n.object).collect::<Vec<_>>(),
        newest_first[1..3].to_vec()
    );

    // A like of the owner's post: listed until the owner deletes the post. The replies stay
    // (they are their authors' posts), and so do their notifications.
    let liked = like(&Keypair::generate_ed25519(), T0 + 4, &mine);
    let received = social
        .insert_received(&liked, false, &owner, T0 + 6000)
        .await
        .unwrap();
    assert!(received.notification.is_some());
    assert_eq!(
        social.notifications(1, None).unwrap().items[0].object,
        liked.id()
    );
    social
        .insert(&delete(&owner_key, T0 + 5, &mine), true)
        .await
        .unwrap();
    let listed: Vec<ObjectId> = social
        .notifications(100, None)
        .unwrap()
        .items
        .iter()
        .map(|n| n.object)
        .collect();
    assert_eq!(listed, newest_first[1..].to_vec());
    // Skipped, not removed: trimming takes them out in time.
    assert_eq!(len(&store, TreeName::Notifications), 10);
}

#[tokio::test]
async fn trimming_keeps_the_newest_notifications() {
    let (_dir, store) = open();
    let social = store.social();
    let (_, _, replies) = replied(&social, 25).await;
    let replies: Vec<SignedObject> = replies.into_iter().map(|(_, r)| r).collect();
    assert_eq!(social.trim_notifications(100).await.unwrap(), 0);
    assert_eq!(social.trim_notifications(10).await.unwrap(), 15);
    assert_eq!(len(&store, TreeName::Notifications), 10);
    let kept: Vec<ObjectId> = social
        .notifications(100, None)
        .unwrap()
        .items
        .iter()
        .map(|n| n.object)
        .collect();
    let newest: Vec<ObjectId> = replies
        .iter()
        .rev()
        .take(10)
        .map(SignedObject::id)
        .collect();
    assert_eq!(kept, newest);
    assert_eq!(social.trim_notifications(0).await.unwrap(), 10);
    assert!(social.notifications(10, None).unwrap().items.is_empty());
    // The replies themselves are untouched.
    assert_eq!(len(&store, TreeName::Replies), 25);
}

/// The same reply arriving many times at once (gossip, a push and a sync racing): one
/// notification.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_reply_arriving_many_times_at_once_notifies_once() {
    let (_dir, store) = open();
    let owner_key = Keypair::generate_ed25519();
    let owner = owner_key.public().to_peer_id();
    let mine = post(&owner_key, T0, "mine");
    store.social().insert(&mine, true).await.unwrap();
    let answer = reply(&Keypair::generate_ed25519(), T0 + 1, &mine);
    let tasks: Vec<_> = (0..20u64)
        .map(|i| {
            let social = store.social();
            let answer = answer.clone();
            tokio::spawn(async move {
                social
                    .insert_received(&answer, false, &owner, T0 + 100 + i)
                    .await
            })
        })
        .collect();
    let mut notified = 0;
    for task in tasks {
        let received = task.await.unwrap().unwrap();
        notified += usize::from(received.notification.is_some());
    }
    assert_eq!(notified, 1);
    assert_eq!(len(&store, TreeName::Notifications), 1);
    assert_eq!(store.social().reply_count(&mine.id()).unwrap(), 1);
}

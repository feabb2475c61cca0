//! The home timeline without some authors: what the owner reads while they mute people.
//!
//! A `timeline` key (`time | peer | id`) names its author, so skipping an author costs no
//! object read: only kept keys fetch their object. A page still holds `limit` posts when the
//! timeline has enough, reading past skipped entries, but never examines more than
//! `max_examined` keys, so a page of someone who muted the authors of the last thousand posts
//! costs a bounded scan (and may come back short, or even empty, with a `next` cursor). The
//! cursor is the key of the last entry examined, kept or skipped, so the next page starts right
//! after it and paging stays consistent whatever was skipped.

use std::collections::HashSet;

use libp2p::PeerId;

use super::{Cursor, Page, Social, keys};
use crate::batch::TreeName;
use crate::error::Result;

impl Social {
    /// The home timeline, newest first, without the posts of the authors in `skip`: up to
    /// `limit` posts strictly older than `before`, examining at most `max_examined` entries
    /// (at least `limit` are always examined). With an empty `skip` this is
    /// [`timeline`](Social::timeline).
    ///
    /// `next` is `None` only when the end of the timeline was reached.
    ///
    /// # Errors
    ///
    /// [`Error::Sled`](crate::Error::Sled) if the read failed.
    pub fn timeline_without(
        &self,
        limit: usize,
        before: Option<Cursor>,
        skip: &HashSet<PeerId>,
        max_examined: usize,
    ) -> Result<Page> {
        if skip.is_empty() {
            return self.timeline(limit, before);
        }
        let skipped: HashSet<Vec<u8>> = skip.iter().map(keys::peer).collect();
        let mut page = Page {
            items: Vec::new(),
            next: None,
        };
        let Some(range) = keys::range_within(&[], None, before.as_ref().map(Cursor::key)) else {
            return Ok(page);
        };
        if limit == 0 {
            return Ok(page);
        }
        let max_examined = max_examined.max(limit);
        let mut entries = self
            .tree(TreeName::Timeline)
            .range::<Vec<u8>, _>(range)
            .rev();
        let mut examined = 0;
        let mut last = None;
        while page.items.len() < limit && examined < max_examined {
            let Some(entry) = entries.next() else {
                return Ok(page);
            };
            let (key, _) = entry?;
            examined += 1;
            let skip_it = author_part(&key).is_some_and(|author| skipped.contains(author));
            if !skip_it && let Some(object) = self.listed(TreeName::Timeline, &key)? {
                page.items.push(object);
            }
            last = Some(key);
        }
        if entries.next().transpose()?.is_some() {
            page.next = last.map(|key| Cursor::at(&key));
        }
        Ok(page)
    }
}

/// The peer part (length byte included) of a `timeline` key; `None` if the key is too short.
fn author_part(key: &[u8]) -> Option<&[u8]> {
    let len = usize::from(*key.get(keys::TIME_LEN)?);
    key.get(keys::TIME_LEN..keys::TIME_LEN + 1 + len)
}

#[cfg(test)]
mod tests {
    use kith_protocols::{Content, PostContent, SignedObject};
    use libp2p::identity::Keypair;

    use super::*;
    use crate::store::Store;

    fn post(keypair: &Keypair, at: u64, text: &str) -> SignedObject {
        SignedObject::create(keypair, at, Content::Post(PostContent::new(text))).unwrap()
    }

    fn texts(page: &Page) -> Vec<String> {
        page.items
            .iter()
            .map(|object| match object.content() {
                Content::Post(post) => post.text.clone(),
                _ => String::new(),
            })
            .collect()
    }

    /// A timeline of 40 posts: 30 alternating between authors `a` (odd numbers) and `b` (even
    /// numbers), `b0` the oldest, then a run of 10 of `b`'s on top (`b30` to `b39`).
    async fn timeline() -> (Store, PeerId, PeerId) {
        let store = Store::open_temporary().unwrap();
        let social = store.social();
        let (a, b) = (Keypair::generate_ed25519(), Keypair::generate_ed25519());
        for at in 0..30 {
            let (keypair, name) = if at % 2 == 0 { (&b, "b") } else { (&a, "a") };
            assert!(
                social
                    .insert(&post(keypair, at + 1, &format!("{name}{at}")), true)
                    .await
                    .unwrap()
                    .is_stored()
            );
        }
        for at in 30..40 {
            social
                .insert(&post(&b, at + 1, &format!("b{at}")), true)
                .await
                .unwrap();
        }
        (store, a.public().to_peer_id(), b.public().to_peer_id())
    }

    #[tokio::test]
    async fn an_empty_skip_list_is_the_plain_timeline() {
        let (store, _, _) = timeline().await;
        let social = store.social();
        let plain = social.timeline(7, None).unwrap();
        let filtered = social
            .timeline_without(7, None, &HashSet::new(), 10)
            .unwrap();
        assert_eq!(plain, filtered);
    }

    #[tokio::test]
    async fn skipped_authors_leave_full_pages_and_consistent_cursors() {
        let (store, a, b) = timeline().await;
        let social = store.social();
        let skip = HashSet::from([b]);
        // The newest 10 are all b's: the page reads past them and still holds 5 posts.
        let first = social.timeline_without(5, None, &skip, 50).unwrap();
        assert_eq!(texts(&first), ["a29", "a27", "a25", "a23", "a21"]);
        assert!(first.items.iter().all(|post| post.author() == a));
        // Paging on from the cursor neither repeats nor loses a post.
        let mut seen = texts(&first);
        let mut next = first.next;
        while let Some(cursor) = next {
            let page = social.timeline_without(5, Some(cursor), &skip, 50).unwrap();
            assert!(page.items.len() <= 5);
            seen.extend(texts(&page));
            next = page.next;
        }
        let expected: Vec<String> = (0..30)
            .rev()
            .filter(|at| at % 2 == 1)
            .map(|at| format!("a{at}"))
            .collect();
        assert_eq!(seen, expected);
        // Skipping both authors: every page is empty, and paging still ends.
        let mut next = None;
        let mut pages = 0;
        loop {
            let page = social
                .timeline_without(3, next, &HashSet::from([a, b]), 8)
                .unwrap();
            assert!(page.items.is_empty());
            pages += 1;
            next = page.next;
            if next.is_none() {
                break;
            }
        }
        assert_eq!(pages, 40 / 8);
    }

    #[tokio::test]
    async fn the_scan_is_bounded_and_resumes_after_the_last_examined_entry() {
        let (store, _, b) = timeline().await;
        let social = store.social();
        let skip = HashSet::from([b]);
        // 10 b posts on top, then a29: a budget of 10 examines only b's.
        let short = social.timeline_without(5, None, &skip, 10).unwrap();
        assert!(short.items.is_empty());
        let cursor = short.next.expect("more entries after the budget");
        let resumed = social.timeline_without(5, Some(cursor), &skip, 10).unwrap();
        assert_eq!(texts(&resumed), ["a29", "a27", "a25", "a23", "a21"]);
        // A budget below the limit is raised to the limit.
        let raised = social.timeline_without(2, None, &skip, 0).unwrap();
        assert!(raised.items.is_empty());
        assert!(raised.next.is_some());
    }

    #[test]
    fn author_part_of_short_keys() {
        assert_eq!(author_part(&[]), None);
        assert_eq!(author_part(&[0; 8]), None);
        assert_eq!(author_part(&[0, 0, 0, 0, 0, 0, 0, 0, 3, 1]), None);
        assert_eq!(
            author_part(&[0, 0, 0, 0, 0, 0, 0, 0, 2, 1, 2, 9]),
            Some(&[2, 1, 2][..])
        );
    }
}

//! Search: the people and posts this node knows that match what the owner typed.
//!
//! The matching rule lives here, once ([`SearchQuery`]); the store only walks
//! ([`Social::scan_timeline`](kith_storage::Social::scan_timeline),
//! [`Social::profiles`](kith_storage::Social::profiles)) and the web handler only parses the
//! query string.
//!
//! - **The query**: trimmed, 1 to [`MAX_QUERY_CHARS`] characters, split into words on
//!   whitespace. Letters compare by their Unicode lowercase, so `JACQUARD` finds `Jacquard`.
//! - **Posts**: a post matches when its text contains every word (anywhere, in any order).
//!   Only the newest [`SEARCH_SCAN_BUDGET`] entries of the home timeline (the owner's and the
//!   followees' posts) are examined, newest first; older posts are not searched and the answer
//!   says so (`posts_truncated`). There is no text index: the bound keeps a search's cost
//!   known (about 20,000 object reads at the most) on a node of any age.
//! - **People**: everyone this node knows a name or a relation of: stored profiles, node
//!   summaries heard from peers, followees and followers. A person matches when their display
//!   name contains every word, or when the query (one word) is the start of their peer id or,
//!   from [`MIN_ID_FRAGMENT`] characters on, any part of it (peer ids are base58, so this part
//!   is case-sensitive). A query that is a whole peer id always yields that person first, known
//!   or not, so a pasted id leads to their page. Then come the people the owner follows, then
//!   the others; within each group a name that starts with the query comes first, then by name.

use std::collections::{HashMap, HashSet};
use std::sync::PoisonError;

use kith_protocols::{Content, ProfileSummary, SearchResults, UserView};
use kith_storage::Page;
use libp2p::PeerId;

use super::SocialService;
use crate::Error;

/// How many home timeline entries a search examines at most (the newest).
pub const SEARCH_SCAN_BUDGET: usize = 20_000;
/// The most people, and the most posts, one search returns.
pub const MAX_SEARCH_LIMIT: usize = 50;
/// How many people and posts a search returns when the caller does not say.
pub const DEFAULT_SEARCH_LIMIT: usize = 20;
/// The longest query, in characters (Unicode scalar values), after trimming.
pub const MAX_QUERY_CHARS: usize = 100;
/// The shortest query that matches a peer id anywhere rather than only at its start.
pub const MIN_ID_FRAGMENT: usize = 6;

/// A parsed query and the matching rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SearchQuery {
    /// The query as typed, trimmed (peer ids are matched against this).
    trimmed: String,
    /// Its words, lowercased.
    words: Vec<String>,
}

impl SearchQuery {
    /// Checks and splits a query.
    ///
    /// # Errors
    ///
    /// [`Error::Refused`] for a query that is empty (or only whitespace) or longer than
    /// [`MAX_QUERY_CHARS`] once trimmed.
    pub(crate) fn parse(query: &str) -> Result<SearchQuery, Error> {
        let trimmed = query.trim();
        let chars = trimmed.chars().count();
        if chars == 0 {
            return Err(Error::Refused("the search query is empty".to_owned()));
        }
        if chars > MAX_QUERY_CHARS {
            return Err(Error::Refused(format!(
                "the search query is {chars} characters long, at most {MAX_QUERY_CHARS} allowed"
            )));
        }
        Ok(SearchQuery {
            trimmed: trimmed.to_owned(),
            words: trimmed.split_whitespace().map(str::to_lowercase).collect(),
        })
    }

    /// Whether `text` contains every word of the query, ignoring case.
    pub(crate) fn matches_text(&self, text: &str) -> bool {
        let text = text.to_lowercase();
        self.words.iter().all(|word| text.contains(word.as_str()))
    }

    /// Whether `peer`'s id matches: the query (one word) starts it, or is a fragment of it of
    /// at least [`MIN_ID_FRAGMENT`] characters.
    pub(crate) fn matches_peer(&self, peer: &PeerId) -> bool {
        if self.words.len() != 1 {
            return false;
        }
        let id = peer.to_base58();
        id.starts_with(&self.trimmed)
            || (self.trimmed.chars().count() >= MIN_ID_FRAGMENT && id.contains(&self.trimmed))
    }

    /// The peer the query names, when it is a whole peer id.
    pub(crate) fn exact_peer(&self) -> Option<PeerId> {
        self.trimmed.parse().ok()
    }

    /// Whether `name` starts with the query's first word, ignoring case (ranks such names
    /// first).
    fn starts_name(&self, name: &str) -> bool {
        self.words
            .first()
            .is_some_and(|word| name.to_lowercase().starts_with(word.as_str()))
    }
}

/// A search limit the API accepts: 1 to [`MAX_SEARCH_LIMIT`].
fn search_limit(limit: usize) -> Result<usize, Error> {
    if (1..=MAX_SEARCH_LIMIT).contains(&limit) {
        Ok(limit)
    } else {
        Err(Error::Refused(format!(
            "limit must be between 1 and {MAX_SEARCH_LIMIT}"
        )))
    }
}

impl SocialService {
    /// The people and posts this node knows that match `query`, at most `limit` of each (see
    /// the module docs for the rules). Runs on the calling thread and may read up to
    /// [`SEARCH_SCAN_BUDGET`] objects: call it where blocking is fine.
    ///
    /// # Errors
    ///
    /// [`Error::Refused`] for an empty or too long query, or a limit out of range; store
    /// errors.
    pub fn search(&self, query: &str, limit: usize) -> Result<SearchResults, Error> {
        let query = SearchQuery::parse(query)?;
        let limit = search_limit(limit)?;
        let people = self.search_people(&query, limit)?;
        let scan =
            self.inner
                .social
                .scan_timeline(SEARCH_SCAN_BUDGET, limit, |object| match object.content() {
                    Content::Post(post) => query.matches_text(&post.text),
                    _ => false,
                })?;
        let posts = self
            .page_view(Page {
                items: scan.items,
                next: None,
            })?
            .posts;
        Ok(SearchResults {
            people,
            posts,
            posts_truncated: scan.budget_exhausted,
        })
    }

    /// Every node summary heard so far (what peers said about their owners).
    fn summaries(&self) -> Vec<(PeerId, ProfileSummary)> {
        self.inner
            .summaries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(peer, summary)| (*peer, summary.clone()))
            .collect()
    }

    /// The matching people, ranked, at most `limit`.
    fn search_people(&self, query: &SearchQuery, limit: usize) -> Result<Vec<UserView>, Error> {
        let social = &self.inner.social;
        // Everyone known, with the name shown for them (a stored profile wins over a summary).
        let mut known: HashMap<PeerId, String> = HashMap::new();
        for (peer, object) in social.profiles()? {
            if let Content::Profile(profile) = object.content() {
                known.insert(peer, profile.display_name.clone());
            }
        }
        for (peer, summary) in self.summaries() {
            known.entry(peer).or_insert(summary.display_name);
        }
        let following: HashSet<PeerId> = social
            .following()?
            .into_iter()
            .map(|(peer, _)| peer)
            .collect();
        for (peer, _) in social.followers()? {
            known.entry(peer).or_default();
        }
        for peer in &following {
            known.entry(*peer).or_default();
        }
        let exact = query.exact_peer();
        if let Some(peer) = exact {
            known.entry(peer).or_default();
        }

        // (group, name does not start with the query, name, peer): sorts in display order.
        let mut ranked: Vec<(u8, bool, String, PeerId)> = known
            .into_iter()
            .filter_map(|(peer, name)| {
                let by_name = !name.is_empty() && query.matches_text(&name);
                let group = if exact == Some(peer) {
                    0
                } else if !by_name && !query.matches_peer(&peer) {
                    return None;
                } else if following.contains(&peer) {
                    1
                } else {
                    2
                };
                Some((group, !query.starts_name(&name), name.to_lowercase(), peer))
            })
            .collect();
        ranked.sort();
        ranked.truncate(limit);
        ranked
            .into_iter()
            .map(|(_, _, _, peer)| self.user(&peer))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(q: &str) -> SearchQuery {
        SearchQuery::parse(q).unwrap()
    }

    #[test]
    fn queries_are_trimmed_and_bounded() {
        for bad in ["", "   ", "\t\n"] {
            assert!(
                matches!(SearchQuery::parse(bad), Err(Error::Refused(_))),
                "{bad:?}"
            );
        }
        let longest = "é".repeat(MAX_QUERY_CHARS);
        assert!(SearchQuery::parse(&format!("  {longest}  ")).is_ok());
        let error = SearchQuery::parse(&format!("{longest}x")).unwrap_err();
        assert!(error.to_string().contains("101 characters"), "{error}");
        assert_eq!(
            query("  Jacquard   LOOM "),
            SearchQuery {
                trimmed: "Jacquard   LOOM".to_owned(),
                words: vec!["jacquard".to_owned(), "loom".to_owned()],
            }
        );
    }

    #[test]
    fn text_matches_every_word_ignoring_case() {
        let q = query("jacquard LOOM");
        assert!(q.matches_text("The Jacquard loom, 1804"));
        assert!(
            q.matches_text("looms before JACQUARD"),
            "any order, inside words"
        );
        assert!(
            !q.matches_text("a Jacquard card"),
            "every word must be there"
        );
        assert!(!q.matches_text(""));
        // Unicode lowercase, not just ASCII.
        assert!(query("ÉCOLE").matches_text("l'école du métier"));
        assert!(query("straße").matches_text("STRAßE 5"));
        assert!(query("ΣΟΦΙΑ").matches_text("σοφια"));
    }

    #[test]
    fn peer_ids_match_by_prefix_or_a_long_enough_fragment() {
        let peer = PeerId::random();
        let id = peer.to_base58();
        assert!(query(&id).matches_peer(&peer));
        assert_eq!(query(&format!(" {id} ")).exact_peer(), Some(peer));
        assert!(query(&id[..3]).matches_peer(&peer), "a short prefix");
        let fragment = &id[10..10 + MIN_ID_FRAGMENT];
        assert!(query(fragment).matches_peer(&peer), "a fragment inside");
        let short = &id[10..10 + MIN_ID_FRAGMENT - 1];
        assert!(
            !query(short).matches_peer(&peer),
            "too short to match inside"
        );
        assert!(
            !query(&format!("{} x", &id[..8])).matches_peer(&peer),
            "one word only"
        );
        assert_eq!(query(&id[..8]).exact_peer(), None);
        assert_eq!(query("grace").exact_peer(), None);
        assert!(!query("zzzzzzzzzz").matches_peer(&peer));
    }

    #[test]
    fn names_starting_with_the_query_rank_first() {
        let q = query("gra");
        assert!(q.starts_name("Grace Hopper"));
        assert!(!q.starts_name("Ada Grant"));
        assert!(!q.starts_name(""));
    }

    #[test]
    fn limits_are_bounded() {
        assert_eq!(search_limit(1).unwrap(), 1);
        assert_eq!(search_limit(MAX_SEARCH_LIMIT).unwrap(), MAX_SEARCH_LIMIT);
        assert!(search_limit(0).is_err());
        assert!(search_limit(MAX_SEARCH_LIMIT + 1).is_err());
    }
}

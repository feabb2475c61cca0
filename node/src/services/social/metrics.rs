//! Counters of the social core, exported on `/metrics` and read by tests.

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family},
    registry::Registry,
};

/// How an object received from another node ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Verdict {
    /// Stored.
    Stored,
    /// Already here, or superseded: nothing changed.
    Duplicate,
    /// Verified but not wanted (not from a followee, or refused by the store's rules).
    Ignored,
    /// Failed verification (bad signature, wrong author, malformed, from the future).
    Rejected,
}

impl Verdict {
    fn as_str(self) -> &'static str {
        match self {
            Verdict::Stored => "stored",
            Verdict::Duplicate => "duplicate",
            Verdict::Ignored => "ignored",
            Verdict::Rejected => "rejected",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ObjectLabels {
    path: &'static str,
    verdict: &'static str,
}

/// The social core's counters. Cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub(crate) struct SocialMetrics {
    objects: Family<ObjectLabels, Counter>,
    rejected: Counter,
    repaired: Counter,
    syncs: Counter,
}

impl SocialMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "kith_objects_received",
            "Signed objects received from other nodes, by path (gossip, sync, push) and verdict",
            metrics.objects.clone(),
        );
        registry.register(
            "kith_objects_repaired",
            "Objects found missing by range reconciliation and fetched",
            metrics.repaired.clone(),
        );
        registry.register(
            "kith_syncs",
            "Pull-sync rounds completed with a followee",
            metrics.syncs.clone(),
        );
        metrics
    }

    pub fn record(&self, path: &'static str, verdict: Verdict) {
        self.objects
            .get_or_create(&ObjectLabels {
                path,
                verdict: verdict.as_str(),
            })
            .inc();
        if verdict == Verdict::Rejected {
            self.rejected.inc();
        }
    }

    pub fn repaired(&self, count: u64) {
        self.repaired.inc_by(count);
    }

    pub fn synced(&self) {
        self.syncs.inc();
    }

    /// Objects that failed verification so far.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.get()
    }

    /// Objects fetched by reconciliation so far.
    pub fn repaired_total(&self) -> u64 {
        self.repaired.get()
    }
}

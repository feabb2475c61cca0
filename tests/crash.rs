//! Durability when the node is stopped: posts are created through the HTTP API by several
//! writers while the node is stopped under them, either killed without warning (`kill -9`, again
//! and again) or asked to stop (SIGTERM, as systemd and container engines do). After every
//! restart the database opens cleanly and every post that got a `201 Created` is there.

use std::{path::Path, time::Duration};

use tokio::{sync::mpsc, task::JoinHandle, time::Instant};

use crate::process::{KithProcess, loopback_args};

/// Kill/restart cycles.
const ROUNDS: usize = 5;
/// Concurrent writers during each cycle.
const WRITERS: usize = 8;
/// Acknowledged posts to wait for before each stop (the stop then lands mid-write).
const ACKS_BEFORE_STOP: usize = 60;
/// How long a node may take to stop after SIGTERM: well inside systemd's and docker's grace
/// periods (90 s and 10 s by default).
const GRACEFUL_STOP: Duration = Duration::from_secs(5);

/// An HTTP client and the API token of the node in `data_dir`.
fn client(data_dir: &Path) -> (reqwest::Client, String) {
    let token = std::fs::read_to_string(data_dir.join("api.token")).expect("api.token");
    (reqwest::Client::new(), token.trim().to_owned())
}

/// Writers posting to the node at `api` as fast as it answers, each until a request fails
/// (the node stopped). The receiver yields the id of every post answered with 201.
struct Writers {
    tasks: Vec<JoinHandle<()>>,
    acknowledged: mpsc::UnboundedReceiver<String>,
}

impl Writers {
    /// Starts [`WRITERS`] writers; `label` goes into every post's text.
    fn start(data_dir: &Path, api: &str, label: &str) -> Writers {
        let (http, token) = client(data_dir);
        let (acks, acknowledged) = mpsc::unbounded_channel::<String>();
        let tasks = (0..WRITERS)
            .map(|writer| {
                let (http, token, api, acks) =
                    (http.clone(), token.clone(), api.to_owned(), acks.clone());
                let label = label.to_owned();
                tokio::spawn(async move {
                    for n in 0.. {
                        let sent = http
                            .post(format!("{api}/api/v1/posts"))
                            .bearer_auth(&token)
                            .json(&serde_json::json!({"text": format!("{label} writer {writer} post {n}")}))
                            .timeout(Duration::from_secs(10))
                            .send()
                            .await;
                        let Ok(response) = sent else { break };
                        if response.status().as_u16() != 201 {
                            break;
                        }
                        let Ok(body) = response.json::<serde_json::Value>().await else {
                            break;
                        };
                        let id = body["id"].as_str().expect("a created post has an id");
                        if acks.send(id.to_owned()).is_err() {
                            break;
                        }
                    }
                })
            })
            .collect();
        Writers {
            tasks,
            acknowledged,
        }
    }

    /// Waits until `count` posts have been acknowledged; fails if the writers stall.
    async fn wait_for_acks(&mut self, count: usize) -> Vec<String> {
        let mut ids = Vec::with_capacity(count);
        while ids.len() < count {
            let id = tokio::time::timeout(Duration::from_secs(20), self.acknowledged.recv())
                .await
                .unwrap_or_else(|_| {
                    panic!("writers stalled after {} acknowledged posts", ids.len())
                })
                .expect("writers are running");
            ids.push(id);
        }
        ids
    }

    /// Once the node has stopped: waits for every writer to give up and returns the posts
    /// acknowledged since [`wait_for_acks`](Self::wait_for_acks). Acknowledgements that raced
    /// the stop count too: they were 201s.
    async fn finish(mut self) -> Vec<String> {
        for task in self.tasks {
            task.await.expect("writer task");
        }
        let mut ids = Vec::new();
        while let Ok(id) = self.acknowledged.try_recv() {
            ids.push(id);
        }
        ids
    }
}

/// Fails unless the node at `api` serves every post of `ids`; `when` says after what.
async fn assert_all_present(data_dir: &Path, api: &str, ids: &[String], when: &str) {
    let (http, token) = client(data_dir);
    for id in ids {
        let response = http
            .get(format!("{api}/api/v1/posts/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("GET post");
        assert_eq!(
            response.status().as_u16(),
            200,
            "acknowledged post {id} is missing {when}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_post_survives_kill_9() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut acknowledged: Vec<String> = Vec::new();
    for round in 0..=ROUNDS {
        let node = KithProcess::start(&loopback_args(), dir.path()).await;
        let api = node.banner.api.clone();

        // Everything acknowledged before any earlier kill is still there.
        let when = format!("after kill -9 (round {round})");
        assert_all_present(dir.path(), &api, &acknowledged, &when).await;
        if round == ROUNDS {
            node.terminate().await;
            break;
        }

        let mut writers = Writers::start(dir.path(), &api, &format!("round {round}"));
        acknowledged.extend(writers.wait_for_acks(ACKS_BEFORE_STOP).await);
        node.kill().await;
        acknowledged.extend(writers.finish().await);
    }
    assert!(acknowledged.len() >= ROUNDS * ACKS_BEFORE_STOP);
}

/// SIGTERM while writers are busy: the node stops within [`GRACEFUL_STOP`] with status 0, and
/// after a restart every post it acknowledged is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_within_5_s_and_keeps_every_acknowledged_post() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let node = KithProcess::start(&loopback_args(), dir.path()).await;
    let api = node.banner.api.clone();

    let mut writers = Writers::start(dir.path(), &api, "before SIGTERM");
    let mut acknowledged = writers.wait_for_acks(ACKS_BEFORE_STOP).await;
    let asked = Instant::now();
    let status = node.terminate_within(GRACEFUL_STOP).await;
    let took = asked.elapsed();
    assert!(status.success(), "kith exited with {status} after SIGTERM");
    acknowledged.extend(writers.finish().await);
    assert!(
        !dir.path().join("api.addr").exists(),
        "a graceful stop removes api.addr"
    );

    let node = KithProcess::start(&loopback_args(), dir.path()).await;
    let when = format!("after SIGTERM (the node took {took:?} to stop)");
    assert_all_present(dir.path(), &node.banner.api, &acknowledged, &when).await;
    eprintln!(
        "stopped {took:?} after SIGTERM; all {} acknowledged posts are there",
        acknowledged.len()
    );
    assert!(node.terminate().await.success());
}

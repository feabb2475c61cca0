//! Durability under `kill -9`: posts are created through the HTTP API by several writers while
//! the node is killed without warning, again and again. After every restart the database opens
//! cleanly and every post that got a `201 Created` is there.

use std::{path::Path, time::Duration};

use tokio::sync::mpsc;

use crate::process::{KithProcess, loopback_args};

/// Kill/restart cycles.
const ROUNDS: usize = 5;
/// Concurrent writers during each cycle.
const WRITERS: usize = 8;
/// Acknowledged posts to wait for before each kill (the kill then lands mid-write).
const ACKS_BEFORE_KILL: usize = 60;

fn client(data_dir: &Path) -> (reqwest::Client, String) {
    let token = std::fs::read_to_string(data_dir.join("api.token")).expect("api.token");
    (reqwest::Client::new(), token.trim().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_post_survives_kill_9() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut acknowledged: Vec<String> = Vec::new();
    for round in 0..=ROUNDS {
        let node = KithProcess::start(&loopback_args(), dir.path()).await;
        let api = node.banner.api.clone();
        let (http, token) = client(dir.path());

        // Everything acknowledged before any earlier kill is still there.
        for id in &acknowledged {
            let response = http
                .get(format!("{api}/api/v1/posts/{id}"))
                .bearer_auth(&token)
                .send()
                .await
                .expect("GET post");
            assert_eq!(
                response.status().as_u16(),
                200,
                "round {round}: acknowledged post {id} is missing after kill -9"
            );
        }
        if round == ROUNDS {
            node.terminate().await;
            break;
        }

        let (acks, mut received) = mpsc::unbounded_channel::<String>();
        let writers: Vec<_> = (0..WRITERS)
            .map(|writer| {
                let (http, token, api, acks) =
                    (http.clone(), token.clone(), api.clone(), acks.clone());
                tokio::spawn(async move {
                    for n in 0.. {
                        let sent = http
                            .post(format!("{api}/api/v1/posts"))
                            .bearer_auth(&token)
                            .json(&serde_json::json!({"text": format!("round {round} writer {writer} post {n}")}))
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
        drop(acks);
        let mut this_round = Vec::new();
        while this_round.len() < ACKS_BEFORE_KILL {
            let id = tokio::time::timeout(Duration::from_secs(20), received.recv())
                .await
                .expect("writers make progress")
                .expect("writers are running");
            this_round.push(id);
        }
        node.kill().await;
        for writer in writers {
            writer.await.expect("writer task");
        }
        // Acknowledgements that raced the kill count too: they were 201s.
        while let Ok(id) = received.try_recv() {
            this_round.push(id);
        }
        acknowledged.extend(this_round);
    }
    assert!(acknowledged.len() >= ROUNDS * ACKS_BEFORE_KILL);
}

//! The container files: the `Dockerfile` (read instruction by instruction: its stages, the
//! non-root user, the volume, the ports, the health check), `.dockerignore`, the compose
//! example, and the health check script against a real node. Then, where a container engine
//! (podman, buildah, docker) runs here and reaches the base images, the image is built and its
//! binary run; otherwise the test prints what it could not do and why.

use std::{collections::HashMap, path::Path, time::Duration};

use super::{both_streams, find_program, read_repo_file, repo_file, run_tool};
use crate::process::{KithProcess, assert_success, loopback_args, run_cli_input};

/// Upper bound for an engine's `info` or `pull`.
const ENGINE_PROBE_TIMEOUT: Duration = Duration::from_secs(120);
/// Upper bound for building the image: a release build of the workspace from scratch, crates
/// downloaded, on two cores.
const BUILD_TIMEOUT: Duration = Duration::from_secs(40 * 60);
/// Upper bound for running the built binary once.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);
/// The API port the image documents and exposes.
const API_PORT: &str = "8080";

/// One instruction of a Dockerfile: `FROM`, `RUN`, ... and the rest of its (joined) lines.
#[derive(Debug, Clone)]
struct Instruction {
    keyword: String,
    args: String,
}

/// A build stage: its `FROM` arguments and the instructions after it.
#[derive(Debug)]
struct Stage {
    from: String,
    instructions: Vec<Instruction>,
}

impl Stage {
    /// The arguments of every `keyword` instruction of the stage.
    fn all(&self, keyword: &str) -> Vec<&str> {
        self.instructions
            .iter()
            .filter(|i| i.keyword == keyword)
            .map(|i| i.args.as_str())
            .collect()
    }

    /// The arguments of the last `keyword` instruction (the one that counts for USER, CMD, ...).
    fn last(&self, keyword: &str) -> Option<&str> {
        self.all(keyword).last().copied()
    }
}

/// A Dockerfile: the `ARG`s before the first `FROM` (with their defaults) and the stages.
#[derive(Debug)]
struct Dockerfile {
    args: HashMap<String, String>,
    stages: Vec<Stage>,
}

/// Instructions of the Dockerfile reference (docs.docker.com/reference/dockerfile).
const KEYWORDS: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "ONBUILD",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
    "RUN",
];

impl Dockerfile {
    /// Parses `text`: comment lines dropped, `\`-continued lines joined, every instruction
    /// checked against [`KEYWORDS`].
    fn parse(text: &str) -> Dockerfile {
        let mut instructions = Vec::new();
        let mut pending = String::new();
        for line in text.lines() {
            let trimmed = line.trim();
            if trimmed.starts_with('#') || (trimmed.is_empty() && pending.is_empty()) {
                continue;
            }
            match trimmed.strip_suffix('\\') {
                Some(head) => {
                    pending.push_str(head);
                    pending.push(' ');
                }
                None => {
                    pending.push_str(trimmed);
                    let (keyword, args) =
                        pending.split_once(char::is_whitespace).unwrap_or_else(|| {
                            panic!("Dockerfile: an instruction without arguments: {pending:?}")
                        });
                    let keyword = keyword.to_owned();
                    assert!(
                        KEYWORDS.contains(&keyword.as_str()),
                        "Dockerfile: `{keyword}` is not a Dockerfile instruction (or not in upper case)"
                    );
                    instructions.push(Instruction {
                        keyword,
                        args: args.split_whitespace().collect::<Vec<_>>().join(" "),
                    });
                    pending.clear();
                }
            }
        }
        assert!(
            pending.is_empty(),
            "Dockerfile ends inside a continued line"
        );

        let mut args = HashMap::new();
        let mut stages: Vec<Stage> = Vec::new();
        for instruction in instructions {
            match (instruction.keyword.as_str(), stages.last_mut()) {
                ("FROM", _) => stages.push(Stage {
                    from: instruction.args,
                    instructions: Vec::new(),
                }),
                ("ARG", None) => {
                    let (name, default) = instruction
                        .args
                        .split_once('=')
                        .unwrap_or((&instruction.args, ""));
                    args.insert(name.to_owned(), default.to_owned());
                }
                (keyword, None) => panic!("Dockerfile: {keyword} before the first FROM"),
                (_, Some(stage)) => stage.instructions.push(instruction),
            }
        }
        Dockerfile { args, stages }
    }

    /// `text` with every `${NAME}` of a global `ARG` replaced by its default.
    fn expand(&self, text: &str) -> String {
        self.args
            .iter()
            .fold(text.to_owned(), |text, (name, value)| {
                text.replace(&format!("${{{name}}}"), value)
            })
    }

    /// The base image of every stage that starts from an image (not from another stage).
    fn base_images(&self) -> Vec<String> {
        let names: Vec<String> = self
            .stages
            .iter()
            .filter_map(|s| stage_name(&s.from))
            .collect();
        self.stages
            .iter()
            .map(|stage| self.expand(stage.from.split_whitespace().next().unwrap_or("")))
            .filter(|image| !names.contains(image))
            .collect()
    }
}

/// The name a `FROM image AS name` gives its stage.
fn stage_name(from: &str) -> Option<String> {
    let words: Vec<&str> = from.split_whitespace().collect();
    match words.as_slice() {
        [_, as_, name] if as_.eq_ignore_ascii_case("as") => Some((*name).to_owned()),
        _ => None,
    }
}

/// `"1.88"` → `(1, 88)`.
fn version(text: &str) -> (u32, u32) {
    let mut parts = text.split('.').map(|p| p.parse::<u32>());
    match (parts.next(), parts.next()) {
        (Some(Ok(major)), Some(Ok(minor))) => (major, minor),
        _ => panic!("not a MAJOR.MINOR version: {text:?}"),
    }
}

#[test]
fn the_dockerfile_builds_in_two_stages_and_runs_as_a_user_with_a_volume_and_a_health_check() {
    let dockerfile = Dockerfile::parse(&read_repo_file("Dockerfile"));
    let [builder, runtime] = dockerfile.stages.as_slice() else {
        panic!(
            "the Dockerfile should have two stages (build, runtime), has {}",
            dockerfile.stages.len()
        );
    };

    // The build stage: a Rust image at least as new as the workspace's rust-version, and a
    // locked release build of the binary.
    let builder_name = stage_name(&builder.from).expect("the build stage is named (`AS builder`)");
    let builder_image = dockerfile.expand(&builder.from);
    assert!(builder_image.contains("/rust:"), "{builder_image}");
    let rust = dockerfile
        .args
        .get("RUST_VERSION")
        .expect("ARG RUST_VERSION before the first FROM");
    let manifest = read_repo_file("Cargo.toml");
    let msrv = manifest
        .lines()
        .find_map(|line| line.strip_prefix("rust-version = "))
        .expect("the workspace's rust-version")
        .trim_matches('"');
    assert!(
        version(rust) >= version(msrv),
        "the image builds with Rust {rust}, the workspace needs {msrv}"
    );
    assert!(
        builder
            .all("RUN")
            .iter()
            .any(|run| run.contains("cargo build --release --locked")),
        "the build stage runs no `cargo build --release --locked`: {builder:?}"
    );

    // The runtime stage: a slim Debian of the same release (the binary links its glibc), the
    // binary from the build stage, a non-root user, the data dir as a volume.
    let runtime_image = dockerfile.expand(&runtime.from);
    assert!(
        runtime_image.contains("/debian:") && runtime_image.contains("-slim"),
        "{runtime_image}"
    );
    let release = dockerfile
        .args
        .get("DEBIAN_RELEASE")
        .expect("ARG DEBIAN_RELEASE");
    assert!(
        builder_image.contains(release.as_str()) && runtime_image.contains(release.as_str()),
        "both stages on Debian {release}: {builder_image} / {runtime_image}"
    );
    assert!(
        runtime
            .all("COPY")
            .iter()
            .any(|copy| copy.starts_with(&format!("--from={builder_name} "))
                && copy.ends_with(" /usr/local/bin/kith")),
        "the runtime stage does not copy the binary from `{builder_name}`: {runtime:?}"
    );
    let user = runtime.last("USER").expect("the runtime stage sets USER");
    assert!(
        !["root", "0", "root:root", "0:0"].contains(&user),
        "the node must not run as root (USER {user})"
    );
    let volume = runtime.last("VOLUME").expect("a VOLUME");
    assert!(
        volume.contains("\"/data\"") || volume == "/data",
        "VOLUME {volume}"
    );
    assert!(
        runtime.all("ENV").contains(&"KITH_DATA_DIR=/data"),
        "the data dir is not /data: {runtime:?}"
    );
    let exposed: Vec<&str> = runtime
        .all("EXPOSE")
        .iter()
        .flat_map(|e| e.split_whitespace())
        .collect();
    assert!(
        exposed.contains(&"4001") && exposed.contains(&API_PORT),
        "EXPOSE {exposed:?}"
    );
    assert_eq!(runtime.last("ENTRYPOINT"), Some(r#"["kith"]"#));
    assert_eq!(runtime.last("CMD"), Some(r#"["run"]"#));
    assert_eq!(runtime.last("STOPSIGNAL"), Some("SIGTERM"));

    // The health check runs the script the stage copies in.
    let health = runtime.last("HEALTHCHECK").expect("a HEALTHCHECK");
    assert!(
        health.contains("CMD [\"bash\", \"/usr/local/bin/kith-healthcheck\"]"),
        "HEALTHCHECK {health}"
    );
    assert!(
        runtime
            .all("COPY")
            .contains(&"contrib/docker/healthcheck.sh /usr/local/bin/kith-healthcheck"),
        "the health check script is not copied in: {runtime:?}"
    );

    // Every file copied from the build context exists and is not ignored.
    let ignored: Vec<String> = read_repo_file(".dockerignore")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| line.trim_end_matches('/').to_owned())
        .collect();
    for required in ["target", ".git"] {
        assert!(
            ignored.iter().any(|i| i == required),
            ".dockerignore does not leave out {required}/"
        );
    }
    for copy in builder.all("COPY").into_iter().chain(runtime.all("COPY")) {
        if copy.starts_with("--from=") {
            continue;
        }
        let words: Vec<&str> = copy.split_whitespace().collect();
        for source in &words[..words.len() - 1] {
            assert!(
                repo_file(source).exists(),
                "COPY {source}: no such file in the repository"
            );
            assert!(
                !ignored.iter().any(|i| source.starts_with(i.as_str())),
                "COPY {source}: left out by .dockerignore"
            );
        }
    }
}

#[test]
fn the_compose_example_runs_a_bootstrap_node_and_a_member_of_its_network() {
    // No YAML parser in the test's dependencies: the text holds the parts that matter, and a
    // compose tool, where one exists, checks the whole file (below).
    let compose = read_repo_file("contrib/docker/compose.yaml");
    for needle in [
        "  bootstrap:\n",
        "  member:\n",
        r#"["run", "--role", "bootstrap""#,
        r#""--bootstrap", "/dns4/bootstrap/tcp/4001""#,
        "kith network new > /bootstrap/swarm.key",
        "cp /bootstrap/swarm.key /member/swarm.key",
        "bootstrap-data:/data",
        "member-data:/data",
        "context: ../..",
    ] {
        assert!(
            compose.contains(needle),
            "contrib/docker/compose.yaml lacks {needle:?}"
        );
    }
    assert!(
        !compose.contains('\t'),
        "contrib/docker/compose.yaml: YAML does not allow tabs for indentation"
    );
}

/// The image's HEALTHCHECK script against a real node: healthy while it runs, unhealthy once
/// it has stopped, healthy again when the API is bound to every address.
#[tokio::test]
async fn the_health_check_script_follows_the_node() {
    let Some(bash) = find_program("bash") else {
        eprintln!("the health check script is not run: no bash here");
        return;
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    let script = repo_file("contrib/docker/healthcheck.sh");
    let check = || async {
        let mut command = tokio::process::Command::new(&bash);
        command
            .arg(&script)
            .env("KITH_DATA_DIR", dir.path())
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        tokio::time::timeout(RUN_TIMEOUT, command.output())
            .await
            .expect("the health check finishes")
            .expect("running the health check")
    };

    let node = KithProcess::start(&loopback_args(), dir.path()).await;
    let healthy = check().await;
    assert!(
        healthy.status.success(),
        "the health check fails against a running node ({}):\n{}",
        node.banner.api,
        both_streams(&healthy)
    );
    assert!(node.terminate().await.success());
    let stopped = check().await;
    assert!(
        !stopped.status.success(),
        "the health check passes with the node stopped:\n{}",
        both_streams(&stopped)
    );

    // As in a container whose API is published (KITH_API=0.0.0.0:8080, after `kith passwd`):
    // api.addr says 0.0.0.0, which the script reaches over loopback.
    let set = run_cli_input(dir.path(), &["passwd"], "correct horse battery\n").await;
    assert_success(&set, "passwd");
    let open_api: Vec<String> = loopback_args()
        .into_iter()
        .map(|arg| {
            if arg == "127.0.0.1:0" {
                "0.0.0.0:0".to_owned()
            } else {
                arg
            }
        })
        .collect();
    let node = KithProcess::start(&open_api, dir.path()).await;
    let healthy = check().await;
    assert!(
        healthy.status.success(),
        "the health check fails against a node bound to 0.0.0.0 ({}):\n{}",
        node.banner.api,
        both_streams(&healthy)
    );
    assert!(node.terminate().await.success());
}

/// A container engine found here.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Engine {
    Podman,
    Buildah,
    Docker,
}

impl Engine {
    fn program(self) -> &'static str {
        match self {
            Engine::Podman => "podman",
            Engine::Buildah => "buildah",
            Engine::Docker => "docker",
        }
    }

    /// The build command (`buildah bud` is buildah's `build`).
    fn build_args(self) -> &'static [&'static str] {
        match self {
            Engine::Buildah => &["bud"],
            Engine::Podman | Engine::Docker => &["build"],
        }
    }
}

/// Builds the image with the first engine that works here and runs its binary once; says
/// exactly what it could not do otherwise.
#[tokio::test]
async fn the_image_builds_where_a_container_engine_runs() {
    let dockerfile = Dockerfile::parse(&read_repo_file("Dockerfile"));
    let mut could_not = Vec::new();
    for engine in [Engine::Podman, Engine::Buildah, Engine::Docker] {
        let Some(program) = find_program(engine.program()) else {
            could_not.push(format!("{} is not installed", engine.program()));
            continue;
        };
        let info = run_tool(&program, &["info"], ENGINE_PROBE_TIMEOUT).await;
        if !info.status.success() {
            could_not.push(format!(
                "{} is installed but cannot run here (`{} info`: {}; {})",
                engine.program(),
                engine.program(),
                info.status,
                first_line(&String::from_utf8_lossy(&info.stderr))
            ));
            continue;
        }
        let mut unreachable = None;
        for image in dockerfile.base_images() {
            let pulled = run_tool(&program, &["pull", &image], ENGINE_PROBE_TIMEOUT).await;
            if !pulled.status.success() {
                unreachable = Some(format!(
                    "{} cannot pull the base image {image} ({}; {})",
                    engine.program(),
                    pulled.status,
                    first_line(&String::from_utf8_lossy(&pulled.stderr))
                ));
                break;
            }
        }
        if let Some(why) = unreachable {
            could_not.push(why);
            continue;
        }
        build_and_run(engine, &program).await;
        return;
    }
    eprintln!(
        "the container image was not built: {}. Checked statically instead (the Dockerfile, \
         compose example and health check tests).",
        could_not.join("; ")
    );
}

/// Builds the image with `engine`, then (podman, docker) runs `kith --version` in it and checks
/// that it runs as the image's user, not root.
async fn build_and_run(engine: Engine, program: &Path) {
    let tag = format!("localhost/kith-test:{}", std::process::id());
    let root = repo_file(".");
    let root = root.to_str().expect("a UTF-8 repository path");
    let mut args: Vec<&str> = engine.build_args().to_vec();
    args.extend(["-t", &tag, "-f", "Dockerfile", root]);
    let built = run_tool(program, &args, BUILD_TIMEOUT).await;
    assert!(
        built.status.success(),
        "`{} {}` failed:\n{}",
        engine.program(),
        args.join(" "),
        both_streams(&built)
    );
    if engine != Engine::Buildah {
        let ran = run_tool(program, &["run", "--rm", &tag, "--version"], RUN_TIMEOUT).await;
        let stdout = String::from_utf8_lossy(&ran.stdout);
        assert!(
            ran.status.success() && stdout.starts_with("kith "),
            "`kith --version` in the image:\n{}",
            both_streams(&ran)
        );
        let ran = run_tool(
            program,
            &["run", "--rm", "--entrypoint", "id", &tag, "-u"],
            RUN_TIMEOUT,
        )
        .await;
        let uid = String::from_utf8_lossy(&ran.stdout).trim().to_owned();
        assert!(
            ran.status.success() && uid != "0",
            "the image runs as uid {uid:?}:\n{}",
            both_streams(&ran)
        );
    }
    let _ = run_tool(program, &["rmi", &tag], RUN_TIMEOUT).await;
    eprintln!("built the container image with {}", engine.program());
}

fn first_line(text: &str) -> &str {
    text.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no message")
}

# syntax=docker/dockerfile:1
# Kith in a container: a Rust build stage, then a small Debian runtime that runs the node as a
# non-root user with its data dir on a volume.
#
#   docker build -t kith .
#   docker run -d --name kith -p 4001:4001 -v kith-data:/data kith
#   docker logs kith            # the banner; no login link or invite code in a log
#   docker exec kith kith login # a one-time login link; `kith invite` for an invite code
#
# The API and web UI listen on 127.0.0.1:8080 inside the container, where the health check and
# `docker exec kith kith …` reach them: `kith run` serves them beyond loopback only once a UI
# password is set. To open the UI from the host: `docker exec -it kith kith passwd`, then run the
# container again with `-e KITH_API=0.0.0.0:8080 -p 127.0.0.1:8080:8080` (see README.md).
# contrib/docker/compose.yaml runs a bootstrap node and a member.

ARG RUST_VERSION=1.95
# The same Debian release in both stages: the binary links the builder's glibc.
ARG DEBIAN_RELEASE=bookworm

FROM docker.io/library/rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS builder
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin kith \
 && install -m 0755 target/release/kith /usr/local/bin/kith

FROM docker.io/library/debian:${DEBIAN_RELEASE}-slim AS runtime
RUN useradd --system --uid 10001 --user-group --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin kith \
 && install -d -o kith -g kith -m 0700 /data
COPY --from=builder /usr/local/bin/kith /usr/local/bin/kith
COPY contrib/docker/healthcheck.sh /usr/local/bin/kith-healthcheck
# Every `kith` command in the container, `docker exec` ones included, is about this node.
ENV KITH_DATA_DIR=/data
USER kith
VOLUME ["/data"]
# 4001: peers (TCP); 8080: the API and web UI, reachable once KITH_API=0.0.0.0:8080 (see above).
EXPOSE 4001 8080
# Healthy while GET /readyz answers 200 at the address the node wrote to /data/api.addr.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["bash", "/usr/local/bin/kith-healthcheck"]
# The node stops gracefully on SIGTERM within a few seconds (docker waits 10 s by default).
STOPSIGNAL SIGTERM
ENTRYPOINT ["kith"]
CMD ["run"]

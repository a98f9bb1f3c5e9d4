# syntax=docker/dockerfile:1
# Swiftlet in a container, a drop-in for `redis:7-alpine`: change only `image:`.
#   docker build -t swiftlet .
#   docker run -d -p 6379:6379 -v swiftlet-data:/data swiftlet --requirepass secret

ARG SWIFT_VERSION=6.3
ARG DEBIAN_RELEASE=bookworm

# --- build: the official Swift image, with the Lua headers scripting links against ---
FROM swift:${SWIFT_VERSION}-${DEBIAN_RELEASE} AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends liblua5.1-0-dev lua-cjson-dev lua-bitop-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
# The Swift runtime is linked in statically: the runtime image needs no Swift.
RUN swift build -c release --static-swift-stdlib \
    && mkdir -p /out \
    && for tool in swiftlet-server swiftlet-cli swiftlet-check-rdb swiftlet-check-aof; do \
         if [ -x ".build/release/$tool" ]; then install -s ".build/release/$tool" /out/; fi; \
       done

# --- runtime: Debian slim with the Lua libraries, tzdata and a non-root user ---
FROM debian:${DEBIAN_RELEASE}-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends liblua5.1-0 lua-cjson lua-bitop tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 999 swiftlet \
    && useradd --system --uid 999 --gid swiftlet --home-dir /data --no-create-home swiftlet \
    && mkdir /data \
    && chown swiftlet:swiftlet /data
COPY --from=build /out/ /usr/local/bin/
COPY docker/docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
# Redis's names for the same programs, so compose files and `docker exec … redis-cli -a …`
# work unchanged.
RUN ln -s swiftlet-server /usr/local/bin/redis-server \
    && ln -s swiftlet-cli /usr/local/bin/redis-cli \
    && ln -s swiftlet-check-rdb /usr/local/bin/redis-check-rdb \
    && ln -s swiftlet-check-aof /usr/local/bin/redis-check-aof

VOLUME /data
WORKDIR /data
EXPOSE 6379
# A reply of any kind (PONG, or NOAUTH when a password is set) means the server is serving.
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
    CMD swiftlet-cli ping 2>&1 | grep -Eq 'PONG|NOAUTH'
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["swiftlet-server"]

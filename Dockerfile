# The `dts` binary in a small Debian image: every command of it (server,
# job-service, migrate, the CLI). Built from the source tree:
#
#   docker build -t dts .
#   docker run --rm -p 8080:8080 dts server --data-dir /data \
#     --grpc-addr 0.0.0.0:50054 --http-addr 0.0.0.0:8080      # needs DTS_API_TOKEN
#
# docker-compose.yml runs the distributed services with it.

FROM debian:bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config git ca-certificates \
      libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc libabsl-dev \
      librdkafka-dev libsqlite3-dev libboost-dev libspdlog-dev libfmt-dev libcli11-dev \
      libcurl4-openssl-dev libgtest-dev libgmock-dev libbenchmark-dev libssl-dev uuid-dev \
      python3 tzdata \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release \
    && cmake --build build --target dts

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
      libabsl20220623 libgrpc++1.51 libgrpc29 libprotobuf32 librdkafka1 libsqlite3-0 \
      libcurl4 libssl3 libre2-9 libc-ares2 tzdata ca-certificates python3 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --create-home dts
COPY --from=build /src/build/dts /usr/local/bin/dts
# Never root: commands the scheduler runs run as this user.
USER dts
WORKDIR /data
EXPOSE 50054 8080
ENTRYPOINT ["/usr/local/bin/dts"]
CMD ["server", "--data-dir", "/data", "--grpc-addr", "0.0.0.0:50054", "--http-addr", "0.0.0.0:8080"]

# Static binary in a minimal, non-root image with CA certificates, the way
# Prometheus exporters ship. Build with `make docker`, which passes the
# version fields from git (or docker build --build-arg VERSION=... .).
#
# The image holds no configuration of its own (only the commented example,
# /etc/cms_exporter/config.example.yml): mount yours, read-only, at
# /etc/cms_exporter/cms_exporter.yml, with the files it names beside it
# (relative paths are relative to the config's directory):
#
#   docker run -d -p 10041:10041 --user "$(id -u):$(id -g)" \
#     -v "$PWD/cms_exporter.yml:/etc/cms_exporter/cms_exporter.yml:ro" \
#     -v "$PWD/cms_password:/etc/cms_exporter/cms_password:ro" \
#     -v "$PWD/cms-ca.pem:/etc/cms_exporter/cms-ca.pem:ro" \
#     cms_exporter
#
# (--user: so the exporter can read a password file that only you may read,
# chmod 600.) Without a configuration: `docker run -p 10041:10041
# cms_exporter --demo` monitors a built-in simulated cluster.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The same fields goreleaser stamps (.goreleaser.yaml): `--version` and
# cms_exporter_build_info say which commit a running image was built from.
ARG VERSION=dev
ARG REVISION=unknown
ARG BRANCH=unknown
ARG BUILD_USER=docker
ARG BUILD_DATE=unknown
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath \
      -ldflags "-s -w \
        -X github.com/prometheus/common/version.Version=${VERSION} \
        -X github.com/prometheus/common/version.Revision=${REVISION} \
        -X github.com/prometheus/common/version.Branch=${BRANCH} \
        -X github.com/prometheus/common/version.BuildUser=${BUILD_USER} \
        -X github.com/prometheus/common/version.BuildDate=${BUILD_DATE}" \
      -o /out/cms_exporter .

# distroless/static: no shell, no libc, CA certificates and tzdata included,
# runs as the unprivileged "nonroot" user (65532).
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG REVISION=unknown
ARG BUILD_DATE=unknown
LABEL org.opencontainers.image.title="cms_exporter" \
      org.opencontainers.image.description="Prometheus exporter for Cisco Meeting Server clusters" \
      org.opencontainers.image.source="https://github.com/cms-exporter/cms_exporter" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${BUILD_DATE}"
COPY --from=build /out/cms_exporter /bin/cms_exporter
COPY config.example.yml /etc/cms_exporter/config.example.yml
COPY LICENSE /LICENSE
USER 65532:65532
EXPOSE 10041
ENTRYPOINT ["/bin/cms_exporter"]
# Mount the configuration here (see above); a missing file stops the
# exporter at start with "cannot load configuration".
CMD ["--config.file=/etc/cms_exporter/cms_exporter.yml"]

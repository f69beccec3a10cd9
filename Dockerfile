# Static binary in a minimal, non-root image with CA certificates, the way
# Prometheus exporters ship. Build: docker build -t cms_exporter .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath \
      -ldflags "-s -w -X github.com/prometheus/common/version.Version=${VERSION}" \
      -o /out/cms_exporter .

# distroless/static: no shell, no libc, CA certificates and tzdata included,
# runs as the unprivileged "nonroot" user (65532).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/cms_exporter /bin/cms_exporter
COPY config.example.yml /etc/cms_exporter/config.example.yml
USER 65532:65532
EXPOSE 10041
ENTRYPOINT ["/bin/cms_exporter"]
CMD ["--config.file=/etc/cms_exporter/cms_exporter.yml"]

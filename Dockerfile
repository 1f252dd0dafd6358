# Builds the signet server image: a static binary on a distroless base.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# .dockerignore drops .git: pass the revision in, e.g.
#   docker build --build-arg REVISION=$(git rev-parse HEAD) .
ARG REVISION=unknown
RUN CGO_ENABLED=0 go build -trimpath \
    -ldflags="-s -w -X github.com/signet-dev/signet/internal/version.revision=${REVISION}" \
    -o /out/signet ./cmd/signet

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/signet /usr/local/bin/signet
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/signet"]
CMD ["serve", "--config", "/etc/signet/signet.yaml", "--addr", "0.0.0.0:8080"]

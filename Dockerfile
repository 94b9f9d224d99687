# syntax=docker/dockerfile:1
# Built with the same flags as `make build`: static, trimmed, version stamped.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/aliyun-cas-issuer .

# `make image` builds the same image without a container engine
# (hack/image): it reads USER, ENTRYPOINT and the LABELs below from here.
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=1970-01-01T00:00:00Z
LABEL org.opencontainers.image.title=aliyun-cas-issuer
LABEL org.opencontainers.image.description="cert-manager external issuer for Alibaba Cloud SSL Certificates Service"
LABEL org.opencontainers.image.source=https://github.com/aliyun-cas-issuer/aliyun-cas-issuer
LABEL org.opencontainers.image.version=${VERSION}
LABEL org.opencontainers.image.revision=${REVISION}
LABEL org.opencontainers.image.created=${CREATED}
COPY --from=build /out/aliyun-cas-issuer /aliyun-cas-issuer
USER 65532:65532
ENTRYPOINT ["/aliyun-cas-issuer"]

# syntax=docker/dockerfile:1
# Built with the same flags as `make build`: static, trimmed, version stamped.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/aliyun-cas-issuer .

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/aliyun-cas-issuer /aliyun-cas-issuer
USER 65532:65532
ENTRYPOINT ["/aliyun-cas-issuer"]

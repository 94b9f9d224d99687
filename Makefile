# Every developer and CI entry point. `make help` lists them.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

ROOT    := $(CURDIR)
BIN     := $(ROOT)/bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# The binary `make build` produces is built exactly as the Dockerfile builds it.
GO_BUILD_FLAGS := -trimpath -ldflags "-s -w -X main.version=$(VERSION)"
GO_TEST_FLAGS  ?= -count=1 -race
export KUBEBUILDER_ASSETS := $(BIN)
export CGO_ENABLED ?= 1

.PHONY: help
help: ## List the targets.
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

.PHONY: tools
tools: ## Build kube-apiserver, etcd, controller-gen and staticcheck into bin/ (cached).
	@bash hack/tools.sh

.PHONY: generate
generate: tools ## Regenerate deepcopy code and CRDs (deploy/crds) with controller-gen.
	$(BIN)/controller-gen object:headerFile=hack/boilerplate.go.txt paths=./api/...
	$(BIN)/controller-gen crd paths=./api/... output:crd:artifacts:config=deploy/crds
	@# Helm reads no file outside the chart: it ships a copy of the CRDs.
	cp deploy/crds/aliyun-cas-issuer.io_*.yaml deploy/charts/aliyun-cas-issuer/files/crds/

.PHONY: verify-generate
verify-generate: generate ## Fail if generated files are stale.
	@git diff --exit-code -- api deploy || { echo "generated files are stale: run 'make generate' and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- api deploy)" || { git status --porcelain -- api deploy; echo "untracked generated files: run 'make generate' and commit"; exit 1; }

.PHONY: fmt
fmt: ## Format the code.
	gofmt -w $$(git ls-files '*.go')

.PHONY: vet
vet: ## go vet every package.
	go vet ./...

.PHONY: lint
lint: tools vet ## gofmt check, go vet and staticcheck.
	@out=$$(gofmt -l $$(git ls-files '*.go')); test -z "$$out" || { echo "gofmt would change:"; echo "$$out"; exit 1; }
	$(BIN)/staticcheck ./...

.PHONY: build
build: ## Build bin/aliyun-cas-issuer (static, as in the Dockerfile).
	CGO_ENABLED=0 go build $(GO_BUILD_FLAGS) -o $(BIN)/aliyun-cas-issuer .

.PHONY: test
test: tools ## Unit, control-plane integration and end-to-end tests (real kube-apiserver + etcd).
	go test $(GO_TEST_FLAGS) $$(go list ./... | grep -v '/e2e$$')
	@# cert-manager's controllers run inside the e2e test binary, and the race
	@# detector reports races in their own code: e2e runs without -race.
	go test -count=1 ./e2e/

.PHONY: e2e
e2e: tools ## End-to-end scenarios with the real cert-manager controllers (also part of make test).
	go test -count=1 -v ./e2e/

.PHONY: demo
demo: tools ## Run the whole thing locally and print an issued certificate.
	go run ./e2e/cmd/demo

.PHONY: sandbox
sandbox: tools ## Run the system until interrupted; kubeconfig in bin/sandbox.kubeconfig.
	go run ./e2e/cmd/sandbox --kubeconfig $(BIN)/sandbox.kubeconfig

.PHONY: bench
bench: tools ## Benchmarks: throughput, API calls and writes per certificate, memory.
	go run ./bench/cmd/bench -out $(ROOT)/bench

.PHONY: clean
clean: ## Remove built binaries (keeps the cached control plane tools).
	rm -f $(BIN)/aliyun-cas-issuer

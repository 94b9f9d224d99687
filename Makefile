# Every developer and CI entry point. `make help` lists them.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

ROOT    := $(CURDIR)
BIN     ?= $(ROOT)/bin
export BIN
export VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GO_TEST_FLAGS  ?= -count=1 -race
export KUBEBUILDER_ASSETS := $(BIN)
export CGO_ENABLED ?= 1
# hack/tools.sh builds each binary a target needs (in parallel, cached).
BUILD := bash hack/tools.sh

.PHONY: help
help: ## List the targets.
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

.PHONY: tools
tools: ## Build kube-apiserver, etcd, kubectl, controller-gen, staticcheck and helm into bin/ (cached).
	@$(BUILD) all

.PHONY: generate
generate: ## Regenerate deepcopy code and CRDs (deploy/crds) with controller-gen.
	@$(BUILD) controller-gen
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
lint: vet ## gofmt check, go vet and staticcheck.
	@$(BUILD) staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); test -z "$$out" || { echo "gofmt would change:"; echo "$$out"; exit 1; }
	$(BIN)/staticcheck ./...

.PHONY: build
build: ## Build bin/aliyun-cas-issuer (static, as in the Dockerfile).
	@$(BUILD) issuer

.PHONY: image
image: ## OCI image of the issuer (linux/amd64, linux/arm64) and its SBOM in bin/image, without Docker.
	@$(BUILD) issuer-linux-amd64 issuer-linux-arm64
	SOURCE_DATE_EPOCH=$$(git log -1 --format=%ct) go run ./hack/image -out $(BIN)/image \
		-binary linux/amd64=$(BIN)/linux-amd64/aliyun-cas-issuer \
		-binary linux/arm64=$(BIN)/linux-arm64/aliyun-cas-issuer \
		-build-arg VERSION=$(VERSION) -build-arg REVISION=$$(git rev-parse HEAD)

.PHONY: test
test: ## Unit, control-plane integration and end-to-end tests (real kube-apiserver + etcd).
	@# kubectl renders the kustomize overlays and helm the chart in deploy/ tests.
	@$(BUILD) kube-apiserver etcd kubectl helm
	go test $(GO_TEST_FLAGS) $$(go list ./... | grep -v '/e2e$$')
	@# cert-manager's controllers run inside the e2e test binary, and the race
	@# detector reports races in their own code: e2e runs without -race.
	go test -count=1 ./e2e/

.PHONY: e2e
e2e: ## End-to-end scenarios with the real cert-manager controllers (also part of make test).
	@# helm renders the chart's RBAC the issuer runs with in some scenarios.
	@$(BUILD) kube-apiserver etcd helm
	go test -count=1 -v ./e2e/

.PHONY: demo
demo: ## Run the whole thing locally and print an issued certificate.
	@$(BUILD) kube-apiserver etcd issuer demo
	$(BIN)/demo --issuer-binary $(BIN)/aliyun-cas-issuer

.PHONY: sandbox
sandbox: ## Run the system until interrupted; kubeconfig in bin/sandbox.kubeconfig.
	@$(BUILD) kube-apiserver etcd kubectl issuer sandbox
	$(BIN)/sandbox --issuer-binary $(BIN)/aliyun-cas-issuer --kubeconfig $(BIN)/sandbox.kubeconfig

.PHONY: bench
bench: ## Benchmarks: throughput, API calls and writes per certificate, memory.
	@$(BUILD) kube-apiserver etcd
	go run ./bench/cmd/bench -out $(ROOT)/bench

.PHONY: clean
clean: ## Remove built binaries (keeps the cached control plane tools).
	rm -f $(BIN)/aliyun-cas-issuer

#!/usr/bin/env bash
# Builds the binaries tests and code generation need into bin/, from Go
# modules only (no prebuilt downloads): kube-apiserver and etcd through the
# hack/tools module (kubectl too, for the sandbox), controller-gen, staticcheck and helm with `go install`.
# A stamp of every pin makes a second run with nothing changed a no-op.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bin="$root/bin"
mkdir -p "$bin"
# shellcheck source=hack/versions.env
source hack/versions.env

tools=(kube-apiserver etcd kubectl controller-gen staticcheck helm)
stamp="$bin/.tools-stamp"
want=$(cat hack/versions.env hack/tools/go.mod hack/tools/go.sum hack/tools.sh | sha256sum | cut -d' ' -f1)
want="$want $(go env GOVERSION)"

all_present() {
	for t in "${tools[@]}"; do [[ -x "$bin/$t" ]] || return 1; done
}
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && all_present; then
	echo "tools: up to date in bin/ (${tools[*]})"
	exit 0
fi

step() { printf 'tools: %s\n' "$*"; }
start=$SECONDS
# The tools module requires k8s.io/kubernetes and rewrites its ./staging
# replaces to the published k8s.io/* modules, so kube-apiserver builds
# outside a kubernetes checkout.
step "building etcd (go.etcd.io/etcd/server/v3)"
(cd hack/tools && go build -o "$bin/etcd" go.etcd.io/etcd/server/v3)
step "building kube-apiserver (k8s.io/kubernetes/cmd/kube-apiserver; a few minutes on a cold cache)"
(cd hack/tools && go build -o "$bin/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver)
step "building kubectl (k8s.io/kubernetes/cmd/kubectl), for looking into the sandbox"
(cd hack/tools && go build -o "$bin/kubectl" k8s.io/kubernetes/cmd/kubectl)
step "installing controller-gen $CONTROLLER_TOOLS_VERSION"
GOBIN="$bin" go install "sigs.k8s.io/controller-tools/cmd/controller-gen@$CONTROLLER_TOOLS_VERSION"
step "installing staticcheck $STATICCHECK_VERSION"
GOBIN="$bin" go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
step "installing helm $HELM_VERSION (renders the chart in deploy/ tests)"
GOBIN="$bin" go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
echo "$want" >"$stamp"
step "done in $((SECONDS - start))s"

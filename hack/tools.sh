#!/usr/bin/env bash
# Builds the binaries the make targets need into $BIN (default bin/), from Go
# modules only (no prebuilt downloads), each target asking only for its own:
#
#   hack/tools.sh kube-apiserver etcd issuer demo   # what `make demo` needs
#   hack/tools.sh all                               # every tool (`make tools`)
#
# Tools: kube-apiserver, etcd and kubectl through the hack/tools module (one
# `go build` for all three, so shared packages compile once); controller-gen,
# staticcheck and helm with `go install` at the pins in hack/versions.env.
# Each tool has a stamp of its pin and the Go version, so asking again for a
# tool that is up to date is a no-op. This project's commands (issuer, demo,
# sandbox, and issuer-OS-ARCH cross builds for the image) are left to
# go build's own up-to-date check. Independent builds run in parallel, and a
# ticker reports what is still building so the wait is never silent.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bin=${BIN:-$root/bin}
mkdir -p "$bin"
# shellcheck source=hack/versions.env
source hack/versions.env

all_tools=(kube-apiserver etcd kubectl controller-gen staticcheck helm)
# The flags of the binary users deploy, as the Dockerfile builds it.
version=${VERSION:-dev}
issuer_flags=(-trimpath -ldflags "-s -w -X main.version=$version")

declare -A main_pkg=([demo]=./e2e/cmd/demo [sandbox]=./e2e/cmd/sandbox)

usage() {
	echo "usage: $0 all | NAME... (${all_tools[*]} issuer issuer-OS-ARCH ${!main_pkg[*]})" >&2
	exit 2
}
[[ $# -gt 0 ]] || usage
names=("$@")
[[ "$*" == all ]] && names=("${all_tools[@]}")

goversion=$(go env GOVERSION)
pin() {
	case $1 in
	kube-apiserver | etcd | kubectl) cat hack/tools/go.mod hack/tools/go.sum ;;
	controller-gen) echo "$CONTROLLER_TOOLS_VERSION" ;;
	staticcheck) echo "$STATICCHECK_VERSION" ;;
	helm) echo "$HELM_VERSION" ;;
	esac
}
want_stamp() { { echo "$1"; pin "$1"; echo "$goversion"; } | sha256sum | cut -d' ' -f1; }
stamp_file() { echo "$bin/.stamp-$1"; }
up_to_date() { [[ -x "$bin/$1" && -f "$(stamp_file "$1")" && "$(cat "$(stamp_file "$1")")" == "$(want_stamp "$1")" ]]; }
mark_built() { want_stamp "$1" >"$(stamp_file "$1")"; }

start=$SECONDS
say() { printf 'build: [%4ds] %s\n' "$((SECONDS - start))" "$*"; }

state=$(mktemp -d)
ticker_pid=""
cleanup() {
	[[ -n "$ticker_pid" ]] && kill "$ticker_pid" 2>/dev/null
	rm -rf "$state" "$bin"/.build-$$*
}
trap cleanup EXIT

# job LABEL CMD...: runs CMD in the background; its output goes to a log
# shown only when it fails.
pids=()
job() {
	local label=$1
	shift
	say "building $label"
	touch "$state/running.$label"
	(
		t0=$SECONDS
		if "$@" >"$state/log.$label" 2>&1; then
			rm -f "$state/running.$label"
			say "built $label in $((SECONDS - t0))s"
		else
			rm -f "$state/running.$label"
			say "FAILED $label:"
			cat "$state/log.$label"
			exit 1
		fi
	) &
	pids+=($!)
}

ticker() {
	while sleep 15 </dev/null >/dev/null 2>&1; do
		local running=()
		for f in "$state"/running.*; do [[ -e "$f" ]] && running+=("${f##*/running.}"); done
		[[ ${#running[@]} -gt 0 ]] && say "still building: ${running[*]}"
	done
}

# What to build, by kind.
module_tools=() # in the hack/tools module
go_installs=()
project=()   # issuer and development commands
cross_builds=()
skipped=()
for n in "${names[@]}"; do
	case $n in
	kube-apiserver | etcd | kubectl | controller-gen | staticcheck | helm)
		if up_to_date "$n"; then skipped+=("$n"); continue; fi
		case $n in
		kube-apiserver | etcd | kubectl) module_tools+=("$n") ;;
		*) go_installs+=("$n") ;;
		esac
		;;
	issuer) project+=("$n") ;;
	issuer-*-*) cross_builds+=("$n") ;;
	*)
		[[ -n "${main_pkg[$n]:-}" ]] || usage
		project+=("$n")
		;;
	esac
done
[[ ${#skipped[@]} -gt 0 ]] && say "up to date in $bin: ${skipped[*]}"

build_module_tools() {
	# One go build for all: binaries land in a private directory and are
	# renamed into place, so a reader of bin/ never sees half a file.
	local out="$bin/.build-$$" pkgs=()
	for t in "$@"; do
		case $t in
		kube-apiserver) pkgs+=(k8s.io/kubernetes/cmd/kube-apiserver) ;;
		kubectl) pkgs+=(k8s.io/kubernetes/cmd/kubectl) ;;
		# Named "server" by go build (the element before /v3).
		etcd) pkgs+=(go.etcd.io/etcd/server/v3) ;;
		esac
	done
	mkdir -p "$out"
	# Test tools are never debugged: no DWARF saves about a sixth of the
	# compile time of a cold kube-apiserver build, and the link's share too.
	(cd hack/tools && go build -gcflags=all=-dwarf=false -ldflags="-s -w" -o "$out/" "${pkgs[@]}")
	for t in "$@"; do
		local from=$t
		[[ $t == etcd ]] && from=server
		mv -f "$out/$from" "$bin/$t"
		mark_built "$t"
	done
}

go_install() {
	local mod
	case $1 in
	controller-gen) mod="sigs.k8s.io/controller-tools/cmd/controller-gen@$CONTROLLER_TOOLS_VERSION" ;;
	staticcheck) mod="honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION" ;;
	helm) mod="helm.sh/helm/v3/cmd/helm@$HELM_VERSION" ;;
	esac
	GOBIN="$bin" go install "$mod"
	mark_built "$1"
}

# The issuer and the development commands (demo, sandbox) in one go build
# with the flags of the binary users deploy: the packages they share (the
# controllers, client-go, cert-manager, the Alibaba SDK) compile once.
build_project() {
	local out="$bin/.build-$$-project" pkgs=()
	for n in "$@"; do
		case $n in
		issuer) pkgs+=(.) ;;
		*) pkgs+=("${main_pkg[$n]}") ;;
		esac
	done
	mkdir -p "$out"
	CGO_ENABLED=0 go build "${issuer_flags[@]}" -o "$out/" "${pkgs[@]}"
	for n in "$@"; do
		local from=$n
		[[ $n == issuer ]] && from=aliyun-cas-issuer
		mv -f "$out/$from" "$bin/$from"
	done
}

build_cross_issuer() {
	local os_arch=${1#issuer-}
	local goos=${os_arch%-*} goarch=${os_arch#*-}
	mkdir -p "$bin/$goos-$goarch"
	CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch go build "${issuer_flags[@]}" -o "$bin/$goos-$goarch/aliyun-cas-issuer" .
}

total=$((${#module_tools[@]} + ${#go_installs[@]} + ${#project[@]} + ${#cross_builds[@]}))
[[ $total -eq 0 ]] && exit 0
ticker &
ticker_pid=$!

[[ ${#module_tools[@]} -gt 0 ]] && job "${module_tools[*]}" build_module_tools "${module_tools[@]}"
for t in "${go_installs[@]}"; do job "$t" go_install "$t"; done
[[ ${#project[@]} -gt 0 ]] && job "${project[*]}" build_project "${project[@]}"
for t in "${cross_builds[@]}"; do job "$t" build_cross_issuer "$t"; done

failed=0
for p in "${pids[@]}"; do wait "$p" || failed=1; done
# `make tools` done: every tool is current (CI and scripts wait for this file).
all_current=1
for t in "${all_tools[@]}"; do up_to_date "$t" || all_current=0; done
[[ $all_current -eq 1 ]] && cat "$bin"/.stamp-* | sha256sum | cut -d' ' -f1 >"$bin/.tools-stamp"
[[ $failed -eq 0 ]] || { say "build failed"; exit 1; }
say "done"

package deploy_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The chart deploys, by default, the image `make image` builds and names.
func TestChartDefaultImageIsMakeImage(t *testing.T) {
	cmd := exec.Command("go", "run", "./hack/image", "-print-name")
	cmd.Dir = root(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("hack/image -print-name: %v", err)
	}
	want := strings.TrimSpace(string(out))
	got := controller(t, mustHelm(t, releaseName, installNS, "").deployment(t)).Image
	if got != want {
		t.Fatalf("chart's default image %q, make image names %q", got, want)
	}
}

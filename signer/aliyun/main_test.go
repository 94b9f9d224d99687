package aliyun

import (
	"os"
	"testing"
)

// Ambient credentials must never reach for the ECS metadata service from a
// test machine.
func TestMain(m *testing.M) {
	_ = os.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
	os.Exit(m.Run())
}

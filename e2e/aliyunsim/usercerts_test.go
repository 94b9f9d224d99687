package aliyunsim

import (
	"fmt"
	"strings"
	"testing"
)

// TestUploadTagsAndState: UploadUserCertificate keeps the tags and answers a resource id;
// /_sim/state lists the upload by name, with upload=true and the serial in lower-case hex;
// a name is unique per account across both versions.
func TestUploadTagsAndState(t *testing.T) {
	e := newEnv(t, nil)
	cert, key := selfSigned(t, "tags.example.com")
	r := e.c.call(VersionCAS2020, "UploadUserCertificate", "Name", "tagged", "Cert", cert, "Key", key,
		"Tags.1.Key", "team", "Tags.1.Value", "web", "Tags.2.Key", "env", "Tags.2.Value", "prod")
	expectOK(t, r)
	if !strings.HasPrefix(r.str("ResourceId"), "cas-upload-") {
		t.Errorf("ResourceId %q", r.str("ResourceId"))
	}
	expectErr(t, e.c.call(VersionCAS2018, "CreateUserCertificate", "Name", "tagged", "Cert", cert, "Key", key), 400, "InvalidParameter.NameDuplicate")
	expectErr(t, e.c.call(VersionCAS2020, "UploadUserCertificate", "Name", "x", "Cert", cert, "Key", key, "Tags.1.Value", "v"), 400, "InvalidParameter")

	st := e.sim.State()
	if len(st.UserCertificates) != 1 {
		t.Fatalf("userCertificates: %+v", st.UserCertificates)
	}
	u := st.UserCertificates[0]
	leaf, _, err := decodeLeaf(cert)
	if err != nil {
		t.Fatal(err)
	}
	if u.Name != "tagged" || !u.Upload || u.Serial != strings.ToLower(leaf.SerialNumber.Text(16)) || fmt.Sprint(u.ID) != fmt.Sprint(r.num("CertId")) {
		t.Errorf("state %+v", u)
	}
	if u.Tags["team"] != "web" || u.Tags["env"] != "prod" || len(u.Tags) != 2 {
		t.Errorf("tags %v", u.Tags)
	}
}

package controllers

import (
	"time"

	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// SyncOptions configures the AliyunCASCertificateSync controller. Zero
// values take the defaults below.
type SyncOptions struct {
	// CheckInterval is how often a sync checks that its current upload
	// still exists in CAS (one call), re-uploading it if someone deleted
	// it. After a restart the first checks are spread over one interval,
	// so that the calls stay at (syncs / CheckInterval) on average.
	CheckInterval time.Duration
	// SecretPollInterval is how often a sync reads its Secret again. Syncs
	// in namespaces whose Secrets the controller watches (metadata only)
	// also react to a change at once; elsewhere the controller may only
	// get the Secret, and this poll is how a renewal is noticed.
	SecretPollInterval time.Duration
}

// Defaults of SyncOptions.
const (
	DefaultSyncCheckInterval      = time.Hour
	DefaultSyncSecretPollInterval = 5 * time.Minute
	// DefaultRetainPrevious mirrors the API default of spec.retainPrevious.
	DefaultRetainPrevious = 24 * time.Hour
)

func (o SyncOptions) withDefaults() SyncOptions {
	if o.CheckInterval <= 0 {
		o.CheckInterval = DefaultSyncCheckInterval
	}
	if o.SecretPollInterval <= 0 {
		o.SecretPollInterval = DefaultSyncSecretPollInterval
	}
	return o
}

// setupSync registers the AliyunCASCertificateSync controller; it shares
// the issuers' signer source for their credentials.
func setupSync(mgr manager.Manager, opts Options, signers *signerSource) error {
	opts.Sync = opts.Sync.withDefaults()
	r := &SyncReconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  mgr.GetEventRecorder(eventSource),
		uploaders: newUploaderSource(mgr.GetClient(), signers, opts),
		opts:      opts,
	}
	return r.SetupWithManager(mgr)
}

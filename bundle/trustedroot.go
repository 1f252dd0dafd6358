package bundle

import (
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	prototrustroot "github.com/sigstore/protobuf-specs/gen/pb-go/trustroot/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Authority is a certificate or timestamp authority as the trusted root
// lists it.
type Authority struct {
	// URI identifies the authority: the CA's base URL, the TSA's endpoint.
	URI string
	// Chain is the authority's chain: for a CA, the issuing certificate
	// first; for a TSA, the TSA leaf first. The root is last.
	Chain []*x509.Certificate
	// ValidFrom starts the period the authority is trusted for; zero means
	// the NotBefore of the first certificate.
	ValidFrom time.Time
	// ValidUntil ends that period (a rotated-out chain); zero means open.
	ValidUntil time.Time
}

func (a Authority) proto() (*prototrustroot.CertificateAuthority, error) {
	if len(a.Chain) == 0 {
		return nil, errors.New("authority has no certificates")
	}
	root := a.Chain[len(a.Chain)-1]
	org := ""
	if len(root.Subject.Organization) > 0 {
		org = root.Subject.Organization[0]
	}
	certs := make([]*protocommon.X509Certificate, 0, len(a.Chain))
	for _, c := range a.Chain {
		certs = append(certs, &protocommon.X509Certificate{RawBytes: c.Raw})
	}
	start := a.ValidFrom
	if start.IsZero() {
		start = a.Chain[0].NotBefore
	}
	valid := &protocommon.TimeRange{Start: timestamppb.New(start)}
	if !a.ValidUntil.IsZero() {
		valid.End = timestamppb.New(a.ValidUntil)
	}
	return &prototrustroot.CertificateAuthority{
		Subject:   &protocommon.DistinguishedName{Organization: org, CommonName: root.Subject.CommonName},
		Uri:       a.URI,
		CertChain: &protocommon.X509CertificateChain{Certificates: certs},
		ValidFor:  valid,
	}, nil
}

// TrustedRoot renders the trusted root (media type version 0.1) of the
// given certificate and timestamp authorities, with no transparency logs,
// and checks that sigstore-go accepts it.
func TrustedRoot(cas, tsas []Authority) ([]byte, error) {
	tr := &prototrustroot.TrustedRoot{MediaType: root.TrustedRootMediaType01}
	for _, a := range cas {
		p, err := a.proto()
		if err != nil {
			return nil, fmt.Errorf("bundle: trusted root CA %s: %w", a.URI, err)
		}
		tr.CertificateAuthorities = append(tr.CertificateAuthorities, p)
	}
	for _, a := range tsas {
		p, err := a.proto()
		if err != nil {
			return nil, fmt.Errorf("bundle: trusted root TSA %s: %w", a.URI, err)
		}
		tr.TimestampAuthorities = append(tr.TimestampAuthorities, p)
	}
	out, err := protojson.Marshal(tr)
	if err != nil {
		return nil, fmt.Errorf("bundle: marshal trusted root: %w", err)
	}
	if _, err := root.NewTrustedRootFromJSON(out); err != nil {
		return nil, fmt.Errorf("bundle: sigstore-go refuses the trusted root: %w", err)
	}
	return out, nil
}

// SigningConfig renders a signing config (v0.2) that sends clients to
// caURL (a base URL; clients append /api/v2/signingCert) and tsaURL (the
// full timestamp endpoint), with no transparency log.
func SigningConfig(caURL, tsaURL, operator string, start time.Time) ([]byte, error) {
	valid := &protocommon.TimeRange{Start: timestamppb.New(start)}
	sc := &prototrustroot.SigningConfig{
		MediaType: root.SigningConfigMediaType02,
		CaUrls:    []*prototrustroot.Service{{Url: caURL, MajorApiVersion: 1, ValidFor: valid, Operator: operator}},
		TsaUrls:   []*prototrustroot.Service{{Url: tsaURL, MajorApiVersion: 1, ValidFor: valid, Operator: operator}},
		TsaConfig: &prototrustroot.ServiceConfiguration{Selector: prototrustroot.ServiceSelector_ANY},
	}
	out, err := protojson.Marshal(sc)
	if err != nil {
		return nil, fmt.Errorf("bundle: marshal signing config: %w", err)
	}
	if _, err := root.NewSigningConfigFromJSON(out); err != nil {
		return nil, fmt.Errorf("bundle: sigstore-go refuses the signing config: %w", err)
	}
	return out, nil
}

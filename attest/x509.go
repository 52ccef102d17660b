package attest

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// pemCertificate is the PEM block type of an X.509 certificate.
const pemCertificate = "CERTIFICATE"

// Certificate returns the X.509 certificate the key was read from (a
// certificate file, or a layout key whose keyval has a certificate, as
// in-toto-golang writes them), or nil.
//
// A certificate stands for the public key it holds, with the keyid of that
// key (in-toto-golang's rule: the certificate is not hashed into the
// keyid), and signatures are verified with that key. What is checked: the
// certificate parses and holds the key the layout lists. What is not:
// validity period, key usage, and any chain of trust. in-toto-golang's
// layout fields for certificate authorities (rootcas, intermediatecas) and
// a step's cert_constraints, which authorise any certificate a listed CA
// issued, are not read (a layout with them is refused as having unknown
// fields), so only a key the layout lists by keyid is ever authorised;
// a certificate a signature carries ("cert") is ignored.
func (k *Key) Certificate() *x509.Certificate { return k.cert }

// parseCertificatePEM reads one PEM X.509 certificate.
func parseCertificatePEM(text string) (*x509.Certificate, *pem.Block, error) {
	block, _ := pem.Decode([]byte(text))
	if block == nil || block.Type != pemCertificate {
		return nil, nil, errors.New("certificate is not a PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the certificate: %s", goReason(err))
	}
	return cert, block, nil
}

// setCertificate attaches the PEM certificate text to k, which must be
// the certificate's public key.
func (k *Key) setCertificate(text string) error {
	cert, _, err := parseCertificatePEM(text)
	if err != nil {
		return err
	}
	pub, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(k.pub) {
		return errors.New("the certificate holds another key than keyval.public")
	}
	k.cert, k.KeyVal.Certificate = cert, text
	return nil
}

// certificateKey reads a PEM certificate file as in-toto-golang does: the
// key is the certificate's public key (keyid and keyval.public as for that
// key's own PEM file) and keyval.certificate is the certificate block.
func certificateKey(data []byte) (*Key, error) {
	cert, block, err := parseCertificatePEM(string(data))
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(cert.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("certificate holds %s", keyKind(cert.PublicKey))
	}
	k, err := parsePEMKey(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	if err != nil {
		return nil, fmt.Errorf("the certificate's key: %w", err)
	}
	// in-toto-golang keeps the block as pem.EncodeToMemory writes it, with
	// its final newline and without what surrounds it in the file.
	if err := k.setCertificate(string(pem.EncodeToMemory(block))); err != nil {
		return nil, err
	}
	return k, nil
}

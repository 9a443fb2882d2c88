package identity

import (
	"strings"

	"github.com/hashr-dev/hashr/internal/formats/oci"
	"github.com/hashr-dev/hashr/pkg/records"
)

// OCILayout names the image an OCI image layout (a directory or a tar) or
// a docker archive holds: its reference
// (repository as name, tag as version, the registry as vendor) as its
// index annotates it, its manifest digest, and its platform
// (os/arch[/variant]) as arch, its os (and os.version) as os. An image
// its index names by a bare tag alone is named by its digest. A layout
// of several images (one per platform) gets the name and tag they share,
// the os where they share it, and no digest or arch; nil when they share
// no name.
func OCILayout(imgs []oci.ImageIdentity) *records.Package {
	switch {
	case len(imgs) == 0:
		return nil
	case len(imgs) == 1:
		img := imgs[0]
		p := fromReference(img.Ref)
		p.Digest, p.Arch, p.OS = img.Digest, img.Platform, oci.PlatformOS(img.Platform)
		if p.Name == "" {
			p.Name = img.Digest
		}
		return clean(p)
	}
	p := fromReference(imgs[0].Ref)
	p.OS = oci.PlatformOS(imgs[0].Platform)
	for _, img := range imgs[1:] {
		if img.Ref != imgs[0].Ref {
			return nil
		}
		if oci.PlatformOS(img.Platform) != p.OS {
			p.OS = ""
		}
	}
	return clean(p)
}

// OCIReference names a registry image from the reference scanned
// (REGISTRY/REPO:TAG or @DIGEST) and the manifest digest the registry
// gave for it. Its platform is not known before hashr-fetch reads the
// manifest.
func OCIReference(ref, digest string) *records.Package {
	p := fromReference(ref)
	p.Digest = digest
	return clean(p)
}

// fromReference splits REGISTRY/REPO:TAG@DIGEST into name (REGISTRY/REPO),
// version (TAG) and vendor (REGISTRY, when the first component is a
// host). A bare word is an OCI ref.name tag: version alone.
func fromReference(ref string) records.Package {
	if at := strings.IndexByte(ref, '@'); at >= 0 {
		ref = ref[:at]
	}
	slash := strings.LastIndexByte(ref, '/')
	var p records.Package
	if colon := strings.LastIndexByte(ref, ':'); colon > slash {
		p.Name, p.Version = ref[:colon], ref[colon+1:]
	} else {
		p.Name = ref
	}
	if slash < 0 && !strings.Contains(ref, ":") {
		return records.Package{Version: ref} // a bare tag: "latest"
	}
	if host, _, ok := strings.Cut(p.Name, "/"); ok && (strings.ContainsAny(host, ".:") || host == "localhost") {
		p.Vendor = host
	}
	return p
}

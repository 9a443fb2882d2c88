package verifytest

import (
	"os"
	"path/filepath"
	"testing"
)

// AptRepo is a signed apt mirror built by apt-ftparchive and gpg.
type AptRepo struct {
	Root, Dist string // the mirror, and its suite dists/test
	Key        *GPG
}

// BuildAptRepo builds a mirror with two .debs in pool/, dists/test (its
// Release naming Origin Debian, Version 12) with
// Packages, Packages.gz and Packages.xz, a Release and, when clearsign,
// an InRelease; otherwise Release.gpg.
func BuildAptRepo(t *testing.T, clearsign bool) *AptRepo {
	Need(t, "apt-ftparchive", "dpkg-deb", "xz", "gzip")
	key := NewGPG(t, "archive", "ed25519")
	root := t.TempDir()
	for _, name := range []string{"alpha", "beta"} {
		pkg := filepath.Join(t.TempDir(), name)
		WriteFile(t, filepath.Join(pkg, "DEBIAN", "control"), "Package: "+name+"\nVersion: 1.0-1\nArchitecture: amd64\nMaintainer: Test <t@example.invalid>\nDescription: test package\n")
		WriteFile(t, filepath.Join(pkg, "usr", "share", name, "data.txt"), name+" data\n")
		WriteFile(t, filepath.Join(root, "pool", "main", name+"_1.0-1_amd64.deb"), "")
		Run(t, "", nil, "dpkg-deb", "--root-owner-group", "--build", pkg, filepath.Join(root, "pool", "main", name+"_1.0-1_amd64.deb"))
	}
	bin := filepath.Join(root, "dists", "test", "main", "binary-amd64")
	packages := Run(t, root, nil, "apt-ftparchive", "packages", "pool")
	WriteFile(t, filepath.Join(bin, "Packages"), packages)
	Run(t, bin, nil, "xz", "-k", "Packages")
	Run(t, bin, nil, "gzip", "-k", "-n", "Packages")
	dist := filepath.Join(root, "dists", "test")
	release := Run(t, dist, nil, "apt-ftparchive", "-o", "APT::FTPArchive::Release::Suite=test", "-o", "APT::FTPArchive::Release::Codename=test",
		"-o", "APT::FTPArchive::Release::Origin=Debian", "-o", "APT::FTPArchive::Release::Version=12", "release", ".")
	WriteFile(t, filepath.Join(dist, "Release"), release)
	if clearsign {
		key.Sign(t, "--clearsign", "-o", filepath.Join(dist, "InRelease"), filepath.Join(dist, "Release"))
	} else {
		key.Sign(t, "--detach-sign", "-o", filepath.Join(dist, "Release.gpg"), filepath.Join(dist, "Release"))
	}
	return &AptRepo{Root: root, Dist: dist, Key: key}
}

// WriteFile writes content to path, making its directories.
func WriteFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

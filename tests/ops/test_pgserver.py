"""Discovery of the PostgreSQL server on recorded layouts of each distribution (their
os-release files, the Debian packaging's directories and package names, built in tmp
dirs), and for real on this machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.localdb.pgserver import PgDiscoveryError, plan_server, read_os_release

# /etc/os-release as each release ships it (Ubuntu's is /usr/lib/os-release, linked).
OS_RELEASES = {
    "debian-12": """PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
""",
    "debian-13": """PRETTY_NAME="Debian GNU/Linux 13 (trixie)"
NAME="Debian GNU/Linux"
VERSION_ID="13"
VERSION="13 (trixie)"
VERSION_CODENAME=trixie
DEBIAN_VERSION_FULL=13.2
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
""",
    "ubuntu-22.04": """PRETTY_NAME="Ubuntu 22.04.5 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
VERSION="22.04.5 LTS (Jammy Jellyfish)"
VERSION_CODENAME=jammy
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
SUPPORT_URL="https://help.ubuntu.com/"
BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"
PRIVACY_POLICY_URL="https://www.ubuntu.com/legal/terms-and-policies/privacy-policy"
UBUNTU_CODENAME=jammy
""",
    "ubuntu-24.04": """PRETTY_NAME="Ubuntu 24.04.3 LTS"
NAME="Ubuntu"
VERSION_ID="24.04"
VERSION="24.04.3 LTS (Noble Numbat)"
VERSION_CODENAME=noble
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
SUPPORT_URL="https://help.ubuntu.com/"
BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"
PRIVACY_POLICY_URL="https://www.ubuntu.com/legal/terms-and-policies/privacy-policy"
UBUNTU_CODENAME=noble
LOGO=ubuntu-logo
""",
    # An Ubuntu derivative: its own codename, the Ubuntu it follows in UBUNTU_CODENAME.
    "mint-22": """NAME="Linux Mint"
VERSION="22 (Wilma)"
ID=linuxmint
ID_LIKE="ubuntu debian"
PRETTY_NAME="Linux Mint 22"
VERSION_ID="22"
VERSION_CODENAME=wilma
UBUNTU_CODENAME=noble
""",
    "fedora-41": """NAME="Fedora Linux"
VERSION="41 (Server Edition)"
ID=fedora
VERSION_ID=41
VERSION_CODENAME=""
PRETTY_NAME="Fedora Linux 41 (Server Edition)"
""",
}

# The PostGIS each release packages for its default server.
POSTGIS = {"debian-12": "3.3.2", "debian-13": "3.5.2", "ubuntu-22.04": "3.2.0"}
POSTGIS["ubuntu-24.04"] = "3.4.2"


def system(root: Path, release: str) -> Path:
    if release.startswith("ubuntu"):
        (root / "usr/lib").mkdir(parents=True)
        (root / "usr/lib/os-release").write_text(OS_RELEASES[release])
        (root / "etc").mkdir()
        (root / "etc/os-release").symlink_to("../usr/lib/os-release")
    else:
        (root / "etc").mkdir(parents=True)
        (root / "etc/os-release").write_text(OS_RELEASES[release])
    return root


def install_server(root: Path, major: int) -> None:
    """What postgresql-N leaves: /usr/lib/postgresql/N/bin and N's extension directory."""
    bin_dir = root / f"usr/lib/postgresql/{major}/bin"
    bin_dir.mkdir(parents=True)
    for tool in ("postgres", "initdb", "pg_ctl", "pg_ctlcluster", "psql"):
        (bin_dir / tool).touch(mode=0o755)
    (root / f"usr/lib/postgresql/{major}/lib").mkdir()
    extension = root / f"usr/share/postgresql/{major}/extension"
    extension.mkdir(parents=True)
    (extension / "plpgsql.control").write_text("default_version = '1.0'\n")


def install_postgis(root: Path, major: int, version: str) -> None:
    """What postgresql-N-postgis-3 leaves: the control file and the library."""
    extension = root / f"usr/share/postgresql/{major}/extension"
    (extension / "postgis.control").write_text(
        f"# postgis extension\ncomment = 'PostGIS geometry and geography spatial types'\n"
        f"default_version = '{version}'\nrelocatable = false\ntrusted = true\n"
    )
    (extension / f"postgis-{version.split('.')[0]}.control").write_text("")
    major_lib = version.split(".")[0]
    (root / f"usr/lib/postgresql/{major}/lib/postgis-{major_lib}.so").touch()


@pytest.mark.parametrize(
    ("release", "major"), [("debian-12", 15), ("debian-13", 17), ("ubuntu-24.04", 16)]
)
def test_nothing_installed_installs_the_distributions_default(
    tmp_path: Path, release: str, major: int
) -> None:
    root = system(tmp_path, release)
    plan = plan_server(root)
    assert plan.major == major
    assert plan.packages == (f"postgresql-{major}", f"postgresql-{major}-postgis-3")
    assert plan.bin_dir == root / f"usr/lib/postgresql/{major}/bin"
    assert "apt-get install -y --no-install-recommends" in plan.install_command

    # After apt-get: the same server, found installed, nothing more to install.
    install_server(root, major)
    install_postgis(root, major, POSTGIS[release])
    after = plan_server(root)
    assert (after.major, after.bin_dir, after.packages) == (major, plan.bin_dir, ())


@pytest.mark.parametrize(("release", "major"), [("debian-13", 17), ("ubuntu-24.04", 16)])
def test_installed_server_without_postgis_gets_its_postgis_package(
    tmp_path: Path, release: str, major: int
) -> None:
    root = system(tmp_path, release)
    install_server(root, major)
    plan = plan_server(root)
    assert (plan.major, plan.packages) == (major, (f"postgresql-{major}-postgis-3",))


def test_ubuntu_2204_is_refused_with_the_reason(tmp_path: Path) -> None:
    root = system(tmp_path, "ubuntu-22.04")
    with pytest.raises(PgDiscoveryError) as refused:
        plan_server(root)
    message = str(refused.value)
    assert "Ubuntu 22.04" in message and "PostgreSQL 14" in message
    assert "15 or newer" in message and "end of life" in message
    assert "apt.postgresql.org" in message and "FONCIER_DATABASE_URL" in message

    # Its own PostgreSQL 14 installed changes nothing, and is named.
    install_server(root, 14)
    install_postgis(root, 14, POSTGIS["ubuntu-22.04"])
    with pytest.raises(PgDiscoveryError, match="found PostgreSQL 14 installed"):
        plan_server(root)


def test_ubuntu_2204_with_a_newer_server_from_pgdg_uses_it(tmp_path: Path) -> None:
    root = system(tmp_path, "ubuntu-22.04")
    install_server(root, 14)
    install_server(root, 16)
    install_postgis(root, 16, "3.5.3")
    plan = plan_server(root)
    assert (plan.major, plan.packages) == (16, ())


def test_newest_installed_server_with_postgis_wins_but_a_cluster_keeps_its_own(
    tmp_path: Path,
) -> None:
    root = system(tmp_path, "debian-12")
    install_server(root, 15)
    install_postgis(root, 15, POSTGIS["debian-12"])
    install_server(root, 17)
    install_postgis(root, 17, "3.5.2")
    install_server(root, 18)  # without PostGIS: not preferred over 17
    assert plan_server(root).major == 17
    existing = plan_server(root, cluster_major=15)
    assert (existing.major, existing.packages) == (15, ())
    assert existing.bin_dir == root / "usr/lib/postgresql/15/bin"


def test_a_cluster_made_by_a_server_no_longer_installed_is_explained(tmp_path: Path) -> None:
    root = system(tmp_path, "debian-13")
    install_server(root, 17)
    install_postgis(root, 17, POSTGIS["debian-13"])
    with pytest.raises(PgDiscoveryError, match=r"created by PostgreSQL 15.*\./dev clean"):
        plan_server(root, cluster_major=15)


def test_postgis_2_does_not_count(tmp_path: Path) -> None:
    root = system(tmp_path, "debian-12")
    install_server(root, 15)
    install_postgis(root, 15, "2.5.5")
    assert plan_server(root).packages == ("postgresql-15-postgis-3",)


def test_an_ubuntu_derivative_follows_its_ubuntu(tmp_path: Path) -> None:
    root = system(tmp_path, "mint-22")
    plan = plan_server(root)
    assert (plan.major, plan.packages) == (16, ("postgresql-16", "postgresql-16-postgis-3"))


@pytest.mark.parametrize("release", ["fedora-41", None])
def test_other_systems_get_a_clear_message(tmp_path: Path, release: str | None) -> None:
    root = system(tmp_path, release) if release else tmp_path
    with pytest.raises(PgDiscoveryError) as refused:
        plan_server(root)
    message = str(refused.value)
    assert "Debian 12, Debian 13, Ubuntu 24.04" in message
    assert ("Fedora Linux 41" if release else "no /etc/os-release") in message
    assert "FONCIER_PG_BIN_DIR" in message and "FONCIER_DATABASE_URL" in message


def test_this_machine() -> None:
    """For real: this machine's Debian 12 and its installed PostgreSQL 15 with PostGIS."""
    release = read_os_release()
    if release.get("VERSION_CODENAME") != "bookworm":
        pytest.skip(f"not Debian 12: {release.get('PRETTY_NAME')}")
    plan = plan_server()
    assert (plan.major, plan.packages) == (15, ())
    assert plan.bin_dir == Path("/usr/lib/postgresql/15/bin")
    assert (plan.bin_dir / "initdb").exists()

"""Packages the tests build the way their ecosystems do (rpmbuild with a real spec)."""

from __future__ import annotations

from pathlib import Path

from tripleo_ovn_metadata.procs import run


def build_el9_hotfix_rpm(tmp: Path, agent_py: str) -> Path:
    """An RPM as EL9 packages neutron (rpmbuild, a real spec): ``agent_py`` as the OVN
    metadata agent and a new module, both under /usr/lib/python3.9/site-packages."""
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "agent.py").write_text(agent_py)
    (tmp / "tom_rpm_hotfix.py").write_text('MARKER = "new module"\n')
    spec = tmp / "python3-neutron-tom-hotfix.spec"
    spec.write_text("""%global python3_sitelib /usr/lib/python3.9/site-packages
Name: python3-neutron-tom-hotfix
Version: 21.0.0
Release: 1
Summary: neutron's OVN metadata agent with an unreleased change
License: ASL 2.0
BuildArch: noarch
Source0: agent.py
Source1: tom_rpm_hotfix.py
Requires: python3-neutron = 1:21.0.0
%description
The OVN metadata agent of neutron 21.0.0 with a hotfix, for image patch tests.
%install
install -D -m 0644 %{SOURCE0} %{buildroot}%{python3_sitelib}/neutron/agent/ovn/metadata/agent.py
install -D -m 0644 %{SOURCE1} %{buildroot}%{python3_sitelib}/tom_rpm_hotfix.py
%files
%{python3_sitelib}/neutron/agent/ovn/metadata/agent.py
%{python3_sitelib}/tom_rpm_hotfix.py
""")
    run(["rpmbuild", "-bb", "--define", f"_topdir {tmp / 'rpmbuild'}",
         "--define", f"_sourcedir {tmp}", str(spec)])
    return tmp / "rpmbuild/RPMS/noarch/python3-neutron-tom-hotfix-21.0.0-1.noarch.rpm"


def build_deb_hotfix(tmp: Path, agent_py: str) -> Path:
    """A .deb (dpkg-deb) replacing the OVN metadata agent's module of Debian's
    python3-neutron the Debian way: ``Replaces: python3-neutron`` lets it own the file."""
    root = tmp / "root"
    target = root / "usr/lib/python3/dist-packages/neutron/agent/ovn/metadata/agent.py"
    target.parent.mkdir(parents=True)
    target.write_text(agent_py)
    (root / "DEBIAN").mkdir()
    (root / "DEBIAN/control").write_text(
        "Package: python3-neutron-tom-hotfix\nVersion: 2:21.0.0-0tom1\nArchitecture: all\n"
        "Depends: python3-neutron\nReplaces: python3-neutron\n"
        "Maintainer: tripleo-ovn-metadata <dev@example.invalid>\n"
        "Description: neutron's OVN metadata agent with an unreleased change\n")
    out = tmp / "python3-neutron-tom-hotfix_21.0.0-0tom1_all.deb"
    run(["dpkg-deb", "--root-owner-group", "--build", str(root), str(out)])
    return out


def build_rpm(tmp: Path, name: str, files: dict[str, str], *, requires: tuple[str, ...] = (),
              version: str = "1.0", release: str = "1") -> Path:
    """A noarch RPM (rpmbuild, a real spec) owning ``files`` (absolute path -> text) and
    requiring ``requires``."""
    sources = tmp / f"{name}-sources"
    sources.mkdir(parents=True, exist_ok=True)
    lines = [f"Name: {name}", f"Version: {version}", f"Release: {release}",
             f"Summary: {name}, built by the image patch tests", "License: ASL 2.0",
             "BuildArch: noarch", *(f"Requires: {each}" for each in requires)]
    install = []
    for number, (path, text) in enumerate(sorted(files.items())):
        (sources / f"file{number}").write_text(text)
        lines.append(f"Source{number}: file{number}")
        install.append(f"install -D -m 0644 %{{SOURCE{number}}} %{{buildroot}}{path}")
    spec = tmp / f"{name}.spec"
    spec.write_text("\n".join([*lines, "%description", f"{name} for the image patch tests.",
                               "%install", *install, "%files", *sorted(files), ""]))
    run(["rpmbuild", "-bb", "--define", f"_topdir {tmp / 'rpmbuild'}",
         "--define", f"_sourcedir {sources}", str(spec)])
    return tmp / f"rpmbuild/RPMS/noarch/{name}-{version}-{release}.noarch.rpm"

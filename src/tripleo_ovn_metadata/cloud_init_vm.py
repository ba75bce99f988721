"""verify's real client: a qemu guest whose cloud-init reads the OpenStack metadata tree.

verify plays Neutron here as for the namespace VMs (a network, a localport, the VM port)
and adds what ML2/OVN gives a subnet with DHCP: a ``DHCP_Options`` row whose classless
static routes send 169.254.169.254 to the metadata port. The rest of the cloud plays Nova
(``Instances``: the fixture's ``boot``/``delete``), booting the guest on a tap port of
br-int with an instance record (hostname, a fresh SSH key) the stub Nova serves as
meta_data.json, still only to signed requests. The guest reports what cloud-init got on
its serial console; the row PASSes when the instance id, hostname and key are the ones
given, through the OpenStack datasource.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tripleo_ovn_metadata.errors import ToolError

#: The line the guest's tom-report unit writes to its console.
REPORT = re.compile(
    r"TOM-CLOUD-INIT status=(?P<status>\S*) datasource=(?P<datasource>.*?) "
    r"instance-id=(?P<instance>\S*) hostname=(?P<hostname>\S*) keys=(?P<keys>.*)")
BOOT_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class Instances:
    """What the rest of the cloud does as Nova: boot the guest on a port, delete it.

    ``boot(uuid, hostname, key_file, mac, iface_id)`` returns the console file and the
    accelerator (``kvm``/``tcg``); ``guest_image()`` builds the guest ahead.
    """

    guest_image: Callable[[], dict]
    boot: Callable[[str, str, Path, str, str], dict]
    delete: Callable[[str], None]


@dataclass
class Report:
    """What the guest said cloud-init got."""

    status: str
    datasource: str
    instance: str
    hostname: str
    keys: list[str]


def parse_report(console: str) -> Report | None:
    """The guest's report line from its console output, or None before it is there."""
    for line in console.splitlines():
        found = REPORT.search(line)
        if found:
            keys = [key for key in found["keys"].strip().split(",") if key]
            return Report(found["status"], found["datasource"].strip(), found["instance"],
                          found["hostname"], keys)
    return None


def dhcp_options(cidr: str, router: str, metadata_ip: str, server_mac: str,
                 mtu: int) -> list[str]:
    """``key=value`` options ML2/OVN sets on a subnet's DHCP_Options (IPv4)."""
    routes = f"{{169.254.169.254/32,{metadata_ip}, 0.0.0.0/0,{router}}}"
    return ["lease_time=43200", f"mtu={mtu}", f"router={router}", f"server_id={router}",
            f"server_mac={server_mac}", f"classless_static_route={routes}"]


def new_key(directory: Path) -> tuple[Path, str]:
    """A fresh ed25519 key pair; the public key file and its ``type base64`` part."""
    private = directory / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "tom-verify",
                    "-f", str(private)], check=True, capture_output=True)
    public = private.with_suffix(".pub")
    return public, " ".join(public.read_text().split()[:2])


def wait_for_report(console: Path, timeout: float, alive: Callable[[], bool]) -> Report:
    """Poll the console until the report, the timeout or the guest's end; ToolError then."""
    deadline = time.monotonic() + timeout
    while True:
        text = console.read_text(errors="replace") if console.is_file() else ""
        report = parse_report(text)
        if report:
            return report
        if time.monotonic() > deadline or not alive():
            tail = [line for line in text.splitlines() if line.strip()][-1:] or ["no output"]
            why = "timed out" if alive() else "the guest stopped"
            raise ToolError(f"no cloud-init report on the console ({why}); last line: "
                            f"{tail[0][:120]}")
        time.sleep(1)


def judge(report: Report, instance: str, hostname: str, key: str) -> tuple[bool, str]:
    """PASS when cloud-init got this instance's id, hostname and key from OpenStack."""
    wrong = []
    if report.instance != instance:
        wrong.append(f"instance-id {report.instance or 'none'}")
    if report.hostname != hostname:
        wrong.append(f"hostname {report.hostname or 'none'}")
    if key not in report.keys:
        wrong.append(f"keys {report.keys or 'none'}")
    if not report.datasource.startswith("DataSourceOpenStack"):
        wrong.append(f"datasource {report.datasource or 'none'}")
    if wrong:
        return False, "cloud-init got " + ", ".join(wrong)
    return True, (f"instance-id, hostname {hostname}, SSH key via {report.datasource} "
                  f"(status {report.status})")


def guest_check(instances: Instances, *, instance: str, hostname: str, mac: str,
                iface_id: str, keep: Path, timeout: float = BOOT_TIMEOUT_S) -> tuple[bool, str]:
    """Boot the guest on the port, wait for its report, judge it, delete the guest.

    When it does not pass, its serial console is kept under ``keep`` (the path is in the
    detail, or in the ToolError).
    """
    with tempfile.TemporaryDirectory(prefix="tom-cloud-init.") as tmp:
        key_file, key = new_key(Path(tmp))
        started = time.monotonic()
        booted = instances.boot(instance, hostname, key_file, mac, iface_id)
        console = Path(booted["console"])
        pid = int(booted["pid"])
        kept = keep / console.name
        passed = False
        try:
            report = wait_for_report(console, timeout, lambda: Path(f"/proc/{pid}").exists())
            passed, detail = judge(report, instance, hostname, key)
        except ToolError as exc:
            raise ToolError(f"{exc}; console kept: {kept}") from None
        finally:
            if not passed:  # the console goes with the instance
                keep.mkdir(parents=True, exist_ok=True, mode=0o700)
                kept.write_bytes(console.read_bytes() if console.is_file() else b"")
            instances.delete(instance)
        took = time.monotonic() - started
        detail = f"{detail}; {booted['accel'].upper()} boot {took:.0f} s"
        return passed, detail if passed else f"{detail}; console kept: {kept}"

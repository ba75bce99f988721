"""verify.outage_of: what the 100 ms request prober saw, summed up for the table."""

from __future__ import annotations

import re

from tripleo_ovn_metadata import paths, verify


def test_no_failure_is_no_outage() -> None:
    outage = verify.outage_of([[0.0, 200, 0.01], [0.1, 200, 2.5], [0.2, 200, 0.01]])
    assert (outage.requests, outage.failed, outage.seconds) == (3, 0, 0.0)
    assert outage.slowest == 2.5
    assert str(outage) == "0 of 3 requests failed, outage 0.0 s, slowest 2.5 s"


def test_failures_span_from_first_start_to_last_end() -> None:
    outage = verify.outage_of([
        [0.0, 200, 0.01], [0.1, 503, 0.05], [0.2, 0, 10.0], [0.3, 503, 0.2], [0.4, 200, 0.01],
    ])
    assert (outage.requests, outage.failed) == (5, 3)
    assert round(outage.seconds, 3) == 10.1  # 0.1 -> 0.2 + 10.0
    assert outage.statuses == {0: 1, 503: 2}
    assert str(outage).startswith("3 of 5 requests failed (no answer x1, HTTP 503 x2)")


def test_no_request_at_all() -> None:
    assert str(verify.outage_of([])) == "0 of 0 requests failed, outage 0.0 s, slowest 0.0 s"


def test_the_prober_waits_as_long_as_the_sidecar_holds() -> None:
    """verify's restart row gives each request the sidecar's hold (plus a margin): the
    hold it assumes is the Puppet class's default."""
    manifest = (paths.bundle_root() / "puppet/modules/tripleo_ovn_metadata/manifests/profile"
                / "haproxy_sidecar.pp").read_text(encoding="utf-8")
    default = re.search(r"\$hold_seconds\s*=\s*(\d+)", manifest)
    assert default is not None
    assert int(default[1]) == verify.SIDECAR_HOLD_S

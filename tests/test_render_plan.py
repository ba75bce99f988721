"""The plan builder: ordering and formatting of what Heat evaluated (no Heat here)."""

from __future__ import annotations

from tripleo_ovn_metadata import plan

DOCKER_CONFIG = {
    "step_4": {
        "ovn_metadata_agent": {
            "start_order": 2,
            "image": "r/agent:1",
            "depends_on": ["tripleo_ovn_controller.service"],
        },
        "ovn_controller": {"start_order": 1, "image": "r/ovn:1"},
        "setup_ovs_manager": {"start_order": 0, "image": "r/agent:1", "detach": False},
    },
    "step_10": {"late": {"image": "r/late:1"}},
    "step_2": {"early": {"image": "r/early:1"}},
    "not_a_step": {"ignored": {}},
}


def test_containers_sorted_by_numeric_step_then_start_order() -> None:
    rows = plan.containers(DOCKER_CONFIG)
    assert [(row.step, row.start_order, row.name) for row in rows] == [
        (2, 0, "early"),
        (4, 0, "setup_ovs_manager"),
        (4, 1, "ovn_controller"),
        (4, 2, "ovn_metadata_agent"),
        (10, 0, "late"),
    ]
    assert rows[3].depends_on == ["tripleo_ovn_controller.service"]
    assert rows[2].depends_on == []


def test_empty_or_missing_docker_config() -> None:
    assert plan.containers(None) == []
    assert plan.containers({}) == []


def test_table_marks_roles_without_the_agent() -> None:
    compute = plan.RolePlan("Compute", ["OS::TripleO::Services::OVNMetadataAgent"],
                            plan.containers(DOCKER_CONFIG))  # fmt: skip
    controller = plan.RolePlan("Controller", [], [])
    text = plan.table([controller, compute])
    lines = text.splitlines()
    assert lines[0].split() == ["ROLE", "STEP", "ORDER", "CONTAINER", "IMAGE", "DEPENDS", "ON"]
    assert lines[1].split() == ["Controller", "-", "-", "(no", "containers)", "-", "-"]
    assert ["Compute", "4", "2", "ovn_metadata_agent", "r/agent:1",
            "tripleo_ovn_controller.service"] in [line.split() for line in lines]  # fmt: skip
    assert lines[-1] == (
        "Controller: no ovn_metadata_agent (the role does not list OVNMetadataAgent)"
    )
    # columns line up: every row starts its CONTAINER cell at the same offset
    offset = lines[0].index("CONTAINER")
    assert all(line[offset - 2 : offset] == "  " for line in lines[1:-1])


def test_as_dict_is_json_ready() -> None:
    compute = plan.RolePlan("Compute", ["S"], plan.containers(DOCKER_CONFIG))
    data = compute.as_dict()
    assert data["ovn_metadata_agent"] is True
    assert data["containers"][1] == {
        "step": 4,
        "start_order": 0,
        "name": "setup_ovs_manager",
        "image": "r/agent:1",
        "depends_on": [],
    }

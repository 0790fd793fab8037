#!/usr/bin/python
"""Ansible module: make sure the GPU fleet has `count` hosts, launching with tier failover."""

from __future__ import annotations

DOCUMENTATION = r"""
module: narcis_gpu_fleet
short_description: Launch narcis GPU hosts, falling back g6 → g5 → g4dn on capacity errors
description:
  - Creates the launch template (IMDSv2 required, GPU AMI from SSM) if missing.
  - Launches hosts until the fleet has C(count), trying tiers in order and zones within a tier.
  - Moves on only for capacity errors; fails at once on anything else.
options:
  count: {description: Hosts the fleet should have., type: int, required: true}
  fleet: {description: Fleet name (tag narcis:fleet)., type: str, default: narcis}
  region: {description: AWS region., type: str, required: true}
  endpoint_url: {description: EC2/SSM endpoint (for tests)., type: str}
  launch_template: {description: Launch template name., type: str, default: narcis-gpu}
  subnets:
    description: Availability zone to subnet id, in order of preference.
    type: dict
    required: true
  security_groups: {description: Security group ids., type: list, elements: str, default: []}
  instance_profile: {description: IAM instance profile name., type: str}
  image_id: {description: AMI id; looked up through SSM when omitted., type: str}
  tiers:
    description: Tiers in order, each with name, instance_type and spot.
    type: list
    elements: dict
author: narcis
"""

RETURN = r"""
launched: {description: New instance ids., type: list, returned: always}
tier: {description: The tier that had capacity., type: str, returned: when launched}
fallbacks: {description: Why each earlier choice was skipped., type: list, returned: always}
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.narcis_capacity import (  # noqa: E402
    DEFAULT_TIERS,
    CapacityExhausted,
    LaunchFailed,
    Tier,
    ensure_launch_template,
    fleet_size,
    gpu_ami,
    launch_with_failover,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "count": {"type": "int", "required": True},
            "fleet": {"type": "str", "default": "narcis"},
            "region": {"type": "str", "required": True},
            "endpoint_url": {"type": "str"},
            "launch_template": {"type": "str", "default": "narcis-gpu"},
            "subnets": {"type": "dict", "required": True},
            "security_groups": {"type": "list", "elements": "str", "default": []},
            "instance_profile": {"type": "str"},
            "image_id": {"type": "str"},
            "tiers": {"type": "list", "elements": "dict"},
        },
        supports_check_mode=True,
    )
    import boto3

    p = module.params
    options = {"region_name": p["region"]}
    if p["endpoint_url"]:
        options["endpoint_url"] = p["endpoint_url"]
    ec2, ssm = boto3.client("ec2", **options), boto3.client("ssm", **options)
    missing = p["count"] - fleet_size(ec2, p["fleet"])
    if missing <= 0 or module.check_mode:
        module.exit_json(changed=False, launched=[], fallbacks=[], missing=max(missing, 0))
    tiers = (
        tuple(
            Tier(
                t["name"],
                t["instance_type"],
                t.get("spot", True),
                t.get("half_precision", "bfloat16"),
            )
            for t in p["tiers"]
        )
        if p["tiers"]
        else DEFAULT_TIERS
    )
    ensure_launch_template(
        ec2,
        p["launch_template"],
        image_id=p["image_id"] or gpu_ami(ssm),
        security_groups=p["security_groups"],
        instance_profile=p["instance_profile"],
    )
    try:
        decision = launch_with_failover(
            ec2,
            count=missing,
            launch_template=p["launch_template"],
            subnets=p["subnets"],
            tiers=tiers,
            tags={"narcis:fleet": p["fleet"]},
        )
    except CapacityExhausted as exc:
        module.fail_json(msg=str(exc), fallbacks=exc.decision.fallbacks)
    except LaunchFailed as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(
        changed=True,
        launched=decision.launched,
        tier=decision.tier,
        zone=decision.zone,
        fallbacks=decision.fallbacks,
    )


if __name__ == "__main__":
    main()

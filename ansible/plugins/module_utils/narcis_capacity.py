"""Launching GPU hosts with failover: g6 (L4) → g5 (A10G) → g4dn (T4), spot by default.

Try each tier in order and, within a tier, each availability zone; move on only when AWS says
there is no capacity; stop at once on anything else (a wrong AMI, missing permissions...).
Every attempt is recorded, so the caller can report why each fallback happened.

Plain Python over a boto3 EC2 client: the Ansible module wraps it, the failover controller
calls it directly, and tests drive it with botocore's Stubber.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CAPACITY_ERRORS = frozenset(
    {
        "InsufficientInstanceCapacity",
        "InsufficientCapacity",
        "UnfulfillableCapacity",
        "MaxSpotInstanceCountExceeded",
        "SpotMaxPriceTooLow",
    }
)
GPU_AMI_PARAMETER = (
    "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id"
)


@dataclass(frozen=True)
class Tier:
    name: str
    instance_type: str
    spot: bool = True
    half_precision: str = "bfloat16"  # T4-class GPUs have no bf16: float16


DEFAULT_TIERS = (
    Tier("g6", "g6.xlarge"),
    Tier("g5", "g5.xlarge"),
    Tier("g4dn", "g4dn.xlarge", half_precision="float16"),
)


@dataclass
class Attempt:
    tier: str
    zone: str
    outcome: str  # "launched", or the AWS error code
    message: str = ""


@dataclass
class Decision:
    launched: list[str] = field(default_factory=list)  # instance ids
    tier: str | None = None
    zone: str | None = None
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def fallbacks(self) -> list[str]:
        return [
            f"{a.tier} in {a.zone}: {a.outcome}" for a in self.attempts if a.outcome != "launched"
        ]


class CapacityExhausted(RuntimeError):
    def __init__(self, decision: Decision) -> None:
        super().__init__("no GPU capacity in any tier or zone: " + "; ".join(decision.fallbacks))
        self.decision = decision


class LaunchFailed(RuntimeError):
    """A non-capacity error: retrying elsewhere would not help."""


def launch_with_failover(
    ec2: Any,
    *,
    count: int,
    launch_template: str,
    subnets: dict[str, str],
    tiers: tuple[Tier, ...] = DEFAULT_TIERS,
    tags: dict[str, str] | None = None,
) -> Decision:
    """Launch `count` hosts in the first tier and zone (subnet) that has capacity."""
    decision = Decision()
    for tier in tiers:
        for zone, subnet in subnets.items():
            try:
                response = ec2.run_instances(**_request(tier, count, launch_template, subnet, tags))
            except Exception as exc:  # botocore ClientError, without importing botocore here
                code = _error_code(exc)
                decision.attempts.append(Attempt(tier.name, zone, code, str(exc)))
                if code in CAPACITY_ERRORS:
                    continue
                raise LaunchFailed(f"{tier.instance_type} in {zone}: {code}: {exc}") from exc
            decision.attempts.append(Attempt(tier.name, zone, "launched"))
            decision.launched = [i["InstanceId"] for i in response["Instances"]]
            decision.tier, decision.zone = tier.name, zone
            return decision
    raise CapacityExhausted(decision)


def _request(
    tier: Tier, count: int, template: str, subnet: str, tags: dict[str, str] | None
) -> dict[str, Any]:
    all_tags = {"narcis:role": "gpu", "narcis:tier": tier.name, **(tags or {})}
    request: dict[str, Any] = {
        "MinCount": count,
        "MaxCount": count,
        "InstanceType": tier.instance_type,
        "LaunchTemplate": {"LaunchTemplateName": template, "Version": "$Latest"},
        "SubnetId": subnet,
        "TagSpecifications": [
            {
                "ResourceType": "instance",
                "Tags": [{"Key": k, "Value": v} for k, v in all_tags.items()],
            }
        ],
    }
    if tier.spot:
        request["InstanceMarketOptions"] = {
            "MarketType": "spot",
            "SpotOptions": {
                "SpotInstanceType": "one-time",
                "InstanceInterruptionBehavior": "terminate",
            },
        }
    return request


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return response.get("Error", {}).get("Code", exc.__class__.__name__)


def gpu_ami(ssm: Any, parameter: str = GPU_AMI_PARAMETER) -> str:
    return ssm.get_parameter(Name=parameter)["Parameter"]["Value"]


def ensure_launch_template(
    ec2: Any,
    name: str,
    *,
    image_id: str,
    security_groups: list[str],
    instance_profile: str | None = None,
    user_data: str = "",
) -> str:
    """Create the launch template once (IMDSv2 required); return its id."""
    existing = ec2.describe_launch_templates(
        Filters=[{"Name": "launch-template-name", "Values": [name]}]
    )
    if existing["LaunchTemplates"]:
        return existing["LaunchTemplates"][0]["LaunchTemplateId"]
    data: dict[str, Any] = {
        "ImageId": image_id,
        "SecurityGroupIds": security_groups,
        "MetadataOptions": {
            "HttpTokens": "required",
            "HttpEndpoint": "enabled",
            "HttpPutResponseHopLimit": 1,
        },
        "BlockDeviceMappings": [
            {"DeviceName": "/dev/sda1", "Ebs": {"VolumeSize": 150, "VolumeType": "gp3"}}
        ],
    }
    if instance_profile:
        data["IamInstanceProfile"] = {"Name": instance_profile}
    if user_data:
        import base64

        data["UserData"] = base64.b64encode(user_data.encode()).decode()
    created = ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData=data)
    return created["LaunchTemplate"]["LaunchTemplateId"]


def fleet_size(ec2: Any, fleet: str) -> int:
    """Running or starting GPU hosts of this fleet."""
    found = ec2.describe_instances(
        Filters=[
            {"Name": "tag:narcis:fleet", "Values": [fleet]},
            {"Name": "instance-state-name", "Values": ["pending", "running"]},
        ]
    )
    return sum(len(r["Instances"]) for r in found["Reservations"])

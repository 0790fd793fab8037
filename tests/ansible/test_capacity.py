"""The failover logic against botocore's Stubber (AWS's answers, scripted; nothing leaves)."""

import sys

import boto3
import pytest
from botocore.stub import ANY, Stubber

from tests.helpers import ROOT

sys.path.insert(0, str(ROOT / "ansible" / "plugins" / "module_utils"))
from narcis_capacity import (
    CapacityExhausted,
    LaunchFailed,
    launch_with_failover,
)

SUBNETS = {"us-east-1a": "subnet-a", "us-east-1b": "subnet-b"}


def request(instance_type: str, subnet: str, spot: bool = True) -> dict:
    expected = {
        "MinCount": 1,
        "MaxCount": 1,
        "InstanceType": instance_type,
        "LaunchTemplate": {"LaunchTemplateName": "narcis-gpu", "Version": "$Latest"},
        "SubnetId": subnet,
        "TagSpecifications": ANY,
    }
    if spot:
        expected["InstanceMarketOptions"] = ANY
    return expected


@pytest.fixture
def ec2():
    client = boto3.client(
        "ec2", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def no_capacity(stubber, instance_type: str, subnet: str, code="InsufficientInstanceCapacity"):
    stubber.add_client_error(
        "run_instances", service_error_code=code, expected_params=request(instance_type, subnet)
    )


def launched(stubber, instance_type: str, subnet: str, instance_id: str = "i-1"):
    stubber.add_response(
        "run_instances",
        {"Instances": [{"InstanceId": instance_id}]},
        request(instance_type, subnet),
    )


def test_g6_without_capacity_falls_back_to_g5(ec2) -> None:
    client, stubber = ec2
    no_capacity(stubber, "g6.xlarge", "subnet-a")
    no_capacity(stubber, "g6.xlarge", "subnet-b", "InsufficientCapacity")
    launched(stubber, "g5.xlarge", "subnet-a", "i-g5")
    decision = launch_with_failover(client, count=1, launch_template="narcis-gpu", subnets=SUBNETS)
    assert (decision.tier, decision.zone, decision.launched) == ("g5", "us-east-1a", ["i-g5"])
    assert decision.fallbacks == [
        "g6 in us-east-1a: InsufficientInstanceCapacity",
        "g6 in us-east-1b: InsufficientCapacity",
    ]


def test_zones_are_tried_in_order_within_a_tier(ec2) -> None:
    client, stubber = ec2
    no_capacity(stubber, "g6.xlarge", "subnet-a", "SpotMaxPriceTooLow")
    launched(stubber, "g6.xlarge", "subnet-b", "i-b")
    decision = launch_with_failover(client, count=1, launch_template="narcis-gpu", subnets=SUBNETS)
    assert (decision.tier, decision.zone) == ("g6", "us-east-1b")


def test_all_tiers_exhausted_is_a_clear_failure(ec2) -> None:
    client, stubber = ec2
    codes = [
        "InsufficientInstanceCapacity",
        "UnfulfillableCapacity",
        "MaxSpotInstanceCountExceeded",
        "SpotMaxPriceTooLow",
        "InsufficientCapacity",
        "InsufficientInstanceCapacity",
    ]
    for (kind, subnet), code in zip(
        [
            (k, s)
            for k in ("g6.xlarge", "g5.xlarge", "g4dn.xlarge")
            for s in ("subnet-a", "subnet-b")
        ],
        codes,
        strict=True,
    ):
        no_capacity(stubber, kind, subnet, code)
    with pytest.raises(CapacityExhausted) as caught:
        launch_with_failover(client, count=1, launch_template="narcis-gpu", subnets=SUBNETS)
    assert str(caught.value).startswith("no GPU capacity in any tier or zone: g6 in us-east-1a")
    assert len(caught.value.decision.attempts) == 6


def test_any_other_error_fails_at_once(ec2) -> None:
    client, stubber = ec2
    stubber.add_client_error(
        "run_instances",
        service_error_code="InvalidAMIID.NotFound",
        expected_params=request("g6.xlarge", "subnet-a"),
    )
    with pytest.raises(LaunchFailed, match=r"g6\.xlarge in us-east-1a: InvalidAMIID\.NotFound"):
        launch_with_failover(client, count=1, launch_template="narcis-gpu", subnets=SUBNETS)

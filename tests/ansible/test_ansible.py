"""The playbooks: syntax, lint (production profile, offline), a local converge that is
idempotent and renders units systemd accepts, and provisioning against moto's EC2."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.helpers import ROOT
from tests.services import free_port

ANSIBLE = ROOT / "ansible"
BIN = Path(sys.executable).parent


def run(*args: str, env: dict | None = None, cwd: Path = ANSIBLE) -> subprocess.CompletedProcess:
    full_env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ANSIBLE / "ansible.cfg"),
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCAL_TEMP": "/tmp/.ansible-local",
        "ANSIBLE_ROLES_PATH": str(ANSIBLE / "roles"),
        **(env or {}),
    }
    return subprocess.run(
        [str(BIN / args[0]), *args[1:]],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=600,
    )


def test_every_playbook_passes_the_syntax_check() -> None:
    result = run("ansible-playbook", "--syntax-check", "provision.yml", "site.yml", "failover.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ansible_lint_production_profile_is_clean() -> None:
    result = run("ansible-lint", "--offline", "--profile", "production", "--nocolor")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Profile 'production' was required, and it passed" in result.stdout + result.stderr


def test_app_role_converges_locally_renders_valid_units_and_is_idempotent(tmp_path) -> None:
    prefix = tmp_path / "narcis"
    command = (
        "ansible-playbook",
        "-i",
        "localhost,",
        str(ROOT / "tests/ansible/converge.yml"),
        "-e",
        f"narcis_app_prefix={prefix}",
    )
    first = run(*command)
    assert first.returncode == 0, first.stdout + first.stderr
    assert int(re.search(r"changed=(\d+)", first.stdout).group(1)) > 0
    units = sorted((prefix / "systemd").glob("*.service"))
    assert [u.name for u in units] == ["narcis-spot-watch.service", "narcis-worker.service"]
    worker = (prefix / "systemd/narcis-worker.service").read_text()
    assert "Restart=on-failure" in worker and "TimeoutStopSec=90" in worker
    assert 'NARCIS_DEVICE="cuda"' in (prefix / "narcis.env").read_text()
    verify = subprocess.run(
        ["systemd-analyze", "verify", *map(str, units)], capture_output=True, text=True
    )
    assert verify.returncode == 0, verify.stderr
    second = run(*command)
    assert second.returncode == 0, second.stdout + second.stderr
    assert re.search(r"localhost\s*:\s*ok=\d+\s+changed=0", second.stdout), second.stdout


@pytest.fixture(scope="module")
def aws():
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def test_provision_creates_the_template_and_instances_against_moto(aws, tmp_path) -> None:
    creds = {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    ec2 = boto3.client(
        "ec2",
        endpoint_url=aws,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = {
        zone: ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone=zone)[
            "Subnet"
        ]["SubnetId"]
        for i, zone in enumerate(("us-east-1a", "us-east-1b"))
    }
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    extra = {
        "narcis_ec2_endpoint": aws,
        "narcis_gpu_subnets": subnets,
        "narcis_gpu_security_groups": [],
        "narcis_gpu_instance_profile": "",
        "narcis_gpu_image_id": image,
        "narcis_gpu_count": 2,
    }
    vars_file = tmp_path / "vars.json"
    vars_file.write_text(json.dumps(extra))
    result = run(
        "ansible-playbook", "-i", "localhost,", "provision.yml", "-e", f"@{vars_file}", env=creds
    )
    assert result.returncode == 0, result.stdout + result.stderr
    reservations = ec2.describe_instances(
        Filters=[{"Name": "tag:narcis:fleet", "Values": ["narcis"]}]
    )["Reservations"]
    instances = [i for r in reservations for i in r["Instances"]]
    assert len(instances) == 2 and {i["InstanceType"] for i in instances} == {"g6.xlarge"}
    tags = {t["Key"]: t["Value"] for t in instances[0]["Tags"]}
    assert tags["narcis:tier"] == "g6" and tags["narcis:role"] == "gpu"
    template = ec2.describe_launch_template_versions(LaunchTemplateName="narcis-gpu")[
        "LaunchTemplateVersions"
    ][0]["LaunchTemplateData"]
    assert template["MetadataOptions"]["HttpTokens"] == "required"
    again = run(
        "ansible-playbook", "-i", "localhost,", "provision.yml", "-e", f"@{vars_file}", env=creds
    )
    assert again.returncode == 0 and "changed=0" in again.stdout  # the fleet is complete

"""Regions where AWS does not offer Rekognition (issue 13): `up` there would build a pipeline
that can never detect a face while `status` called it healthy. moto offers every service in
every region; botocore's endpoint data says where AWS does."""

from __future__ import annotations

import boto3
import botocore.session
import pytest
from conftest import EMAIL

from facedetect_cli.aws.connection import Connection
from facedetect_cli.aws.session import AwsSession


def rekognition_regions() -> set[str]:
    return set(botocore.session.get_session().get_available_regions("rekognition"))


# S3 and Lambda are there, Rekognition is not (botocore's endpoint data, as installed).
WITHOUT = next(r for r in ("eu-north-1", "eu-west-3", "af-south-1", "me-south-1")
               if r not in rekognition_regions())


@pytest.mark.parametrize("extra", [(), ("--with", "duplicates")])
def test_up_in_a_region_without_rekognition_is_refused_before_any_write(invoke, extra):
    result = invoke("up", "--region", WITHOUT, "--email", EMAIL, *extra)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert f"region {WITHOUT} does not offer Amazon Rekognition" in lines[0]
    assert "eu-central-1" in lines[0] and "us-east-1" in lines[0]  # the regions that work
    if extra:
        assert "--with duplicates" in lines[0]
    for service, listing, key in (("s3", "list_buckets", "Buckets"),
                                  ("iam", "list_roles", "Roles"),
                                  ("sns", "list_topics", "Topics")):
        assert getattr(boto3.client(service, region_name=WITHOUT), listing)()[key] == []


def test_a_region_with_rekognition_is_accepted(invoke):
    assert "eu-central-1" in rekognition_regions()
    assert invoke("up", "--region", "eu-central-1", "--email", EMAIL).exit_code == 0


def test_an_endpoint_url_offers_what_it_offers_in_any_region():
    # The local emulator (--local) and --endpoint-url: the endpoint, not AWS's endpoint data,
    # decides; nothing is asked of the network to know it.
    session = AwsSession(Connection(region=WITHOUT, endpoint_url="http://127.0.0.1:9",
                                    access_key_id="test", secret_access_key="test"))
    assert session.regions_offering("rekognition") is None

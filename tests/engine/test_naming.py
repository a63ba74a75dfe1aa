"""Names that must be unique beyond the stack's region fit their service's limits in every
region botocore knows."""

from __future__ import annotations

import pytest

from facedetect_cli.aws.session import known_regions
from facedetect_cli.engine.config import StackConfig
from facedetect_cli.engine.naming import ROLE_NAME_MAX, ROLE_PURPOSES, Names
from facedetect_cli.errors import InputError

LONGEST_STACK = "s" * 20  # validate_stack_name's limit
ACCOUNT = "123456789012"


def test_every_role_and_bucket_name_fits_in_every_known_region():
    regions = known_regions()
    # Every partition: commercial, China, GovCloud, the ISO ones, the European sovereign one.
    assert {"us-east-1", "cn-north-1", "us-gov-west-1", "us-isof-south-1"} <= regions
    for region in regions:
        names = Names(StackConfig(stack=LONGEST_STACK), ACCOUNT, region)
        for purpose in ROLE_PURPOSES:
            assert len(names.role(purpose)) <= ROLE_NAME_MAX, (region, purpose)
        assert len(names.bucket) <= 63, region  # S3's limit


def test_role_names_carry_the_region_and_earlier_names_do_not():
    names = Names(StackConfig(stack="facedetect"), ACCOUNT, "eu-central-1")
    assert names.function_role("detect_faces") == "facedetect-DetectFacesRole-eu-central-1"
    assert names.state_machine_role == "facedetect-StepFunctionExecutionRole-eu-central-1"
    assert names.events_role == "facedetect-EventBridgeExecutionRole-eu-central-1"
    assert names.legacy_role("DetectFacesRole") == "facedetect-DetectFacesRole"
    other = Names(StackConfig(stack="facedetect"), ACCOUNT, "us-east-1")
    assert not {names.role(p) for p in ROLE_PURPOSES} & {other.role(p) for p in ROLE_PURPOSES}


def test_a_region_code_too_long_for_the_role_names_is_a_clear_error():
    # A region botocore does not know yet, with a code longer than any of today's.
    names = Names(StackConfig(stack=LONGEST_STACK), ACCOUNT, "ap-southeastern-central-1")
    with pytest.raises(InputError, match=r"over IAM's 64: in ap-southeastern-central-1, use a "
                                         r"stack name of at most \d+ characters"):
        _ = names.state_machine_role

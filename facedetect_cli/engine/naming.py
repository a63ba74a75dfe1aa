"""Every name and ARN of a stack, derived from its config, account and region in one place.

ARNs are computable, so a dependant never waits on a create call to learn one. The tutorial's
names stay recognisable behind the stack prefix (`facedetect-FaceMetadataTable`).
"""

from __future__ import annotations

from dataclasses import dataclass

from facedetect_cli.aws.connection import partition_of
from facedetect_cli.engine.config import StackConfig
from facedetect_cli.errors import InputError

TAG_KEY = "facedetect:stack"
# IAM's limit on a role name.
ROLE_NAME_MAX = 64

# The tutorial's names. Its target ARN says ImageProcessingWorkflow where the state machine it
# created is FaceRecognitionWorkflow; we use the one it actually creates.
FUNCTION_BASENAMES = {
    "detect_faces": "DetectFacesLambda",
    "store_metadata": "StoreMetadataLambda",
    "send_notification": "SendNotificationLambda",
}
# The functions of the optional features (features.py), named as in the tutorial's cleanup.
FEATURE_FUNCTION_BASENAMES = {
    "check_face_duplicate": "CheckFaceDuplicateLambda",
    "add_face_to_index": "AddFaceToIndexLambda",
    "create_thumbnail": "CreateThumbnailLambda",
}
_ALL_FUNCTION_BASENAMES = {**FUNCTION_BASENAMES, **FEATURE_FUNCTION_BASENAMES}
STATE_MACHINE_ROLE = "StepFunctionExecutionRole"
EVENTS_ROLE = "EventBridgeExecutionRole"


def function_role_purpose(module: str) -> str:
    return _ALL_FUNCTION_BASENAMES[module].removesuffix("Lambda") + "Role"


# Every role a stack may have (its features' included), by the tutorial's name.
ROLE_PURPOSES = (*[function_role_purpose(m) for m in _ALL_FUNCTION_BASENAMES],
                 STATE_MACHINE_ROLE, EVENTS_ROLE)


@dataclass(frozen=True)
class Names:
    config: StackConfig
    account: str
    region: str

    @property
    def stack(self) -> str:
        return self.config.stack

    @property
    def partition(self) -> str:
        return partition_of(self.region)

    def _prefixed(self, name: str) -> str:
        return f"{self.stack}-{name}"

    # S3
    @property
    def bucket(self) -> str:
        return f"{self.stack}-images-{self.account}-{self.region}"

    @property
    def bucket_arn(self) -> str:
        return f"arn:{self.partition}:s3:::{self.bucket}"

    # DynamoDB
    @property
    def table(self) -> str:
        return self._prefixed("FaceMetadataTable")

    @property
    def table_arn(self) -> str:
        return f"arn:{self.partition}:dynamodb:{self.region}:{self.account}:table/{self.table}"

    # SNS
    @property
    def results_topic(self) -> str:
        return self._prefixed("FaceDetectionResults")

    @property
    def failures_topic(self) -> str:
        return self._prefixed("ImageProcessingFailures")

    def topic_arn(self, topic: str) -> str:
        return f"arn:{self.partition}:sns:{self.region}:{self.account}:{topic}"

    # IAM. Every other name of the stack lives in its region (or, for the bucket, carries the
    # region), but IAM's names are the account's, in every region at once: a role names its
    # region too, so the same stack in two regions of one account has two sets of roles. The
    # region goes last: stacks are lower case and purposes capitalised, so
    # `<stack>-DetectFacesRole-*` (a policy for any region) matches no other stack's role.
    def role(self, purpose: str) -> str:
        name = f"{self.stack}-{purpose}-{self.region}"
        if len(name) > ROLE_NAME_MAX:
            # Every region botocore knows fits with a 20-character stack (test_naming.py);
            # only a longer region code than any of today's gets here.
            room = ROLE_NAME_MAX - len(name) + len(self.stack)
            advice = (f"in {self.region}, use a stack name of at most {room} characters"
                      if room > 0 else f"region code {self.region} is too long")
            raise InputError(f"IAM role name {name} would be {len(name)} characters, over "
                             f"IAM's {ROLE_NAME_MAX}: {advice}")
        return name

    def legacy_role(self, purpose: str) -> str:
        """The name earlier versions gave the role, without the region: one per account,
        whichever region's stack it serves (see resources/legacy_role.py)."""
        return self._prefixed(purpose)

    def role_arn(self, role: str) -> str:
        return f"arn:{self.partition}:iam::{self.account}:role/{role}"

    @property
    def state_machine_role(self) -> str:
        return self.role(STATE_MACHINE_ROLE)

    @property
    def events_role(self) -> str:
        return self.role(EVENTS_ROLE)

    def function_role(self, module: str) -> str:
        # One role per function: each may do exactly what its own step needs.
        return self.role(function_role_purpose(module))

    # Lambda
    def function(self, module: str) -> str:
        return self._prefixed(_ALL_FUNCTION_BASENAMES[module])

    def function_arn(self, module: str) -> str:
        return (
            f"arn:{self.partition}:lambda:{self.region}:{self.account}:function:"
            f"{self.function(module)}"
        )

    # CloudWatch Logs. Lambda writes to /aws/lambda/<function> whatever we call it; the
    # state machine's group takes AWS's /aws/vendedlogs/ prefix, for which CloudWatch Logs needs
    # no per-group resource policy (that policy is limited to 5,120 characters per account).
    def function_log_group(self, module: str) -> str:
        return f"/aws/lambda/{self.function(module)}"

    @property
    def state_machine_log_group(self) -> str:
        return f"/aws/vendedlogs/states/{self.state_machine}"

    def log_group_arn(self, group: str) -> str:
        # Without the ":*" that DescribeLogGroups appends: tagging APIs want this form, and
        # IAM statements and Step Functions add ":*" themselves where streams are meant.
        return f"arn:{self.partition}:logs:{self.region}:{self.account}:log-group:{group}"

    # Step Functions
    @property
    def state_machine(self) -> str:
        return self._prefixed("FaceRecognitionWorkflow")

    @property
    def state_machine_arn(self) -> str:
        return (
            f"arn:{self.partition}:states:{self.region}:{self.account}:stateMachine:"
            f"{self.state_machine}"
        )

    # Rekognition (the duplicates feature). The tutorial's cleanup deletes a collection
    # "rider-photos"; one per stack here.
    @property
    def collection(self) -> str:
        return self._prefixed("rider-photos")

    @property
    def collection_arn(self) -> str:
        return (f"arn:{self.partition}:rekognition:{self.region}:{self.account}:collection/"
                f"{self.collection}")

    # EventBridge
    @property
    def rule(self) -> str:
        return self._prefixed("FaceDetectionTrigger")

    @property
    def rule_arn(self) -> str:
        return f"arn:{self.partition}:events:{self.region}:{self.account}:rule/{self.rule}"

    @property
    def tags(self) -> dict[str, str]:
        return {**self.config.extra_tags, TAG_KEY: self.stack}

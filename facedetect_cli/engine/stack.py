"""The resources of one stack, in the tutorial's order, with their dependencies.

Adding a part of the pipeline means adding resources here (and states to the template), not
touching the planner or the executor. The optional features (features.py) add theirs through
feature_resources.
"""

from __future__ import annotations

from facedetect_cli.build import features
from facedetect_cli.engine import policies
from facedetect_cli.engine.naming import FUNCTION_BASENAMES, ROLE_PURPOSES, Names
from facedetect_cli.engine.resources.base import Resource
from facedetect_cli.engine.resources.bucket import Bucket
from facedetect_cli.engine.resources.collection import Collection
from facedetect_cli.engine.resources.function import Function
from facedetect_cli.engine.resources.legacy_role import LegacyRole
from facedetect_cli.engine.resources.log_group import LogGroup
from facedetect_cli.engine.resources.role import Role
from facedetect_cli.engine.resources.rule import Rule
from facedetect_cli.engine.resources.state_machine import StateMachine
from facedetect_cli.engine.resources.table import Table
from facedetect_cli.engine.resources.topic import Subscription, Topic

FUNCTION_TITLES = {
    "detect_faces": "Detect Faces (Rekognition DetectFaces)",
    "store_metadata": "Store Metadata (DynamoDB)",
    "send_notification": "Send Notification (SNS)",
    "check_face_duplicate": "Check Face Duplicate (Rekognition SearchFacesByImage)",
    "add_face_to_index": "Add Face To Index (Rekognition IndexFaces)",
    "create_thumbnail": "Create Thumbnail (Pillow, S3)",
}


def feature_resources(names: Names, feature: str) -> list[Resource]:
    """What one feature adds: its functions with their roles and log groups, and for
    duplicates the face collection. Also what `up --without` removes."""
    config = names.config
    resources: list[Resource] = []
    depends_on: tuple[str, ...] = ()
    if feature == features.DUPLICATES:
        collection = Collection(names)
        resources.append(collection)
        # The functions only ever run against an existing collection.
        depends_on = (collection.key,)
    environment = {
        "check_face_duplicate": {"COLLECTION_ID": names.collection,
                                 "MATCH_THRESHOLD": f"{config.match_threshold:g}"},
        "add_face_to_index": {"COLLECTION_ID": names.collection,
                              "MAX_FACES": str(config.max_faces)},
        "create_thumbnail": {"THUMBNAIL_PREFIX": config.thumbnails_prefix},
    }
    for module in features.FEATURE_MODULES[feature]:
        resources += _function_resources(names, module, environment[module], depends_on)
    return resources


def _function_resources(names: Names, module: str, environment: dict[str, str],
                        depends_on: tuple[str, ...] = ()) -> list[Resource]:
    return [
        Role(names, names.function_role(module),
             purpose=f"execution role of {names.function(module)}",
             trust=policies.lambda_trust(names),
             # No managed policy: the inline one also lets the function write its own logs.
             inline=policies.function_role(names, module)),
        LogGroup(names, names.function_log_group(module), function=names.function(module)),
        Function(names, module, role=names.function_role(module), title=FUNCTION_TITLES[module],
                 environment=environment, depends_on=depends_on),
    ]


def build_stack(names: Names, enabled: frozenset[str] = frozenset()) -> list[Resource]:
    """The stack's resources with the features `enabled` (features.py)."""
    config = names.config
    modules = list(FUNCTION_BASENAMES)
    bucket = Bucket(names)
    resources: list[Resource] = [bucket, Table(names)]

    for topic in (names.results_topic, names.failures_topic):
        resources.append(Topic(names, topic, config.emails))
        resources += [Subscription(names, topic, email) for email in config.emails]

    for module in modules:
        resources.append(Role(
            names, names.function_role(module),
            purpose=f"execution role of {names.function(module)}",
            trust=policies.lambda_trust(names),
            # No managed policy: the inline one also lets the function write its own logs.
            inline=policies.function_role(names, module),
        ))
    resources.append(Role(
        names, names.state_machine_role,
        purpose="Step Functions invokes the pipeline's functions",
        trust=policies.trust("states.amazonaws.com", names),
        # Exactly the functions the definition invokes, the features' included.
        inline=policies.state_machine(names, [*modules, *features.modules(enabled)]),
    ))
    resources.append(Role(
        names, names.events_role,
        purpose="EventBridge starts the workflow",
        trust=policies.trust("events.amazonaws.com", names),
        inline=policies.events(names),
    ))

    resources += [LogGroup(names, names.function_log_group(module),
                           function=names.function(module)) for module in modules]
    resources.append(LogGroup(names, names.state_machine_log_group))

    environment = {
        "detect_faces": {},
        "store_metadata": {"TABLE_NAME": names.table},
        "send_notification": {"TOPIC_ARN": names.topic_arn(names.results_topic)},
    }
    for module in modules:
        resources.append(Function(
            names, module, role=names.function_role(module), title=FUNCTION_TITLES[module],
            environment=environment[module],
        ))

    for feature in features.FEATURES:
        if feature in enabled:
            resources += feature_resources(names, feature)

    state_machine = StateMachine(names, role=names.state_machine_role,
                                 functions=[*modules, *features.modules(enabled)],
                                 features=enabled)
    resources.append(state_machine)
    resources.append(Rule(names, role=names.events_role, bucket_key=bucket.key,
                          state_machine_key=state_machine.key))
    return resources


def legacy_roles(names: Names) -> list[LegacyRole]:
    """The roles as earlier versions named them (every feature's too): `up` and `down`
    remove the ones of this region, status shows them."""
    return [LegacyRole(names, purpose) for purpose in ROLE_PURPOSES]
